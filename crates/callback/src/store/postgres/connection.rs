//! The one PostgreSQL connection a store shares among its tasks, re-established when
//! the server drops it, and the options every connection of the store carries.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

use crate::store::StoreError;

/// How long a (re)connection may take before the operation fails (and the webhook
/// answers `fail`, so the vendor retries later).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The store's connection: where to connect (the URL may hold a password and is never
/// printed) and the live client, if any.
#[derive(Clone)]
pub(super) struct Link {
    url: Arc<str>,
    pub(super) schema: Option<Arc<str>>,
    client: Arc<tokio::sync::Mutex<Option<Arc<Client>>>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("Link")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Whether `e` means the connection is gone rather than the statement being wrong: the
/// client saw it close, the socket failed, or the server said so on its way out
/// (SQLSTATE class 08 connection exception, 57P01-57P03 shutdown/terminated).
pub(super) fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P");
    }
    std::error::Error::source(e).is_some_and(<dyn std::error::Error>::is::<std::io::Error>)
}

/// Whether `name` may be used as a schema: a plain lower-case identifier, so that it
/// needs no quoting anywhere (the connection's `search_path` option included).
pub(super) fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Link {
    pub(super) fn new(url: &str, schema: Option<&str>) -> Self {
        Self {
            url: url.into(),
            schema: schema.map(Arc::from),
            client: Arc::default(),
        }
    }

    /// Makes `client` the shared connection (the first one, after the migrations ran on it).
    pub(super) async fn install(&self, client: Client) {
        *self.client.lock().await = Some(Arc::new(client));
    }

    pub(super) async fn new_client(&self) -> Result<Client, StoreError> {
        let mut config: tokio_postgres::Config = self.url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if let Some(schema) = &self.schema {
            let options = match config.get_options() {
                Some(o) if !o.is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(&options);
        }
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "callback store connection ended");
            }
        });
        Ok(client)
    }

    /// The live connection, (re)connecting if there is none or it has closed.
    pub(super) async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let client = Arc::new(self.new_client().await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets `dead` unless another task has already replaced it.
    pub(super) async fn drop_client(&self, dead: &Arc<Client>) {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, dead)) {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_schema;

    #[test]
    fn schema_names_need_no_quoting() {
        assert!(valid_schema("axle_test_1"));
        assert!(valid_schema("_x"));
        for bad in ["", "1abc", "Upper", "a-b", "a b", "x;drop", &"a".repeat(64)] {
            assert!(!valid_schema(bad), "{bad:?}");
        }
    }
}
