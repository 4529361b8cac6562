//! plate-service as a child process (`testkit::process`): the settings that point its
//! vendors at the sandbox, platecb's store and its webhook.

// Not every test that includes `common` starts a process.
#[allow(unused_imports)]
pub use testkit::process::{Launch, Process, StoreAt};
#[allow(unused_imports)]
pub use testkit::remove_sqlite;

pub const SERVICE: testkit::process::CallbackService = testkit::process::CallbackService {
    bin: env!("CARGO_BIN_EXE_plate-service"),
    health_service: plate_service::SERVICE_NAME,
    webhook_listen: "AXLE_VENDORS__PLATECB__WEBHOOK_LISTEN",
    base_urls: &[
        "AXLE_VENDORS__PLATECB__HTTP__BASE_URL",
        "AXLE_VENDORS__XIAOSHIBAO__HTTP__BASE_URL",
    ],
    store_path: "AXLE_VENDORS__PLATECB__STORE_PATH",
    store_url: "AXLE_VENDORS__PLATECB__STORE_URL",
};
