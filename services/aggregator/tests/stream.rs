//! StreamVehicleProfile: what the request says at once, each service's answer as it
//! arrives (local facts never wait for a vendor), and a last message with the table.

mod common;

use std::time::{Duration, Instant};

use common::*;
use contracts::axle::aggregator::v1::{StreamVehicleProfileRequest, StreamVehicleProfileResponse};
use contracts::axle::common::v1::SourceState;
use serde_json::json;

async fn stream(s: &mut Suite, vin: &str) -> Vec<(Duration, StreamVehicleProfileResponse)> {
    let started = Instant::now();
    let mut req = tonic::Request::new(StreamVehicleProfileRequest {
        request: Some(by_vin(vin)),
    });
    req.set_timeout(Duration::from_secs(5));
    let mut st = Box::pin(s.client.stream_vehicle_profile(req))
        .await
        .expect("stream")
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = Box::pin(st.message()).await.expect("message") {
        out.push((started.elapsed(), m));
    }
    out
}

#[tokio::test]
async fn local_facts_first_vendor_facts_as_they_arrive_then_the_final_table() {
    let mut s = suite().await;
    // The VIN vendor is slow; the local facts must not wait for it.
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "latency": { "kind": "fixed", "ms": 1200 } }]),
    )
    .await;
    let messages = stream(&mut s, VIN).await;
    assert!(messages.len() >= 3, "{}", messages.len());

    let (at, first) = &messages[0];
    assert_eq!(first.trigger, "");
    assert!(!first.r#final);
    let snap = first.snapshot.as_ref().expect("snapshot");
    assert!(
        snap.profile.as_ref().and_then(|p| p.vin.as_ref()).is_some(),
        "the VIN asked"
    );
    assert!(
        snap.sources
            .iter()
            .all(|s| s.state == SourceState::Pending as i32),
        "{:?}",
        snap.sources
    );
    assert!(*at < Duration::from_millis(600), "{at:?}");

    // ValidateVin's local facts arrive long before connapi's decode.
    let (at, local) = messages
        .iter()
        .find(|(_, m)| {
            m.snapshot
                .as_ref()
                .and_then(|s| s.profile.as_ref())
                .is_some_and(|p| p.model_year.is_some())
        })
        .expect("a message with the model year");
    assert!(
        *at < Duration::from_millis(900),
        "local facts waited: {at:?}"
    );
    assert_eq!(local.trigger, "vin-service");

    let (at, last) = messages.last().expect("last");
    assert!(last.r#final);
    assert!(*at >= Duration::from_millis(1200), "{at:?}");
    let snap = last.snapshot.as_ref().expect("snapshot");
    assert!(snap.complete, "{:#?}", snap.sources);
    assert!(snap.profile.as_ref().is_some_and(|p| p.brand.is_some()));
    assert!(
        snap.sources
            .iter()
            .all(|s| s.state != SourceState::Pending as i32)
    );
    // Only the last message is final.
    assert_eq!(messages.iter().filter(|(_, m)| m.r#final).count(), 1);
}

#[tokio::test]
async fn a_bad_request_fails_the_stream_at_once() {
    let mut s = suite().await;
    let err = Box::pin(
        s.client
            .stream_vehicle_profile(StreamVehicleProfileRequest {
                request: Some(by_vin("LNBSCC3H9GF308384")),
            }),
    )
    .await
    .expect_err("invalid");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}
