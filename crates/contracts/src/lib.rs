//! Axle's public gRPC contracts, generated from `proto/` at build time. Never edited by
//! hand: change the `.proto` files instead.
//!
//! Module paths mirror proto packages: `axle.vin.v1` is [`axle::vin::v1`].

/// Encoded `FileDescriptorSet` of every Axle proto (with comments and imports), for
/// tonic-reflection and for tools that render messages dynamically (the CLI's `--json`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/axle_descriptor.bin"));

/// Generated code. Lints are relaxed here only: this is prost/tonic output.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
pub mod axle {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("axle.common.v1");
        }
    }
    pub mod vin {
        pub mod v1 {
            tonic::include_proto!("axle.vin.v1");
        }
    }
    pub mod plate {
        pub mod v1 {
            tonic::include_proto!("axle.plate.v1");
        }
    }
    pub mod violation {
        pub mod v1 {
            tonic::include_proto!("axle.violation.v1");
        }
    }
    pub mod ocr {
        pub mod v1 {
            tonic::include_proto!("axle.ocr.v1");
        }
    }
    pub mod aggregator {
        pub mod v1 {
            tonic::include_proto!("axle.aggregator.v1");
        }
    }
    pub mod bench {
        pub mod v1 {
            tonic::include_proto!("axle.bench.v1");
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    #[test]
    fn descriptor_set_has_every_service_with_comments() {
        let fds = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let services: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        for expected in [
            "axle.vin.v1.VinService",
            "axle.plate.v1.PlateService",
            "axle.violation.v1.ViolationService",
            "axle.ocr.v1.OcrService",
            "axle.aggregator.v1.AggregatorService",
            "axle.bench.v1.EchoService",
        ] {
            assert!(
                services.iter().any(|s| s == expected),
                "{expected} missing: {services:?}"
            );
        }
        // Comments are what users read in grpcurl: they must survive compilation.
        let vin = fds
            .file
            .iter()
            .find(|f| f.package() == "axle.vin.v1")
            .expect("vin file");
        assert!(
            vin.source_code_info
                .as_ref()
                .is_some_and(|s| !s.location.is_empty())
        );
    }
}
