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
    pub apistore: ApistoreConfig,
    pub apihz: ApihzConfig,
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
            apistore: ApistoreConfig::default(),
            apihz: ApihzConfig::default(),
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

/// apistore (seed 003, violations) simulator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApistoreConfig {
    /// Known apps. Setting this list replaces the built-in demo apps.
    pub apps: Vec<ApistoreApp>,
    /// Delay before the first callback of an asynchronous (10023) answer, in ms.
    pub first_delivery_ms: u64,
    /// Multiplies the documented callback retry schedule (5 min, 1 h, 12 h): 1.0 is real
    /// time.
    pub time_scale: f64,
    /// Put a `request_id` in the 10023 answer (seed 003 lists none; see platecb's).
    pub submit_answer_has_request_id: bool,
    /// The platform's clock runs this many seconds ahead of the host's (negative:
    /// behind): what its 10004 drift check and the `time` of its answers use, so a
    /// client's drift correction can be tested without touching the client's clock.
    pub clock_offset_s: i64,
}

impl Default for ApistoreConfig {
    fn default() -> Self {
        let app = |appid: &str, sign_mode: SignMode, secret: &str, status: AppStatus| ApistoreApp {
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            sign_mode,
            status,
            credits: None,
        };
        let md5 = |appid: &str, status: AppStatus| {
            app(appid, SignMode::Md5, "sandbox-apistore-secret", status)
        };
        Self {
            apps: vec![
                md5("1", AppStatus::Active),
                app(
                    "2",
                    SignMode::Hash,
                    "sandbox-apistore-hash-secret",
                    AppStatus::Active,
                ),
                ApistoreApp {
                    credits: Some(3),
                    ..md5("3", AppStatus::Active)
                },
                md5("10006", AppStatus::IpNotAllowed),
                md5("10007", AppStatus::Disabled),
                md5("10008", AppStatus::ApiNotInApp),
                md5("10010", AppStatus::ApiNotAdded),
                md5("10011", AppStatus::Expired),
                md5("10012", AppStatus::NotSubscribed),
                md5("10013", AppStatus::ApiPaused),
                md5("10018", AppStatus::NoCredit),
                md5("10022", AppStatus::NoBalance),
                md5("10024", AppStatus::Debug),
            ],
            first_delivery_ms: 200,
            time_scale: 1.0,
            submit_answer_has_request_id: false,
            clock_offset_s: 0,
        }
    }
}

/// One app on seed 003's platform (我的应用). Sandbox-only demo values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApistoreApp {
    pub appid: String,
    pub secret: String,
    /// 验证方式, chosen per app in 我的应用.
    #[serde(default)]
    pub sign_mode: SignMode,
    #[serde(default)]
    pub status: AppStatus,
    /// Billed answers left (首次赠送5次 and the 次数包 plans); at 0 the app gets 10018
    /// 次数不足. `None` means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<u64>,
}

/// Seed 003's two ways to sign (`sign` parameter, 验证方式 MD5 or Hash).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    /// md5 of the non-empty parameters sorted by name, `k1v1k2v2…`, then the secret.
    #[default]
    Md5,
    /// The secret itself (直接跟上密钥即可).
    Hash,
}

/// An app's standing with the platform; each but `active` and `debug` is answered with
/// its code of seed 003's table once the request is authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    #[default]
    Active,
    /// 10024 调试模式数据: every query answers the seed's example record, unbilled.
    Debug,
    /// 10006 当前IP地址未授权
    IpNotAllowed,
    /// 10007 应用被禁用
    Disabled,
    /// 10008 应用内没有该接口
    ApiNotInApp,
    /// 10010 您没有添加该api接口
    ApiNotAdded,
    /// 10011 api已经到期
    Expired,
    /// 10012 没有订购任何api
    NotSubscribed,
    /// 10013 该接口已经暂停使用
    ApiPaused,
    /// 10018 次数不足
    NoCredit,
    /// 10022 帐户余额不足
    NoBalance,
}

impl AppStatus {
    /// The code the platform answers for an app in this state; `None` when it serves.
    pub fn refusal(self) -> Option<i64> {
        Some(match self {
            Self::Active | Self::Debug => return None,
            Self::IpNotAllowed => 10006,
            Self::Disabled => 10007,
            Self::ApiNotInApp => 10008,
            Self::ApiNotAdded => 10010,
            Self::Expired => 10011,
            Self::NotSubscribed => 10012,
            Self::ApiPaused => 10013,
            Self::NoCredit => 10018,
            Self::NoBalance => 10022,
        })
    }
}

/// The sandbox's apihz demo account (sandbox-only values, not credentials).
pub const APIHZ_ID: &str = "10000000";
pub const APIHZ_KEY: &str = "sandbox-apihz-key";
/// A demo account with a balance of two recognitions, then 盟点余额不足.
pub const APIHZ_LIMITED_ID: &str = "10000001";
pub const APIHZ_LIMITED_KEY: &str = "sandbox-apihz-limited";

/// apihz (seed 002, 行驶证 OCR) simulator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApihzConfig {
    /// Known accounts. Setting this list replaces the built-in demo accounts.
    pub accounts: Vec<ApihzAccount>,
    /// The vendor's addresses, each served under `/apihz/<name>`.
    pub addresses: Vec<String>,
    /// Simultaneous requests one address takes (瞬时并发[单IP], seed 002: 20); beyond it
    /// the answer is a 400 "并发超过限制".
    pub max_concurrent_per_address: usize,
    /// How long one recognition takes, in ms (the real vendor needs about a second).
    pub processing_ms: u64,
    /// Answers by md5 (hex) of the decoded image, added to the embedded fixtures.
    pub answers: HashMap<String, serde_json::Value>,
}

impl Default for ApihzConfig {
    fn default() -> Self {
        Self {
            accounts: vec![
                ApihzAccount {
                    id: APIHZ_ID.to_owned(),
                    key: APIHZ_KEY.to_owned(),
                    balance: None,
                },
                ApihzAccount {
                    id: APIHZ_LIMITED_ID.to_owned(),
                    key: APIHZ_LIMITED_KEY.to_owned(),
                    balance: Some(2),
                },
            ],
            addresses: ["ip1", "ip2", "ip3", "domain", "vip"]
                .map(str::to_owned)
                .to_vec(),
            max_concurrent_per_address: 20,
            processing_ms: 0,
            answers: HashMap::new(),
        }
    }
}

/// One apihz account (user id + 通讯秘钥) as the sandbox knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApihzAccount {
    pub id: String,
    pub key: String,
    /// Successful recognitions left before 盟点余额不足; `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<u64>,
}
