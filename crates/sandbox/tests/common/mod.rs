//! Shared helpers: each test starts its own sandbox on 127.0.0.1:0.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod platform;

use md5::{Digest, Md5};
use sandbox::{RunningSandbox, SandboxConfig};
use serde_json::Value;

pub const KEY: &str = "sandbox-connapi-key";
pub const SIGNED_KEY: &str = "sandbox-connapi-signed";
pub const SECRET: &str = "sandbox-connapi-secret";
pub const SEED_VIN: &str = "WP0AA2978BL012976";
pub const FIXTURES: &str = include_str!("../../fixtures/connapi.json");

pub struct Sandbox {
    pub running: RunningSandbox,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start() -> Sandbox {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(mut cfg: SandboxConfig) -> Sandbox {
    cfg.listen = "127.0.0.1:0".parse().expect("literal");
    let running = sandbox::start(cfg, std::future::pending())
        .await
        .expect("sandbox starts");
    let base = running.base_url();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client");
    Sandbox {
        running,
        base,
        http,
    }
}

impl Sandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET /api/vin/get?{query} with optional extra headers; returns the raw response.
    pub async fn get_vin(&self, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(self.url(&format!("/api/vin/get?{query}")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request completes")
    }

    /// The vendor code of GET /api/vin/get?{query}.
    pub async fn code(&self, query: &str, headers: &[(&str, &str)]) -> i64 {
        let body: Value = self
            .get_vin(query, headers)
            .await
            .json()
            .await
            .expect("JSON body");
        body["code"].as_i64().expect("numeric code")
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("admin call");
        assert!(res.status().is_success(), "admin {path}: {}", res.status());
        res.json().await.expect("admin JSON")
    }
}

pub fn sign(text: &str, secret: &str) -> String {
    hex::encode(Md5::digest(format!("{text}{secret}").as_bytes()))
}

pub fn fixture_result(vin: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURES).expect("fixture JSON");
    all["vehicles"]
        .as_array()
        .expect("vehicles")
        .iter()
        .find(|v| v["vin"] == vin)
        .map(|v| v["result"].clone())
        .expect("fixture present")
}
