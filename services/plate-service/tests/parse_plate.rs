//! ParsePlate through the generated client on a real server.

use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{ParsePlateRequest, PlateCategory, PlateColor};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

async fn client() -> PlateServiceClient<Channel> {
    let mut cfg = plate_service::config::PlateServiceConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.platecb.enabled = false;
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
    PlateServiceClient::new(channel)
}

async fn parse(
    c: &mut PlateServiceClient<Channel>,
    plate: &str,
    color: PlateColor,
) -> Result<contracts::axle::plate::v1::ParsePlateResponse, tonic::Status> {
    c.parse_plate(ParsePlateRequest {
        plate: plate.to_owned(),
        color: color as i32,
    })
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn plates_of_every_format() {
    let mut c = client().await;
    let r = parse(&mut c, "粤b·12345", PlateColor::Unspecified)
        .await
        .expect("answer");
    assert!(r.valid);
    assert_eq!(r.normalized_plate, "粤B12345");
    let a = r.issuing_authority.expect("authority");
    assert_eq!(
        (
            a.city.as_str(),
            a.division_code.as_str(),
            a.city_pinyin.as_str()
        ),
        ("深圳市", "440300", "Shenzhen")
    );
    assert!(r.color_needed);
    assert_eq!(r.plate_type_candidates.len(), 2);

    let r = parse(&mut c, "粤B12345", PlateColor::Blue)
        .await
        .expect("answer");
    assert_eq!(r.plate_type.map(|t| t.code), Some("02".to_owned()));

    let r = parse(&mut c, "京AD12345", PlateColor::Unspecified)
        .await
        .expect("answer");
    assert_eq!(r.category, PlateCategory::NewEnergySmall as i32);
    assert_eq!(r.plate_type.map(|t| t.code), Some("52".to_owned()));

    let r = parse(&mut c, "VA12345", PlateColor::Unspecified)
        .await
        .expect("answer");
    assert_eq!(r.category, PlateCategory::Military as i32);
    assert!(!r.supported && !r.valid);

    let r = parse(&mut c, "粤I12345", PlateColor::Unspecified)
        .await
        .expect("malformed is an answer");
    assert!(!r.valid);
    assert_eq!(r.problems[0].position, 2);
    assert_eq!(
        r.province.map(|p| p.division_code),
        Some("440000".to_owned())
    );
}

#[tokio::test]
async fn empty_or_absurd_input_is_invalid_argument() {
    let mut c = client().await;
    for input in ["", "  ", "·-", &"粤".repeat(40)] {
        let err = parse(&mut c, input, PlateColor::Unspecified)
            .await
            .expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(
            err.get_error_details()
                .bad_request()
                .expect("details")
                .field_violations[0]
                .field,
            "plate"
        );
    }
}

#[test]
fn shipped_config_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/plate-service.toml");
    let cfg: plate_service::config::PlateServiceConfig =
        kit::config::load_with_env(Some(&path), "AXLE", Vec::new())
            .expect("config/plate-service.toml parses");
    assert_eq!(cfg.server.listen.port(), 50052);
    // The file documents platecb's callback times and webhook bounds at their defaults:
    // a default changed in code must be changed (and explained) there too.
    let platecb = &cfg.vendors.platecb;
    let defaults = plate_service::connectors::platecb::PlatecbConfig::default();
    assert_eq!(platecb.callback_settings(), defaults.callback_settings());
    assert_eq!(platecb.webhook_limits, defaults.webhook_limits);
    assert_eq!(platecb.purge_interval, defaults.purge_interval);
    assert!(
        kit::config::Validate::problems(&cfg).is_empty(),
        "{:?}",
        kit::config::Validate::problems(&cfg)
    );
}

#[tokio::test]
async fn a_colour_that_does_not_fit_is_reported_on_the_colour_in_words() {
    let mut c = client().await;
    let r = parse(&mut c, "粤BD12345", PlateColor::Blue)
        .await
        .expect("answer");
    assert!(!r.valid);
    let p = &r.problems[0];
    assert_eq!(p.field, "color");
    assert_eq!(p.message, "small new-energy plates are green, not blue");
    // An enum value the contract does not define is an error on `color`.
    let err = c
        .parse_plate(ParsePlateRequest {
            plate: "京A12345".to_owned(),
            color: 99,
        })
        .await
        .expect_err("invalid colour");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let bad = err
        .get_error_details()
        .bad_request()
        .cloned()
        .expect("bad request");
    assert_eq!(bad.field_violations[0].field, "color");
}

#[tokio::test]
async fn lookup_errors_say_retype_or_not_served() {
    use contracts::axle::plate::v1::LookupVehicleRequest;
    let mut c = client().await;
    for (plate, reason, violation) in [
        ("粤I12345", "INVALID_PLATE", "PLATE_FORMAT"),
        ("VA12345", "UNSUPPORTED_PLATE", "PLATE_UNSUPPORTED"),
    ] {
        let err = c
            .lookup_vehicle(LookupVehicleRequest {
                plate: plate.to_owned(),
                color: 0,
            })
            .await
            .expect_err("refused before any vendor");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{plate}");
        let details = err.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some(reason),
            "{plate}"
        );
        assert_eq!(
            details
                .bad_request()
                .map(|b| b.field_violations[0].reason.as_str()),
            Some(violation),
            "{plate}"
        );
    }
}

#[tokio::test]
async fn control_characters_are_dropped_like_invisible_ones_never_echoed() {
    let mut c = client().await;
    // ESC, DEL and a C1 control are dropped as NUL, CR and LF are: none is echoed back
    // in normalized_plate, where it would act on the caller's terminal.
    for typed in ["\u{1b}京A12345", "京A\u{7f}12345\u{9b}", "京A12345\0\r\n"] {
        let r = parse(&mut c, typed, PlateColor::Unspecified)
            .await
            .expect("answer");
        assert!(r.valid, "{typed:?}: {:?}", r.problems);
        assert_eq!(r.normalized_plate, "京A12345", "{typed:?}");
    }
    // Invisible characters from copied text are simply dropped.
    let r = parse(&mut c, "\u{feff}京A123\u{200b}45", PlateColor::Unspecified)
        .await
        .expect("answer");
    assert!(r.valid, "{:?}", r.problems);
}
