//! Why violation-service could not start.

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("vendor connector: {0}")]
    Connector(#[from] connector::ConnectorError),
    #[error(transparent)]
    Order(#[from] sources::OrderError),
    #[error(transparent)]
    Store(#[from] callback::StoreError),
    #[error("vendors.apistore.callback: {0}")]
    Callbacks(#[from] callback::SettingsError),
    #[error("apistore webhook on {addr}: {error}")]
    Webhook {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("{0}")]
    Rules(String),
    #[error(transparent)]
    Kit(#[from] kit::KitError),
}
