//! QueryViolations end to end against the sandbox's apistore (seed 003): the seed's
//! example, every answer layout, every outcome, city rules checked before any paid call,
//! the codes an operator must act on, clock drift, and the store's reuse and coalescing.

mod common;

use std::time::Duration;

use common::{apistore_calls, apistore_outcome, query, req, status, suite, suite_full};
use contracts::axle::common::v1::SourceState;
use contracts::axle::violation::v1::{HandlingState, QueryOutcome, TotalsBasis};
use tonic::Code;
use tonic_types::StatusExt;

const SEED_PLATE: &str = "粤AJ44E6";
const SEED_ENGINE: &str = "AD50EG081600062";
const SEED_VIN: &str = "LNBSCC3H8GF308384";

#[tokio::test]
async fn the_seed_example_returns_normalised_records_with_provenance() {
    let mut s = suite(|_| {}).await;
    let mut r = req("粤aj44e6", "", SEED_ENGINE, SEED_VIN);
    r.color = contracts::axle::plate::v1::PlateColor::Blue as i32;
    let resp = query(&mut s, r).await.expect("answer");
    assert_eq!(resp.outcome, QueryOutcome::Violations as i32, "{resp:?}");
    assert_eq!(
        (resp.plate.as_str(), resp.plate_type.as_str()),
        (SEED_PLATE, "02")
    );
    assert_eq!(resp.plate_type_name, "小型汽车号牌");
    assert_eq!(resp.totals_basis, TotalsBasis::Vendor as i32);
    assert_eq!((resp.violation_count, resp.total_points), (2, 5));
    assert_eq!(
        resp.total_fine
            .as_ref()
            .map(|m| (m.units, m.currency_code.as_str())),
        Some((300, "CNY"))
    );
    assert!(resp.totals_mismatch.is_none());
    assert_eq!(resp.violations.len(), 2);
    let newest = &resp.violations[0];
    assert!(newest.occurred_at.is_some(), "{newest:?}");
    assert!(!newest.occurred_at_local.is_empty());
    assert!(!newest.action.is_empty() && !newest.code.is_empty());
    let p = newest.provenance.as_ref().expect("provenance");
    assert_eq!(p.source, "apistore");
    assert!(p.sandbox, "the sandbox's answers are labelled");
    assert!(p.fetched_at.is_some());
    assert!(
        resp.violations[0].occurred_at.as_ref().map(|t| t.seconds)
            >= resp.violations[1].occurred_at.as_ref().map(|t| t.seconds),
        "newest first"
    );
    let st = status(&resp, "apistore");
    assert_eq!((st.state, st.attempts), (SourceState::Ok as i32, 1));
    assert_eq!(
        st.cost.as_ref().map(|c| c.currency_code.as_str()),
        Some("CNY")
    );
    let rule = resp.city_rule.as_ref().expect("rule");
    assert_eq!(rule.prefix, "粤A");
    assert!(
        resp.notes.iter().any(|n| n.contains("trimmed")),
        "the numbers were trimmed to the city's tails: {:?}",
        resp.notes
    );
    assert!(resp.age.is_some() && resp.as_of.is_some());
}

#[tokio::test]
async fn a_query_the_city_rule_rejects_reaches_no_vendor() {
    let mut s = suite(|_| {}).await;
    let err = query(&mut s, req(SEED_PLATE, "02", "D50EG", ""))
        .await
        .expect_err("rejected");
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    let bad = details.bad_request().expect("field violations");
    let fields: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains(&"engine_number") && fields.contains(&"vin"),
        "{fields:?}"
    );
    assert!(
        bad.field_violations
            .iter()
            .all(|v| v.description.contains("粤A")),
        "{bad:?}"
    );
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some("CITY_RULE_NOT_MET")
    );
    // A plate type that contradicts the plate, a plate that cannot exist, an ordinary
    // plate without its colour: all refused locally too.
    for (r, field) in [
        (req(SEED_PLATE, "52", SEED_ENGINE, SEED_VIN), "plate_type"),
        (req("粤AJ44E", "02", SEED_ENGINE, SEED_VIN), "plate"),
        (req(SEED_PLATE, "", SEED_ENGINE, SEED_VIN), "color"),
    ] {
        let err = query(&mut s, r).await.expect_err("refused");
        assert_eq!(err.code(), Code::InvalidArgument);
        let d = err.get_error_details();
        assert_eq!(
            d.bad_request()
                .map(|b| b.field_violations[0].field.as_str()),
            Some(field),
            "{err:?}"
        );
    }
    assert_eq!(apistore_calls(&s.sandbox).await, 0, "no vendor was paid");
}

#[tokio::test]
async fn no_violations_and_vehicle_unknown_differ_without_reading_sources() {
    let mut s = suite(|_| {}).await;
    let none = query(
        &mut s,
        req("京AD12345", "52", "TZ200XYC240516", "LC0C76C44R0654321"),
    )
    .await
    .expect("answer");
    assert_eq!(none.outcome, QueryOutcome::NoViolations as i32, "{none:?}");
    assert!(none.violations.is_empty());
    assert_eq!(none.total_fine.as_ref().map(|m| m.units), Some(0));
    let unknown = query(&mut s, req("粤B99999", "02", "123456", "LNBSCC3H8GF308384"))
        .await
        .expect("answer");
    assert_eq!(
        unknown.outcome,
        QueryOutcome::VehicleUnknown as i32,
        "{unknown:?}"
    );
    let st = status(&unknown, "apistore");
    assert_eq!(
        (st.state, st.vendor_code.as_str()),
        (SourceState::NotFound as i32, "10025")
    );
}

#[tokio::test]
async fn every_answer_layout_reads_alike() {
    let mut s = suite(|_| {}).await;
    for (plate, t, engine, vin, count) in [
        ("粤B12345", "02", "DKV082315", "LFV2B25G2M3012345", 3),
        ("沪A12345", "02", "DLF123456", "LSVAM4182N2123456", 2),
        ("沪AD71562", "52", "TG1225068712", "LRW3E7EB9NC431862", 1),
        ("川A88888", "02", "GW4B15A210345", "LGWEF6A56MH001234", 2),
        ("陕AK3702", "01", "CA6DM2K1905823", "LZWADAGAXLB184236", 1),
        ("新A7K8L9", "02", "123456", "LZWADAGAXLB184236", 2),
        ("粤BD80231", "52", "TZ220XSF2210345", "LGXC74C41N0218764", 2),
    ] {
        let r = query(&mut s, req(plate, t, engine, vin))
            .await
            .expect("answer");
        assert_eq!(
            r.outcome,
            QueryOutcome::Violations as i32,
            "{plate}: {:?}",
            r.sources
        );
        assert_eq!(r.violation_count, count, "{plate}");
        assert!(!r.violations.is_empty(), "{plate}");
        for v in &r.violations {
            assert!(v.occurred_at.is_some(), "{plate}: {v:?}");
            assert!(!v.code.is_empty(), "{plate}: {v:?}");
        }
    }
}

#[tokio::test]
async fn the_seeds_defaults_apply_and_unknown_keys_are_kept() {
    let mut s = suite(|_| {}).await;
    let r = query(
        &mut s,
        req("鄂A6P5N4", "02", "R18Z15234567", "LVHRW1865K5034521"),
    )
    .await
    .expect("answer");
    assert!(
        r.violations
            .iter()
            .all(|v| v.handling != HandlingState::Unspecified as i32)
    );
    assert!(
        r.violations
            .iter()
            .any(|v| v.handling == HandlingState::Unhandled as i32 && !v.can_handle_online),
        "empty handleSign/onlineHandle read as the seed says: {:?}",
        r.violations
    );
    let names: Vec<&str> = r.unmapped_fields.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"orderNo") && names.contains(&"source"),
        "{names:?}"
    );
}

#[tokio::test]
async fn totals_that_disagree_with_the_records_are_flagged() {
    let mut s = suite(|_| {}).await;
    let r = query(
        &mut s,
        req("浙A0A123", "02", "TG121000623", "LRW3E7EK3NC123456"),
    )
    .await
    .expect("answer");
    assert_eq!(r.violation_count, 3);
    let m = r.totals_mismatch.expect("mismatch");
    assert_eq!(m.records, 2);
    assert!(
        m.message.contains("3 violations, 2 listed"),
        "{}",
        m.message
    );
}

#[tokio::test]
async fn hash_mode_signs_with_the_secret() {
    let mut s = suite(|c| {
        c.vendors.apistore.appid = "2".to_owned();
        c.vendors.apistore.secret =
            settings::Secret::new("sandbox-apistore-hash-secret".to_owned());
        c.vendors.apistore.sign_mode = connector::platform::SignMode::Hash;
    })
    .await;
    let r = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
        .await
        .expect("answer");
    assert_eq!(
        r.outcome,
        QueryOutcome::Violations as i32,
        "{:?}",
        r.sources
    );
}

#[tokio::test]
async fn configuration_problems_are_for_the_operator_and_never_data() {
    for (appid, secret, code) in [
        ("1", "wrong-secret", "10003"),
        ("10006", "sandbox-apistore-secret", "10006"),
        ("10007", "sandbox-apistore-secret", "10007"),
        ("10024", "sandbox-apistore-secret", "10024"),
    ] {
        let mut s = suite(|c| {
            c.vendors.apistore.appid = appid.to_owned();
            c.vendors.apistore.secret = settings::Secret::new(secret.to_owned());
        })
        .await;
        let r = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
            .await
            .expect("an answer, not an RPC error");
        assert_eq!(
            r.outcome,
            QueryOutcome::Unavailable as i32,
            "{appid}: {r:?}"
        );
        assert!(
            r.violations.is_empty(),
            "{appid}: debug data is never passed on"
        );
        let st = status(&r, "apistore");
        assert_eq!(st.vendor_code, code);
        assert!(st.operator_action_required, "{appid}: {st:?}");
        assert!(!st.message.contains(secret), "no secret in messages");
        // Not retried in a loop: one request.
        assert_eq!(apistore_calls(&s.sandbox).await, 1, "{appid}");
        // Counted by what the code means, for the operator's dashboard.
        let text = s.metrics.encode();
        let kind = if code == "10003" {
            "invalid_request"
        } else if code == "10007" {
            "account_problem"
        } else {
            "permission_missing"
        };
        assert!(
            text.contains(&format!(
                "vendor_errors_total{{vendor=\"apistore\",kind=\"{kind}\"}} 1"
            )),
            "{appid}: {text}"
        );
    }
}

#[tokio::test]
async fn an_account_out_of_credit_is_resource_exhausted_and_not_asked_again() {
    let mut s = suite(|c| c.vendors.apistore.appid = "10018".to_owned()).await;
    let r = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
        .await
        .expect("answer");
    let st = status(&r, "apistore");
    assert_eq!(
        (st.code, st.vendor_code.as_str()),
        (Code::ResourceExhausted as i32, "10018")
    );
    assert!(st.operator_action_required);
    let again = query(
        &mut s,
        req("粤B12345", "02", "DKV082315", "LFV2B25G2M3012345"),
    )
    .await
    .expect("answer");
    let st = status(&again, "apistore");
    assert_eq!(st.reason, "VENDOR_QUOTA_EXHAUSTED", "{st:?}");
    assert_eq!(st.code, Code::ResourceExhausted as i32);
    assert!(st.retry_after.is_some());
    assert_eq!(
        apistore_calls(&s.sandbox).await,
        1,
        "the breaker kept the second query home"
    );
}

#[tokio::test]
async fn a_vendor_server_error_is_unavailable_with_retry_info() {
    let mut s = suite(|_| {}).await;
    let r = query(&mut s, req("粤A00021", "02", "123456", "LNBSCC3H8GF308384"))
        .await
        .expect("answer");
    assert_eq!(r.outcome, QueryOutcome::Unavailable as i32);
    let st = status(&r, "apistore");
    assert_eq!(
        (st.code, st.vendor_code.as_str()),
        (Code::Unavailable as i32, "10021")
    );
    assert_eq!(st.attempts, 1, "a paid endpoint: said, not repeated");
    assert!(st.retry_after.is_some(), "{st:?}");
}

#[tokio::test]
async fn a_drifting_clock_is_corrected_from_the_platforms_time() {
    let mut s = suite_full(|sb| sb.apistore.clock_offset_s = 3600, |_| {}).await;
    let r = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
        .await
        .expect("answer");
    assert_eq!(
        r.outcome,
        QueryOutcome::Violations as i32,
        "{:?}",
        r.sources
    );
    assert_eq!(
        status(&r, "apistore").attempts,
        2,
        "refused once, then sent with the corrected time"
    );
    assert_eq!(apistore_outcome(&s.sandbox, "10004").await, 1);
    // The offset is kept: the next query is not refused.
    query(
        &mut s,
        req("粤B12345", "02", "DKV082315", "LFV2B25G2M3012345"),
    )
    .await
    .expect("answer");
    assert_eq!(apistore_outcome(&s.sandbox, "10004").await, 1);
}

#[tokio::test]
async fn a_fresh_answer_is_served_from_the_store_with_its_age() {
    let mut s = suite(|_| {}).await;
    let first = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
        .await
        .expect("answer");
    assert!(!status(&first, "apistore").from_cache);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = query(&mut s, req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
        .await
        .expect("answer");
    let st = status(&second, "apistore");
    assert!(st.from_cache, "{st:?}");
    assert!(st.cost.is_none() && st.attempts == 0);
    assert!(
        second.age.as_ref().is_some_and(|a| a.seconds >= 1),
        "{:?}",
        second.age
    );
    assert_eq!(second.as_of, first.as_of, "the original time");
    let without_cost = |r: &contracts::axle::violation::v1::QueryViolationsResponse| {
        let mut v = r.violations.clone();
        for x in &mut v {
            if let Some(p) = x.provenance.as_mut() {
                p.cost = None;
            }
        }
        v
    };
    assert_eq!(
        without_cost(&second),
        without_cost(&first),
        "the same records, not charged again"
    );
    assert_eq!(apistore_calls(&s.sandbox).await, 1, "one paid query");
    // Other numbers are another question: not served what was bought with these.
    let other = query(&mut s, req(SEED_PLATE, "02", "AD50EG081600063", SEED_VIN))
        .await
        .expect("answer");
    assert!(!status(&other, "apistore").from_cache);
    assert_eq!(apistore_calls(&s.sandbox).await, 2);
}

#[tokio::test]
async fn concurrent_identical_queries_pay_once() {
    let s = suite(|_| {}).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut client = s.client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .query_violations(req(SEED_PLATE, "02", SEED_ENGINE, SEED_VIN))
                .await
                .map(tonic::Response::into_inner)
        }));
    }
    for t in tasks {
        let r = t.await.expect("task").expect("answer");
        assert_eq!(
            r.outcome,
            QueryOutcome::Violations as i32,
            "{:?}",
            r.sources
        );
        assert_eq!(r.violations.len(), 2);
    }
    assert_eq!(
        apistore_calls(&s.sandbox).await,
        1,
        "twenty callers, one paid query"
    );
}
