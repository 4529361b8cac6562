//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so building Axle needs
//! no protoc binary, then generates prost messages and tonic clients/servers from the
//! resulting descriptor set. The same descriptor set (with comments and imports) is
//! written to OUT_DIR for server reflection, so grpcurl shows the proto comments.
//!
//! Nothing here names a proto file or package: every `*.proto` under `proto/` is
//! compiled, and the Rust module tree (`axle::vin::v1`, ...) is generated from the
//! packages found (`_includes.rs`), so a new contract needs no edit in this crate.

use std::path::{Path, PathBuf};

use prost::Message as _;

/// The module tree of every generated package, `include!`d by `src/lib.rs`.
const INCLUDE_FILE: &str = "_includes.rs";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    // Cargo scans a directory recursively, so an added file triggers a rebuild too.
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let files = proto_files(&proto_root)?;
    if files.is_empty() {
        return Err(format!("no .proto files under {}", proto_root.display()).into());
    }

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;
    let fds = compiler.file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("axle_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        // The aggregator's response holds a whole profile and, when asked, every service's
        // own response: tens of kilobytes inline, copied through each frame of a decode.
        // Boxed, a debug build's decode fits a thread's 2 MiB stack.
        .boxed(".axle.aggregator.v1.GetVehicleProfileResponse.profile")
        .boxed(".axle.aggregator.v1.GetVehicleProfileResponse.attached")
        .boxed(".axle.aggregator.v1.StreamVehicleProfileResponse.snapshot")
        .build_server(true)
        .build_client(true)
        .include_file(INCLUDE_FILE)
        .compile_fds(fds)?;
    Ok(())
}

/// Every `*.proto` below `root`, as paths relative to it with `/` separators (the form
/// imports use), sorted so that the build does not depend on directory order.
fn proto_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let relative = path.strip_prefix(root).map_err(std::io::Error::other)?;
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    Ok(found)
}
