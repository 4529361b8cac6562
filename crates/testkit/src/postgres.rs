//! The test PostgreSQL (`postgres://postgres@127.0.0.1:5432/test`, trust auth, or
//! `AXLE_TEST_POSTGRES_URL`), with a schema of its own per run so that runs and tests
//! never see each other's rows.

use std::time::Duration;

/// The test database's URL.
pub fn url() -> String {
    std::env::var("AXLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema created for one test; [`Schema::drop`] removes it.
#[derive(Debug)]
pub struct Schema {
    /// The database URL with the schema selected through its `options`.
    pub url: String,
    name: String,
    admin: tokio_postgres::Client,
}

impl Schema {
    /// Creates (after dropping any leftover of the same name) the schema
    /// `<prefix>_<pid>`; `Err` says why PostgreSQL cannot be used, for the test to print
    /// and skip.
    pub async fn create(prefix: &str) -> Result<Self, String> {
        let mut config: tokio_postgres::Config = url().parse().expect("test URL parses");
        config.connect_timeout(Duration::from_secs(3));
        let (admin, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("PostgreSQL unreachable at {}: {e}", url()))?;
        tokio::spawn(conn);
        let name = format!("{prefix}_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .expect("create schema");
        let base = url();
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
            name,
            admin,
        })
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await;
    }
}
