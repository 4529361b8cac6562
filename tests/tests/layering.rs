//! Dependencies point down (DESIGN.md, "Layout"): the pure crates know no I/O or
//! protobuf, `connector` knows HTTP but not protobuf, `kit` does not know the vendor
//! plumbing, and only services and the CLI sit on top. Read from each crate's
//! `[dependencies]` (dev-dependencies may reach further, for tests).

use std::path::Path;

/// The names in a manifest's `[dependencies]` table.
fn dependencies(krate: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("readable manifest");
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once(['=', '.']) {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.to_owned());
            }
        }
    }
    out
}

fn assert_none_of(krate: &str, forbidden: &[&str]) {
    let deps = dependencies(krate);
    let bad: Vec<&&str> = forbidden
        .iter()
        .filter(|f| deps.iter().any(|d| d == *f))
        .collect();
    assert!(
        bad.is_empty(),
        "{krate} must not depend on {bad:?} (has {deps:?})"
    );
}

const IO_AND_PROTO: &[&str] = &[
    "tokio",
    "reqwest",
    "tonic",
    "prost",
    "prost-types",
    "contracts",
    "axum",
    "hyper",
    "rusqlite",
    "tokio-postgres",
    "connector",
    "kit",
];

#[test]
fn pure_crates_know_no_io_or_protobuf() {
    for krate in ["crates/domain", "crates/merge", "crates/settings"] {
        assert_none_of(krate, IO_AND_PROTO);
    }
}

#[test]
fn connector_knows_http_not_protobuf() {
    assert_none_of(
        "crates/connector",
        &[
            "contracts",
            "tonic",
            "prost",
            "prost-types",
            "kit",
            "sources",
            "facts",
        ],
    );
}

#[test]
fn kit_does_not_know_the_vendor_plumbing() {
    assert_none_of(
        "crates/kit",
        &["connector", "sources", "facts", "callback", "domain"],
    );
}

#[test]
fn facts_and_sources_sit_below_the_services() {
    for krate in [
        "crates/facts",
        "crates/sources",
        "crates/callback",
        "crates/sandbox",
    ] {
        assert_none_of(krate, &["vin-service", "plate-service", "cli"]);
    }
    assert_none_of("crates/facts", &["connector", "kit", "tokio", "reqwest"]);
    assert_none_of(
        "crates/callback",
        &["contracts", "tonic", "connector", "kit"],
    );
    assert_none_of("crates/sandbox", &["connector", "kit", "contracts"]);
}

#[test]
fn the_http_listener_knows_no_axle_crate() {
    // kit and callback both build on it, and callback must not reach kit.
    assert_none_of(
        "crates/listener",
        &[
            "kit",
            "callback",
            "settings",
            "contracts",
            "connector",
            "sources",
            "axum",
            "tonic",
        ],
    );
}

#[test]
fn the_reader_reads_dependencies_only() {
    let deps = dependencies("crates/connector");
    assert!(deps.iter().any(|d| d == "reqwest"), "{deps:?}");
    assert!(
        !deps.iter().any(|d| d == "axum"),
        "a dev-dependency: {deps:?}"
    );
}
