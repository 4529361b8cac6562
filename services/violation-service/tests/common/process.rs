//! violation-service as a child process (`testkit::process`): the settings that point
//! apistore at the sandbox, its callback store and its webhook.

// Not every test that includes `common` starts a process.
#[allow(unused_imports)]
pub use testkit::process::{Launch, Process, StoreAt};

pub const SERVICE: testkit::process::CallbackService = testkit::process::CallbackService {
    bin: env!("CARGO_BIN_EXE_violation-service"),
    health_service: violation_service::SERVICE_NAME,
    webhook_listen: "AXLE_VENDORS__APISTORE__CALLBACK__WEBHOOK_LISTEN",
    base_urls: &["AXLE_VENDORS__APISTORE__HTTP__BASE_URL"],
    store_path: "AXLE_VENDORS__APISTORE__CALLBACK__STORE_PATH",
    store_url: "AXLE_VENDORS__APISTORE__CALLBACK__STORE_URL",
};
