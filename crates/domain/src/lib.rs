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
