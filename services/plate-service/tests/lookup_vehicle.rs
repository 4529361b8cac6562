//! LookupVehicle against the sandbox's xiaoshibao: answers, VIN checks, masking, and the
//! failure paths (no record, bad token, rate limiting, slow vendor, invalid plates).

use std::time::Duration;

use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, LookupVehicleResponse};
use plate_service::config::PlateServiceConfig;
use tonic::Code;
use tonic::transport::Channel;

fn temp_store() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-plate-test-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

struct Suite {
    client: PlateServiceClient<Channel>,
    sandbox: String,
}

async fn suite(tweak: impl FnOnce(&mut PlateServiceConfig)) -> Suite {
    suite_full(|_| {}, tweak).await
}

async fn suite_full(
    sandbox_tweak: impl FnOnce(&mut sandbox::SandboxConfig),
    tweak: impl FnOnce(&mut PlateServiceConfig),
) -> Suite {
    let mut sb_cfg = sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..sandbox::SandboxConfig::default()
    };
    sandbox_tweak(&mut sb_cfg);
    let sb = sandbox::start(sb_cfg, std::future::pending())
        .await
        .expect("sandbox");
    let sandbox = format!("http://{}", sb.addr);
    let mut cfg = PlateServiceConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.xiaoshibao.http.base_url = sandbox.clone();
    cfg.vendors.xiaoshibao.http.retry.initial_backoff = Duration::from_millis(10);
    cfg.vendors.platecb.http.base_url = sandbox.clone();
    cfg.vendors.platecb.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    cfg.vendors.platecb.store_path = temp_store();
    tweak(&mut cfg);
    let server = plate_service::start(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
    )
    .await
    .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    Suite {
        client: PlateServiceClient::new(channel),
        sandbox,
    }
}

async fn lookup(s: &mut Suite, plate: &str) -> Result<LookupVehicleResponse, tonic::Status> {
    s.client
        .lookup_vehicle(LookupVehicleRequest {
            plate: plate.to_owned(),
            color: 0,
        })
        .await
        .map(tonic::Response::into_inner)
}

fn state(r: &LookupVehicleResponse, source: &str) -> i32 {
    r.sources
        .iter()
        .find(|s| s.source == source)
        .map_or(-1, |s| s.state)
}

#[tokio::test]
async fn the_seed_example_is_answered_and_its_bad_vin_flagged_and_masked() {
    let mut s = suite(|_| {}).await;
    let r = lookup(&mut s, "粤B·12345").await.expect("answer");
    assert_eq!(state(&r, "xiaoshibao"), SourceState::Ok as i32);
    // platecb answered by callback within the call (the sandbox delivers after 200 ms).
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
    // The vendors disagree on the VIN. xiaoshibao has priority, but its VIN
    // (LSJA24U66JA123456: position 9 should be 0, not 6) fails the check digit, so
    // platecb's VIN, which passes, wins; the bad one stays visible, flagged.
    let d = r
        .disagreements
        .iter()
        .find(|d| d.field == "vin")
        .expect("vin disagreement");
    assert_eq!(d.chosen_source, "platecb");
    assert_eq!(r.vin_valid, Some(true));
    let vin = r.vin.expect("vin");
    assert_eq!(vin.value, "LFV**********2345", "masked by default");
    assert_eq!(
        vin.provenance.as_ref().map(|p| p.source.as_str()),
        Some("platecb")
    );
    let bad = &vin.alternatives[0];
    assert_eq!(
        bad.value, "LSJ**********3456",
        "alternatives are masked too"
    );
    assert!(bad.confidence <= 0.3);
    assert_eq!(
        bad.rejected_reason, "VIN_INVALID",
        "flagged, not just less trusted"
    );
    let p = bad.provenance.as_ref().expect("provenance");
    assert!(p.sandbox);
    assert_eq!(p.upstream_sources, ["交管库", "第三方厂商A"]);
    let usage = r.usage.expect("usage");
    assert_eq!(
        (usage.code.as_str(), usage.original_text.as_str()),
        ("A", "非营运")
    );
    // The record describes one vehicle: the chosen VIN's source's brand and dates come
    // first, the other source's (which gave another VIN) stay visible as alternatives.
    let brand = r.brand.expect("brand");
    assert_eq!(brand.value, "大众");
    assert_eq!(
        brand.provenance.map(|p| p.source),
        Some("platecb".to_owned())
    );
    assert_eq!(brand.alternatives[0].value, "一汽-大众");
    assert_eq!(
        r.first_registration_date.map(|d| d.value),
        Some("2021-08".to_owned())
    );
    assert_eq!(
        r.plate.and_then(|p| p.issuing_authority).map(|a| a.city),
        Some("深圳市".to_owned())
    );
}

#[tokio::test]
async fn a_vin_failing_its_check_digit_is_flagged_when_it_is_all_there_is() {
    // platecb unreachable: only xiaoshibao's (bad) VIN is left.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut s = suite(|c| {
        c.vendors.platecb.http.base_url = format!("http://127.0.0.1:{closed}");
        c.vendors.platecb.http.retry.max_attempts = 1;
    })
    .await;
    let r = lookup(&mut s, "粤B12345").await.expect("answer");
    assert_eq!(r.vin_valid, Some(false));
    let vin = r.vin.expect("vin");
    assert_eq!(vin.value, "LSJ**********3456");
    assert!(vin.confidence <= 0.3);
    assert_eq!(
        vin.provenance.map(|p| p.source),
        Some("xiaoshibao".to_owned())
    );
}

#[tokio::test]
async fn valid_vins_pass_and_can_be_revealed() {
    let mut s = suite(|c| c.privacy.reveal_full_vin = true).await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(r.vin_valid, Some(true));
    assert_eq!(r.vin.map(|v| v.value), Some("LSVAM4182N2123456".to_owned()));
    let usage = r.usage.expect("usage");
    assert_eq!(usage.code, "A");
    // The other source's 营转非 comes with its code, not only as text.
    assert!(
        usage
            .alternatives
            .iter()
            .any(|a| a.code == "L" && a.original_text == "营转非"),
        "{usage:?}"
    );
    let r = lookup(&mut s, "京AD12345").await.expect("answer");
    assert_eq!(
        r.usage.map(|u| u.code),
        Some("T".to_owned()),
        "预约出租客运"
    );
}

#[tokio::test]
async fn unknown_plates_are_not_found_not_errors() {
    let mut s = suite(|_| {}).await;
    let r = lookup(&mut s, "粤B99999").await.expect("answer");
    assert_eq!(state(&r, "xiaoshibao"), SourceState::NotFound as i32);
    assert_eq!(
        state(&r, "platecb"),
        SourceState::NotFound as i32,
        "codeid 10025"
    );
    assert!(r.vin.is_none());
    assert_eq!(r.vin_valid, None, "no VIN: neither valid nor invalid");
}

#[tokio::test]
async fn credential_problems_are_the_operators() {
    for token in ["wrong-token", "sandbox-xiaoshibao-forbidden"] {
        let mut s = suite(|c| {
            c.vendors.xiaoshibao.token = token.to_owned().into();
            c.vendors.platecb.enabled = false;
        })
        .await;
        let r = lookup(&mut s, "粤B12345").await.expect("answer");
        let st = r
            .sources
            .iter()
            .find(|s| s.source == "xiaoshibao")
            .expect("status");
        assert_eq!(st.code, Code::FailedPrecondition as i32, "{token}");
        assert!(st.operator_action_required);
        assert!(!st.message.contains(token), "token leaked: {}", st.message);
    }
}

#[tokio::test]
async fn rate_limits_and_busy_answers_are_retried() {
    let mut s = suite(|c| c.vendors.platecb.enabled = false).await;
    reqwest::Client::new()
        .post(format!("{}/_sandbox/faults", s.sandbox))
        .json(&serde_json::json!([
            { "vendor": "xiaoshibao", "times": 1, "action": { "kind": "http_status", "status": 429, "retry_after_s": 0 } },
            { "vendor": "xiaoshibao", "times": 1, "action": { "kind": "http_status", "status": 503 } }
        ]))
        .send()
        .await
        .expect("admin");
    let r = lookup(&mut s, "粤B12345").await.expect("answer");
    let st = r
        .sources
        .iter()
        .find(|s| s.source == "xiaoshibao")
        .expect("status");
    assert_eq!(
        (st.state, st.attempts),
        (SourceState::Ok as i32, 3),
        "{st:?}"
    );
}

#[tokio::test]
async fn a_slow_vendor_leaves_the_local_parse_within_the_deadline() {
    let mut s =
        suite(|c| c.vendors.xiaoshibao.http.request_timeout = Duration::from_secs(10)).await;
    reqwest::Client::new()
        .post(format!("{}/_sandbox/faults", s.sandbox))
        .json(&serde_json::json!([{ "vendor": "xiaoshibao", "latency": { "kind": "fixed", "ms": 5000 } }]))
        .send()
        .await
        .expect("admin");
    let mut req = tonic::Request::new(LookupVehicleRequest {
        plate: "粤B12345".to_owned(),
        color: 0,
    });
    req.set_timeout(Duration::from_millis(600));
    let r = s
        .client
        .lookup_vehicle(req)
        .await
        .expect("partial answer")
        .into_inner();
    assert_eq!(state(&r, "xiaoshibao"), SourceState::Timeout as i32);
    assert!(r.plate.is_some_and(|p| p.valid));
}

#[tokio::test]
async fn invalid_plates_are_rejected_without_calling_a_vendor() {
    let mut s = suite(|_| {}).await;
    for plate in ["粤I12345", "VA12345", "粤B1234"] {
        let err = lookup(&mut s, plate).await.expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument, "{plate}");
    }
    let calls: serde_json::Value = reqwest::get(format!("{}/_sandbox/calls", s.sandbox))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(calls["total"], 0, "{calls}");
}

#[tokio::test]
async fn a_late_callback_is_pending_then_returned_without_paying_again() {
    // The first delivery comes after 2 s: longer than the caller's 1 s deadline.
    let mut s = suite_full(
        |sb| sb.platecb.first_delivery_ms = 2000,
        |c| c.vendors.xiaoshibao.enabled = false,
    )
    .await;
    let mut req = tonic::Request::new(LookupVehicleRequest {
        plate: "闽DD22222".to_owned(),
        color: 0,
    });
    req.set_timeout(Duration::from_secs(1));
    let r = s
        .client
        .lookup_vehicle(req)
        .await
        .expect("answer")
        .into_inner();
    assert_eq!(
        state(&r, "platecb"),
        SourceState::Pending as i32,
        "{:?}",
        r.sources
    );
    // A PENDING source still says what was sent, to whom, and when to ask again.
    let pending = r
        .sources
        .iter()
        .find(|s| s.source == "platecb")
        .expect("platecb status");
    assert!(pending.sandbox && pending.attempts >= 1, "{pending:?}");
    assert!(pending.retry_after.is_some(), "{pending:?}");
    // The callback lands and is stored; the next call is answered from the store with no
    // new submission.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
    assert_eq!(
        r.usage.as_ref().map(|u| u.code.as_str()),
        Some("A"),
        "非营业个人"
    );
    let calls: serde_json::Value = reqwest::get(format!("{}/_sandbox/calls", s.sandbox))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(
        calls["calls"]["platecb"]["/platecb/api/query"]["10023"], 1,
        "one submission: {calls}"
    );
}

#[tokio::test]
async fn callbacks_are_matched_by_the_vendor_id_or_by_our_echoed_reference() {
    // Seed 003 lists no request_id in submit answers (the sandbox's default: the callback
    // is matched by our `axle_ref`, echoed in `request`); a platform that does give one
    // is matched by it. Either way the answer arrives within the call and provenance
    // carries the vendor's own id.
    for with_id in [false, true] {
        let mut s = suite_full(
            |sb| sb.platecb.submit_answer_has_request_id = with_id,
            |c| {
                c.vendors.xiaoshibao.enabled = false;
                c.vendors.platecb.http.cost_per_call = Some(connector::config::CostConfig {
                    currency: "CNY".to_owned(),
                    amount: 0.12,
                });
            },
        )
        .await;
        let r = lookup(&mut s, "闽DD22222").await.expect("answer");
        // The lookup that paid shows the charge on the answer and on the source status.
        let st = r
            .sources
            .iter()
            .find(|s| s.source == "platecb")
            .expect("status");
        assert_eq!(
            st.cost.as_ref().map(|m| m.nanos),
            Some(120_000_000),
            "{st:?}"
        );
        assert_eq!(
            state(&r, "platecb"),
            SourceState::Ok as i32,
            "{with_id}: {:?}",
            r.sources
        );
        let p = r.vin.and_then(|v| v.provenance).expect("provenance");
        assert_eq!(p.vendor_request_id.len(), 32, "{with_id}: {p:?}");
        assert_eq!(p.cost.map(|m| m.currency_code), Some("CNY".to_owned()));
    }
}

#[tokio::test]
async fn every_documented_field_arrives_and_undocumented_ones_are_kept() {
    let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
    // The seed's own callback example: specifications, dates and a damage record.
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    let d = r.details.expect("details");
    let val = |f: Option<contracts::axle::common::v1::StringFact>| f.map(|f| f.value);
    assert_eq!(val(d.front_tire_size), Some("235/45 R19".to_owned()));
    assert_eq!(val(d.body_boxes), Some("3".to_owned()));
    assert_eq!(val(d.vendor_brand_id), Some("45".to_owned()));
    assert_eq!(
        d.insurance_start_date.map(|f| f.value),
        Some("2023-03".to_owned())
    );
    assert_eq!(
        d.production_year_month.map(|f| f.value),
        Some("2018-12".to_owned())
    );
    assert!(d.height.is_none(), "'-' is unknown, not a value");
    let damage = &r.damage_records[0];
    assert_eq!(
        (
            damage.part.as_str(),
            damage.amount.as_str(),
            damage.r#type.as_str()
        ),
        ("前保险杠(全喷)", "70000", "2")
    );
    assert_eq!(
        damage.provenance.as_ref().map(|p| p.source.as_str()),
        Some("platecb")
    );

    // Engine numbers are masked unless the deployment reveals them.
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(
        r.engine_number.map(|e| e.value),
        Some("*****3456".to_owned())
    );
    let details = r.details.expect("details");
    assert_eq!(details.fuel_type.map(|f| f.value), Some("汽油".to_owned()));
    // 12.99 万元 is CNY 129 900 exactly.
    let price = details
        .guide_price
        .and_then(|p| p.value)
        .expect("guide price");
    assert_eq!(
        (price.currency_code.as_str(), price.units, price.nanos),
        ("CNY", 129_900, 0)
    );
    // A VIN in a field the document does not describe is masked too.
    let raw = r
        .unmapped_fields
        .iter()
        .find(|f| f.name == "vin_raw")
        .expect("undocumented field kept");
    assert_eq!(raw.value, "LSV**********3456");
    let mut s = suite(|c| {
        c.vendors.xiaoshibao.enabled = false;
        c.privacy.reveal_engine_number = true;
    })
    .await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(
        r.engine_number.map(|e| e.value),
        Some("DLF123456".to_owned())
    );

    // An undocumented key from xiaoshibao is passed on verbatim, labelled with its source.
    let mut s = suite(|c| c.vendors.platecb.enabled = false).await;
    let r = lookup(&mut s, "浙A0A123").await.expect("answer");
    assert!(
        r.unmapped_fields
            .iter()
            .any(|f| f.source == "xiaoshibao" && f.name == "color" && f.value == "白"),
        "{:?}",
        r.unmapped_fields
    );
}

#[tokio::test]
async fn concurrent_lookups_of_one_plate_pay_once() {
    // The callback takes 800 ms: both lookups are in flight before it comes.
    let mut s = suite_full(
        |sb| sb.platecb.first_delivery_ms = 800,
        |c| c.vendors.xiaoshibao.enabled = false,
    )
    .await;
    let mut other = s.client.clone();
    let (a, b) = tokio::join!(lookup(&mut s, "闽DD22222"), async {
        other
            .lookup_vehicle(LookupVehicleRequest {
                plate: "闽DD·22222".to_owned(),
                color: 0,
            })
            .await
            .map(tonic::Response::into_inner)
    });
    let (a, b) = (a.expect("answer"), b.expect("answer"));
    for r in [&a, &b] {
        assert_eq!(
            state(r, "platecb"),
            SourceState::Ok as i32,
            "{:?}",
            r.sources
        );
    }
    let calls: serde_json::Value = reqwest::get(format!("{}/_sandbox/calls", s.sandbox))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(
        calls["calls"]["platecb"]["/platecb/api/query"]["10023"], 1,
        "one submission for two lookups: {calls}"
    );
}

#[tokio::test]
async fn a_failed_query_is_reported_and_not_reused() {
    let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
    // The sandbox's callback for 津A00003 says result_status 3 (查询失败).
    for round in 1..=2 {
        let r = lookup(&mut s, "津A00003").await.expect("answer");
        let st = r
            .sources
            .iter()
            .find(|s| s.source == "platecb")
            .expect("status");
        assert_eq!(st.state, SourceState::Failed as i32, "{st:?}");
        assert_eq!(st.code, Code::Unavailable as i32, "{st:?}");
        assert_eq!(st.vendor_code, "3", "verbatim: {st:?}");
        assert!(st.sandbox, "{st:?}");
        assert!(r.vin.is_none());
        let calls: serde_json::Value = reqwest::get(format!("{}/_sandbox/calls", s.sandbox))
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        assert_eq!(
            calls["calls"]["platecb"]["/platecb/api/query"]["10023"], round,
            "a failed answer is not served from the store: asked again ({calls})"
        );
    }
}

#[tokio::test]
async fn forged_and_replayed_callbacks_never_change_stored_data() {
    let mut s = suite(|c| {
        c.vendors.xiaoshibao.enabled = false;
        c.privacy.reveal_full_vin = true;
    })
    .await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    let p = r
        .vin
        .as_ref()
        .and_then(|v| v.provenance.clone())
        .expect("platecb provenance");
    assert_eq!(
        r.vin.as_ref().map(|v| v.value.as_str()),
        Some("LSVAM4182N2123456")
    );
    let request_id = p.vendor_request_id;
    let admin = |path: &str| {
        let url = format!("{}/_sandbox/platecb/{path}", s.sandbox);
        let body = serde_json::json!({ "request_id": request_id });
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("admin")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(
        admin("forge").await["receiver_said_success"],
        false,
        "forged: refused"
    );
    assert_eq!(
        admin("redeliver").await["receiver_said_success"],
        true,
        "duplicate: acknowledged"
    );
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(
        r.vin.map(|v| v.value),
        Some("LSVAM4182N2123456".to_owned()),
        "stored data unchanged"
    );
}

#[tokio::test]
async fn fallback_asks_platecb_only_when_xiaoshibao_has_no_answer() {
    let mut s = suite(|c| c.vendors.strategy = plate_service::config::Strategy::Fallback).await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(state(&r, "xiaoshibao"), SourceState::Ok as i32);
    assert_eq!(state(&r, "platecb"), SourceState::Skipped as i32);
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    assert_eq!(state(&r, "xiaoshibao"), SourceState::NotFound as i32);
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
}

#[tokio::test]
async fn fallback_still_uses_a_stored_platecb_answer_which_costs_nothing() {
    let store = temp_store();
    // A parallel deployment on the same store has paid for 沪A12345 already.
    let first = store.clone();
    let mut parallel = suite(move |c| c.vendors.platecb.store_path = first).await;
    let r = lookup(&mut parallel, "沪A12345").await.expect("answer");
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
    let mut fallback = suite(move |c| {
        c.vendors.strategy = plate_service::config::Strategy::Fallback;
        c.vendors.platecb.store_path = store;
    })
    .await;
    let r = lookup(&mut fallback, "沪A12345").await.expect("answer");
    let st = r
        .sources
        .iter()
        .find(|s| s.source == "platecb")
        .expect("status");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(st.attempts, 0, "from the store, no new call: {st:?}");
    assert!(st.message.contains("no new charge"), "{st:?}");
}

#[tokio::test]
async fn one_vendor_down_the_other_still_answers() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut s = suite(|c| {
        c.vendors.xiaoshibao.http.base_url = format!("http://127.0.0.1:{closed}");
        c.vendors.xiaoshibao.http.retry.max_attempts = 2;
    })
    .await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    let st = r
        .sources
        .iter()
        .find(|s| s.source == "xiaoshibao")
        .expect("status");
    assert_eq!(st.code, Code::Unavailable as i32, "{st:?}");
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
    assert_eq!(r.vin_valid, Some(true));
    assert_eq!(
        r.usage.map(|u| u.code),
        Some("L".to_owned()),
        "platecb says 营转非"
    );
}

#[tokio::test]
async fn platecb_submit_codes_map_to_operator_statuses() {
    // Bad secret (10003 sign), unknown app (10005): our configuration, the operator's.
    for (tweak, code) in [
        (
            Box::new(|c: &mut PlateServiceConfig| {
                c.vendors.platecb.secret = "wrong".to_owned().into();
            }) as Box<dyn FnOnce(&mut PlateServiceConfig)>,
            "10003",
        ),
        (
            Box::new(|c: &mut PlateServiceConfig| c.vendors.platecb.appid = "9999".to_owned()),
            "10005",
        ),
    ] {
        let mut s = suite(|c| {
            c.vendors.xiaoshibao.enabled = false;
            tweak(c);
        })
        .await;
        let r = lookup(&mut s, "沪A12345").await.expect("answer");
        let st = r
            .sources
            .iter()
            .find(|s| s.source == "platecb")
            .expect("status");
        assert_eq!(
            (st.vendor_code.as_str(), st.code),
            (code, Code::FailedPrecondition as i32),
            "{st:?}"
        );
        assert!(st.operator_action_required);
        assert!(
            !st.message.contains("wrong"),
            "secret leaked: {}",
            st.message
        );
    }
    // Quota and balance (10018 次数不足, 10022 余额不足) and a vendor error (10021), injected.
    for (code, grpc) in [
        (10018, Code::FailedPrecondition),
        (10022, Code::FailedPrecondition),
        (10021, Code::Unavailable),
    ] {
        let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
        reqwest::Client::new()
            .post(format!("{}/_sandbox/faults", s.sandbox))
            .json(&serde_json::json!([{ "vendor": "platecb", "action": { "kind": "vendor_code", "code": code } }]))
            .send()
            .await
            .expect("admin");
        let r = lookup(&mut s, "沪A12345").await.expect("answer");
        let st = r
            .sources
            .iter()
            .find(|s| s.source == "platecb")
            .expect("status");
        assert_eq!(
            (st.vendor_code.clone(), st.code),
            (code.to_string(), grpc as i32),
            "{st:?}"
        );
    }
}

#[tokio::test]
async fn xiaoshibao_connector_against_every_documented_status() {
    use connector::{VendorError, VendorErrorKind};
    use plate_service::connectors::xiaoshibao::{XiaoshibaoClient, XiaoshibaoConfig};
    let s = suite(|c| c.vendors.platecb.enabled = false).await;
    let client = |token: &str| {
        let mut cfg = XiaoshibaoConfig::default();
        cfg.http.base_url = s.sandbox.clone();
        cfg.http.retry.initial_backoff = Duration::from_millis(5);
        cfg.token = token.to_owned().into();
        XiaoshibaoClient::new(&cfg, &connector::client::ClientContext::noop()).expect("client")
    };
    let ok = client("sandbox-xiaoshibao-token");
    let v = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect("200")
        .value;
    assert_eq!(v.vin, "LSJA24U66JA123456");
    // 400: the vendor's own parameter check (Axle never sends such a plate itself).
    let err = ok.lookup("X", "", "", None).await.expect_err("400");
    assert!(
        matches!(err.error, VendorError::Vendor { ref code, kind: VendorErrorKind::InvalidRequest, .. } if code == "400"),
        "{err:?}"
    );
    let err = client("bad")
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("401");
    assert!(matches!(err.error, VendorError::Auth { .. }), "{err:?}");
    let err = client("sandbox-xiaoshibao-forbidden")
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("403");
    assert!(matches!(err.error, VendorError::Auth { .. }), "{err:?}");
    let err = ok
        .lookup("粤B99999", "广东", "深圳", None)
        .await
        .expect_err("404");
    assert!(
        matches!(
            err.error,
            VendorError::Vendor {
                kind: VendorErrorKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    // 503 on every attempt, then malformed JSON: both reported, neither panics.
    let faults = |rules: serde_json::Value| {
        let url = format!("{}/_sandbox/faults", s.sandbox);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&rules)
                .send()
                .await
                .expect("admin")
        }
    };
    faults(serde_json::json!([{ "vendor": "xiaoshibao", "action": { "kind": "http_status", "status": 503 } }])).await;
    let err = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("503");
    assert!(
        matches!(err.error, VendorError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    faults(serde_json::json!([{ "vendor": "xiaoshibao", "action": { "kind": "malformed" } }]))
        .await;
    let err = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("malformed");
    assert!(
        matches!(err.error, VendorError::MalformedBody { .. }),
        "{err:?}"
    );
}
