//! The whole local check of a VIN.

use super::check_digit::{compute_check_digit, transliterate};
use super::check_digit_mandatory;
use super::country::{CountryInfo, country_of, region_of};
use super::model_year::{ModelYearReport, model_year};
use super::normalize::normalize;
use super::wmi::{MakeReport, ManufacturerInfo, make_of, manufacturer_of};

/// What kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VinProblemKind {
    WrongLength,
    InvalidCharacter,
    ForbiddenLetter,
    CheckDigitMismatch,
    InvalidModelYear,
    UnknownWmi,
}

/// One problem, at a 1-based position of the normalised VIN (0: the whole VIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VinProblem {
    pub position: usize,
    pub kind: VinProblemKind,
    pub found: Option<char>,
    pub expected: String,
    pub suggestion: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDigitState {
    Valid,
    Invalid,
    NotUsed,
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDigitReport {
    pub state: CheckDigitState,
    pub expected: Option<char>,
    pub actual: Option<char>,
    pub mandatory: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VinReport {
    pub normalized: String,
    pub valid: bool,
    pub problems: Vec<VinProblem>,
    pub check_digit: CheckDigitReport,
    pub model_year: Option<ModelYearReport>,
    pub wmi: Option<String>,
    pub vds: Option<String>,
    pub vis: Option<String>,
    pub manufacturer: Option<ManufacturerInfo>,
    /// The make (brand): named, or the possible makes when the VDS does not settle it.
    pub make: Option<MakeReport>,
    pub country: Option<CountryInfo>,
    pub region: Option<&'static str>,
    pub plant_code: Option<char>,
    pub serial_number: Option<String>,
    pub suggested_vin: Option<String>,
}

/// Whether `c` is one of the letters ISO 3779 forbids.
fn forbidden(c: u8) -> bool {
    matches!(c, b'I' | b'O' | b'Q')
}

/// The character a forbidden letter at 0-based `index` most likely stands for. At
/// position 10 (the model year) 0 is not a year code, so O and Q have no reading there;
/// I reads as 1, which is.
fn look_alike(index: usize, c: u8) -> Option<u8> {
    match c {
        b'O' | b'Q' if index != 9 => Some(b'0'),
        b'I' => Some(b'1'),
        _ => None,
    }
}

/// Validates `input` (any spelling) as of `current_year`. Never panics.
pub fn validate(input: &str, current_year: i32) -> VinReport {
    let normalized = normalize(input);
    let mut problems = Vec::new();
    let chars: Vec<char> = normalized.chars().collect();
    let len = chars.len();

    // One byte per character (0 for anything outside ASCII), so that positions are
    // character positions even when the input holds non-ASCII characters.
    let cb: Vec<u8> = chars
        .iter()
        .map(|&c| u8::try_from(c).ok().filter(u8::is_ascii).unwrap_or(0))
        .collect();
    let vin_char = |i: usize| cb.get(i).is_some_and(|&b| transliterate(b).is_some());

    let mut chars_ok = true;
    let mut fixable = true;
    for (i, &ch) in chars.iter().enumerate() {
        let b = cb[i];
        if forbidden(b) {
            chars_ok = false;
            let fix = look_alike(i, b);
            if fix.is_none() {
                fixable = false;
            }
            problems.push(VinProblem {
                position: i + 1,
                kind: VinProblemKind::ForbiddenLetter,
                found: Some(ch),
                expected: if i == 9 {
                    "a model-year code (A-H, J-N, P, R-T, V-Y, 1-9)".to_owned()
                } else {
                    "a digit or a letter other than I, O, Q".to_owned()
                },
                suggestion: fix.map(|f| format!("replace {ch} with {}", char::from(f))),
                message: match fix {
                    Some(f) => format!(
                        "{ch} is not allowed in a VIN (ISO 3779 excludes I, O and Q); it is most likely {}",
                        char::from(f)
                    ),
                    None => format!(
                        "{ch} is not allowed in a VIN (ISO 3779 excludes I, O and Q), and at position 10 its look-alike 0 is not a model-year code either"
                    ),
                },
            });
        } else if transliterate(b).is_none() {
            chars_ok = false;
            fixable = false;
            problems.push(VinProblem {
                position: i + 1,
                kind: VinProblemKind::InvalidCharacter,
                found: Some(ch),
                expected: "a digit 0-9 or a letter A-Z other than I, O, Q".to_owned(),
                suggestion: None,
                message: format!("{ch:?} is not a VIN character"),
            });
        }
    }
    if len != 17 {
        fixable = false;
        problems.push(VinProblem {
            position: 0,
            kind: VinProblemKind::WrongLength,
            found: None,
            expected: "17 characters".to_owned(),
            suggestion: None,
            message: format!("a VIN has 17 characters; this one has {len}"),
        });
    }

    let bytes = cb.as_slice();
    let structured = len == 17 && chars_ok;
    let first = bytes.first().copied().unwrap_or(0);
    let mandatory = check_digit_mandatory(first, bytes.get(1).copied().unwrap_or(0));
    // The VIN with every look-alike letter read as what it stands for, when that is all
    // that is wrong with it: the check digit it should carry can still be computed.
    let corrected: Option<String> = (len == 17 && fixable && !chars_ok).then(|| {
        bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| char::from(look_alike(i, b).unwrap_or(b)))
            .collect()
    });

    let check_digit = if structured {
        let expected = compute_check_digit(&normalized);
        let actual = Some(char::from(bytes[8]));
        let state = if expected == actual {
            CheckDigitState::Valid
        } else if mandatory {
            CheckDigitState::Invalid
        } else {
            CheckDigitState::NotUsed
        };
        if state == CheckDigitState::Invalid {
            let exp = expected.unwrap_or('?');
            problems.push(VinProblem {
                position: 9,
                kind: VinProblemKind::CheckDigitMismatch,
                found: actual,
                expected: exp.to_string(),
                suggestion: None,
                message: format!(
                    "the check digit is {} but the other 16 characters give {exp}: at least one character is wrong (the check digit is mandatory for {} VINs)",
                    bytes[8] as char,
                    if matches!(first, b'L' | b'H') { "Chinese" } else { "North-American" }
                ),
            });
        }
        CheckDigitReport {
            state,
            expected,
            actual,
            mandatory,
        }
    } else {
        CheckDigitReport {
            state: CheckDigitState::NotChecked,
            expected: corrected.as_deref().and_then(compute_check_digit),
            actual: chars.get(8).copied(),
            mandatory,
        }
    };

    let manufacturer = if structured {
        manufacturer_of(&normalized)
    } else {
        None
    };
    let model_year = if structured {
        model_year(
            bytes,
            current_year,
            manufacturer
                .as_ref()
                .and_then(|m| m.vehicle_type.as_deref()),
        )
    } else {
        None
    };
    let make = if structured {
        make_of(&normalized, model_year.as_ref().map(|y| y.year))
    } else {
        None
    };
    // A North-American light vehicle's position 7 can put the year beyond next year: then
    // position 7 or 10 is wrong.
    let future_year = model_year
        .as_ref()
        .filter(|y| y.year > current_year + 1)
        .map(|y| y.year);
    if let Some(year) = future_year {
        problems.push(VinProblem {
            position: 10,
            kind: VinProblemKind::InvalidModelYear,
            found: chars.get(9).copied(),
            expected: format!("a model year no later than {}", current_year + 1),
            suggestion: None,
            message: format!(
                "with a letter at position 7 the code at position 10 means {year}, later than next year: position 7 or 10 is wrong"
            ),
        });
    }
    // Position 10 must be a year code where 49 CFR 565 / GB 16735 apply; elsewhere makers
    // have used 0 or Z there, so its absence is only "unknown year".
    // Elsewhere it is reported as a note only (the VIN stays valid), like an unknown WMI.
    if structured && model_year.is_none() {
        let found = char::from(bytes[9]);
        problems.push(VinProblem {
            position: 10,
            kind: VinProblemKind::InvalidModelYear,
            found: Some(found),
            expected: "a model-year code (A-H, J-N, P, R-T, V-Y, 1-9)".to_owned(),
            suggestion: None,
            message: if mandatory {
                format!("{found} is not a model-year code")
            } else {
                format!(
                    "{found} is not a model-year code; outside North America and China makers may use position 10 otherwise, so the year is unknown (note only)"
                )
            },
        });
    }

    // Country and region need only positions 1-2 to be VIN characters, whatever is wrong
    // further on.
    let country = if vin_char(0) && vin_char(1) {
        country_of(first, bytes[1])
    } else {
        None
    };
    let region = if vin_char(0) {
        region_of(first, bytes.get(1).copied().unwrap_or(0))
    } else {
        None
    };
    if structured && manufacturer.is_none() {
        let looked_up = if bytes[2] == b'9' {
            format!(
                "{}{} (small maker: positions 1-3 + 12-14)",
                &normalized[..3],
                &normalized[11..14]
            )
        } else {
            normalized[..3].to_owned()
        };
        problems.push(VinProblem {
            position: 1,
            kind: VinProblemKind::UnknownWmi,
            found: Some(char::from(first)),
            expected: "a WMI assigned to a manufacturer".to_owned(),
            suggestion: None,
            message: format!(
                "WMI {looked_up} is not in Axle's manufacturer tables (the VIN may still be valid)"
            ),
        });
    }

    let valid = structured
        && check_digit.state != CheckDigitState::Invalid
        && !(mandatory && model_year.is_none())
        && !(mandatory && future_year.is_some());

    // Offer the corrected VIN when the only problems are look-alike letters and the
    // correction passes every rule (including a mandatory check digit).
    let suggested_vin = corrected.filter(|fixed| validate_core_ok(fixed, current_year));

    problems.sort_by_key(|p| p.position);
    VinReport {
        valid,
        problems,
        check_digit,
        wmi: structured.then(|| normalized[..3].to_owned()),
        vds: structured.then(|| normalized[3..9].to_owned()),
        vis: structured.then(|| normalized[9..].to_owned()),
        region,
        plant_code: structured.then(|| char::from(bytes[10])),
        serial_number: structured.then(|| normalized[11..].to_owned()),
        model_year,
        manufacturer,
        make,
        country,
        suggested_vin,
        normalized,
    }
}

/// Whether a corrected candidate passes the rules (no recursion into suggestions).
fn validate_core_ok(vin: &str, current_year: i32) -> bool {
    let b = vin.as_bytes();
    if b.len() != 17 || !b.iter().all(|&c| transliterate(c).is_some()) {
        return false;
    }
    let mandatory = check_digit_mandatory(b[0], b[1]);
    !mandatory
        || (compute_check_digit(vin) == Some(char::from(b[8]))
            && model_year(
                b,
                current_year,
                manufacturer_of(vin).and_then(|m| m.vehicle_type).as_deref(),
            )
            .is_some_and(|y| y.year <= current_year + 1))
}

#[cfg(test)]
mod tests;
