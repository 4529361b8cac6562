//! Sandbox configuration: listen address, RNG seed, default fault rules, and per-vendor
//! accounts and fixtures. Every field has a default, so an empty document is the
//! embedded sandbox that `axle up` runs.
//!
//! The vendors' sections live here, not in the vendors' files, so that configuration
//! depends on no vendor and every vendor may read its own section.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::faults::FaultRule;

/// Where the sandbox listens unless told otherwise; services' default vendor base URLs
/// point here.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50080";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `127.0.0.1:0` picks a free port; [`crate::RunningSandbox::addr`] tells which.
    pub listen: SocketAddr,
    /// Seed of the one RNG behind probabilities and latency draws: the same seed and the
    /// same request sequence give the same faults.
    pub seed: u64,
    /// Fault rules active at start and restored by `POST /_sandbox/reset`.
    pub faults: Vec<FaultRule>,
    pub connapi: ConnapiConfig,
    pub platecb: PlatecbConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50080))),
            seed: 1,
            faults: Vec::new(),
            connapi: ConnapiConfig::default(),
            platecb: PlatecbConfig::default(),
        }
    }
}

/// connapi (seed 001) simulator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnapiConfig {
    /// Known API keys. Setting this list replaces the built-in demo accounts.
    pub accounts: Vec<ConnapiAccount>,
    /// A fixture file, or a directory of `*.json` fixture files, in the format of the
    /// embedded `fixtures/connapi.json`; entries override embedded ones with the same VIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_fixtures: Option<PathBuf>,
}

impl Default for ConnapiConfig {
    fn default() -> Self {
        let acct = |key: &str, state: AccountState| ConnapiAccount {
            key: key.to_owned(),
            sign_secret: None,
            state,
            balance: None,
        };
        Self {
            accounts: vec![
                acct("sandbox-connapi-key", AccountState::Active),
                ConnapiAccount {
                    sign_secret: Some("sandbox-connapi-secret".to_owned()),
                    ..acct("sandbox-connapi-signed", AccountState::Active)
                },
                ConnapiAccount {
                    balance: Some(3),
                    ..acct("sandbox-balance-3", AccountState::Active)
                },
                acct("sandbox-unprovisioned", AccountState::Unprovisioned),
                acct("sandbox-no-permission", AccountState::NoPermission),
                acct("sandbox-suspended", AccountState::Suspended),
                acct("sandbox-no-balance", AccountState::NoBalance),
                acct("sandbox-discontinued", AccountState::Discontinued),
            ],
            extra_fixtures: None,
        }
    }
}

/// One connapi API key as the sandbox knows it. These are sandbox-only demo values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnapiAccount {
    pub key: String,
    /// When set, 签名校验 is on for this key: the `sign` header is required and must be
    /// md5(raw query or raw body + secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_secret: Option<String>,
    #[serde(default)]
    pub state: AccountState,
    /// Successful lookups left; each 200 costs one, and at 0 the key gets 603. `None`
    /// means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<u64>,
}

/// Account states the vendor documents, each answered with its own code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    #[default]
    Active,
    /// 400 没有开通此业务或权限余额不足 (seed 001): the business is not provisioned,
    /// or the key lacks the permission or the balance. The vendor's one code covers
    /// all of these; the sandbox's state is named after the first.
    Unprovisioned,
    /// 601 服务商未开通接口权限
    NoPermission,
    /// 602 账号停用
    Suspended,
    /// 603 余额不足请充值
    NoBalance,
    /// 604 接口停用
    Discontinued,
}

/// platecb (seed 004 on seed 003's platform) simulator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatecbConfig {
    /// appid -> secret (sandbox demo values).
    pub apps: HashMap<String, String>,
    /// Delay before the first delivery, in ms.
    pub first_delivery_ms: u64,
    /// Multiplies the documented retry schedule (5 min, 1 h, 12 h): 1.0 is real time.
    pub time_scale: f64,
    /// Put a `request_id` in the submit answer. Seed 003 lists none, so by default the
    /// answer has none and receivers correlate by the parameters echoed in the
    /// callback's `request`; turn on to test receivers that use the id.
    pub submit_answer_has_request_id: bool,
}

impl Default for PlatecbConfig {
    fn default() -> Self {
        Self {
            apps: HashMap::from([("1365".to_owned(), "sandbox-platecb-secret".to_owned())]),
            first_delivery_ms: 200,
            time_scale: 1.0,
            submit_answer_has_request_id: false,
        }
    }
}
