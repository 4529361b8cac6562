//! Hostile callers (issue 14 part 7): the OWASP API checks that apply to Axle, against the
//! suite as `axle up` starts it, on 127.0.0.1:0. Each check asserts the documented
//! outcome and that the servers are still healthy afterwards (health SERVING and a
//! normal call answered). Every wait is bounded; docs/reliability.md lists the checks.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{GetVehicleProfileRequest, Hints, LicenseImage};
use contracts::axle::ocr::v1::RecognizeVehicleLicenseRequest;
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::ocr::v1::recognize_vehicle_license_request::Source;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, ParsePlateRequest};
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::vin::v1::{DecodeVinRequest, ValidateVinRequest};
use contracts::axle::violation::v1::get_city_rules_request::City;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use contracts::axle::violation::v1::{GetCityRulesRequest, QueryViolationsRequest};
use kit::server::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const VIN: &str = "1HGCM82633A004352";
const PLATE: &str = "沪A12345";
/// Requests above this are refused (set on every service for these tests).
const MAX_REQUEST: usize = 64 * 1024;
/// The webhooks' header and body read timeouts in these tests.
const WEBHOOK_READ: Duration = Duration::from_secs(2);

/// Every service's gRPC name and address.
struct Up {
    suite: cli::up::Suite,
    shutdown: Shutdown,
    platecb_webhook: SocketAddr,
    apistore_webhook: SocketAddr,
}

impl Up {
    fn services(&self) -> [(&'static str, SocketAddr); 5] {
        [
            ("axle.vin.v1.VinService", self.suite.vin_addr),
            ("axle.plate.v1.PlateService", self.suite.plate_addr),
            (
                "axle.violation.v1.ViolationService",
                self.suite.violation_addr,
            ),
            ("axle.ocr.v1.OcrService", self.suite.ocr_addr),
            (
                "axle.aggregator.v1.AggregatorService",
                self.suite.aggregator_addr,
            ),
        ]
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.suite.wait())
            .await
            .expect("the suite stops in time")
            .expect("the suite stops cleanly");
    }

    /// Health SERVING on every service and a normal call answered by each.
    async fn assert_healthy(&self, after: &str) {
        for (service, addr) in self.services() {
            let status = bounded(HealthClient::new(channel(addr).await).check(
                HealthCheckRequest {
                    service: service.to_owned(),
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("after {after}: health of {service}: {e:?}"))
            .into_inner()
            .status;
            assert_eq!(status, 1, "after {after}: {service} SERVING");
        }
        let v = bounded(
            VinServiceClient::new(channel(self.suite.vin_addr).await).validate_vin(
                ValidateVinRequest {
                    vin: VIN.to_owned(),
                },
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("after {after}: ValidateVin: {e:?}"))
        .into_inner();
        assert!(v.valid, "after {after}");
        let p = bounded(
            PlateServiceClient::new(channel(self.suite.plate_addr).await).parse_plate(
                ParsePlateRequest {
                    plate: PLATE.to_owned(),
                    color: 0,
                },
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("after {after}: ParsePlate: {e:?}"))
        .into_inner();
        assert!(p.valid, "after {after}");
        let rules = bounded(
            ViolationServiceClient::new(channel(self.suite.violation_addr).await).get_city_rules(
                GetCityRulesRequest {
                    city: Some(City::Plate(PLATE.to_owned())),
                    ..GetCityRulesRequest::default()
                },
            ),
        )
        .await;
        assert!(rules.is_ok(), "after {after}: GetCityRules: {rules:?}");
    }
}

async fn up_with(tweak: impl Fn(&mut cli::up::UpConfig)) -> Up {
    let mut cfg = cli::up::load(None).expect("embedded default loads");
    common::ephemeral(&mut cfg, "hostile");
    cfg.ocr.local.enabled = false;
    cfg.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    cfg.vin.server.max_request_bytes = MAX_REQUEST;
    cfg.plate.server.max_request_bytes = MAX_REQUEST;
    cfg.violation.server.max_request_bytes = MAX_REQUEST;
    cfg.ocr.server.max_request_bytes = MAX_REQUEST;
    cfg.aggregator.server.max_request_bytes = MAX_REQUEST;
    for limits in [
        &mut cfg.plate.vendors.platecb.webhook_limits,
        &mut cfg.violation.vendors.apistore.callback.webhook_limits,
    ] {
        limits.header_read_timeout = WEBHOOK_READ;
        limits.body_read_timeout = WEBHOOK_READ;
    }
    tweak(&mut cfg);
    let shutdown = Shutdown::new();
    let started = tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(cli::up::start(cfg, shutdown.clone())),
    )
    .await
    .expect("suite starts in time");
    match started {
        // The webhooks listen on port 0 too (common::ephemeral): the suite says where.
        Ok(suite) => Up {
            platecb_webhook: suite.webhook("platecb").expect("platecb's webhook").addr,
            apistore_webhook: suite.webhook("apistore").expect("apistore's webhook").addr,
            suite,
            shutdown,
        },
        Err(e) => {
            // What did start stops with the signal.
            shutdown.trigger();
            panic!("suite starts: {e:#}");
        }
    }
}

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .connect()
        .await
        .expect("connects")
}

/// Every call here answers well within this. The call is boxed: generated clients' calls
/// are large futures.
fn bounded<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> impl Future<Output = Result<tonic::Response<T>, tonic::Status>> {
    let call = Box::pin(call);
    async move {
        tokio::time::timeout(Duration::from_secs(20), call)
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("test bound")))
    }
}

/// Sends and receives message bytes as they are: requests no generated client would
/// build (oversize, deeply nested, malformed).
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

async fn raw_call(addr: SocketAddr, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX);
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        grpc.ready().await.expect("ready");
        grpc.unary(
            tonic::Request::new(body),
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            Raw,
        )
        .await
    })
    .await
    .expect("answered in time");
    match answer {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

/// Every unary method of the suite.
const UNARY: [(&str, &str); 8] = [
    ("vin", "/axle.vin.v1.VinService/ValidateVin"),
    ("vin", "/axle.vin.v1.VinService/DecodeVin"),
    ("plate", "/axle.plate.v1.PlateService/ParsePlate"),
    ("plate", "/axle.plate.v1.PlateService/LookupVehicle"),
    (
        "violation",
        "/axle.violation.v1.ViolationService/QueryViolations",
    ),
    (
        "violation",
        "/axle.violation.v1.ViolationService/GetCityRules",
    ),
    ("ocr", "/axle.ocr.v1.OcrService/RecognizeVehicleLicense"),
    (
        "aggregator",
        "/axle.aggregator.v1.AggregatorService/GetVehicleProfile",
    ),
];

fn addr_of(up: &Up, service: &str) -> SocketAddr {
    match service {
        "vin" => up.suite.vin_addr,
        "plate" => up.suite.plate_addr,
        "violation" => up.suite.violation_addr,
        "ocr" => up.suite.ocr_addr,
        _ => up.suite.aggregator_addr,
    }
}

/// Field 1 as a length-delimited value of `len` bytes (a string or bytes field in every
/// request above: vin, plate, image, plate).
fn field_one(len: usize) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut n = len;
    while n >= 0x80 {
        out.push(u8::try_from(n & 0x7f).expect("7 bits") | 0x80);
        n >>= 7;
    }
    out.push(u8::try_from(n).expect("7 bits"));
    out.extend(std::iter::repeat_n(b'A', len));
    out
}

#[tokio::test]
async fn oversize_requests_are_resource_exhausted_on_every_service() {
    let up = Box::pin(up_with(|_| {})).await;
    for (service, path) in UNARY {
        let status = raw_call(addr_of(&up, service), path, field_one(MAX_REQUEST + 1)).await;
        assert_eq!(status.code(), Code::ResourceExhausted, "{path}: {status:?}");
        assert!(
            status.message().contains("max_request_bytes"),
            "{path}: the message names the limit: {status:?}"
        );
        let info = status.get_error_details().error_info().cloned();
        assert_eq!(
            info.map(|i| i.reason),
            Some("REQUEST_TOO_LARGE".to_owned()),
            "{path}"
        );
        // Far beyond the limit too (16 MiB: the message is refused from its length
        // prefix, the body is not buffered whole).
        let status = raw_call(addr_of(&up, service), path, field_one(16 << 20)).await;
        assert_eq!(status.code(), Code::ResourceExhausted, "{path}: {status:?}");
    }
    up.assert_healthy("oversize requests").await;
    up.stop().await;
}

/// `depth` unknown-field groups (field 15) opened inside each other and closed again.
fn nested_groups(depth: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(depth * 2);
    out.extend(std::iter::repeat_n((15 << 3) | 3, depth));
    out.extend(std::iter::repeat_n((15 << 3) | 4, depth));
    out
}

/// `depth` levels of a length-delimited field 3 inside each other: at the top of a
/// GetVehicleProfileRequest field 3 is `license_image`, a message.
fn nested_messages(depth: usize) -> Vec<u8> {
    let mut inner: Vec<u8> = Vec::new();
    for _ in 0..depth {
        let mut next = vec![(3 << 3) | 2];
        let mut n = inner.len();
        while n >= 0x80 {
            next.push(u8::try_from(n & 0x7f).expect("7 bits") | 0x80);
            n >>= 7;
        }
        next.push(u8::try_from(n).expect("7 bits"));
        next.extend_from_slice(&inner);
        inner = next;
    }
    inner
}

#[tokio::test]
async fn deeply_nested_messages_are_invalid_argument_without_overflow() {
    let up = Box::pin(up_with(|_| {})).await;
    for (service, path) in UNARY {
        for (what, body) in [
            ("groups 10 000 deep", nested_groups(10_000)),
            ("messages 5 000 deep", nested_messages(5_000)),
        ] {
            let status = raw_call(addr_of(&up, service), path, body).await;
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{path}, {what}: {status:?}"
            );
        }
    }
    up.assert_healthy("deeply nested messages").await;
    up.stop().await;
}

/// What a slow client got: how long until the server ended the exchange, and what it
/// said (empty: closed without an answer).
async fn slow_client(addr: SocketAddr, head: &[u8], drip: &[u8]) -> (Duration, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    stream.write_all(head).await.expect("head");
    let (mut rd, mut wr) = stream.into_split();
    let dripping = async move {
        for b in drip {
            if wr.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Everything sent and still not cut: hold the connection open.
        std::future::pending::<()>().await;
    };
    let reading = async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    };
    let got = tokio::time::timeout(Duration::from_secs(25), async {
        tokio::select! {
            () = dripping => unreachable!("pending"),
            got = reading => got,
        }
    })
    .await
    .expect("the server cuts a slow client off within 25 s");
    (
        started.elapsed(),
        String::from_utf8_lossy(&got)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
    )
}

/// A normal HTTP/1.1 request on its own connection: the status line.
async fn normal_http(addr: SocketAddr, path: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .expect("write");
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got).await;
        String::from_utf8_lossy(&got)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    })
    .await
    .expect("a normal request answers")
}

#[tokio::test]
async fn slowloris_is_cut_off_on_every_http_listener() {
    let up = Box::pin(up_with(|_| {})).await;
    let metrics = up.suite.metrics_addr.expect("metrics listener");
    let header_drip = b"x-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let body_drip = [b'a'; 60];
    let listeners = [
        ("platecb webhook", up.platecb_webhook, WEBHOOK_READ, "/"),
        ("apistore webhook", up.apistore_webhook, WEBHOOK_READ, "/"),
        (
            "/metrics",
            metrics,
            kit::metrics::METRICS_HEADER_READ_TIMEOUT,
            "/healthz",
        ),
    ];
    let mut checks = Vec::new();
    for (name, addr, limit, probe) in listeners {
        checks.push(async move {
            // Headers a byte a second, and a body a byte a second, at once; a normal
            // request meanwhile on its own connection.
            let heads = slow_client(addr, b"POST /callback HTTP/1.1\r\nhost: x\r\n", header_drip);
            let body = slow_client(
                addr,
                b"POST /callback HTTP/1.1\r\nhost: x\r\ncontent-length: 60\r\n\r\n",
                &body_drip,
            );
            let normal = async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                normal_http(addr, probe).await
            };
            let ((head_took, head_said), (body_took, body_said), normal) =
                tokio::join!(heads, body, normal);
            assert!(
                normal.starts_with("HTTP/1.1 "),
                "{name}: a normal request answers while slow clients hold connections: {normal:?}"
            );
            let bound = limit + Duration::from_secs(3);
            assert!(
                head_took <= bound,
                "{name}: slow headers cut after {head_took:?}, limit {limit:?}"
            );
            assert!(
                head_said.is_empty() || head_said.starts_with("HTTP/1.1 408"),
                "{name}: slow headers: {head_said:?}"
            );
            assert!(
                body_took <= bound,
                "{name}: slow body cut after {body_took:?}, limit {limit:?}"
            );
            (name, head_took, head_said, body_took, body_said)
        });
    }
    for (name, head_took, head_said, body_took, body_said) in join_all(checks).await {
        eprintln!(
            "{name}: slow headers cut after {head_took:.1?} ({head_said:?}), slow body after {body_took:.1?} ({body_said:?})"
        );
    }
    up.assert_healthy("slowloris").await;
    up.stop().await;
}

/// Polls `futures` together until every one is done (the listeners' checks wait in
/// parallel: the test stays short).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(|d| d.expect("done")).collect()
}

#[tokio::test]
async fn a_flood_is_shed_with_retry_info_while_health_stays_serving() {
    // Two calls in flight at most on vin-service; each DecodeVin waits 800 ms on connapi.
    let up = Box::pin(up_with(|cfg| {
        cfg.vin.server.max_concurrent_requests = 2;
        cfg.sandbox.faults = vec![
            serde_json::from_value(serde_json::json!({
                "vendor": "connapi",
                "latency": {"kind": "fixed", "ms": 800},
            }))
            .expect("fault rule"),
        ];
    }))
    .await;
    let vin_addr = up.suite.vin_addr;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..40 {
        // A connection each: HTTP/2's own stream limit must not be what refuses them.
        let ch = channel(vin_addr).await;
        calls.spawn(async move {
            bounded(VinServiceClient::new(ch).decode_vin(DecodeVinRequest {
                vin: VIN.to_owned(),
            }))
            .await
        });
    }
    // Health while the flood is on: never shed.
    let health_channel = channel(vin_addr).await;
    let mut health_ok = 0;
    for _ in 0..5 {
        let h = bounded(
            HealthClient::new(health_channel.clone()).check(HealthCheckRequest {
                service: "axle.vin.v1.VinService".to_owned(),
            }),
        )
        .await
        .expect("health answers during the flood")
        .into_inner();
        assert_eq!(h.status, 1, "SERVING during the flood");
        health_ok += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut ok, mut shed) = (0, 0);
    while let Some(done) = calls.join_next().await {
        match done.expect("task") {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let retry = status
                    .get_error_details()
                    .retry_info()
                    .cloned()
                    .unwrap_or_else(|| panic!("RetryInfo on a shed call: {status:?}"));
                assert!(retry.retry_delay.is_some(), "{retry:?}");
                shed += 1;
            }
        }
    }
    eprintln!("flood: 40 calls, {ok} OK, {shed} shed, {health_ok} health checks SERVING");
    assert!(ok >= 2, "the calls admitted are answered");
    assert!(shed >= 20, "most of the flood is shed: {shed}");
    up.assert_healthy("a flood").await;
    up.stop().await;
}

/// A stand-in vendor that records the head of every request it gets and answers 503.
async fn capturing_vendor() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                })
                .await;
                let _ = read;
                seen.lock().expect("lock").push(got);
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (addr, heads)
}

#[tokio::test]
async fn hostile_metadata_is_never_echoed_and_never_breaks_a_call() {
    let (vendor, heads) = capturing_vendor().await;
    let up = Box::pin(up_with(|cfg| {
        cfg.vin.vendors.connapi.http.base_url = format!("http://{vendor}");
    }))
    .await;
    let mut vin = VinServiceClient::new(channel(up.suite.vin_addr).await);
    let marker = "INJECTED";
    let long = format!("{marker}{}", "x".repeat(6000));
    // What an HTTP/2 client can put in a header value: obs-text bytes, tabs, very long
    // values; CR and LF themselves are refused by the client's own HTTP/2 library, so
    // they travel base64-encoded in binary metadata.
    let cases: Vec<(&str, tonic::metadata::MetadataValue<tonic::metadata::Ascii>)> = vec![
        ("x-request-id", long.parse().expect("ascii")),
        (
            "x-request-id",
            tonic::metadata::MetadataValue::try_from(format!("{marker}\tid").as_bytes())
                .expect("tab is a valid header byte"),
        ),
        (
            "traceparent",
            format!("00-{marker}-0000000000000000-01")
                .parse()
                .expect("ascii"),
        ),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .repeat(100)
                .parse()
                .expect("ascii"),
        ),
        (
            "tracestate",
            format!("a={marker},{long}").parse().expect("ascii"),
        ),
    ];
    let mut sent = 0;
    for (key, value) in cases {
        for method in ["validate", "decode"] {
            let mut req = tonic::Request::new(ValidateVinRequest {
                vin: VIN.to_owned(),
            });
            req.metadata_mut().insert(key, value.clone());
            let mut bin = tonic::Request::new(DecodeVinRequest {
                vin: VIN.to_owned(),
            });
            bin.metadata_mut().insert(key, value.clone());
            bin.metadata_mut().insert_bin(
                "x-request-id-bin",
                tonic::metadata::MetadataValue::from_bytes(
                    format!("{marker}\r\nx-evil: 1\r\n\0\u{7f}").as_bytes(),
                ),
            );
            let answer = if method == "validate" {
                bounded(vin.validate_vin(req)).await.map(|r| {
                    assert!(r.get_ref().valid);
                    r.metadata().clone()
                })
            } else {
                bounded(vin.decode_vin(bin))
                    .await
                    .map(|r| r.metadata().clone())
            };
            let metadata =
                answer.unwrap_or_else(|s| panic!("{key} on {method}: answered cleanly: {s:?}"));
            for entry in metadata.iter() {
                if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = entry {
                    let v = v.to_str().unwrap_or("");
                    assert!(
                        !v.contains(marker),
                        "{key} on {method}: echoed in the answer's {k}: {v:.80}"
                    );
                }
            }
            sent += 1;
        }
    }
    // Beyond what the server's HTTP/2 accepts in headers: refused before any handler.
    let mut huge = tonic::Request::new(ValidateVinRequest {
        vin: VIN.to_owned(),
    });
    huge.metadata_mut().insert(
        "x-request-id",
        format!("{marker}{}", "y".repeat(64 * 1024))
            .parse()
            .expect("ascii"),
    );
    let refused = bounded(vin.validate_vin(huge))
        .await
        .expect_err("a 64 KiB header is refused");
    // The server resets the stream (HTTP/2 header list over its limit), which the client
    // reports as RESOURCE_EXHAUSTED: no handler ran, nothing to log.
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Each DecodeVin reached the stand-in vendor (connapi answered 503: a partial answer).
    let heads = heads.lock().expect("lock").clone();
    assert!(!heads.is_empty(), "the vendor was called");
    for head in &heads {
        let text = String::from_utf8_lossy(head);
        assert!(
            !text.contains(marker),
            "caller metadata reached the vendor request: {text:.400}"
        );
        assert!(
            head.iter()
                .all(|b| *b == b'\r' || *b == b'\n' || *b == b'\t' || (0x20..0x7f).contains(b)),
            "vendor request head is plain ASCII: {text:.400}"
        );
        assert!(!text.contains("x-evil"), "{text:.400}");
    }
    eprintln!(
        "metadata: {sent} calls answered, {} vendor requests clean",
        heads.len()
    );
    up.assert_healthy("hostile metadata").await;
    up.stop().await;
}

/// What a call with a control character got, when it is not the documented answer.
fn judge(
    what: &str,
    answer: Result<(), tonic::Status>,
    answer_may_be_ok: bool,
    failures: &mut Vec<String>,
) {
    eprintln!(
        "{what}: {}",
        match &answer {
            Ok(()) => "OK".to_owned(),
            Err(s) => format!("{:?} {}", s.code(), s.message()),
        }
    );
    match answer {
        Ok(()) if answer_may_be_ok => {}
        Ok(()) => failures.push(format!("{what}: answered OK")),
        Err(status) if status.code() == Code::InvalidArgument => {
            // The message quotes what was wrong; the caller's control characters escaped,
            // never raw (it is logged, and read on terminals).
            if status.message().chars().any(char::is_control) {
                failures.push(format!("{what}: raw control characters in {status:?}"));
            }
            let violations = status
                .get_error_details()
                .bad_request()
                .map_or(0, |b| b.field_violations.len());
            if violations == 0 {
                failures.push(format!(
                    "{what}: INVALID_ARGUMENT without a field violation: {status:?}"
                ));
            }
        }
        Err(status) => failures.push(format!("{what}: {:?} {}", status.code(), status.message())),
    }
}

/// A valid value with control characters in it: NUL, BEL, CR LF, ESC (a terminal
/// escape), DEL and a C1 control.
fn tainted(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let at = chars.len() / 2;
    for (i, c) in "\u{0}\u{7}\r\n\u{1b}[2J\u{7f}\u{85}".chars().enumerate() {
        chars.insert(at + i, c);
    }
    chars.into_iter().collect()
}

#[tokio::test]
async fn control_characters_in_every_string_field_are_invalid_argument() {
    let up = Box::pin(up_with(|_| {})).await;
    let mut failures = Vec::new();
    let mut vin = VinServiceClient::new(channel(up.suite.vin_addr).await);
    let mut plate = PlateServiceClient::new(channel(up.suite.plate_addr).await);
    let mut violation = ViolationServiceClient::new(channel(up.suite.violation_addr).await);
    let mut ocr = OcrServiceClient::new(channel(up.suite.ocr_addr).await);
    let mut agg = AggregatorServiceClient::new(channel(up.suite.aggregator_addr).await);
    let bad_vin = tainted(VIN);
    let bad_plate = tainted(PLATE);

    // The local checks answer a malformed input with `valid = false` (documented): that
    // is an answer, as long as it says invalid.
    let r = bounded(vin.validate_vin(ValidateVinRequest {
        vin: bad_vin.clone(),
    }))
    .await;
    if let Ok(r) = &r {
        assert!(
            !r.get_ref().valid,
            "a VIN with control characters is not valid"
        );
    }
    judge("ValidateVin.vin", r.map(|_| ()), true, &mut failures);
    let r = bounded(plate.parse_plate(ParsePlateRequest {
        plate: bad_plate.clone(),
        color: 0,
    }))
    .await;
    if let Ok(r) = &r {
        assert!(
            !r.get_ref().valid,
            "a plate with control characters is not valid"
        );
    }
    judge("ParsePlate.plate", r.map(|_| ()), true, &mut failures);

    let r = bounded(vin.decode_vin(DecodeVinRequest {
        vin: bad_vin.clone(),
    }))
    .await;
    judge("DecodeVin.vin", r.map(|_| ()), false, &mut failures);
    let r = bounded(plate.lookup_vehicle(LookupVehicleRequest {
        plate: bad_plate.clone(),
        color: 0,
    }))
    .await;
    judge("LookupVehicle.plate", r.map(|_| ()), false, &mut failures);

    let query = || QueryViolationsRequest {
        plate: "粤B12345".to_owned(),
        plate_type: "02".to_owned(),
        engine_number: "123456".to_owned(),
        vin: VIN.to_owned(),
        ..QueryViolationsRequest::default()
    };
    for (field, req) in [
        (
            "plate",
            QueryViolationsRequest {
                plate: tainted("粤B12345"),
                ..query()
            },
        ),
        (
            "plate_type",
            QueryViolationsRequest {
                plate_type: tainted("02"),
                ..query()
            },
        ),
        (
            "engine_number",
            QueryViolationsRequest {
                engine_number: tainted("123456"),
                ..query()
            },
        ),
        (
            "vin",
            QueryViolationsRequest {
                vin: bad_vin.clone(),
                ..query()
            },
        ),
        (
            "query_handle",
            QueryViolationsRequest {
                query_handle: tainted("handle"),
                ..QueryViolationsRequest::default()
            },
        ),
    ] {
        let r = bounded(violation.query_violations(req)).await;
        judge(
            &format!("QueryViolations.{field}"),
            r.map(|_| ()),
            false,
            &mut failures,
        );
    }
    for (field, req) in [
        (
            "plate",
            GetCityRulesRequest {
                city: Some(City::Plate(tainted("粤B"))),
                ..GetCityRulesRequest::default()
            },
        ),
        (
            "division_code",
            GetCityRulesRequest {
                city: Some(City::DivisionCode(tainted("440300"))),
                ..GetCityRulesRequest::default()
            },
        ),
        (
            "plate_type",
            GetCityRulesRequest {
                city: Some(City::Plate("粤B".to_owned())),
                plate_type: tainted("02"),
            },
        ),
    ] {
        let r = bounded(violation.get_city_rules(req)).await;
        judge(
            &format!("GetCityRules.{field}"),
            r.map(|_| ()),
            false,
            &mut failures,
        );
    }

    let r = bounded(
        ocr.recognize_vehicle_license(RecognizeVehicleLicenseRequest {
            source: Some(Source::ImageUrl(tainted(
                "https://photos.example.com/a.jpg",
            ))),
            ..RecognizeVehicleLicenseRequest::default()
        }),
    )
    .await;
    judge(
        "RecognizeVehicleLicense.image_url",
        r.map(|_| ()),
        false,
        &mut failures,
    );

    let profile = |subject: Subject| GetVehicleProfileRequest {
        subject: Some(subject),
        ..GetVehicleProfileRequest::default()
    };
    let hints = |h: Hints| GetVehicleProfileRequest {
        hints: Some(h),
        ..profile(Subject::Vin(VIN.to_owned()))
    };
    for (field, req) in [
        ("subject.plate", profile(Subject::Plate(bad_plate.clone()))),
        ("subject.vin", profile(Subject::Vin(bad_vin.clone()))),
        (
            "subject.license_image.image_url",
            profile(Subject::LicenseImage(LicenseImage {
                source: Some(
                    contracts::axle::aggregator::v1::license_image::Source::ImageUrl(tainted(
                        "https://photos.example.com/a.jpg",
                    )),
                ),
                side: 0,
            })),
        ),
        (
            "hints.plate",
            hints(Hints {
                plate: bad_plate.clone(),
                ..Hints::default()
            }),
        ),
        (
            "hints.vin",
            hints(Hints {
                vin: bad_vin.clone(),
                ..Hints::default()
            }),
        ),
        (
            "hints.engine_number",
            hints(Hints {
                engine_number: tainted("123456"),
                ..Hints::default()
            }),
        ),
        (
            "hints.plate_type",
            hints(Hints {
                plate_type: tainted("02"),
                ..Hints::default()
            }),
        ),
        (
            "prefer_sources",
            GetVehicleProfileRequest {
                prefer_sources: vec![tainted("connapi")],
                ..profile(Subject::Vin(VIN.to_owned()))
            },
        ),
        (
            "include.paths",
            GetVehicleProfileRequest {
                include: Some(prost_types::FieldMask {
                    paths: vec![tainted("vin")],
                }),
                ..profile(Subject::Vin(VIN.to_owned()))
            },
        ),
    ] {
        let r = bounded(agg.get_vehicle_profile(req)).await;
        judge(
            &format!("GetVehicleProfile.{field}"),
            r.map(|_| ()),
            false,
            &mut failures,
        );
    }
    // Control characters alone, in a value otherwise valid: the normalisers drop them
    // like spaces (domain::text::is_control_or_invisible, documented), so the call is
    // answered, or refused with a field violation; nothing else.
    let r = bounded(vin.decode_vin(DecodeVinRequest {
        vin: "1HGCM826\u{0}\u{7}\r\n\u{7f}33A004352".to_owned(),
    }))
    .await;
    judge(
        "DecodeVin.vin, controls only",
        r.map(|_| ()),
        true,
        &mut failures,
    );
    let r = bounded(plate.lookup_vehicle(LookupVehicleRequest {
        plate: "沪A\u{0}\u{1b}12345".to_owned(),
        color: 0,
    }))
    .await;
    judge(
        "LookupVehicle.plate, controls only",
        r.map(|_| ()),
        true,
        &mut failures,
    );
    assert!(
        failures.is_empty(),
        "not the documented answer:\n{}",
        failures.join("\n")
    );
    up.assert_healthy("control characters").await;
    up.stop().await;
}

/// A server on 127.0.0.1 that answers every request with a redirect to `to`, counting
/// the requests it got.
async fn redirector(to: &'static str) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
            let _ = stream
                .write_all(
                    format!(
                        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    (port, hits)
}

#[tokio::test]
async fn image_urls_into_internal_networks_are_refused() {
    // The photos of this deployment live on "localhost" (an internal store named in
    // allowed_private_hosts): its redirects are checked like any first address.
    let (to_loopback, loopback_hits) = redirector("http://127.0.0.1:9/photo.jpg").await;
    let (to_metadata, _) = redirector("http://169.254.169.254/latest/meta-data/").await;
    let up = Box::pin(up_with(|cfg| {
        cfg.ocr.input.url.allowed_private_hosts = vec!["localhost".to_owned()];
        cfg.ocr.input.url.timeout = Duration::from_secs(3);
    }))
    .await;
    let sandbox = up.suite.sandbox_addr;
    let urls = vec![
        format!("http://{sandbox}/photo.jpg"),
        "http://127.0.0.1/".to_owned(),
        "http://127.1/".to_owned(),
        "http://2130706433/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "http://[::1]/".to_owned(),
        "http://[::ffff:127.0.0.1]/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        "http://10.0.0.1/photo.jpg".to_owned(),
        "http://172.16.0.1/photo.jpg".to_owned(),
        "http://192.168.1.1/photo.jpg".to_owned(),
        "http://100.64.0.1/photo.jpg".to_owned(),
        "http://[fe80::1]/photo.jpg".to_owned(),
        "http://[fc00::1]/photo.jpg".to_owned(),
        "http://user:pw@photos.example.com/a.jpg".to_owned(),
        "file:///etc/passwd".to_owned(),
        "gopher://127.0.0.1:6379/_INFO".to_owned(),
        "ftp://127.0.0.1/photo.jpg".to_owned(),
        "data:image/png;base64,iVBORw0KGgo=".to_owned(),
        format!("http://localhost:{to_loopback}/photo.jpg"),
        format!("http://localhost:{to_metadata}/photo.jpg"),
    ];
    let mut ocr = OcrServiceClient::new(channel(up.suite.ocr_addr).await);
    let mut agg = AggregatorServiceClient::new(channel(up.suite.aggregator_addr).await);
    let mut failures = Vec::new();
    for url in &urls {
        let direct = bounded(
            ocr.recognize_vehicle_license(RecognizeVehicleLicenseRequest {
                source: Some(Source::ImageUrl(url.clone())),
                ..RecognizeVehicleLicenseRequest::default()
            }),
        )
        .await;
        match direct {
            Err(s) if s.code() == Code::InvalidArgument => {
                let field = s
                    .get_error_details()
                    .bad_request()
                    .and_then(|b| b.field_violations.first().map(|v| v.field.clone()));
                if field.as_deref() != Some("image_url") {
                    failures.push(format!("{url}: violation on {field:?}: {s:?}"));
                }
            }
            other => failures.push(format!("{url}: {:?}", other.map(|_| "OK"))),
        }
    }
    // The aggregator passes a licence photo's URL to ocr-service: the same refusal.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ] {
        let r = bounded(agg.get_vehicle_profile(GetVehicleProfileRequest {
            subject: Some(Subject::LicenseImage(LicenseImage {
                source: Some(
                    contracts::axle::aggregator::v1::license_image::Source::ImageUrl(
                        url.to_owned(),
                    ),
                ),
                side: 0,
            })),
            ..GetVehicleProfileRequest::default()
        }))
        .await;
        match r {
            Err(s) if s.code() == Code::InvalidArgument => {}
            other => failures.push(format!("aggregator, {url}: {:?}", other.map(|_| "OK"))),
        }
    }
    assert!(
        failures.is_empty(),
        "not refused as documented:\n{}",
        failures.join("\n")
    );
    assert!(
        loopback_hits.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the allowed internal host was asked, and its redirect refused"
    );
    up.assert_healthy("SSRF attempts").await;
    up.stop().await;
}
