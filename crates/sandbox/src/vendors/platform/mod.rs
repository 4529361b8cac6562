//! Seed 003's platform, shared by the vendors that run on it: apistore (seed 003's own
//! violation query) and platecb (seed 004, submitted with seed 003's protocol). One
//! platform, so one implementation of what they have in common: its code table and
//! envelope (`codes`), how it reads and authenticates a submission (`submit`), and its
//! callbacks with their retries (`delivery`). What a vendor answers once a submission is
//! authenticated is the vendor's own.

pub mod codes;
pub(crate) mod delivery;
pub(crate) mod submit;
