//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so building Axle needs
//! no protoc binary, then generates prost messages and tonic clients/servers from the
//! resulting descriptor set. The same descriptor set (with comments and imports) is
//! written to OUT_DIR for server reflection, so grpcurl shows the proto comments.

use std::path::PathBuf;

use prost::Message as _;

const FILES: &[&str] = &[
    "axle/common/v1/common.proto",
    "axle/vin/v1/vin.proto",
    "axle/plate/v1/plate.proto",
    "axle/violation/v1/violation.proto",
    "axle/ocr/v1/ocr.proto",
    "axle/aggregator/v1/aggregator.proto",
    "axle/bench/v1/echo.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(FILES)?;
    let fds = compiler.file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("axle_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
