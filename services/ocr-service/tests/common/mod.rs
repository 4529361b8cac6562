//! What the ocr-service tests share: the sandbox and the service on loopback, a client,
//! photos (real PNGs, corrupt files, a decompression bomb), and a test double of the
//! local engine that returns fixed readings.

#![allow(dead_code, clippy::missing_panics_doc, clippy::cast_precision_loss)]

use std::sync::Arc;

use contracts::axle::common::v1::Provenance;
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::ocr::v1::{
    LicenseSide, RecognizeVehicleLicenseRequest, recognize_vehicle_license_request,
};
use ocr_engine::{Field, FieldName, Read, Side};
use ocr_service::config::OcrServiceConfig;
use ocr_service::local::Reader;
use tonic::transport::Channel;

pub struct Suite {
    pub client: OcrServiceClient<Channel>,
    /// The sandbox's base URL (`http://127.0.0.1:port`).
    pub sandbox: String,
    pub http: reqwest::Client,
}

impl Suite {
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut req = self.http.request(method, format!("{}{path}", self.sandbox));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
            .await
            .expect("sandbox answers")
            .json()
            .await
            .unwrap_or(serde_json::Value::Null)
    }
}

/// The sandbox and ocr-service, apihz's addresses pointed at the sandbox's `vip`,
/// `domain`, `ip1` and `ip2`.
pub async fn suite(
    sandbox_tweak: impl FnOnce(&mut sandbox::SandboxConfig),
    tweak: impl FnOnce(&mut OcrServiceConfig),
    engine: Option<Arc<dyn Reader>>,
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
    std::mem::forget(sb);
    let mut cfg = OcrServiceConfig::default();
    cfg.vendors.apihz.addresses = ["vip", "domain", "ip1", "ip2"]
        .iter()
        .map(|a| format!("{sandbox}/apihz/{a}"))
        .collect();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    // The real engine is loaded only by `start`; these tests bring their own reader.
    cfg.local.enabled = engine.is_some();
    tweak(&mut cfg);
    let server = ocr_service::start_with_engine(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
        engine,
    )
    .await
    .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    std::mem::forget(server);
    Suite {
        client: OcrServiceClient::new(channel),
        sandbox,
        http: reqwest::Client::new(),
    }
}

/// A real PNG of `w`×`h` pixels (noise, so it does not compress to nothing).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    testkit::noise_png(w, h, 0)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
    let mut typed = kind.to_vec();
    typed.extend_from_slice(data);
    out.extend_from_slice(&typed);
    out.extend_from_slice(&crc32(&typed).to_be_bytes());
}

/// A PNG of a few dozen bytes that claims `w`×`h` pixels.
pub fn bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, *b"IHDR", &ihdr);
    chunk(
        &mut out,
        *b"IDAT",
        &[0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14],
    );
    chunk(&mut out, *b"IEND", &[]);
    out
}

pub fn bytes_request(image: Vec<u8>, side: LicenseSide) -> RecognizeVehicleLicenseRequest {
    RecognizeVehicleLicenseRequest {
        source: Some(recognize_vehicle_license_request::Source::Image(image)),
        side: side as i32,
        other_side: None,
    }
}

pub fn url_request(url: &str) -> RecognizeVehicleLicenseRequest {
    RecognizeVehicleLicenseRequest {
        source: Some(recognize_vehicle_license_request::Source::ImageUrl(
            url.to_owned(),
        )),
        side: LicenseSide::Front as i32,
        other_side: None,
    }
}

/// A local engine that "reads" fixed fields (a test double: the real engine is its own
/// crate), with a box per field.
#[derive(Debug)]
pub struct FixedReader {
    pub side: Side,
    pub fields: Vec<(FieldName, &'static str, f32)>,
}

impl Reader for FixedReader {
    fn read(
        &self,
        image: &image::DynamicImage,
        side: Option<Side>,
    ) -> Result<Read, ocr_engine::EngineError> {
        let w = image.width() as f32;
        Ok(Read {
            side: side.unwrap_or(self.side),
            fields: self
                .fields
                .iter()
                .enumerate()
                .map(|(i, (name, text, confidence))| {
                    let y = 10.0 * i as f32;
                    Field {
                        name: *name,
                        text: (*text).to_owned(),
                        confidence: *confidence,
                        quad: [[0.0, y], [w, y], [w, y + 8.0], [0.0, y + 8.0]],
                    }
                })
                .collect(),
            lines: Vec::new(),
        })
    }
}

/// The google.rpc details of an error status.
pub fn details(status: &tonic::Status) -> tonic_types::ErrorDetails {
    use tonic_types::StatusExt as _;
    status.get_error_details()
}

pub fn provenance_source(p: Option<&Provenance>) -> String {
    p.map(|p| p.source.clone()).unwrap_or_default()
}
