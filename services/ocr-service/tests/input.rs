//! Untrusted photos: oversized, not images, corrupt, decompression bombs, and URLs that
//! point into the cluster, directly, through DNS or through a redirect. Each one is
//! INVALID_ARGUMENT with a field violation, never a panic, and no vendor is paid for it.

mod common;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::{bomb, bytes_request, details, png, suite, url_request};
use contracts::axle::ocr::v1::LicenseSide;
use ocr_service::config::{OcrServiceConfig, Strategy};
use reqwest::Method;

fn vendor_only(c: &mut OcrServiceConfig) {
    c.strategy = Strategy::VendorOnly;
}

fn violation(err: &tonic::Status) -> (String, String, String) {
    let d = details(err);
    let v = &d.bad_request().expect("BadRequest").field_violations[0];
    (
        v.field.clone(),
        v.description.clone(),
        d.error_info().map(|i| i.reason.clone()).unwrap_or_default(),
    )
}

/// A photo server on loopback: `/photo.png`, `/page.html`, `/big.png`, and
/// `/redirect` to `localhost` on the same port.
async fn photo_server() -> String {
    let photo = png(32, 32);
    let big = vec![0u8; 200_000];
    let app = axum::Router::new()
        .route(
            "/photo.png",
            get(move || {
                let p = photo.clone();
                async move { ([(header::CONTENT_TYPE, "image/png")], p).into_response() }
            }),
        )
        .route(
            "/page.html",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/html")], "<html></html>").into_response()
            }),
        )
        .route(
            "/big.png",
            get(move || {
                let b = big.clone();
                async move { ([(header::CONTENT_TYPE, "image/png")], b).into_response() }
            }),
        )
        .route(
            "/missing.png",
            get(|| async { StatusCode::NOT_FOUND.into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let port = addr.port();
    let app = app.route(
        "/redirect",
        get(move || async move {
            (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("http://localhost:{port}/photo.png"),
                )],
            )
                .into_response()
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn bad_bytes_are_invalid_argument_and_cost_nothing() {
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.input.max_image_bytes = 100_000;
        },
        None,
    )
    .await;
    let mut truncated = png(64, 64);
    truncated.truncate(truncated.len() / 2);
    for (photo, reason, says) in [
        (Vec::new(), "IMAGE_EMPTY", "is empty"),
        (
            vec![0u8; 150_000],
            "IMAGE_TOO_LARGE",
            "at most 100000 bytes",
        ),
        (
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "IMAGE_FORMAT",
            "not a JPEG or PNG",
        ),
        (b"%PDF-1.4 ...".to_vec(), "IMAGE_FORMAT", "PDF"),
        (truncated, "IMAGE_CORRUPT", "corrupt"),
        (
            bomb(40_000, 40_000),
            "IMAGE_TOO_MANY_PIXELS",
            "at most 50000000 pixels",
        ),
        (bomb(3000, 3000), "IMAGE_CORRUPT", "corrupt"),
    ] {
        let err = s
            .client
            .recognize_vehicle_license(bytes_request(photo, LicenseSide::Front))
            .await
            .expect_err(reason);
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "{reason}: {err:?}"
        );
        let (field, description, got) = violation(&err);
        assert_eq!((field.as_str(), got.as_str()), ("image", reason));
        assert!(description.contains(says), "{reason}: {description}");
    }
    let calls = s.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 0, "no vendor call for a bad photo");
}

#[tokio::test]
async fn requests_without_a_photo_or_with_a_bad_side_are_refused() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    let mut req = bytes_request(png(8, 8), LicenseSide::Front);
    req.source = None;
    let err = s
        .client
        .recognize_vehicle_license(req)
        .await
        .expect_err("no photo");
    assert_eq!(violation(&err).0, "image");
    let mut req = bytes_request(png(8, 8), LicenseSide::Front);
    req.side = 7;
    let err = s
        .client
        .recognize_vehicle_license(req)
        .await
        .expect_err("bad side");
    assert_eq!(violation(&err).0, "side");
}

#[tokio::test]
async fn urls_into_the_cluster_are_refused_unless_allowed() {
    let server = photo_server().await;
    let mut s = suite(|_| {}, vendor_only, None).await;
    for url in [
        format!("{server}/photo.png"),
        "http://169.254.169.254/latest/meta-data/iam/".to_owned(),
        "http://localhost:9/x.png".to_owned(),
        "http://[::ffff:127.0.0.1]:9/x.png".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        let err = s
            .client
            .recognize_vehicle_license(url_request(&url))
            .await
            .expect_err(&url);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{url}: {err:?}");
        let (field, _, reason) = violation(&err);
        assert_eq!(
            (field.as_str(), reason.as_str()),
            ("image_url", "IMAGE_URL_REFUSED"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn an_allowed_host_is_fetched_with_its_checks_and_redirects_are_rechecked() {
    let server = photo_server().await;
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.input.max_image_bytes = 100_000;
            // The photo store is on loopback under its IP; `localhost` is not allowed.
            c.input.url.allowed_private_hosts = vec!["127.0.0.1".to_owned()];
        },
        None,
    )
    .await;
    let resp = s
        .client
        .recognize_vehicle_license(url_request(&format!("{server}/photo.png")))
        .await
        .expect("fetched and read")
        .into_inner();
    assert!(resp.front.is_some());
    for (path, says) in [
        ("/redirect", "localhost"),
        ("/page.html", "text/html"),
        ("/big.png", "at most 100000 bytes"),
        ("/missing.png", "HTTP 404"),
    ] {
        let err = s
            .client
            .recognize_vehicle_license(url_request(&format!("{server}{path}")))
            .await
            .expect_err(path);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{path}: {err:?}");
        let (_, description, _) = violation(&err);
        assert!(description.contains(says), "{path}: {description}");
    }
}

#[tokio::test]
async fn urls_can_be_switched_off() {
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.input.url.enabled = false;
        },
        None,
    )
    .await;
    let err = s
        .client
        .recognize_vehicle_license(url_request("https://example.com/x.png"))
        .await
        .expect_err("off");
    assert_eq!(violation(&err).0, "image_url");
}

#[test]
fn shipped_config_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ocr-service.toml");
    let cfg: OcrServiceConfig = kit::config::load_with_env(Some(&path), "AXLE", Vec::new())
        .expect("config/ocr-service.toml parses");
    assert_eq!(cfg.server.listen.port(), 50054);
    assert!(
        kit::config::Validate::problems(&cfg).is_empty(),
        "{:?}",
        kit::config::Validate::problems(&cfg)
    );
    // The file states the defaults; a default changed in code must change there too.
    let d = OcrServiceConfig::default();
    assert_eq!(
        cfg.vendors.apihz.max_concurrent_per_address,
        d.vendors.apihz.max_concurrent_per_address
    );
    assert_eq!(
        cfg.vendors.apihz.max_base64_bytes,
        d.vendors.apihz.max_base64_bytes
    );
    assert_eq!(cfg.input.max_image_bytes, d.input.max_image_bytes);
    assert_eq!(cfg.input.max_pixels, d.input.max_pixels);
    assert_eq!(
        cfg.vendors.apihz.http.cost_per_call,
        d.vendors.apihz.http.cost_per_call
    );
    assert_eq!(cfg.strategy, d.strategy);
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let mut c = OcrServiceConfig {
        strategy: Strategy::LocalOnly,
        ..OcrServiceConfig::default()
    };
    c.local.enabled = false;
    c.local.required_front.push("wheels".to_owned());
    c.input.max_image_bytes = 10 * 1024 * 1024;
    let problems: Vec<String> = kit::config::Validate::problems(&c)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in ["strategy", "local.required_front", "input.max_image_bytes"] {
        assert!(problems.iter().any(|p| p == key), "{key}: {problems:?}");
    }
}
