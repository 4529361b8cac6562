//! Chinese licence plates (号牌, GA 36): normalisation, format rules, province and issuing
//! authority, plate category and 号牌种类 code (GA 24.7).

mod authority;
mod normalize;
mod parse;
mod types;

pub use authority::{Authority, Province, authority_of, province_of, provinces};
pub use normalize::{Normalized, normalize};
pub use parse::{PlateCategory, PlateColor, PlateProblem, PlateReport, parse};
pub use types::{PlateType, plate_type};
