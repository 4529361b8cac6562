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
        true
    }
    fn ask<'a>(&'a self, _: &'a str, _: Option<Instant>) -> BoxFuture<'a, Asked<u32>> {
        Box::pin(async move {
            self.asks.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
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
