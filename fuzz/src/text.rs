//! What callers type: VINs and plates.

use domain::plate::{self, PlateColor};
use domain::vin;

/// The year the checks run as of: fixed, so that a finding replays the same way.
const YEAR: i32 = 2026;

/// VIN normalisation and validation: idempotent normalisation, the same report for the
/// input and its normalised form, and a valid VIN that is 17 VIN characters with no
/// problem of length, characters or check digit (an unknown WMI, or a model year where
/// none is mandatory, are notes that leave a VIN valid).
pub fn vin(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let normalized = vin::normalize(&input);
    assert_eq!(
        vin::normalize(&normalized),
        normalized,
        "normalising twice changes {input:?}"
    );
    let report = vin::validate(&input, YEAR);
    assert_eq!(report.normalized, normalized);
    assert_eq!(
        vin::validate(&normalized, YEAR),
        report,
        "{input:?} and its normalised form are judged differently"
    );
    if report.valid {
        assert!(
            report.problems.iter().all(|p| matches!(
                p.kind,
                vin::VinProblemKind::UnknownWmi | vin::VinProblemKind::InvalidModelYear
            )),
            "valid with problems: {report:?}"
        );
        assert_eq!(normalized.len(), 17);
        assert!(
            normalized
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOQ".contains(&b))),
            "valid VIN {normalized:?} holds a character VINs never do"
        );
        assert_ne!(report.check_digit.state, vin::CheckDigitState::Invalid);
    }
    // What the OCR reader does with a VIN read from a photo: a corrected VIN passes.
    let ocr = vin::check_ocr_vin(&input);
    if matches!(
        ocr.outcome,
        vin::OcrVinOutcome::Passed | vin::OcrVinOutcome::Corrected { .. }
    ) {
        assert_eq!(ocr.vin.len(), 17, "{ocr:?}");
    }
}

/// Plate normalisation and parsing: idempotent normalisation (with nothing left to
/// correct the second time), the same report for the input and its normalised form, and
/// a valid plate without problems.
pub fn plate(data: &[u8]) {
    const COLORS: [Option<PlateColor>; 7] = [
        None,
        Some(PlateColor::Blue),
        Some(PlateColor::Yellow),
        Some(PlateColor::Green),
        Some(PlateColor::White),
        Some(PlateColor::Black),
        Some(PlateColor::YellowGreen),
    ];
    // The first byte picks the colour the caller gives (none most often).
    let (color, rest) = match data.split_first() {
        Some((&b, rest)) => (COLORS[usize::from(b) % COLORS.len()], rest),
        None => (None, data),
    };
    let input = String::from_utf8_lossy(rest);
    let normalized = plate::normalize(&input);
    let again = plate::normalize(&normalized.plate);
    assert_eq!(
        again.plate, normalized.plate,
        "normalising twice changes {input:?}"
    );
    assert!(
        again.corrections.is_empty(),
        "{input:?}: corrections left after normalising: {:?}",
        again.corrections
    );
    let report = plate::parse(&input, color);
    assert_eq!(report.normalized, normalized.plate);
    let mut of_normalized = plate::parse(&normalized.plate, color);
    of_normalized.corrections.clone_from(&report.corrections);
    assert_eq!(
        of_normalized, report,
        "{input:?} and its normalised form are judged differently"
    );
    if report.valid {
        assert!(
            report.problems.is_empty(),
            "valid with problems: {report:?}"
        );
        assert!(
            report.category.is_some(),
            "valid without a category: {report:?}"
        );
    }
}
