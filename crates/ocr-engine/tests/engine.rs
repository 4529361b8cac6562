//! The engine on real photos (synthetic 行驶证 rendered by scripts/ocr_synth/render.py,
//! see tests/data/truth.jsonl): the pinned models must read the fields a caller needs.
//! The models come from scripts/ocr-models.sh (run by scripts/setup.sh).

use ocr_engine::{Engine, EngineConfig, FieldName, Reader, Side};

fn engine() -> Engine {
    Engine::load(&EngineConfig::default()).unwrap_or_else(|e| {
        panic!("{e} (the test command runs scripts/setup.sh, which fetches them)")
    })
}

fn photo(name: &str) -> image::DynamicImage {
    image::open(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test photo")
}

fn truth(side: &str) -> serde_json::Value {
    let text = include_str!("data/truth.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["side"] == side)
        .expect("truth")
}

#[test]
fn a_front_reads_with_its_vin_and_plate() {
    let engine = engine();
    let read = engine.read(&photo("front.jpg"), None).expect("reads");
    assert_eq!(read.side, Side::Front, "detected");
    let want = truth("front");
    let names = [
        (FieldName::Plate, "plate"),
        (FieldName::VehicleType, "vehicle_type"),
        (FieldName::Owner, "owner"),
        (FieldName::Address, "address"),
        (FieldName::UseCharacter, "use_character"),
        (FieldName::Model, "model"),
        (FieldName::Vin, "vin"),
        (FieldName::EngineNumber, "engine_number"),
        (FieldName::RegisterDate, "register_date"),
        (FieldName::IssueDate, "issue_date"),
        (FieldName::Seal, "seal"),
    ];
    let right: Vec<&str> = names
        .iter()
        .filter(|(n, key)| {
            read.field(*n)
                .is_some_and(|f| f.text == want["fields"][*key])
        })
        .map(|(_, key)| *key)
        .collect();
    for key in ["vin", "plate"] {
        assert!(
            right.contains(&key),
            "{key}: {:?} vs {}",
            read.fields,
            want["fields"][key]
        );
    }
    assert!(
        right.len() >= 10,
        "{} of 11 right: {right:?}\n{:?}",
        right.len(),
        read.fields
    );
}

#[test]
fn a_back_reads_its_plate_and_masses() {
    let engine = engine();
    let read = engine.read(&photo("back.jpg"), None).expect("reads");
    assert_eq!(read.side, Side::Back, "detected");
    let want = truth("back");
    for (name, key) in [
        (FieldName::Plate, "plate"),
        (FieldName::FileNumber, "file_number"),
        (FieldName::ApprovedPassengers, "approved_passengers"),
        (FieldName::TotalMass, "total_mass"),
        (FieldName::CurbWeight, "curb_weight"),
        (FieldName::ExternalSize, "external_size"),
    ] {
        assert_eq!(
            read.field(name).map(|f| f.text.as_str()),
            want["fields"][key].as_str(),
            "{key}: {:?}",
            read.lines
        );
    }
}

#[test]
fn a_photo_without_a_licence_yields_no_identifiers() {
    let engine = engine();
    let blank = image::DynamicImage::new_rgb8(640, 480);
    let read = engine.read(&blank, Some(Side::Front)).expect("reads");
    assert!(read.fields.is_empty(), "{:?}", read.fields);
}

#[test]
fn missing_models_are_an_error_naming_the_fix() {
    let cfg = EngineConfig {
        models_dir: std::path::PathBuf::from("/nonexistent/models"),
        ..EngineConfig::default()
    };
    let err = Engine::load(&cfg).expect_err("missing").to_string();
    assert!(err.contains("scripts/ocr-models.sh"), "{err}");
}
