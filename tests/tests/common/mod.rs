//! What every end-to-end test file does to `axle up`'s configuration: every listener on
//! 127.0.0.1:0 and every store in a file of its own, so that test files (and a developer's
//! running `axle up`) never meet on a port or a database. A service that joins `axle up`
//! is added here once.

use std::sync::atomic::{AtomicU32, Ordering};

/// Ephemeral ports for `cfg`; violation-service's store per call, plate-service's per
/// process and `tag` (a file's suites share what platecb delivered, as before).
pub fn ephemeral(cfg: &mut cli::up::UpConfig, tag: &str) {
    static N: AtomicU32 = AtomicU32::new(0);
    let run = format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let any = || "127.0.0.1:0".parse().expect("addr");
    cfg.sandbox.listen = any();
    cfg.vin.server.listen = any();
    cfg.plate.server.listen = any();
    cfg.violation.server.listen = any();
    cfg.ocr.server.listen = any();
    cfg.aggregator.server.listen = any();
    cfg.plate.vendors.platecb.webhook_listen = any();
    cfg.violation.vendors.apistore.callback.webhook_listen = any();
    let dir = std::env::temp_dir();
    cfg.plate.vendors.platecb.store_path = dir.join(format!(
        "axle-e2e-{tag}-{}-plate.sqlite",
        std::process::id()
    ));
    cfg.violation.vendors.apistore.callback.store_path =
        dir.join(format!("axle-e2e-{run}-violation.sqlite"));
}
