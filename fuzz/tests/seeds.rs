//! Every checked-in seed (`fuzz/seeds/<target>/`) through its target, uninstrumented: the
//! inputs that once broke something (kept there as regression seeds) and the samples the
//! corpus starts from must pass the targets' checks in every test run, not only when
//! someone fuzzes.

use std::path::Path;

#[test]
fn every_seed_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut replayed = 0;
    for (name, target) in fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("target {name} has no seeds in {}: {e}", dir.display()));
        let mut seeds = 0;
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a seed file");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: seed {} fails", path.display());
            seeds += 1;
        }
        assert!(seeds > 0, "target {name} has no seeds");
        replayed += seeds;
    }
    assert!(replayed >= fuzz::TARGETS.len());
}

#[test]
fn every_target_has_a_binary_and_a_seed_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in fuzz::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz_targets/{name}.rs is missing"
        );
        assert!(
            root.join("seeds").join(name).is_dir(),
            "seeds/{name} is missing"
        );
    }
}
