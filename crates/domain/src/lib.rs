//! Pure vehicle-identity logic: no I/O, no async, no clock (the current year is a
//! parameter), so it is fast, deterministic and tested with tables and properties.

pub mod dates;
pub mod money;
pub mod pii;
pub mod plate;
pub mod text;
pub mod usage;
pub mod vehicle_type;
pub mod vin;
pub mod violation;

/// Parses every embedded table now (the WMI register, the plate authorities, the
/// vehicle types, the violation city rules) rather than at first use: a server calls it
/// at start so that no request pays for it. The WMI register alone is tens of
/// milliseconds in a release build and more in a debug one, enough to push a first
/// request past a tight deadline.
pub fn load_tables() {
    vin::load_tables();
    let _ = plate::authority_of('京', 'A');
    let _ = vehicle_type::vehicle_types();
    let _ = violation::embedded();
}
