//! The RPCs a server serves, resolved once per request from the request's path.
//!
//! Everything the server stack needs to know about a call's method (its labels, its kind,
//! whether it is a probe, its metric series) is looked up here once, from a table built at
//! start from the descriptors, and handed down as one [`Method`]. A path the server does
//! not serve resolves to the shared `unknown` entry, so a caller cannot mint label values
//! or span names.

use std::sync::Arc;

use tonic::server::NamedService;

use crate::KitError;
use crate::metrics::{MethodMetrics, Metrics};

/// gRPC health, as its generated server names it.
pub const HEALTH_SERVICE: &str =
    <tonic_health::pb::health_server::HealthServer<()> as NamedService>::NAME;
/// Server reflection v1 and v1alpha, as their generated servers name them.
pub const REFLECTION_SERVICES: [&str; 2] = [
    <tonic_reflection::pb::v1::server_reflection_server::ServerReflectionServer<()> as NamedService>::NAME,
    <tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflectionServer<()> as NamedService>::NAME,
];
/// What every server serves besides its application services: never shed, logged at
/// debug, listed by reflection.
pub const INFRASTRUCTURE: [&str; 3] = [
    HEALTH_SERVICE,
    REFLECTION_SERVICES[0],
    REFLECTION_SERVICES[1],
];

/// An RPC's shape, in the go-grpc-prometheus `grpc_type` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcKind {
    Unary,
    ClientStream,
    ServerStream,
    BidiStream,
    /// A path the server does not serve.
    Unknown,
}

impl RpcKind {
    /// The `grpc_type` label value.
    pub fn label(self) -> &'static str {
        match self {
            RpcKind::Unary => "unary",
            RpcKind::ClientStream => "client_stream",
            RpcKind::ServerStream => "server_stream",
            RpcKind::BidiStream => "bidi_stream",
            RpcKind::Unknown => "unknown",
        }
    }

    /// Whether the response is a stream (which shutdown must end: see [`crate::streams`]).
    pub fn streams_responses(self) -> bool {
        matches!(self, RpcKind::ServerStream | RpcKind::BidiStream)
    }
}

/// One method as the server stack sees it.
#[derive(Debug)]
pub struct Method {
    /// `/pkg.Service/Method`; empty for `unknown`.
    pub path: Box<str>,
    /// `pkg.Service`, or `unknown`.
    pub service: Box<str>,
    /// `Method`, or `unknown`.
    pub method: Box<str>,
    /// `pkg.Service/Method`: the span name and the access line's `rpc`.
    pub rpc: Box<str>,
    pub kind: RpcKind,
    /// Health or reflection: never shed (a busy replica is not an unhealthy one) and
    /// logged at debug (probes would drown everything else).
    pub infrastructure: bool,
    pub(crate) metrics: MethodMetrics,
}

impl Method {
    fn new(
        service: &str,
        method: &str,
        kind: RpcKind,
        infrastructure: bool,
        metrics: &Metrics,
    ) -> Self {
        let path = if kind == RpcKind::Unknown {
            String::new()
        } else {
            format!("/{service}/{method}")
        };
        Self {
            path: path.into(),
            service: service.into(),
            method: method.into(),
            rpc: format!("{service}/{method}").into(),
            kind,
            infrastructure,
            metrics: metrics.method(kind.label(), service, method),
        }
    }

    pub fn is_served(&self) -> bool {
        self.kind != RpcKind::Unknown
    }
}

/// The methods a server serves, by path.
///
/// A sorted slice searched by bisection rather than a hash map: a server serves tens of
/// methods, so a lookup is a handful of short comparisons, cheaper than hashing the path
/// with SipHash (which a map keyed by a client-chosen string would need against
/// flooding).
#[derive(Debug, Clone)]
pub struct MethodTable {
    by_path: Arc<[(Box<str>, Arc<Method>)]>,
    unknown: Arc<Method>,
}

impl MethodTable {
    /// The methods of `services` (fully-qualified names) found in the encoded descriptor
    /// sets; services not named are left out even if a set describes them. Those named in
    /// `infrastructure` (health, reflection) are marked as such.
    pub fn from_descriptor_sets(
        sets: &[&[u8]],
        services: &[&str],
        infrastructure: &[&str],
        metrics: &Metrics,
    ) -> Result<Self, KitError> {
        use prost::Message as _;
        let mut by_path = Vec::new();
        for set in sets {
            let set = prost_types::FileDescriptorSet::decode(*set)
                .map_err(|e| KitError::Reflection(format!("descriptor set: {e}")))?;
            for file in &set.file {
                for svc in &file.service {
                    let full = match file.package() {
                        "" => svc.name().to_owned(),
                        pkg => format!("{pkg}.{}", svc.name()),
                    };
                    if !services.contains(&full.as_str()) {
                        continue;
                    }
                    let infra = infrastructure.contains(&full.as_str());
                    for m in &svc.method {
                        let kind = match (m.client_streaming(), m.server_streaming()) {
                            (false, false) => RpcKind::Unary,
                            (true, false) => RpcKind::ClientStream,
                            (false, true) => RpcKind::ServerStream,
                            (true, true) => RpcKind::BidiStream,
                        };
                        let method = Method::new(&full, m.name(), kind, infra, metrics);
                        by_path.push((method.path.clone(), Arc::new(method)));
                    }
                }
            }
        }
        // A service described by two sets is served once: keep one entry per path.
        by_path.sort_by(|a, b| a.0.cmp(&b.0));
        by_path.dedup_by(|a, b| a.0 == b.0);
        Ok(Self {
            by_path: by_path.into(),
            unknown: Arc::new(Method::new(
                "unknown",
                "unknown",
                RpcKind::Unknown,
                false,
                metrics,
            )),
        })
    }

    /// The method at `path`, or the `unknown` entry.
    pub fn resolve(&self, path: &str) -> &Arc<Method> {
        match self.by_path.binary_search_by(|(p, _)| (**p).cmp(path)) {
            Ok(i) => &self.by_path[i].1,
            Err(_) => &self.unknown,
        }
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

/// Splits `/pkg.Service/Method` (for paths the server does not serve, whose parts are
/// logged but never used as labels).
pub fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.split_once('/').unwrap_or((trimmed, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> MethodTable {
        MethodTable::from_descriptor_sets(
            &[tonic_health::pb::FILE_DESCRIPTOR_SET],
            &["grpc.health.v1.Health"],
            &["grpc.health.v1.Health"],
            &Metrics::new(),
        )
        .expect("table")
    }

    #[test]
    fn served_paths_resolve_to_their_method_and_others_to_unknown() {
        let t = table();
        assert_eq!(t.len(), 2, "Check and Watch");
        let check = t.resolve("/grpc.health.v1.Health/Check");
        assert_eq!(&*check.rpc, "grpc.health.v1.Health/Check");
        assert_eq!(check.kind, RpcKind::Unary);
        assert!(check.infrastructure && check.is_served());
        let watch = t.resolve("/grpc.health.v1.Health/Watch");
        assert!(watch.kind.streams_responses());
        for junk in [
            "",
            "/",
            "/grpc.health.v1.Health",
            "/grpc.health.v1.Health/Check/x",
        ] {
            let m = t.resolve(junk);
            assert!(!m.is_served(), "{junk}");
            assert_eq!((&*m.service, &*m.method), ("unknown", "unknown"));
            assert!(!m.infrastructure);
        }
    }

    #[test]
    fn every_method_of_several_sets_is_found_once() {
        let sets = [
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            // Health again: described twice, served once.
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ];
        let t = MethodTable::from_descriptor_sets(
            &sets,
            &INFRASTRUCTURE,
            &INFRASTRUCTURE,
            &Metrics::new(),
        )
        .expect("table");
        assert_eq!(t.len(), 4);
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(&*t.resolve(path).path, path);
        }
        assert!(!t.resolve("/grpc.health.v1.Health/Chec").is_served());
        assert!(!t.resolve("/grpc.health.v1.Health/Checks").is_served());
    }

    #[test]
    fn services_not_named_are_left_out() {
        let t = MethodTable::from_descriptor_sets(
            &[tonic_health::pb::FILE_DESCRIPTOR_SET],
            &[],
            &[],
            &Metrics::new(),
        )
        .expect("table");
        assert!(t.is_empty());
        assert!(
            MethodTable::from_descriptor_sets(&[b"\xff\xff"], &[], &[], &Metrics::new()).is_err(),
            "a broken descriptor set is an error, not an empty table"
        );
    }

    #[test]
    fn split_path_never_fails() {
        assert_eq!(split_path("/a.B/C"), ("a.B", "C"));
        assert_eq!(split_path("/a.B"), ("a.B", ""));
        assert_eq!(split_path(""), ("", ""));
    }
}
