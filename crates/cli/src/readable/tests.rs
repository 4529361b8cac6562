use std::time::{Duration, SystemTime};

use contracts::axle::common::v1::{Money, SourceState, SourceStatus};

use super::*;

fn cny(units: i64, nanos: i32) -> Money {
    Money {
        currency_code: "CNY".to_owned(),
        units,
        nanos,
    }
}

fn at(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

#[test]
fn money_is_grouped_exact_and_carries_its_currency() {
    assert_eq!(money(&cny(129_900, 0)), "CNY 129,900.00");
    assert_eq!(money(&cny(1_224_300, 0)), "CNY 1,224,300.00");
    assert_eq!(money(&cny(0, 500_000_000)), "CNY 0.50");
    assert_eq!(money(&cny(999, 0)), "CNY 999.00");
    assert_eq!(money(&cny(1000, 50_000_000)), "CNY 1,000.05");
    // Never rounded: a price does not change on the way to the screen.
    assert_eq!(money(&cny(12, 345_678_900)), "CNY 12.3456789");
    assert_eq!(money(&cny(-1_500, -250_000_000)), "CNY -1,500.25");
    assert_eq!(money(&cny(0, -10_000_000)), "CNY -0.01");
    assert_eq!(
        money(&cny(i64::MIN, -999_999_999)),
        "CNY -9,223,372,036,854,775,808.999999999"
    );
    let no_currency = Money {
        units: 5,
        ..Money::default()
    };
    assert_eq!(money(&no_currency), "5.00");
}

#[test]
fn a_price_in_wan_yuan_reads_as_money() {
    // "Price 10kCNY 12.99" read as twelve yuan; the converted amount leads.
    assert_eq!(
        wan_yuan("12.99", Some(&cny(129_900, 0))),
        "CNY 129,900.00 (12.99 万元)"
    );
    assert_eq!(
        wan_yuan("9.98万", Some(&cny(99_800, 0))),
        "CNY 99,800.00 (9.98万)"
    );
    // A quote that is no number stays as sent, with its unit.
    assert_eq!(wan_yuan("12.99-15.99", None), "12.99-15.99 万元");
    assert_eq!(wan_yuan("", Some(&cny(1, 0))), "CNY 1.00");
}

#[test]
fn times_are_dates_in_utc_never_unix_seconds() {
    assert_eq!(time(&at(1_735_787_045)), "2025-01-02 03:04:05 UTC");
    assert_eq!(time(&at(0)), "1970-01-01 00:00:00 UTC");
    assert_eq!(
        time(&prost_types::Timestamp {
            seconds: 1_735_787_045,
            nanos: 999_999_999
        }),
        "2025-01-02 03:04:05 UTC"
    );
    // Far outside any real answer, still no panic and no bare number.
    assert!(!time(&at(i64::MAX)).is_empty());
    assert!(!time(&at(i64::MIN)).is_empty());
}

#[test]
fn age_is_said_only_when_it_matters() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let ago = |s: i64| at(1_000_000 - s);
    assert_eq!(age(&ago(5), now), None);
    assert_eq!(age(&ago(-30), now), None, "in the future");
    assert_eq!(age(&ago(60), now).as_deref(), Some("1 minute old"));
    assert_eq!(age(&ago(7_200), now).as_deref(), Some("2 hours old"));
    assert_eq!(age(&ago(3 * 86_400), now).as_deref(), Some("3 days old"));
    assert_eq!(age(&at(i64::MIN), now), None, "not representable");
}

#[test]
fn durations_carry_units() {
    let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
    assert_eq!(duration(&d(0, 350_000_000)), "350 ms");
    assert_eq!(duration(&d(5, 0)), "5 s");
    assert_eq!(duration(&d(1, 540_000_000)), "1.5 s");
    assert_eq!(duration(&d(12, 0)), "12 s");
    assert_eq!(duration(&d(3_600, 0)), "60 min");
    assert_eq!(
        duration(&d(-1, 0)),
        "0 ms",
        "a negative duration is no time"
    );
}

#[test]
fn a_place_is_named_once() {
    assert_eq!(place("上海市", "上海市"), "上海市");
    assert_eq!(place("北京市", "北京市(远郊区)"), "北京市(远郊区)");
    assert_eq!(place("北京市", "北京市公安局"), "北京市公安局");
    assert_eq!(place("广东省", "深圳市"), "广东省 深圳市");
    assert_eq!(place("广东省", ""), "广东省");
    assert_eq!(place("", "深圳市"), "深圳市");
}

#[test]
fn a_source_line_says_what_the_source_did() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_787_045 + 3 * 86_400);
    let stored = SourceStatus {
        source: "platecb".to_owned(),
        state: SourceState::Ok as i32,
        sandbox: true,
        latency: Some(prost_types::Duration {
            seconds: 0,
            nanos: 3_000_000,
        }),
        message: "answered from the callback store; no new charge".to_owned(),
        ..SourceStatus::default()
    };
    assert_eq!(
        source_line(&stored, Some(&at(1_735_787_045)), now),
        "platecb     OK [sandbox] in 3 ms, answer of 2025-01-02 03:04:05 UTC (3 days old) \
         — answered from the callback store; no new charge"
    );
    // A fresh answer's time is not news.
    let fresh = at(1_735_787_045 + 3 * 86_400 - 2);
    assert!(!source_line(&stored, Some(&fresh), now).contains("answer of"));

    let failed = SourceStatus {
        source: "connapi".to_owned(),
        state: SourceState::Failed as i32,
        attempts: 3,
        cost: Some(cny(1, 500_000_000)),
        retry_after: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        message: "balance exhausted".to_owned(),
        operator_action_required: true,
        ..SourceStatus::default()
    };
    assert_eq!(
        source_line(&failed, None, now),
        "connapi     FAILED, 3 attempts, cost CNY 1.50, ask again in 30 s — balance exhausted \
         (operator action required)"
    );
    let unknown = SourceStatus {
        source: "x".to_owned(),
        state: 99,
        ..SourceStatus::default()
    };
    assert_eq!(source_line(&unknown, None, now), "x           ?");
}
