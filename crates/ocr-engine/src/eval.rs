//! The evaluation: the engine on a set of photos with known truth (as
//! `scripts/ocr_synth/render.py` writes them: `truth.jsonl` beside the images), per-field
//! accuracy on clean and damaged photos, and time per photo.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use crate::types::{FieldName, Reader, Side};

/// The truth file's key for a field.
pub fn key(name: FieldName) -> &'static str {
    match name {
        FieldName::Plate => "plate",
        FieldName::VehicleType => "vehicle_type",
        FieldName::Owner => "owner",
        FieldName::Address => "address",
        FieldName::UseCharacter => "use_character",
        FieldName::Model => "model",
        FieldName::Vin => "vin",
        FieldName::EngineNumber => "engine_number",
        FieldName::RegisterDate => "register_date",
        FieldName::IssueDate => "issue_date",
        FieldName::Seal => "seal",
        FieldName::FileNumber => "file_number",
        FieldName::ApprovedPassengers => "approved_passengers",
        FieldName::TotalMass => "total_mass",
        FieldName::CurbWeight => "curb_weight",
        FieldName::RatedLoad => "rated_load",
        FieldName::ExternalSize => "external_size",
        FieldName::TractionMass => "traction_mass",
        FieldName::Remarks => "remarks",
        FieldName::InspectionRecord => "inspection_record",
    }
}

pub const FRONT: [FieldName; 11] = [
    FieldName::Plate,
    FieldName::VehicleType,
    FieldName::Owner,
    FieldName::Address,
    FieldName::UseCharacter,
    FieldName::Model,
    FieldName::Vin,
    FieldName::EngineNumber,
    FieldName::RegisterDate,
    FieldName::IssueDate,
    FieldName::Seal,
];

pub const BACK: [FieldName; 7] = [
    FieldName::Plate,
    FieldName::FileNumber,
    FieldName::ApprovedPassengers,
    FieldName::TotalMass,
    FieldName::CurbWeight,
    FieldName::ExternalSize,
    FieldName::InspectionRecord,
];

/// Right and total, per field, for clean and damaged photos.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Tally {
    pub right: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.right += usize::from(ok);
    }

    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.right as f64 / self.total as f64
        }
    }
}

/// The evaluation's result.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub photos: usize,
    pub clean: usize,
    pub damaged: usize,
    pub side_right: Tally,
    /// field -> (clean, damaged).
    pub fields: BTreeMap<&'static str, (Tally, Tally)>,
    /// Front photos read clean, by how many of the 11 front fields were right.
    pub clean_front_fields_right: Vec<usize>,
    /// Wall time per photo, milliseconds, sorted.
    pub millis: Vec<f64>,
    /// Misreads, for the document: file, field, expected, read.
    pub misses: Vec<(String, String, String, String)>,
}

impl Report {
    /// The `q` quantile of the time per photo.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.millis.is_empty() {
            return 0.0;
        }
        let i = ((self.millis.len() as f64 - 1.0) * q).round() as usize;
        self.millis[i.min(self.millis.len() - 1)]
    }

    /// The report as Markdown tables.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} photos ({} clean, {} damaged); side detected right on {}/{}.\n",
            self.photos, self.clean, self.damaged, self.side_right.right, self.side_right.total
        );
        let _ = writeln!(out, "| field | clean | damaged |\n|---|---|---|");
        // A field no photo of that kind had is "-", not a 0 % that reads as a failure.
        let cell = |t: &Tally| {
            if t.total == 0 {
                "-".to_owned()
            } else {
                format!("{}/{} ({:.0} %)", t.right, t.total, t.percent())
            }
        };
        for (name, (clean, damaged)) in &self.fields {
            let _ = writeln!(out, "| {name} | {} | {} |", cell(clean), cell(damaged));
        }
        let enough = self
            .clean_front_fields_right
            .iter()
            .filter(|&&n| n >= 10)
            .count();
        let _ = writeln!(
            out,
            "\nClean fronts with at least 10 of the 11 fields right: {enough}/{}.",
            self.clean_front_fields_right.len()
        );
        // Time is the caller's to report (`axle ocr eval` adds percentiles, CPU and
        // memory beside it).
        out
    }
}

/// Compared without spaces (the recogniser drops them, the form spaces them freely).
fn same(read: &str, want: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    norm(read) == norm(want)
}

/// Runs `reader` on every photo listed in `dir/truth.jsonl`.
pub fn run(reader: &dyn Reader, dir: &Path) -> Result<Report, String> {
    let truth = std::fs::read_to_string(dir.join("truth.jsonl"))
        .map_err(|e| format!("{}: {e}", dir.join("truth.jsonl").display()))?;
    let mut report = Report::default();
    for line in truth.lines().filter(|l| !l.trim().is_empty()) {
        let t: Value = serde_json::from_str(line).map_err(|e| format!("truth.jsonl: {e}"))?;
        let file = t["file"].as_str().ok_or("truth.jsonl: no file")?.to_owned();
        let side = if t["side"] == "back" {
            Side::Back
        } else {
            Side::Front
        };
        let damaged = t["damage"].as_array().is_some_and(|d| !d.is_empty());
        let img = image::open(dir.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        let started = Instant::now();
        let read = reader
            .read(&img, None)
            .map_err(|e| format!("{file}: {e}"))?;
        report.millis.push(started.elapsed().as_secs_f64() * 1000.0);
        report.photos += 1;
        if damaged {
            report.damaged += 1;
        } else {
            report.clean += 1;
        }
        report.side_right.add(read.side == side);
        let names: &[FieldName] = if side == Side::Front { &FRONT } else { &BACK };
        let mut right = 0;
        for &name in names {
            let want = t["fields"][key(name)].as_str().unwrap_or_default();
            let got = read
                .field(name)
                .map(|f| f.text.as_str())
                .unwrap_or_default();
            let ok = read.side == side && same(got, want);
            right += usize::from(ok);
            let slot = report.fields.entry(key(name)).or_default();
            if damaged { &mut slot.1 } else { &mut slot.0 }.add(ok);
            if !ok {
                report.misses.push((
                    file.clone(),
                    key(name).to_owned(),
                    want.to_owned(),
                    got.to_owned(),
                ));
            }
        }
        if side == Side::Front && !damaged {
            report.clean_front_fields_right.push(right);
        }
    }
    report.millis.sort_by(f64::total_cmp);
    Ok(report)
}
