//! Axle's public gRPC contracts, generated from `proto/` at build time. Never edited by
//! hand: change the `.proto` files instead.
//!
//! Module paths mirror proto packages: `axle.vin.v1` is [`axle::vin::v1`].

/// Encoded `FileDescriptorSet` of every Axle proto (with comments and imports), for
/// tonic-reflection and for tools that render messages dynamically (the CLI's `--json`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/axle_descriptor.bin"));

/// Generated code, one module per proto package, the tree written by the build from the
/// packages it found. Lints are relaxed here only: this is prost/tonic output.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/_includes.rs"));
}

// Every top-level package (`axle`, and any other a contract adds) at the crate root.
pub use generated::*;

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

    /// The build finds the contracts itself: a `.proto` file added under `proto/` is
    /// compiled, and its package gets a module, with no list to keep up to date.
    #[test]
    fn every_proto_file_is_compiled_and_every_package_has_a_module() {
        let fds = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
        let mut dirs = vec![root.clone()];
        let mut on_disk = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("proto dir readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "proto") {
                    let relative = path.strip_prefix(&root).expect("below root");
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        assert!(on_disk.len() >= 7, "{on_disk:?}");
        for file in &on_disk {
            assert!(
                fds.file.iter().any(|f| f.name() == file),
                "{file} is not compiled"
            );
        }

        let tree = include_str!(concat!(env!("OUT_DIR"), "/_includes.rs"));
        for file in fds.file.iter().filter(|f| f.name().starts_with("axle/")) {
            let generated = format!("include!(\"{}.rs\");", file.package());
            assert!(
                tree.contains(&generated),
                "{} has no module",
                file.package()
            );
        }
        // The paths other crates name are the packages' own.
        let _ = super::axle::vin::v1::ValidateVinRequest::default();
        let _ = super::axle::common::v1::SourceStatus::default();
    }
}
