//! Per-city violation-query requirements: what a traffic-violation query for a plate
//! needs besides the plate (engine number? VIN? how many trailing characters?), checked
//! before a paid vendor call so that nothing is sent that the vendor would reject.
//!
//! The table (`data/violation_city_rules.tsv`) is compiled from named public sources by
//! `scripts/violation_city_rules/compile.py` and embedded; `docs/violation-city-rules.md`
//! says how, what the default is and how a deployment overrides it.
//!
//! ```
//! use domain::violation::{check, embedded};
//!
//! let table = embedded().expect("the embedded table parses");
//! let found = table.for_plate("粤B12345", Some("02")).expect("a civil plate");
//! let err = check(&found.rule, "D50EG", "LNBSCC3H8GF308384").expect_err("engine too short");
//! assert_eq!(
//!     err[0].to_string(),
//!     "engine_number: the last 6 characters of the engine number are required for 粤B (深圳市); 5 were given"
//! );
//! let ok = check(&found.rule, "AD50EG081600062", "LNBSCC3H8GF308384").expect("complete");
//! assert_eq!(ok.engine_number.as_deref(), Some("600062"));
//! ```

mod check;
mod lookup;
mod overrides;
mod requirement;
mod rules;

pub use check::{
    Checked, MIN_WHOLE_ENGINE_NUMBER, Violation, bad_character, check, normalize_number,
};
pub use lookup::{Lookup, LookupError};
pub use overrides::{OverrideError, OverrideRow, parse_overrides};
pub use requirement::{Field, MAX_ENGINE_TAIL, Requirement, RequirementError, VIN_LENGTH};
pub use rules::{Basis, CityRule, Combine, PlateTypes, RuleTable, Source, TableError, embedded};
