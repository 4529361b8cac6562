use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::{BoxFuture, Disabled, arrange};

/// A scripted source: answers `Some(value)` or nothing, after `delay`, counting asks.
#[derive(Debug)]
struct Scripted {
    name: &'static str,
    answer: Option<u32>,
    stored: Option<u32>,
    delay: Duration,
    /// Per-call delays, first call first; `delay` once used up.
    script: Mutex<std::collections::VecDeque<Duration>>,
    repeatable: bool,
    cost: Option<contracts::axle::common::v1::Money>,
    asks: AtomicU32,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl Scripted {
    fn new(name: &'static str, answer: Option<u32>, log: &Arc<Mutex<Vec<&'static str>>>) -> Self {
        Self {
            name,
            answer,
            stored: None,
            delay: Duration::ZERO,
            script: Mutex::default(),
            repeatable: true,
            cost: None,
            asks: AtomicU32::new(0),
            log: log.clone(),
        }
    }
}

impl Source<str, u32> for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn repeatable(&self) -> bool {
        self.repeatable
    }
    fn cost(&self) -> Option<contracts::axle::common::v1::Money> {
        self.cost.clone()
    }
    fn ask<'a>(&'a self, _: &'a str, _: Option<Instant>) -> BoxFuture<'a, Asked<u32>> {
        Box::pin(async move {
            self.asks.fetch_add(1, Ordering::SeqCst);
            let delay = self
                .script
                .lock()
                .expect("script")
                .pop_front()
                .unwrap_or(self.delay);
            tokio::time::sleep(delay).await;
            self.log.lock().expect("log").push(self.name);
            match self.answer {
                Some(v) => Asked::answered(v, status::ok(self.name, 1, self.delay, false)),
                None => Asked::nothing(status::from_error(
                    self.name,
                    &connector::VendorError::Vendor {
                        code: "404".into(),
                        message: String::new(),
                        kind: connector::VendorErrorKind::NotFound,
                    },
                    Duration::ZERO,
                )),
            }
        })
    }
    fn stored<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Option<Asked<u32>>> {
        let stored = self
            .stored
            .map(|v| Asked::answered(v, status::ok(self.name, 0, Duration::ZERO, false)));
        Box::pin(async move { stored })
    }
}

fn list(sources: Vec<Arc<Scripted>>, strategy: Strategy) -> SourceList<str, u32> {
    SourceList::new(
        sources
            .into_iter()
            .map(|s| s as Arc<dyn Source<str, u32>>)
            .collect(),
        strategy,
        &SourceContext::detached(),
    )
}

#[tokio::test]
async fn parallel_asks_every_source_at_once_and_reports_in_priority_order() {
    let log = Arc::default();
    let mut slow = Scripted::new("slow", Some(1), &log);
    slow.delay = Duration::from_millis(50);
    let fast = Scripted::new("fast", Some(2), &log);
    let (slow, fast) = (Arc::new(slow), Arc::new(fast));
    let flow = list(vec![slow.clone(), fast.clone()], Strategy::Parallel);
    let out = flow.ask("q", None).await;
    assert_eq!(
        out.iter()
            .map(|a| a.status.source.as_str())
            .collect::<Vec<_>>(),
        ["slow", "fast"],
        "priority order, not arrival order"
    );
    assert_eq!(out[0].answer, Some(1));
    assert_eq!(out[1].answer, Some(2));
    assert_eq!(
        *log.lock().expect("log"),
        ["fast", "slow"],
        "asked concurrently"
    );
    assert!(out.iter().all(|a| a.status.latency.is_some()));
}

#[tokio::test]
async fn fallback_asks_the_next_only_while_nobody_answered() {
    let log = Arc::default();
    let first = Arc::new(Scripted::new("a", None, &log));
    let second = Arc::new(Scripted::new("b", Some(2), &log));
    let mut third = Scripted::new("c", Some(3), &log);
    third.stored = Some(30);
    let third = Arc::new(third);
    let fourth = Arc::new(Scripted::new("d", Some(4), &log));
    let flow = list(
        vec![first.clone(), second.clone(), third.clone(), fourth.clone()],
        Strategy::Fallback,
    );
    let out = flow.ask("q", None).await;
    assert_eq!(
        [&first, &second, &third, &fourth].map(|s| s.asks.load(Ordering::SeqCst)),
        [1, 1, 0, 0],
        "nobody after the first answer is asked (paid)"
    );
    assert_eq!(out[0].answer, None);
    assert_eq!(out[1].answer, Some(2));
    assert_eq!(out[2].answer, Some(30), "a stored answer is free and used");
    assert_eq!(out[3].answer, None);
    assert_eq!(out[3].status.state, SourceState::Skipped as i32);
    assert!(out[3].status.message.contains("fallback"));
}

#[tokio::test]
async fn disabled_sources_are_listed_as_skipped_and_asks_are_counted() {
    let metrics = kit::metrics::Metrics::new();
    let ctx = SourceContext::new(&metrics);
    let log = Arc::default();
    let on: Arc<dyn Source<str, u32>> = Arc::new(Scripted::new("on", Some(1), &log));
    let off: Arc<dyn Source<str, u32>> = Arc::new(Disabled::new("off"));
    let flow = SourceList::new(vec![on, off], Strategy::Parallel, &ctx);
    let out = flow.ask("q", None).await;
    assert_eq!(out[1].status.state, SourceState::Skipped as i32);
    assert!(out[1].status.message.contains("disabled"));
    assert!(out[1].status.latency.is_none());
    let _ = flow.ask("q", None).await;
    let text = metrics.encode();
    assert!(
        text.contains(r#"source_asks_total{source="on",state="ok"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"source_asks_total{source="off",state="skipped"} 2"#),
        "{text}"
    );
    // A second context of the same process shares the families (registered once).
    let _again = SourceContext::new(&metrics);
    assert_eq!(
        metrics
            .encode()
            .matches("# TYPE source_asks counter")
            .count(),
        1
    );
}

#[test]
fn arrange_follows_the_configured_order_and_refuses_unknown_names() {
    let log = Arc::default();
    let registry = || -> Vec<Arc<dyn Source<str, u32>>> {
        vec![
            Arc::new(Scripted::new("a", None, &log)),
            Arc::new(Scripted::new("b", None, &log)),
            Arc::new(Scripted::new("c", None, &log)),
        ]
    };
    let names = |v: Vec<Arc<dyn Source<str, u32>>>| {
        v.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>()
    };
    let order = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(arrange(registry(), &order(&["c", "a"])).expect("known")),
        ["c", "a", "b"],
        "unranked sources follow in registry order"
    );
    assert_eq!(
        names(arrange(registry(), &[]).expect("empty")),
        ["a", "b", "c"]
    );
    let err = arrange(registry(), &order(&["a", "x"]))
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("\"x\"") && err.contains("a, b, c"), "{err}");
    assert!(arrange(registry(), &order(&["a", "a"])).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_source_that_overruns_the_deadline_is_cut_off_as_timeout() {
    let log = Arc::default();
    let mut slow = Scripted::new("slow", Some(1), &log);
    slow.delay = Duration::from_secs(30);
    let fast = Scripted::new("fast", Some(2), &log);
    let flow = list(vec![Arc::new(slow), Arc::new(fast)], Strategy::Parallel);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(500);
    let out = flow.ask("q", Some(deadline)).await;
    assert!(started.elapsed() <= Duration::from_millis(500) + OVERRUN);
    assert_eq!(out[0].answer, None);
    assert_eq!(out[0].status.state, SourceState::Timeout as i32);
    assert_eq!(out[0].status.source, "slow");
    assert_eq!(out[1].answer, Some(2), "the rest is still returned");
}

#[tokio::test]
async fn stored_answers_of_sources_not_needed_are_counted_like_asks() {
    let metrics = kit::metrics::Metrics::new();
    let ctx = SourceContext::new(&metrics);
    let log = Arc::default();
    let first: Arc<dyn Source<str, u32>> = Arc::new(Scripted::new("first", Some(1), &log));
    let mut second = Scripted::new("second", None, &log);
    second.stored = Some(20);
    let second: Arc<dyn Source<str, u32>> = Arc::new(second);
    let third: Arc<dyn Source<str, u32>> = Arc::new(Scripted::new("third", None, &log));
    let flow = SourceList::new(vec![first, second, third], Strategy::Fallback, &ctx);
    let out = flow.ask("q", None).await;
    assert_eq!(
        out.iter().map(|a| a.answer).collect::<Vec<_>>(),
        [Some(1), Some(20), None]
    );
    let text = metrics.encode();
    for series in [
        r#"source_asks_total{source="first",state="ok"} 1"#,
        r#"source_asks_total{source="second",state="ok"} 1"#,
        r#"source_asks_total{source="third",state="skipped"} 1"#,
        r#"source_ask_seconds_count{source="first"} 1"#,
    ] {
        assert!(text.contains(series), "{series} in {text}");
    }
    let (answers, statuses) = Asked::split(out);
    assert_eq!(answers, [1, 20]);
    assert_eq!(statuses.len(), 3);
}

#[test]
fn merge_policies_may_rank_only_known_sources() {
    let policy = merge::MergePolicy::new(&["connapi", "local"]).with_field("model_year", &["locl"]);
    let err = crate::check_policy("merge", &policy, &["connapi", "local"])
        .expect_err("typo")
        .to_string();
    assert!(
        err.contains("merge.fields.model_year") && err.contains("\"locl\""),
        "{err}"
    );
    let ok = merge::MergePolicy::new(&["connapi", "local"]);
    assert!(crate::check_policy("merge", &ok, &["connapi", "local"]).is_ok());
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const DELAYS: HedgeDelays = HedgeDelays {
    min: Duration::from_millis(10),
    max: Duration::from_millis(100),
};

fn hedged(sources: Vec<Arc<Scripted>>, ctx: &SourceContext) -> SourceList<str, u32> {
    SourceList::new(
        sources
            .into_iter()
            .map(|s| s as Arc<dyn Source<str, u32>>)
            .collect(),
        Strategy::Hedged,
        ctx,
    )
    .with_hedging("test-service", DELAYS)
}

fn scripted(name: &'static str, answer: u32, delay: Duration) -> Arc<Scripted> {
    let mut s = Scripted::new(name, Some(answer), &Arc::default());
    s.delay = delay;
    Arc::new(s)
}

fn asks(s: &Scripted) -> u32 {
    s.asks.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn hedged_asks_the_next_source_after_the_delay_and_cancels_the_slow_one() {
    let metrics = kit::metrics::Metrics::new();
    let ctx = SourceContext::new(&metrics);
    let slow = scripted("slow", 1, Duration::from_secs(5));
    let fast = scripted("fast", 2, ms(20));
    let third = scripted("third", 3, ms(1));
    let flow = hedged(vec![slow.clone(), fast.clone(), third.clone()], &ctx);
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    // No samples yet: the delay is the configured maximum, then the hedge's 20 ms.
    assert_eq!(started.elapsed(), ms(120));
    assert_eq!([&slow, &fast, &third].map(|s| asks(s)), [1, 1, 0]);
    assert_eq!(out[1].answer, Some(2), "the hedge answered first and wins");
    assert_eq!(out[0].answer, None);
    assert_eq!(out[0].status.state, SourceState::Skipped as i32);
    assert_eq!(out[0].status.reason, "SOURCE_CANCELLED_HEDGE");
    assert_eq!(out[0].status.code, tonic::Code::Cancelled as i32);
    assert!(
        out[0].status.message.starts_with("cancelled: hedged")
            && out[0].status.message.contains("fast"),
        "{}",
        out[0].status.message
    );
    assert!(out[0].status.latency.is_some(), "it was called");
    assert_eq!(out[2].status.state, SourceState::Skipped as i32);
    assert_eq!(out[2].status.reason, "SOURCE_SKIPPED");
    let text = metrics.encode();
    assert!(
        text.contains(r#"source_hedges_total{service="test-service",source="slow"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"source_asks_total{source="slow",state="skipped"} 1"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn hedged_does_not_hedge_a_source_that_answers_in_time() {
    let metrics = kit::metrics::Metrics::new();
    let ctx = SourceContext::new(&metrics);
    let first = scripted("first", 1, ms(60));
    let second = scripted("second", 2, ms(1));
    let flow = hedged(vec![first.clone(), second.clone()], &ctx);
    let out = flow.ask("q", None).await;
    assert_eq!([&first, &second].map(|s| asks(s)), [1, 0]);
    assert_eq!(out[0].answer, Some(1));
    assert_eq!(out[1].status.reason, "SOURCE_SKIPPED");
    let text = metrics.encode();
    assert!(
        text.contains(r#"source_hedges_total{service="test-service",source="first"} 0"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn hedge_delay_follows_the_sources_observed_p95_within_the_bounds() {
    let ctx = SourceContext::detached();
    let first = Arc::new({
        let mut s = Scripted::new("first", Some(1), &Arc::default());
        // 40 asks: 3 of 40 ms (before a p95 exists), 37 of 30 ms (p95 = 40 ms), then one
        // stuck call.
        let mut script: std::collections::VecDeque<Duration> = [ms(40), ms(40), ms(40)].into();
        script.extend(std::iter::repeat_n(ms(30), 37));
        script.push_back(Duration::from_secs(5));
        s.script = Mutex::new(script);
        s
    });
    let second = scripted("second", 2, ms(5));
    let flow = hedged(vec![first.clone(), second.clone()], &ctx);
    for i in 0..40 {
        let out = flow.ask("q", None).await;
        assert_eq!(out[0].answer, Some(1), "{i}: {out:?}");
    }
    assert_eq!(asks(&second), 0, "nothing slower than the 100 ms default");
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    assert_eq!(
        started.elapsed(),
        ms(40 + 5),
        "hedged at the p95, not the 100 ms maximum"
    );
    assert_eq!(out[1].answer, Some(2));

    // A source faster than the minimum is still given the minimum.
    let quick = Arc::new({
        let mut s = Scripted::new("quick", Some(1), &Arc::default());
        let mut script: std::collections::VecDeque<Duration> =
            std::iter::repeat_n(ms(1), 30).collect();
        script.push_back(Duration::from_secs(5));
        s.script = Mutex::new(script);
        s
    });
    let other = scripted("other", 2, ms(5));
    let flow = hedged(vec![quick, other], &ctx);
    for _ in 0..30 {
        let _ = flow.ask("q", None).await;
    }
    let started = tokio::time::Instant::now();
    let _ = flow.ask("q", None).await;
    assert_eq!(started.elapsed(), ms(10 + 5), "clamped to the minimum");
}

#[tokio::test(start_paused = true)]
async fn hedged_repeats_a_lone_source_and_never_hedges_to_an_async_submission() {
    let ctx = SourceContext::detached();
    let sync = Arc::new({
        let mut s = Scripted::new("sync", Some(1), &Arc::default());
        s.script = Mutex::new([Duration::from_secs(5), ms(20)].into());
        s
    });
    let mut paid = Scripted::new("paid_async", Some(2), &Arc::default());
    paid.repeatable = false;
    let paid = Arc::new(paid);
    let flow = hedged(vec![sync.clone(), paid.clone()], &ctx);
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    assert_eq!(
        started.elapsed(),
        ms(120),
        "the same source asked again after 100 ms"
    );
    assert_eq!(asks(&sync), 2);
    assert_eq!(asks(&paid), 0, "an async paid submission is never a hedge");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].answer, Some(1));
    assert_eq!(out[0].status.state, SourceState::Ok as i32);

    // The lone source's quick "no record" from the hedge settles the ask: the stuck
    // request would say the same, only later.
    let lone = Arc::new({
        let mut s = Scripted::new("lone", None, &Arc::default());
        s.script = Mutex::new([Duration::from_secs(5), ms(20)].into());
        s
    });
    let flow = hedged(vec![lone.clone()], &ctx);
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    assert_eq!(started.elapsed(), ms(120), "not the stuck request's 5 s");
    assert_eq!(asks(&lone), 2);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status.state, SourceState::NotFound as i32);

    // An async submission asked first is waited for, never hedged (nor cancelled).
    let mut paid = Scripted::new("paid_async", Some(2), &Arc::default());
    paid.repeatable = false;
    paid.delay = Duration::from_secs(2);
    let paid = Arc::new(paid);
    let sync = scripted("sync", 1, ms(1));
    let flow = hedged(vec![paid.clone(), sync.clone()], &ctx);
    let out = flow.ask("q", None).await;
    assert_eq!([&paid, &sync].map(|s| asks(s)), [1, 0]);
    assert_eq!(out[0].answer, Some(2));
}

#[tokio::test(start_paused = true)]
async fn hedged_falls_back_when_the_first_has_no_answer_and_waits_for_a_hedge_that_may() {
    let ctx = SourceContext::detached();
    // The first fails after the hedge went out: the hedge's later answer still wins.
    let mut first = Scripted::new("first", None, &Arc::default());
    first.delay = ms(150);
    let first = Arc::new(first);
    let second = scripted("second", 2, ms(200));
    let flow = hedged(vec![first.clone(), second.clone()], &ctx);
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    assert_eq!(started.elapsed(), ms(300));
    assert_eq!(
        out[0].status.state,
        SourceState::NotFound as i32,
        "ended, not cancelled"
    );
    assert_eq!(out[1].answer, Some(2));

    // A quick "no record" is a plain fallback: the next is asked at once, no hedge.
    let first = Arc::new(Scripted::new("first", None, &Arc::default()));
    let second = scripted("second", 2, ms(5));
    let flow = hedged(vec![first, second.clone()], &ctx);
    let started = tokio::time::Instant::now();
    let out = flow.ask("q", None).await;
    assert_eq!(started.elapsed(), ms(5));
    assert_eq!(out[1].answer, Some(2));
}

#[test]
fn arrange_puts_the_cheaper_of_equally_ranked_sources_first() {
    let log = Arc::default();
    let priced = |name: &'static str, cost: Option<(i64, i32)>| -> Arc<dyn Source<str, u32>> {
        let mut s = Scripted::new(name, None, &log);
        s.cost = cost.map(|(units, nanos)| contracts::axle::common::v1::Money {
            currency_code: "CNY".to_owned(),
            units,
            nanos,
        });
        Arc::new(s)
    };
    let registry = vec![
        priced("unpriced", None),
        priced("dear", Some((1, 0))),
        priced("ranked", Some((9, 0))),
        priced("cheap", Some((0, 500_000_000))),
    ];
    let names: Vec<String> = arrange(registry, &["ranked".to_owned()])
        .expect("known")
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(
        names,
        ["ranked", "cheap", "dear", "unpriced"],
        "a configured rank beats price; an unknown price is not taken as free"
    );
}
