//! The fault matrix (issue 14, part 2): every fault the sandbox injects, for every vendor
//! of every service, asked directly (the service's own RPC) and through the aggregator
//! (`GetVehicleProfile`), in one suite started as `axle up` starts it.
//!
//! Each case faults one vendor for one vehicle of its own (sandbox rules match by VIN or
//! plate), so the cases run concurrently and none sees another's fault, cache entry or
//! stored callback. Each case asserts, from the table in [`want`]:
//! - the RPC's outcome: the faulted vendor's per-source state, gRPC code and whether it
//!   says when to retry (a partial answer), or the RPC's own status;
//! - that it came back within the deadline plus [`Knobs::slack`];
//! - never INTERNAL, never a panic (a panicking handler is INTERNAL or a reset stream);
//! - for callbacks, what the receiver answered each delivery (the sandbox's delivery log)
//!   and that the stored answer is the genuine one: nothing lost, nothing overwritten.
//!
//! `AXLE_FAULT_MATRIX=long` runs the same cases three times (while the sandbox's
//! fixture vehicles last), with latencies 5 s past the deadline instead of
//! 1 s; `AXLE_FAULT_MATRIX_OUT=FILE` appends the observed matrix as Markdown rows (what
//! `docs/reliability.md` shows).

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{
    GetVehicleProfileRequest, Hints, LicenseImage, license_image,
};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::ocr::v1::{
    LicenseSide, RecognizeVehicleLicenseRequest, recognize_vehicle_license_request,
};
use contracts::axle::plate::v1::LookupVehicleRequest;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::vin::v1::DecodeVinRequest;
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::violation::v1::QueryViolationsRequest;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use kit::server::Shutdown;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

/// How hard the matrix pushes: the short run is part of the test command.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    /// The deadline every RPC is sent with (`grpc-timeout`). The same in both runs: it
    /// is below every vendor's `request_timeout` (3 s and more), so a slow vendor meets
    /// the caller's deadline, not its own attempt timeout, and the outcomes are the same.
    deadline: Duration,
    /// How far past the deadline an answer may come (a busy 2-core debug build).
    slack: Duration,
    /// How far past the deadline a "latency > deadline" fault goes.
    overshoot: Duration,
    /// Each case this many times (a new vehicle each time, while fixtures last).
    repeats: usize,
    /// Cases in flight at once.
    concurrency: usize,
}

fn knobs() -> Knobs {
    let short = Knobs {
        deadline: Duration::from_secs(2),
        slack: Duration::from_millis(750),
        overshoot: Duration::from_secs(1),
        repeats: 1,
        concurrency: 16,
    };
    if std::env::var("AXLE_FAULT_MATRIX").is_ok_and(|v| v == "long") {
        Knobs {
            overshoot: Duration::from_secs(5),
            repeats: 3,
            concurrency: 16,
            ..short
        }
    } else {
        short
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Connapi,
    Xiaoshibao,
    Platecb,
    Apistore,
    /// ocr-service's 行驶证 recognition vendor (seed 002), asked at every address it
    /// publishes, in turn (the sandbox's rule for a photo matches at each).
    Apihz,
}

impl Vendor {
    const ALL: [Self; 5] = [
        Self::Connapi,
        Self::Xiaoshibao,
        Self::Platecb,
        Self::Apistore,
        Self::Apihz,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Connapi => "connapi",
            Self::Xiaoshibao => "xiaoshibao",
            Self::Platecb => "platecb",
            Self::Apistore => "apistore",
            Self::Apihz => "apihz",
        }
    }

    /// The service that asks it (the aggregator's `via`).
    fn service(self) -> &'static str {
        match self {
            Self::Connapi => "vin-service",
            Self::Xiaoshibao | Self::Platecb => "plate-service",
            Self::Apistore => "violation-service",
            Self::Apihz => "ocr-service",
        }
    }

    /// Its own error codes, as its contract lists them (seeds 000, 001, 003).
    fn codes(self) -> &'static [i64] {
        match self {
            // Seed 001: 400, 403, 404, 500, 501, 601-604.
            Self::Connapi => &[400, 403, 404, 500, 501, 601, 602, 603, 604],
            // Seed 000: HTTP statuses with the code in the body.
            Self::Xiaoshibao => &[400, 401, 403, 404, 429, 503],
            // Seed 003's 状态码说明, every code but success (10000), accepted (10023) and
            // debug data (10024).
            Self::Platecb => &[
                10001, 10002, 10003, 10004, 10005, 10006, 10007, 10008, 10009, 10010, 10011, 10012,
                10013, 10014, 10015, 10017, 10018, 10019, 10020, 10021, 10022, 10025,
            ],
            // The same but the out-of-credit codes, which stop apistore for every query
            // (`quota_cooldown`): `apistore_out_of_credit_stops_it_for_the_cooldown`.
            Self::Apistore => &[
                10001, 10002, 10003, 10004, 10005, 10006, 10007, 10008, 10009, 10010, 10012, 10013,
                10014, 10015, 10017, 10019, 10020, 10021, 10025,
            ],
            // Every apihz error is code 400: its message is the error (`Fault::Message`).
            Self::Apihz => &[],
        }
    }

    /// apihz's error messages: the seed's own (`通讯秘钥错误。`) and the sandbox's
    /// wording of the failures seed 002's parameter table and limits describe
    /// (`sandbox::vendors::apihz`).
    fn messages(self) -> &'static [&'static str] {
        match self {
            Self::Apihz => &[
                "通讯秘钥错误。",
                "用户ID和通讯秘钥不能为空。",
                "class参数错误,1=行驶证正页,2=行驶证副页。",
                "type参数错误,1=远程图片,2=BASE64编码。",
                "图片不能为空。",
                "BASE64编码大小不能超过1M。",
                "图片解析失败,请去除BASE64编码头部部分,只保留纯BASE64编码,再进行URL编码。",
                "图片识别失败,请上传清晰的行驶证图片。",
                "远程图片获取失败。",
                "盟点余额不足,请充值。",
                "当前IP瞬时并发超过限制,请稍后再试。",
            ],
            _ => &[],
        }
    }

    fn answers_by_callback(self) -> bool {
        matches!(self, Self::Platecb | Self::Apistore)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A latency past the deadline.
    Latency,
    /// A log-normal latency well inside the deadline: the answer still comes.
    LatencyWithin,
    Code(i64),
    /// apihz's `{"code":400,"msg":...}` with this message.
    Message(&'static str),
    /// HTTP 429 with `Retry-After: 10` (past any deadline of the matrix).
    RateLimited,
    /// HTTP 503 without Retry-After.
    Unavailable,
    /// The real answer truncated (invalid JSON).
    Malformed,
    /// The real answer as `text/html`.
    ContentType,
    /// The real answer in GBK, declared UTF-8.
    Charset,
    /// The real answer in GBK, declared so (older Chinese vendors).
    CharsetDeclared,
    Reset,
    /// The real answer 8 bytes every quarter of the deadline: every answer of the
    /// vendors (the shortest, platecb's 10023, is ~70 bytes) takes longer.
    SlowBody,
    BadSignature,
    Duplicate,
    OutOfOrder,
    /// The vendor's base URL points at a closed port (a suite of its own).
    EndpointDown,
}

impl Fault {
    fn label(self) -> String {
        match self {
            Self::Latency => "latency > deadline".to_owned(),
            Self::LatencyWithin => "latency < deadline".to_owned(),
            Self::Code(c) => format!("code {c}"),
            Self::Message(m) => format!("400 {m}"),
            Self::RateLimited => "HTTP 429 + Retry-After".to_owned(),
            Self::Unavailable => "HTTP 503".to_owned(),
            Self::Malformed => "truncated body".to_owned(),
            Self::ContentType => "wrong content type".to_owned(),
            Self::Charset => "wrong charset".to_owned(),
            Self::CharsetDeclared => "GBK, declared".to_owned(),
            Self::Reset => "connection reset".to_owned(),
            Self::SlowBody => "slow body".to_owned(),
            Self::BadSignature => "callback: bad signature".to_owned(),
            Self::Duplicate => "callback: duplicate".to_owned(),
            Self::OutOfOrder => "callback: out of order".to_owned(),
            Self::EndpointDown => "endpoint down".to_owned(),
        }
    }

    /// The faults of one vendor, in the matrix's order (endpoint down apart).
    fn of(vendor: Vendor) -> Vec<Self> {
        let mut v = vec![
            Self::Latency,
            Self::LatencyWithin,
            Self::RateLimited,
            Self::Unavailable,
            Self::Malformed,
            Self::ContentType,
            Self::Charset,
            Self::CharsetDeclared,
            Self::Reset,
            Self::SlowBody,
        ];
        v.extend(vendor.codes().iter().map(|&c| Self::Code(c)));
        v.extend(vendor.messages().iter().map(|&m| Self::Message(m)));
        if vendor.answers_by_callback() {
            v.extend([Self::BadSignature, Self::Duplicate, Self::OutOfOrder]);
        }
        v
    }

    /// Whether the fault changes the vendor's real answer, so the case needs a vehicle
    /// the vendor knows.
    fn needs_fixture(self) -> bool {
        matches!(
            self,
            Self::LatencyWithin
                | Self::Malformed
                | Self::ContentType
                | Self::Charset
                | Self::CharsetDeclared
                | Self::SlowBody
                | Self::BadSignature
                | Self::Duplicate
                | Self::OutOfOrder
        )
    }

    /// The sandbox rule's latency and action.
    fn rule(self, k: Knobs) -> Value {
        let past_deadline =
            u64::try_from((k.deadline + k.overshoot).as_millis()).unwrap_or(u64::MAX);
        match self {
            Self::Latency => json!({"latency": {"kind": "fixed", "ms": past_deadline}}),
            Self::LatencyWithin => {
                json!({"latency": {"kind": "log_normal", "p50_ms": 50, "p99_ms": 300, "max_ms": 400}})
            }
            Self::Code(code) => json!({"action": {"kind": "vendor_code", "code": code}}),
            Self::Message(msg) => {
                json!({"action": {"kind": "vendor_code", "code": 400, "msg": msg}})
            }
            Self::RateLimited => {
                json!({"action": {"kind": "http_status", "status": 429, "retry_after_s": 10}})
            }
            Self::Unavailable => json!({"action": {"kind": "http_status", "status": 503}}),
            Self::Malformed => json!({"action": {"kind": "malformed"}}),
            Self::ContentType => json!({"action": {"kind": "content_type", "value": "text/html"}}),
            Self::Charset => {
                json!({"action": {"kind": "charset", "encoding": "gbk", "declared": "utf-8"}})
            }
            Self::CharsetDeclared => {
                json!({"action": {"kind": "charset", "encoding": "gbk", "declared": "GBK"}})
            }
            Self::Reset => json!({"action": {"kind": "reset"}}),
            Self::SlowBody => {
                json!({"action": {"kind": "slow_body", "chunk_bytes": 8, "interval_ms": past_deadline / 4}})
            }
            Self::BadSignature => json!({"action": {"kind": "callback", "mode": "bad_signature"}}),
            Self::Duplicate => json!({"action": {"kind": "callback", "mode": "duplicate"}}),
            Self::OutOfOrder => json!({"action": {"kind": "callback", "mode": "out_of_order"}}),
            Self::EndpointDown => json!({}),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Aggregator,
}

/// What a case saw of the faulted vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The RPC answered; the vendor's per-source state and code, and whether it says
    /// when to ask again.
    Source {
        state: SourceState,
        code: Code,
        retry_after: bool,
    },
    /// The RPC failed as a whole: its code, and whether it says when to ask again
    /// (RetryInfo).
    Rpc(Code, bool),
    /// The RPC answered without a status for the vendor.
    Missing,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source {
                state,
                code,
                retry_after,
            } => {
                let state = state.as_str_name().trim_start_matches("SOURCE_STATE_");
                let code = kit::client::source_status::code_name(*code);
                write!(f, "{state} {code}")?;
                if *retry_after {
                    write!(f, " + retry_after")?;
                }
                Ok(())
            }
            Self::Rpc(code, retry_after) => {
                write!(f, "RPC {}", kit::client::source_status::code_name(*code))?;
                if *retry_after {
                    write!(f, " + RetryInfo")?;
                }
                Ok(())
            }
            Self::Missing => write!(f, "no status"),
        }
    }
}

const fn src(state: SourceState, code: Code, retry_after: bool) -> Seen {
    Seen::Source {
        state,
        code,
        retry_after,
    }
}

/// The documented outcome of `fault` on `vendor`, the same directly and through the
/// aggregator, which passes the services' per-source statuses on (DESIGN.md, "Partial
/// results": a source that fails or misses the deadline shows up in a per-source status
/// list; the rest is still returned). Every RPC answers: a vendor's fault is never the
/// RPC's own error.
///
/// The codes follow `sources::status::from_failure` (one table for every vendor):
/// the vendor has no record -> NOT_FOUND; our parameters, credentials, account,
/// subscription or quota -> FAILED_PRECONDITION (asking again changes nothing until the
/// operator acts); 429 -> RESOURCE_EXHAUSTED with the vendor's Retry-After; the vendor
/// failing, unreachable or unreadable -> UNAVAILABLE; no answer before the caller's
/// deadline -> DEADLINE_EXCEEDED; a code its contract gives no meaning -> UNKNOWN.
fn want(vendor: Vendor, fault: Fault, path: Path) -> Seen {
    use Code::{
        DeadlineExceeded, FailedPrecondition, NotFound, Ok, ResourceExhausted, Unavailable,
    };
    use SourceState::{Failed, NotFound as Absent, Pending, Timeout};
    if vendor == Vendor::Apihz {
        return want_apihz(fault, path);
    }
    let by_callback = vendor.answers_by_callback();
    match fault {
        // The answer arrives inside the deadline; a label the connectors do not need
        // (they read the body as the contract's JSON) is no reason to drop a
        // well-formed answer; the callback webhook refuses the forged delivery (403),
        // takes the genuine retry, and acknowledges a second or older delivery of an
        // answered query without storing it (callback::webhook, steps 2-4).
        // connector::client decodes the charset a body declares.
        Fault::LatencyWithin
        | Fault::ContentType
        | Fault::CharsetDeclared
        | Fault::BadSignature
        | Fault::Duplicate
        | Fault::OutOfOrder => src(SourceState::Ok, Ok, false),
        // An async vendor's submission runs to its end after the caller's deadline
        // (`submit_timeout`), honouring a Retry-After, and its answer is stored when it
        // comes: PENDING, ask again after `pending_retry_after` (plate-service's and
        // violation-service's configuration). A synchronous connector gives up at the
        // deadline, and at once when Retry-After (10 s) is past it, passing the wait on.
        Fault::Latency | Fault::SlowBody | Fault::RateLimited if by_callback => {
            src(Pending, Ok, true)
        }
        Fault::Latency | Fault::SlowBody => src(Timeout, DeadlineExceeded, false),
        // A submission whose answer was cut, unreadable or never came may have been
        // accepted: the platform may still call back (callback crate, "unclear
        // submissions"), so it is PENDING, not failed, and nothing is paid twice.
        Fault::Malformed | Fault::Charset | Fault::Reset if by_callback => {
            src(Pending, Unavailable, true)
        }
        Fault::Malformed | Fault::Charset | Fault::Reset | Fault::Unavailable => {
            src(Failed, Unavailable, false)
        }
        Fault::EndpointDown => src(Failed, Unavailable, false),
        Fault::RateLimited => src(Failed, ResourceExhausted, true),
        Fault::Message(_) => unreachable!("only apihz answers with messages"),
        Fault::Code(code) => match (vendor, code) {
            (Vendor::Connapi | Vendor::Xiaoshibao, 404) => src(Absent, NotFound, false),
            // Seed 001: 500 系统内部错误, 501 第三方服务异常.
            (Vendor::Connapi, 500 | 501) | (Vendor::Xiaoshibao, 503) => {
                src(Failed, Unavailable, false)
            }
            // Seed 000's 429 as a body code, without Retry-After.
            (Vendor::Xiaoshibao, 429) => src(Failed, ResourceExhausted, false),
            // Seed 001: 400 not provisioned / no balance, 403 no permission, 601-604
            // account states; seed 000: 400, 401, 403.
            (Vendor::Connapi | Vendor::Xiaoshibao, _) => src(Failed, FailedPrecondition, false),
            // Seed 003: 10025 查无数据.
            (_, 10025) => src(Absent, NotFound, false),
            // 10021 服务器发生错误: the platform failed (apistore says when to ask again).
            (_, 10021) => src(Failed, Unavailable, vendor == Vendor::Apistore),
            // 10014 未知的错误 and 10019 `{@info}`: the table gives them no meaning.
            (_, 10014 | 10019) => src(Failed, Code::Unknown, false),
            // apistore's out-of-credit codes stop it for everyone: their own test.
            // Every other code is our request, app, subscription or account.
            _ => src(Failed, FailedPrecondition, false),
        },
    }
}

/// apihz's faults. The suite's ocr-service has no local engine (`up`), so apihz is the
/// only reader: when it cannot read the photo, RecognizeVehicleLicense has nothing to
/// answer and fails as a whole, as its contract (proto/axle/ocr/v1/ocr.proto) says:
/// UNAVAILABLE with RetryInfo when asking again may help (the vendor's Retry-After when
/// it gave one), without when the operator must act first (the key, the balance, a
/// request the vendor refuses); INVALID_ARGUMENT NO_LICENSE_FOUND when the vendor found
/// no licence in the photo; DEADLINE_EXCEEDED when the caller's deadline came first.
/// Errors that would be the same at every address (key, balance, the image) are not
/// failed over; the rest are, across every address the vendor publishes.
///
/// Through the aggregator, ocr-service's error is the `ocr-service` step's status and
/// the answer is partial (`aggregator::run::photo_refused`: only a photo ocr-service
/// refused as such fails the request); its deadline is the recognition's share.
fn want_apihz(fault: Fault, path: Path) -> Seen {
    use Code::{DeadlineExceeded, InvalidArgument, Ok, Unavailable};
    let rpc = match fault {
        Fault::LatencyWithin | Fault::ContentType | Fault::CharsetDeclared => {
            return src(SourceState::Ok, Ok, false);
        }
        Fault::Latency | Fault::SlowBody => Seen::Rpc(DeadlineExceeded, false),
        // Failed over to every address; each said the same.
        Fault::RateLimited
        | Fault::Unavailable
        | Fault::Malformed
        | Fault::Charset
        | Fault::Reset
        | Fault::EndpointDown => Seen::Rpc(Unavailable, true),
        // 图片识别失败: the vendor found no licence in the photo.
        Fault::Message(msg) if msg.starts_with("图片识别失败") => {
            Seen::Rpc(InvalidArgument, false)
        }
        // 瞬时并发超过限制: this address is busy, the next may not be, and a moment later
        // this one may not be either.
        Fault::Message(msg) if msg.starts_with("当前IP瞬时并发") => {
            Seen::Rpc(Unavailable, true)
        }
        // The key, the balance, a parameter we sent: the same at every address until the
        // operator acts.
        Fault::Message(_) => Seen::Rpc(Unavailable, false),
        Fault::Code(_) | Fault::BadSignature | Fault::Duplicate | Fault::OutOfOrder => {
            unreachable!("apihz has no codes and no callbacks")
        }
    };
    match (path, rpc) {
        (Path::Direct, rpc) => rpc,
        (Path::Aggregator, Seen::Rpc(DeadlineExceeded, _)) => {
            src(SourceState::Timeout, DeadlineExceeded, false)
        }
        (Path::Aggregator, Seen::Rpc(code, retry)) => src(SourceState::Failed, code, retry),
        (Path::Aggregator, seen) => seen,
    }
}

/// One vehicle of a case: what each RPC is asked.
#[derive(Debug, Clone)]
struct Vehicle {
    vin: String,
    plate: String,
    /// 号牌种类, engine number and VIN for violation queries.
    plate_type: &'static str,
    engine: &'static str,
    frame: &'static str,
    /// A 行驶证 photo of its own (a PNG no other case sends): apihz's rules match it by
    /// md5, and the sandbox answers any photo with the seed's example.
    photo: Vec<u8>,
}

/// A small PNG unlike every other `n`'s.
fn photo(n: usize) -> Vec<u8> {
    testkit::noise_png(64, 40, u32::try_from(n).expect("few cases"))
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}

/// Hands out vehicles: never the same to two cases.
struct Garage {
    subjects: cli::load::Subjects,
    next_vin: usize,
    next_plate: usize,
    /// Fixture VINs connapi knows (seed 001 fixtures with a check digit).
    connapi: Vec<&'static str>,
    /// Fixture plates xiaoshibao and platecb both know (苏EF0001-苏EF0030).
    plates: Vec<String>,
    /// apistore vehicles answered at once, and answered by callback.
    apistore_sync: Vec<(&'static str, &'static str, &'static str, &'static str)>,
    apistore_async: Vec<&'static str>,
}

impl Garage {
    fn new() -> Self {
        Self {
            subjects: cli::load::Subjects::new(1_000_000),
            next_vin: 0,
            next_plate: 0,
            connapi: vec![
                "LSVAM4182N2123456",
                "LFV2B25G2M3012345",
                "LGXC74C4XM0123456",
                "LC0C76C44R0654321",
                "L6T7844Z0NN012345",
                "LGWEF6A56MH001234",
                "LRW3E7EK3NC123456",
                "LW433B128N1001234",
                "LJ1E6A2U1N6012345",
                "L1NSPGHB2PA012345",
                "LS5A3DKE8PA012345",
                "LBV8W310XMMN12345",
                "LE4ZG8DB4ML123456",
                "LGBH52E03MY012345",
                "LZYTBGBW1E1012345",
                "1HGCV1F39KA012345",
                "1FA6P8CFXG5123456",
                "5YJ3E1EA6KF123456",
                "2T1BURHE9FC123456",
                "3VWD17AJ7FM123456",
            ]
            .into_iter()
            // A VIN the local rules refuse never reaches the vendor.
            .filter(|v| domain::vin::compute_check_digit(v) == v.chars().nth(8))
            .collect(),
            plates: (1..=30).rev().map(|i| format!("苏EF{i:04}")).collect(),
            apistore_sync: vec![
                ("粤AJ44E6", "02", "AD50EG081600062", "LNBSCC3H8GF308384"),
                ("粤B12345", "02", "DKV082315", "LFV2B25G2M3012345"),
                ("京AF6U09", "02", "LFV180634521", "LSGKB54H0JA123457"),
                ("沪A12345", "02", "DLF123456", "LSVAM4182N2123456"),
                ("川A88888", "02", "GW4B15A210345", "LGWEF6A56MH001234"),
                ("浙A0A123", "02", "TG121000623", "LRW3E7EK3NC123456"),
                ("鄂A6P5N4", "02", "R18Z15234567", "LVHRW1865K5034521"),
                ("粤BD80231", "52", "TZ220XSF2210345", "LGXC74C41N0218764"),
                ("沪AD71562", "52", "TG1225068712", "LRW3E7EB9NC431862"),
                ("京AD12345", "52", "TZ200XYC240516", "LC0C76C44R0654321"),
                ("苏E9T8S1", "02", "M20A3108452", "LVGBE40K7MG052917"),
                ("苏E9T8S2", "02", "M20A3108452", "LVGBE40K7MG052917"),
            ],
            // Popped from the end: R1 first.
            apistore_async: vec![
                "苏E9T8R6",
                "苏E9T8R5",
                "苏E9T8R4",
                "苏E9T8R3",
                "苏E9T8R2",
                "苏E9T8R1",
            ],
        }
    }

    fn generated(&mut self) -> Vehicle {
        let vin = self.subjects.vin(self.next_vin);
        self.next_vin += 1;
        self.next_plate += 1;
        Vehicle {
            vin,
            // 苏E (Suzhou) asks for the engine number's last 6 and the VIN's last 6
            // characters; these plates are unknown to every vendor.
            plate: format!("苏EA{:04}", self.next_plate),
            plate_type: "02",
            engine: "M20A3108452",
            frame: "LVGBE40K7MG052917",
            // Made for apihz's cases only (`for_case`): encoding costs in a debug build.
            photo: Vec::new(),
        }
    }

    /// A vehicle for `fault` on `vendor`, or `None` when the fixtures ran out.
    fn for_case(&mut self, vendor: Vendor, fault: Fault) -> Option<Vehicle> {
        let mut v = self.generated();
        if vendor == Vendor::Apihz {
            v.photo = photo(self.next_vin);
        }
        if !fault.needs_fixture() {
            return Some(v);
        }
        match vendor {
            Vendor::Connapi => self.connapi.pop()?.clone_into(&mut v.vin),
            // Every photo is a fixture: the sandbox answers it with the seed's example.
            Vendor::Apihz => {}
            Vendor::Xiaoshibao | Vendor::Platecb => v.plate = self.plates.pop()?,
            Vendor::Apistore
                if matches!(
                    fault,
                    Fault::BadSignature | Fault::Duplicate | Fault::OutOfOrder
                ) =>
            {
                self.apistore_async.pop()?.clone_into(&mut v.plate);
            }
            Vendor::Apistore => {
                let (plate, plate_type, engine, frame) = self.apistore_sync.pop()?;
                plate.clone_into(&mut v.plate);
                v.plate_type = plate_type;
                v.engine = engine;
                v.frame = frame;
            }
        }
        Some(v)
    }
}

#[derive(Debug, Clone)]
struct Case {
    vendor: Vendor,
    fault: Fault,
    path: Path,
    vehicle: Vehicle,
}

impl Case {
    /// The sandbox rules that make this case: the fault on its vendor for its vehicle,
    /// and, for a callback case asked by plate, xiaoshibao silent on that plate so that
    /// the answer shown is platecb's alone.
    fn rules(&self, k: Knobs) -> Vec<Value> {
        if self.fault == Fault::EndpointDown {
            return Vec::new();
        }
        let mut rule = self.fault.rule(k);
        rule["vendor"] = json!(self.vendor.name());
        rule["name"] = json!(format!(
            "{} / {:?} / {}",
            self.vendor.name(),
            self.path,
            self.fault.label()
        ));
        match self.vendor {
            Vendor::Connapi => rule["vin"] = json!(self.vehicle.vin),
            Vendor::Apihz => rule["image_md5"] = json!(md5_hex(&self.vehicle.photo)),
            _ => rule["plate"] = json!(self.vehicle.plate),
        }
        let mut rules = vec![rule];
        if self.vendor == Vendor::Platecb {
            rules.push(json!({"vendor": "xiaoshibao", "plate": self.vehicle.plate,
                "action": {"kind": "vendor_code", "code": 404}}));
        }
        rules
    }
}

fn cases(k: Knobs) -> Vec<Case> {
    let mut garage = Garage::new();
    let mut out = Vec::new();
    let only = std::env::var("AXLE_FAULT_MATRIX_VENDOR").ok();
    for round in 0..k.repeats {
        for vendor in Vendor::ALL {
            for fault in Fault::of(vendor) {
                for path in [Path::Direct, Path::Aggregator] {
                    match garage.for_case(vendor, fault) {
                        Some(vehicle) => out.push(Case {
                            vendor,
                            fault,
                            path,
                            vehicle,
                        }),
                        // The first round is the whole matrix: every case runs.
                        None if round == 0 => panic!(
                            "no fixture vehicle left for {} / {}: add one to the sandbox",
                            vendor.name(),
                            fault.label()
                        ),
                        // Later rounds (the long run) repeat what the fixtures allow.
                        None => {}
                    }
                }
            }
        }
    }
    if let Some(only) = only {
        out.retain(|c| c.vendor.name() == only);
    }
    out
}

/// The running suite's clients.
#[derive(Clone)]
struct Clients {
    vin: VinServiceClient<Channel>,
    plate: PlateServiceClient<Channel>,
    violation: ViolationServiceClient<Channel>,
    aggregator: AggregatorServiceClient<Channel>,
    ocr: OcrServiceClient<Channel>,
    sandbox: std::net::SocketAddr,
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects")
}

/// The suite as `axle up` starts it, with `rules` in the sandbox and `tweak` applied.
async fn up(
    rules: Vec<Value>,
    tweak: impl FnOnce(&mut cli::up::UpConfig),
) -> (cli::up::Suite, Shutdown, Clients) {
    let mut cfg = cli::up::load(None).expect("embedded default loads");
    common::ephemeral(&mut cfg, "faults");
    cfg.ocr.local.enabled = false;
    cfg.metrics_listen = None;
    cfg.sandbox.faults = serde_json::from_value(Value::Array(rules)).expect("rules");
    // A refused callback is retried after 5 min in the seed: 300 ms here.
    cfg.sandbox.platecb.time_scale = 0.001;
    cfg.sandbox.apistore.time_scale = 0.001;
    // Cases share the vendors' rate limits and the aggregator's breakers: neither may
    // turn one case's fault into another's outcome, so the limits are out of reach and
    // the breakers off (both have tests of their own).
    for http in [
        &mut cfg.vin.vendors.connapi.http,
        &mut cfg.plate.vendors.xiaoshibao.http,
        &mut cfg.plate.vendors.platecb.http,
        &mut cfg.violation.vendors.apistore.http,
    ] {
        http.rate_limit.per_second = 0.0;
    }
    for svc in [
        &mut cfg.aggregator.services.vin,
        &mut cfg.aggregator.services.plate,
        &mut cfg.aggregator.services.violation,
        &mut cfg.aggregator.services.ocr,
    ] {
        svc.breaker.enabled = false;
    }
    tweak(&mut cfg);
    let shutdown = Shutdown::new();
    let suite = Box::pin(cli::up::start(cfg, shutdown.clone()))
        .await
        .expect("suite starts");
    let clients = Clients {
        vin: VinServiceClient::new(channel(suite.vin_addr).await),
        plate: PlateServiceClient::new(channel(suite.plate_addr).await),
        violation: ViolationServiceClient::new(channel(suite.violation_addr).await),
        aggregator: AggregatorServiceClient::new(channel(suite.aggregator_addr).await),
        ocr: OcrServiceClient::new(channel(suite.ocr_addr).await),
        sandbox: suite.sandbox_addr,
    };
    (suite, shutdown, clients)
}

fn with_deadline<T>(msg: T, deadline: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(deadline);
    req
}

fn seen_in(sources: &[SourceStatus], vendor: Vendor, via: &str) -> Seen {
    let seen = |s: &SourceStatus| Seen::Source {
        state: SourceState::try_from(s.state).unwrap_or(SourceState::Unspecified),
        code: Code::from(s.code),
        retry_after: s.retry_after.is_some(),
    };
    if let Some(s) = sources
        .iter()
        .find(|s| s.source == vendor.name() && s.via == via)
    {
        return seen(s);
    }
    // Through the aggregator, a service that itself missed its share of the deadline
    // has no vendor statuses to pass on: its own status stands for its vendor's.
    sources
        .iter()
        .find(|s| !via.is_empty() && s.source == via && s.via.is_empty())
        .filter(|s| s.state != SourceState::Ok as i32)
        .map_or(Seen::Missing, seen)
}

/// Asks the case's RPC; what it saw of the vendor, and the masked VIN / violation
/// count it answered (for the callback checks).
async fn ask(c: &mut Clients, case: &Case, deadline: Duration) -> (Seen, Option<String>) {
    let v = &case.vehicle;
    let rpc_failed = |s: tonic::Status| {
        use tonic_types::StatusExt as _;
        let retry = s.get_error_details().retry_info().is_some();
        (Seen::Rpc(s.code(), retry), None)
    };
    match (case.path, case.vendor) {
        (Path::Direct, Vendor::Connapi) => {
            match c
                .vin
                .decode_vin(with_deadline(
                    DecodeVinRequest { vin: v.vin.clone() },
                    deadline,
                ))
                .await
            {
                Ok(r) => (seen_in(&r.get_ref().sources, case.vendor, ""), None),
                Err(s) => rpc_failed(s),
            }
        }
        (Path::Direct, Vendor::Xiaoshibao | Vendor::Platecb) => {
            let req = LookupVehicleRequest {
                plate: v.plate.clone(),
                color: 0,
            };
            match c.plate.lookup_vehicle(with_deadline(req, deadline)).await {
                Ok(r) => {
                    let r = r.into_inner();
                    (seen_in(&r.sources, case.vendor, ""), r.vin.map(|f| f.value))
                }
                Err(s) => rpc_failed(s),
            }
        }
        (Path::Direct, Vendor::Apistore) => {
            let req = QueryViolationsRequest {
                plate: v.plate.clone(),
                plate_type: v.plate_type.to_owned(),
                engine_number: v.engine.to_owned(),
                vin: v.frame.to_owned(),
                ..QueryViolationsRequest::default()
            };
            match c
                .violation
                .query_violations(with_deadline(req, deadline))
                .await
            {
                Ok(r) => {
                    let r = r.into_inner();
                    let mut codes: Vec<String> =
                        r.violations.iter().map(|x| x.code.clone()).collect();
                    codes.sort();
                    (seen_in(&r.sources, case.vendor, ""), Some(codes.join(",")))
                }
                Err(s) => rpc_failed(s),
            }
        }
        (Path::Direct, Vendor::Apihz) => {
            let req = RecognizeVehicleLicenseRequest {
                source: Some(recognize_vehicle_license_request::Source::Image(
                    v.photo.clone(),
                )),
                side: LicenseSide::Front as i32,
                other_side: None,
            };
            match c
                .ocr
                .recognize_vehicle_license(with_deadline(req, deadline))
                .await
            {
                Ok(r) => (seen_in(&r.get_ref().sources, case.vendor, ""), None),
                Err(s) => rpc_failed(s),
            }
        }
        (Path::Aggregator, vendor) => {
            let mut req = GetVehicleProfileRequest::default();
            match vendor {
                Vendor::Apihz => {
                    req.subject = Some(Subject::LicenseImage(LicenseImage {
                        source: Some(license_image::Source::Image(v.photo.clone())),
                        side: LicenseSide::Front as i32,
                    }));
                    // What the photo says is all this case is about.
                    req.include = Some(prost_types::FieldMask {
                        paths: vec!["vin".to_owned()],
                    });
                }
                Vendor::Connapi => req.subject = Some(Subject::Vin(v.vin.clone())),
                Vendor::Xiaoshibao | Vendor::Platecb => {
                    req.subject = Some(Subject::Plate(v.plate.clone()));
                }
                Vendor::Apistore => {
                    req.subject = Some(Subject::Plate(v.plate.clone()));
                    req.hints = Some(Hints {
                        plate_type: v.plate_type.to_owned(),
                        engine_number: v.engine.to_owned(),
                        vin: v.frame.to_owned(),
                        ..Hints::default()
                    });
                    req.include = Some(prost_types::FieldMask {
                        paths: vec!["violations".to_owned()],
                    });
                }
            }
            match Box::pin(
                c.aggregator
                    .get_vehicle_profile(with_deadline(req, deadline)),
            )
            .await
            {
                Ok(r) => {
                    let r = r.into_inner();
                    let vin = r.profile.and_then(|p| p.vin).map(|f| f.value);
                    (seen_in(&r.sources, vendor, vendor.service()), vin)
                }
                Err(s) => rpc_failed(s),
            }
        }
    }
}

/// `GET path` on the sandbox's admin API, as JSON.
async fn sandbox_get(addr: std::net::SocketAddr, path: &str) -> Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One delivery of the sandbox's log: its kind, the receiver's HTTP status, and the
/// platform's request id (one per paid submission).
type Delivered = (String, u64, String);

/// The deliveries for `plate`, once `n` arrived (bounded).
async fn deliveries(
    addr: std::net::SocketAddr,
    vendor: Vendor,
    plate: &str,
    n: usize,
) -> Vec<Delivered> {
    let path = format!(
        "/_sandbox/{}/deliveries?plate={}",
        vendor.name(),
        percent_encode(plate)
    );
    let mut got = Vec::new();
    for _ in 0..100 {
        got = sandbox_get(addr, &path)
            .await
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        (
                            d["kind"].as_str().unwrap_or_default().to_owned(),
                            d["status"].as_u64().unwrap_or(0),
                            d["request_id"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if got.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got
}

/// What a callback case must find after its RPC: the receiver's answer to each
/// delivery, and the stored answer still the genuine one when asked again.
async fn check_callbacks(c: &mut Clients, case: &Case, k: Knobs) -> Result<(), String> {
    // The callback webhook's answers (callback::webhook::Outcome::status): a wrong
    // signature is refused (403) and the platform retries; a second delivery of an
    // answered query is acknowledged (200) and changes nothing, whatever it says.
    let want: &[(&str, u64)] = match case.fault {
        Fault::BadSignature => &[("bad_signature", 403), ("genuine", 200)],
        Fault::Duplicate => &[("genuine", 200), ("duplicate", 200)],
        Fault::OutOfOrder => &[("genuine", 200), ("out_of_order", 200)],
        // platecb accepted these submissions though we could not read (or wait for)
        // its answer: the callback it sends is still ours to take (an unclear
        // submission awaits its callback), not a paid answer lost.
        Fault::Malformed | Fault::Charset | Fault::SlowBody | Fault::LatencyWithin
            if case.vendor == Vendor::Platecb =>
        {
            &[("genuine", 200)]
        }
        _ => return Ok(()),
    };
    let delivered = deliveries(c.sandbox, case.vendor, &case.vehicle.plate, want.len()).await;
    let got: Vec<(&str, u64)> = delivered.iter().map(|(k, s, _)| (k.as_str(), *s)).collect();
    if got != want {
        return Err(format!("deliveries {got:?}, want {want:?}"));
    }
    // One paid submission for the vehicle, whatever the deliveries did.
    if delivered.iter().any(|(_, _, id)| *id != delivered[0].2) {
        return Err(format!("more than one submission: {delivered:?}"));
    }
    // Asked again directly: the stored, genuine answer (never the other data the
    // sandbox put in the bad or older delivery).
    let again = Case {
        path: Path::Direct,
        ..case.clone()
    };
    let (seen, answer) = ask(c, &again, k.deadline).await;
    let genuine = match case.vendor {
        Vendor::Platecb => domain::pii::mask_vin("LFV2B25G2M3012345"),
        // 苏E9T8R7's two records (the forged delivery has one, 1701).
        _ => "1208,1344".to_owned(),
    };
    // Served from the store: no new paid submission, whose delivery would have come
    // `first_delivery_ms` (200 ms) after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = deliveries(c.sandbox, case.vendor, &case.vehicle.plate, 0).await;
    if after.len() != delivered.len() {
        return Err(format!(
            "asked again, the vendor was asked again: {after:?}"
        ));
    }
    match (seen, answer) {
        (
            Seen::Source {
                state: SourceState::Ok,
                ..
            },
            Some(a),
        ) if a == genuine => Ok(()),
        (seen, answer) => Err(format!(
            "asked again: {seen}, answer {answer:?}, want OK with {genuine}"
        )),
    }
}

/// Runs one case: its outcome, how long it took, and what went wrong (if anything).
async fn run(mut c: Clients, case: Case, k: Knobs) -> (Case, Seen, Duration, Vec<String>) {
    let t = Instant::now();
    let (seen, _) = ask(&mut c, &case, k.deadline).await;
    let took = t.elapsed();
    let mut problems = Vec::new();
    if took > k.deadline + k.slack {
        problems.push(format!("took {took:?}, deadline {:?}", k.deadline));
    }
    let internal = matches!(
        seen,
        Seen::Rpc(Code::Internal | Code::Unknown, _)
            | Seen::Source {
                code: Code::Internal,
                ..
            }
    );
    if internal {
        problems.push(format!("{seen}: never INTERNAL (nor a handler that died)"));
    }
    let w = want(case.vendor, case.fault, case.path);
    if w != seen {
        problems.push(format!("saw {seen}, want {w}"));
    }
    if let Err(e) = check_callbacks(&mut c, &case, k).await {
        problems.push(e);
    }
    (case, seen, took, problems)
}

/// Runs `cases` against a suite with their rules, `k.concurrency` at a time; panics
/// with every failing case; writes the matrix to `AXLE_FAULT_MATRIX_OUT` when set.
async fn run_matrix(cases: Vec<Case>, k: Knobs, tweak: impl FnOnce(&mut cli::up::UpConfig)) {
    let rules = cases.iter().flat_map(|c| c.rules(k)).collect();
    let (suite, shutdown, clients) = Box::pin(up(rules, tweak)).await;
    let started = Instant::now();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(k.concurrency));
    // Spawned at once (a lazy stream would start each after the one before), at most
    // `concurrency` asking at a time.
    let handles: Vec<_> = cases
        .into_iter()
        .map(|case| {
            let (clients, slots) = (clients.clone(), slots.clone());
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.expect("open");
                run(clients, case, k).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        results.push(h.await);
    }
    let wall = started.elapsed();
    let mut report = String::new();
    let mut failures = Vec::new();
    for r in results {
        let (case, seen, took, problems) = r.expect("a case panicked");
        let _ = writeln!(
            report,
            "| {} | {} | {:?} | {seen} | {} ms |",
            case.vendor.name(),
            case.fault.label(),
            case.path,
            took.as_millis()
        );
        if !problems.is_empty() {
            failures.push(format!(
                "{} / {} / {:?} ({} {}): {}",
                case.vendor.name(),
                case.fault.label(),
                case.path,
                case.vehicle.vin,
                case.vehicle.plate,
                problems.join("; ")
            ));
        }
    }
    if let Ok(path) = std::env::var("AXLE_FAULT_MATRIX_OUT") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("matrix file");
        let _ = writeln!(f, "<!-- wall {} ms -->\n{report}", wall.as_millis());
    }
    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_of_every_vendor_directly_and_through_the_aggregator() {
    let k = knobs();
    Box::pin(run_matrix(cases(k), k, |_| {})).await;
}

/// A vendor whose address answers nothing: every base URL at a port just closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_endpoint_down() {
    let k = knobs();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let mut garage = Garage::new();
    let cases = Vendor::ALL
        .into_iter()
        .flat_map(|vendor| [Path::Direct, Path::Aggregator].map(|path| (vendor, path)))
        .map(|(vendor, path)| Case {
            vendor,
            fault: Fault::EndpointDown,
            path,
            vehicle: garage
                .for_case(vendor, Fault::EndpointDown)
                .expect("needs no fixture"),
        })
        .collect();
    Box::pin(run_matrix(cases, k, |cfg| {
        for http in [
            &mut cfg.vin.vendors.connapi.http,
            &mut cfg.plate.vendors.xiaoshibao.http,
            &mut cfg.plate.vendors.platecb.http,
            &mut cfg.violation.vendors.apistore.http,
        ] {
            http.base_url.clone_from(&closed);
        }
        // Every address apihz publishes.
        for address in &mut cfg.ocr.vendors.apihz.addresses {
            address.clone_from(&closed);
        }
    }))
    .await;
}

/// apistore's out-of-credit codes (10011 api已经到期, 10018 次数不足, 10022 帐户余额不足)
/// stop it for every query for `quota_cooldown` (violation-service's apistore source: a
/// used-up account is not asked again per request), so they run one at a time: the
/// query that met the code, then another vehicle while the breaker is open, then, after
/// the cooldown, the code again through the aggregator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apistore_out_of_credit_stops_it_for_the_cooldown() {
    let k = knobs();
    let cooldown = Duration::from_secs(1);
    let mut garage = Garage::new();
    let mut steps = Vec::new();
    for code in [10011, 10018, 10022] {
        for path in [Path::Direct, Path::Aggregator] {
            let faulted = Case {
                vendor: Vendor::Apistore,
                fault: Fault::Code(code),
                path,
                vehicle: garage.generated(),
            };
            let bystander = Case {
                vendor: Vendor::Apistore,
                fault: Fault::LatencyWithin,
                path,
                vehicle: garage.generated(),
            };
            steps.push((faulted, bystander));
        }
    }
    let rules = steps.iter().flat_map(|(f, _)| f.rules(k)).collect();
    let (suite, shutdown, mut clients) = Box::pin(up(rules, |cfg| {
        cfg.violation.vendors.apistore.quota_cooldown = cooldown;
    }))
    .await;
    let mut failures = Vec::new();
    for (faulted, bystander) in &steps {
        // The operator must top the account up: RESOURCE_EXHAUSTED, no retry time.
        let (seen, _) = ask(&mut clients, faulted, k.deadline).await;
        let want = src(SourceState::Failed, Code::ResourceExhausted, false);
        if seen != want {
            failures.push(format!(
                "{:?} {:?}: saw {seen}, want {want}",
                faulted.fault, faulted.path
            ));
        }
        // Then nobody asks until the cooldown is over, and each caller is told when.
        let (seen, _) = ask(&mut clients, bystander, k.deadline).await;
        let want = src(SourceState::Failed, Code::ResourceExhausted, true);
        if seen != want {
            failures.push(format!(
                "after {:?} {:?}: saw {seen}, want {want}",
                faulted.fault, faulted.path
            ));
        }
        tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    }
    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
