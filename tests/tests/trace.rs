//! One client call, one trace: a GetVehicleProfile through the whole suite (`axle up` in
//! this process, OTLP export to an in-process collector) yields spans that all carry the
//! caller's trace id, with a span for every hop: the aggregator's RPC, its calls to the
//! services, their RPCs, each source asked, and each vendor HTTP call, the asynchronous
//! vendor's paid submission (platecb, which runs in its own task) included.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use contracts::axle::aggregator::v1::GetVehicleProfileRequest;
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use kit::server::Shutdown;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::transport::Channel;

/// A span as the collector received it: trace id, name, and its string attributes.
#[derive(Debug, Clone)]
struct Seen {
    trace_id: String,
    name: String,
    attributes: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Seen>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("lock");
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for s in ss.spans {
                    spans.push(Seen {
                        trace_id: hex::encode(&s.trace_id),
                        name: s.name,
                        attributes: s
                            .attributes
                            .into_iter()
                            .map(|kv| {
                                let v = match kv.value.and_then(|v| v.value) {
                                    Some(Value::StringValue(s)) => s,
                                    Some(Value::IntValue(i)) => i.to_string(),
                                    Some(Value::BoolValue(b)) => b.to_string(),
                                    other => format!("{other:?}"),
                                };
                                (kv.key, v)
                            })
                            .collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Seen {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_profile_is_one_trace_with_a_span_for_every_hop() {
    // The collector.
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let otlp = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    // The suite, exporting there (telemetry is installed once per process: this file has
    // one test).
    let mut cfg = cli::up::load(None).expect("embedded default loads");
    cfg.telemetry.otlp_endpoint = Some(format!("http://{otlp}"));
    cfg.telemetry.log_filter = "warn".to_owned();
    let telemetry = kit::telemetry::init(&cfg.telemetry, "axle-trace-test").expect("telemetry");
    common::ephemeral(&mut cfg, "trace");
    cfg.metrics_listen = None;
    let shutdown = Shutdown::new();
    let suite = Box::pin(cli::up::start(cfg, shutdown.clone()))
        .await
        .expect("suite starts");

    // The caller starts the trace.
    let trace_id = format!("{:032x}", 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128);
    let traceparent = format!("00-{trace_id}-b7ad6b7169203331-01");
    let channel = Channel::from_shared(format!("http://{}", suite.aggregator_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = AggregatorServiceClient::new(channel);
    let mut req = tonic::Request::new(GetVehicleProfileRequest {
        subject: Some(Subject::Plate("粤B12345".to_owned())),
        ..GetVehicleProfileRequest::default()
    });
    req.metadata_mut()
        .insert("traceparent", traceparent.parse().expect("ascii"));
    req.set_timeout(Duration::from_secs(20));
    let profile = Box::pin(client.get_vehicle_profile(req))
        .await
        .expect("a profile")
        .into_inner();
    assert!(!profile.sources.is_empty(), "{profile:?}");

    // The same question again, in a trace of its own: answered from the cache.
    let again_id = format!("{:032x}", 0x1bf8_6519_16cd_43dd_8448_eb21_1c80_319c_u128);
    let mut req = tonic::Request::new(GetVehicleProfileRequest {
        subject: Some(Subject::Plate("粤B12345".to_owned())),
        ..GetVehicleProfileRequest::default()
    });
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{again_id}-c7ad6b7169203331-01")
            .parse()
            .expect("ascii"),
    );
    req.set_timeout(Duration::from_secs(20));
    Box::pin(client.get_vehicle_profile(req))
        .await
        .expect("a profile again");

    // platecb's paid submission runs on after the answer (its result comes by
    // callback): give it time to be made before the suite stops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Stopping flushes the last spans (bounded by kit's FLUSH_BOUND).
    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
    drop(telemetry);
    let mut spans = Vec::new();
    for _ in 0..50 {
        spans = collector.spans.lock().expect("lock").clone();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        if names.iter().any(|n| n.starts_with("platecb")) && names.len() > 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let ours: Vec<&Seen> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    // Every hop.
    for expected in [
        "axle.aggregator.v1.AggregatorService/GetVehicleProfile",
        "axle.plate.v1.PlateService/LookupVehicle",
        "axle.vin.v1.VinService/DecodeVin",
        "source.ask xiaoshibao",
        "source.ask platecb",
        "xiaoshibao vehicle_query",
        "platecb submit",
        "connapi vin_get",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "no span {expected:?} in the caller's trace; its spans: {names:?}\nall: {:?}",
            spans
                .iter()
                .map(|s| (&s.trace_id, &s.name))
                .collect::<Vec<_>>()
        );
    }
    // Each step says what the cache and the budget decided: the first time a miss and
    // the price reserved for the paid decode, the second time a hit.
    let step = |trace: &str, name: &str| -> Vec<&Seen> {
        spans
            .iter()
            .filter(|s| s.trace_id == trace && s.name == name)
            .collect()
    };
    let decode = step(&trace_id, "step DecodeVin");
    assert!(
        decode
            .iter()
            .any(|s| s.attr("cache") == Some("miss") && s.attr("cost").is_some()),
        "{decode:?}"
    );
    let parse = step(&again_id, "step ParsePlate");
    assert!(
        parse.iter().any(|s| s.attr("cache") == Some("hit")),
        "{parse:?}"
    );
    // Calls from the aggregator to the services are client spans naming the peer.
    assert!(
        ours.iter()
            .any(|s| s.attr("rpc.system") == Some("grpc") && s.attr("peer.service").is_some()),
        "{ours:?}"
    );
    // Nothing of the requests escaped into a trace of its own: every vendor call and
    // every service RPC of this process belongs to a caller's trace.
    let strays: Vec<(&str, &str)> = spans
        .iter()
        .filter(|s| s.trace_id != trace_id && s.trace_id != again_id)
        .filter(|s| {
            s.name.starts_with("axle.")
                || s.name.starts_with("source.ask")
                || s.attr("vendor").is_some()
        })
        .map(|s| (s.trace_id.as_str(), s.name.as_str()))
        .collect();
    assert!(
        strays.is_empty(),
        "spans outside the caller's trace: {strays:?}"
    );
}
