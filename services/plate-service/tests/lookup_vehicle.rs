//! LookupVehicle end to end against the sandbox's plate vendors: the merged record (VIN
//! checks, masking, every documented field), no record, one vendor down, invalid plates,
//! and the fallback strategy.

mod common;

use common::{lookup, state, status, suite, temp_store};
use contracts::axle::common::v1::SourceState;
use tonic::Code;

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
    let st = status(&r, "xiaoshibao");
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
async fn invalid_plates_are_rejected_without_calling_a_vendor() {
    let mut s = suite(|_| {}).await;
    for plate in ["粤I12345", "VA12345", "粤B1234"] {
        let err = lookup(&mut s, plate).await.expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument, "{plate}");
    }
    let calls = common::calls(&s.sandbox).await;
    assert_eq!(calls["total"], 0, "{calls}");
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
    let st = status(&r, "platecb");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(st.attempts, 0, "from the store, no new call: {st:?}");
    assert!(st.message.contains("no new charge"), "{st:?}");
}
