//! VINs: normalisation, ISO 3779 character rules, the 49 CFR 565 / GB 16735 check digit,
//! the model year, and WMI -> manufacturer / country.

mod check_digit;
mod country;
mod model_year;
mod normalize;
mod ocr_correction;
mod validate;
mod wmi;

pub use check_digit::{compute_check_digit, transliterate};
pub use country::{CountryInfo, country_of, north_american, region_of};
pub use model_year::{ModelYearBasis, ModelYearReport, model_year};
pub use normalize::normalize;
pub use ocr_correction::{OcrVinCheck, OcrVinOutcome, VinChange, check_ocr_vin};
pub use validate::{
    CheckDigitReport, CheckDigitState, VinProblem, VinProblemKind, VinReport, validate,
};
pub use wmi::{
    Make, MakeBasis, MakeReport, ManufacturerInfo, TableStats, load_tables, make_of,
    manufacturer_of, table_stats,
};

/// True where the check digit is mandatory, from a VIN's first two characters: North
/// America (WMI 1-5 and 7F-70, 49 CFR 565) and China (L and H, GB 16735 adopts the same
/// algorithm and makes it compulsory).
pub fn check_digit_mandatory(first: u8, second: u8) -> bool {
    matches!(first, b'L' | b'H') || north_american(first, second)
}
