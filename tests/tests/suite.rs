//! The suite as `axle up` starts it (every service + the sandbox in one process), on
//! ephemeral ports, exercised the way a client team would: reflection, health, RPCs.

mod common;

use contracts::axle::aggregator::v1::GetVehicleProfileRequest;
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, ParsePlateRequest};
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::vin::v1::{DecodeVinRequest, ValidateVinRequest};
use kit::server::Shutdown;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1 as refl;

async fn up() -> (cli::up::Suite, Shutdown, Channel) {
    up_with(|_| {}).await
}

async fn up_with(
    tweak: impl FnOnce(&mut cli::up::UpConfig),
) -> (cli::up::Suite, Shutdown, Channel) {
    // Through the real loader, exactly as `axle up` does, so layering bugs show up here.
    let mut cfg = cli::up::load(None).expect("embedded default loads");
    common::ephemeral(&mut cfg, "suite");
    // The OCR models load once per suite (a few hundred MB): only the test that reads a
    // photo locally turns the engine on.
    cfg.ocr.local.enabled = false;
    cfg.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    tweak(&mut cfg);
    let shutdown = Shutdown::new();
    let suite = Box::pin(cli::up::start(cfg, shutdown.clone()))
        .await
        .expect("suite starts");
    let channel = Channel::from_shared(format!("http://{}", suite.vin_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    (suite, shutdown, channel)
}

#[tokio::test]
async fn up_serves_vin_service_with_reflection_health_and_sandbox_wiring() {
    let (suite, shutdown, channel) = Box::pin(up()).await;

    // `grpcurl list` equivalent.
    let mut reflection =
        refl::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![refl::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                refl::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        }]))
        .await
        .expect("reflection")
        .into_inner();
    let Some(refl::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream
            .message()
            .await
            .expect("stream")
            .expect("message")
            .message_response
    else {
        panic!("unexpected reflection answer");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "axle.vin.v1.VinService")
    );

    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "axle.vin.v1.VinService".to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");

    let mut vin = VinServiceClient::new(channel);
    let v = vin
        .validate_vin(ValidateVinRequest {
            vin: "1HGCM82633A004352".to_owned(),
        })
        .await
        .expect("validate")
        .into_inner();
    assert!(v.valid);

    // DecodeVin reaches the sandbox that `up` started, and says so.
    let d = vin
        .decode_vin(DecodeVinRequest {
            vin: "WP0AA2978BL012976".to_owned(),
        })
        .await
        .expect("decode")
        .into_inner();
    let connapi = d
        .sources
        .iter()
        .find(|s| s.source == "connapi")
        .expect("connapi status");
    assert_eq!(connapi.state, 1, "OK: {connapi:?}");
    assert!(connapi.sandbox);

    // plate-service is up too, on its own port.
    let plate_channel = Channel::from_shared(format!("http://{}", suite.plate_addr))
        .expect("uri")
        .connect()
        .await
        .expect("plate-service connects");
    let mut plate = PlateServiceClient::new(plate_channel);
    let p = plate
        .clone()
        .parse_plate(ParsePlateRequest {
            plate: "粤B·12345".to_owned(),
            color: 0,
        })
        .await
        .expect("parse")
        .into_inner();
    assert!(p.valid);
    assert_eq!(
        p.issuing_authority.map(|a| a.division_code),
        Some("440300".to_owned())
    );

    // LookupVehicle through both sandbox vendors: xiaoshibao synchronously, platecb by
    // signed submit and a callback to the suite's own webhook; merged with provenance.
    let looked = plate
        .clone()
        .lookup_vehicle(LookupVehicleRequest {
            plate: "沪A12345".to_owned(),
            color: 0,
        })
        .await
        .expect("lookup")
        .into_inner();
    for vendor in ["xiaoshibao", "platecb"] {
        let st = looked
            .sources
            .iter()
            .find(|s| s.source == vendor)
            .unwrap_or_else(|| panic!("{vendor} status in {:?}", looked.sources));
        assert_eq!(st.state, 1, "{vendor} OK: {st:?}");
        assert!(st.sandbox, "{vendor} answers are labelled sandbox");
    }
    let vin = looked.vin.expect("vin");
    assert_eq!(looked.vin_valid, Some(true), "{vin:?}");
    assert_eq!(vin.value, "LSV**********3456", "masked by default");
    assert!(vin.provenance.expect("provenance").sandbox);
    assert!(looked.usage.is_some());

    // A plate no vendor knows: NOT_FOUND per source, still labelled as the sandbox's.
    let none = plate
        .lookup_vehicle(LookupVehicleRequest {
            plate: "藏J99999".to_owned(),
            color: 0,
        })
        .await
        .expect("lookup")
        .into_inner();
    let xs = none
        .sources
        .iter()
        .find(|s| s.source == "xiaoshibao")
        .expect("xiaoshibao status");
    assert_eq!(xs.code, tonic::Code::NotFound as i32, "{xs:?}");
    assert!(xs.sandbox, "{xs:?}");
    assert!(none.vin.is_none());

    // The aggregator is up, wired to both services: a plate gives the whole profile, the
    // VIN plate-service found (unmasked for the aggregator only) decoded by vin-service.
    let agg_channel = Channel::from_shared(format!("http://{}", suite.aggregator_addr))
        .expect("uri")
        .connect()
        .await
        .expect("aggregator connects");
    let health = HealthClient::new(agg_channel.clone())
        .check(HealthCheckRequest {
            service: "axle.aggregator.v1.AggregatorService".to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let profile = Box::pin(
        AggregatorServiceClient::new(agg_channel).get_vehicle_profile(GetVehicleProfileRequest {
            subject: Some(Subject::Plate("沪A12345".to_owned())),
            ..GetVehicleProfileRequest::default()
        }),
    )
    .await
    .expect("profile")
    .into_inner();
    assert!(profile.complete, "{:#?}", profile.sources);
    let connapi = profile
        .sources
        .iter()
        .find(|s| s.source == "connapi" && s.via == "vin-service")
        .expect("connapi decoded the plate's VIN");
    assert_eq!(connapi.state, 1, "{connapi:?}");
    let p = profile.profile.expect("profile");
    assert_eq!(
        p.vin.expect("vin").value,
        "LSV**********3456",
        "masked by the aggregator"
    );
    assert!(p.usage.is_some() && p.series.is_some());

    // One exposition for the whole process: every family once, or Prometheus refuses
    // the scrape (both services register the vendor families).
    let addr = suite.metrics_addr.expect("metrics listener");
    let text = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = Vec::new();
        conn.read_to_end(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf).into_owned()
    };
    let mut seen = std::collections::HashSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(seen.insert(line.to_owned()), "family exposed twice: {line}");
    }
    assert!(text.contains("vendor_calls_total"), "{text}");
    shutdown.trigger();
    suite.wait().await.expect("clean stop");
}

/// `axle health` (the image's HEALTHCHECK): SERVING for the server and each of its
/// services, a failure for a name it does not serve and for a port nobody listens on.
#[tokio::test]
async fn axle_health_tells_serving_from_unknown_and_unreachable() {
    use cli::health::{Health, check};
    use std::time::Duration;

    let (suite, shutdown, _channel) = Box::pin(up()).await;
    let vin = suite.vin_addr.to_string();
    let plate = format!("http://{}", suite.plate_addr);
    let t = Duration::from_secs(5);
    assert_eq!(check(&vin, "", t).await, Health::Serving);
    assert_eq!(
        check(&vin, "axle.vin.v1.VinService", t).await,
        Health::Serving
    );
    assert_eq!(
        check(&plate, "axle.plate.v1.PlateService", t).await,
        Health::Serving
    );
    assert_eq!(
        check(&vin, "axle.plate.v1.PlateService", t).await,
        Health::UnknownService,
        "vin-service does not serve PlateService"
    );

    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    match check(&free.to_string(), "", t).await {
        Health::Unreachable(why) => assert!(!why.is_empty()),
        other => panic!("nothing listens on {free}, got {other:?}"),
    }
    shutdown.trigger();
    suite.wait().await.expect("stops");
}

#[tokio::test]
async fn up_serves_violation_service_with_health_reflection_and_the_city_rules() {
    use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
    use contracts::axle::violation::v1::{
        GetCityRulesRequest, QueryOutcome, QueryViolationsRequest, get_city_rules_request,
    };

    let (suite, shutdown, _) = Box::pin(up()).await;
    let channel = Channel::from_shared(format!("http://{}", suite.violation_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "axle.violation.v1.ViolationService".to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let mut reflection =
        refl::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![refl::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                refl::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        }]))
        .await
        .expect("reflection")
        .into_inner();
    let Some(refl::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream
            .message()
            .await
            .expect("stream")
            .expect("message")
            .message_response
    else {
        panic!("unexpected reflection answer");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "axle.violation.v1.ViolationService"),
        "{list:?}"
    );

    let mut client = ViolationServiceClient::new(channel);
    let rules = client
        .get_city_rules(GetCityRulesRequest {
            city: Some(get_city_rules_request::City::Plate("粤B".to_owned())),
            plate_type: String::new(),
        })
        .await
        .expect("rules")
        .into_inner();
    assert!(rules.rules.iter().any(|r| r.city == "深圳市"), "{rules:?}");

    // The seed's example query, through the sandbox `axle up` wired it to.
    let r = client
        .query_violations(QueryViolationsRequest {
            plate: "粤AJ44E6".to_owned(),
            plate_type: "02".to_owned(),
            engine_number: "AD50EG081600062".to_owned(),
            vin: "LNBSCC3H8GF308384".to_owned(),
            ..QueryViolationsRequest::default()
        })
        .await
        .expect("answer")
        .into_inner();
    assert_eq!(
        r.outcome,
        QueryOutcome::Violations as i32,
        "{:?}",
        r.sources
    );
    assert!(
        r.violations
            .iter()
            .all(|v| v.provenance.as_ref().is_some_and(|p| p.sandbox))
    );

    // A query the city's rule refuses is INVALID_ARGUMENT, before any vendor call.
    let err = client
        .query_violations(QueryViolationsRequest {
            plate: "粤B12345".to_owned(),
            plate_type: "02".to_owned(),
            ..QueryViolationsRequest::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("粤B"), "{}", err.message());

    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
}

#[tokio::test]
async fn up_serves_ocr_service_reading_a_photo_locally() {
    use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
    use contracts::axle::ocr::v1::{
        LicenseSide, RecognizeVehicleLicenseRequest, recognize_vehicle_license_request,
    };

    let (suite, shutdown, _) = Box::pin(up_with(|c| c.ocr.local.enabled = true)).await;
    assert_eq!(cli::up::UpConfig::default().ocr.server.listen.port(), 50054);
    let channel = Channel::from_shared(format!("http://{}", suite.ocr_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "axle.ocr.v1.OcrService".to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    // A synthetic front the project renders for the engine's own tests.
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/ocr-engine/tests/data/front.jpg"
    ))
    .expect("photo");
    let resp = OcrServiceClient::new(channel)
        .recognize_vehicle_license(RecognizeVehicleLicenseRequest {
            source: Some(recognize_vehicle_license_request::Source::Image(photo)),
            side: LicenseSide::Unspecified as i32,
            other_side: None,
        })
        .await
        .expect("read")
        .into_inner();
    let front = resp.front.expect("front");
    let vin = front.vin.expect("vin");
    assert!(vin.value.contains('*'), "masked by default: {}", vin.value);
    let provenance = vin.reading.and_then(|r| r.provenance).expect("provenance");
    assert!(provenance.local, "read in-process: {provenance:?}");
    let states: Vec<&str> = resp.sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(states[0], "ocr-engine");

    // The same photo as the aggregator's subject: read, then its plate and VIN through
    // the plan (the VIN revealed to the aggregator, masked for this caller again).
    let truth: serde_json::Value = serde_json::from_str(
        include_str!("../../crates/ocr-engine/tests/data/truth.jsonl")
            .lines()
            .next()
            .expect("front truth"),
    )
    .expect("json");
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/ocr-engine/tests/data/front.jpg"
    ))
    .expect("photo");
    let agg_channel = Channel::from_shared(format!("http://{}", suite.aggregator_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut req = tonic::Request::new(GetVehicleProfileRequest {
        subject: Some(
            contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject::LicenseImage(
                contracts::axle::aggregator::v1::LicenseImage {
                    source: Some(
                        contracts::axle::aggregator::v1::license_image::Source::Image(photo),
                    ),
                    side: 0,
                },
            ),
        ),
        ..GetVehicleProfileRequest::default()
    });
    req.set_timeout(std::time::Duration::from_secs(20));
    let r = Box::pin(AggregatorServiceClient::new(agg_channel).get_vehicle_profile(req))
        .await
        .expect("profile")
        .into_inner();
    let ocr = r
        .sources
        .iter()
        .find(|s| s.source == "ocr-service" && s.via.is_empty())
        .expect("the OCR step is listed");
    assert_eq!(ocr.state, 1, "OK: {ocr:?}");
    let want_vin = truth["fields"]["vin"].as_str().expect("vin");
    let p = r.profile.expect("profile");
    assert_eq!(
        p.vin.as_ref().map(|v| v.value.clone()),
        Some(domain::pii::mask_vin(want_vin)),
        "{:#?}",
        r.sources
    );
    assert_eq!(p.vin_valid, Some(true));
    assert_eq!(
        p.plate.map(|v| v.value).as_deref(),
        truth["fields"]["plate"].as_str()
    );
    let vin_service = r
        .sources
        .iter()
        .find(|s| s.source == "vin-service" && s.via.is_empty())
        .expect("the photo's VIN went to vin-service");
    assert_eq!(vin_service.state, 1, "{vin_service:?}");
    shutdown.trigger();
    suite.wait().await.expect("stops cleanly");
}
