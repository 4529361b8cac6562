//! Helpers shared by the integration tests: temporary SQLite files, PostgreSQL schemas
//! of their own (so parallel tests never see each other's rows), unique names.

#![allow(dead_code, clippy::missing_panics_doc)]

pub mod conformance;
pub mod legacy;
pub mod platecb;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A SQLite file path that does not exist yet, removed (with its WAL) when dropped.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.sqlite", unique(name)));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

pub fn pg_url() -> String {
    std::env::var("AXLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A PostgreSQL schema of this test's own, dropped when this is dropped.
pub struct PgSchema {
    pub name: String,
    pub admin: tokio_postgres::Client,
}

impl PgSchema {
    /// A new empty schema, or `None` (with the reason printed) when PostgreSQL cannot be
    /// reached: the test then skips.
    pub async fn create(test: &str) -> Option<Self> {
        let mut config: tokio_postgres::Config = pg_url().parse().expect("test URL parses");
        config.connect_timeout(Duration::from_secs(3));
        let (admin, conn) = match config.connect(tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => {
                println!(
                    "skipping {test}: PostgreSQL unreachable at {}: {e}",
                    pg_url()
                );
                return None;
            }
        };
        tokio::spawn(conn);
        let name = unique("axle_cb").to_ascii_lowercase();
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        Some(Self { name, admin })
    }

    /// Runs SQL with this schema first on the search path.
    pub async fn execute(&self, sql: &str) {
        self.admin
            .batch_execute(&format!(
                "SET search_path TO {}; {sql}; RESET search_path",
                self.name
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn store(&self) -> callback::PgStore {
        callback::PgStore::connect_in_schema(&pg_url(), &self.name)
            .await
            .expect("store connects")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop cannot wait on the test's runtime: a small one of its own does it.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((c, conn)) =
                    tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}
