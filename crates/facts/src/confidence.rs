//! Named confidence levels. A vendor's confidence is its source's configuration (each
//! source's `confidence` setting, or the confidence the vendor states in its answer);
//! the levels here are those of Axle's own rules, which no configuration changes.

/// A value read from a published register by a deterministic rule (ISO 3780 WMI country,
/// the model year from position 7).
pub const LOCAL_RULE: f32 = 0.95;
/// The WMI register's manufacturer: right for the WMI, though a maker may build under
/// another's WMI.
pub const LOCAL_REGISTER: f32 = 0.9;
/// A model year read from position 10 where a regulation makes it the year (North
/// America, China), its 30-year cycle chosen by recency.
pub const LOCAL_MANDATED_YEAR: f32 = 0.85;
/// A model year read from position 10 where no rule makes it the year.
pub const LOCAL_GUESSED_YEAR: f32 = 0.6;
/// The most a value that Axle's local rules prove wrong may keep (a VIN failing its
/// check digit, another vehicle's data): visible, never trusted.
pub const INADMISSIBLE: f32 = 0.3;
/// A vendor's confidence when its answer is about another VIN than the one asked, or it
/// says itself that the VIN breaks the rules: halved.
pub const LOOSE_MATCH_FACTOR: f32 = 0.5;
