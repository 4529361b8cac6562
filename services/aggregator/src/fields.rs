//! The profile's fields by name (as in `VehicleProfile` and the request's `include`
//! mask), and the set of fields a request wants.

use std::fmt;

/// One field of `axle.aggregator.v1.VehicleProfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Vin,
    VinValid,
    Plate,
    PlateType,
    IssuingAuthority,
    EngineNumber,
    Brand,
    Manufacturer,
    Model,
    Series,
    ModelYear,
    Country,
    BodyType,
    EngineModel,
    DisplacementMl,
    FuelType,
    Transmission,
    DriveMode,
    Seats,
    BodyColor,
    Usage,
    VehicleType,
    FirstRegistrationDate,
    Msrp,
    IsImport,
    EmissionStandard,
    ProductionDate,
    InsuranceExpiryDate,
    LaunchDate,
    OwnerName,
    OwnerAddress,
    Violations,
}

impl Field {
    /// Every field, in the proto's order.
    pub const ALL: [Field; 32] = [
        Field::Vin,
        Field::VinValid,
        Field::Plate,
        Field::PlateType,
        Field::IssuingAuthority,
        Field::EngineNumber,
        Field::Brand,
        Field::Manufacturer,
        Field::Model,
        Field::Series,
        Field::ModelYear,
        Field::Country,
        Field::BodyType,
        Field::EngineModel,
        Field::DisplacementMl,
        Field::FuelType,
        Field::Transmission,
        Field::DriveMode,
        Field::Seats,
        Field::BodyColor,
        Field::Usage,
        Field::VehicleType,
        Field::FirstRegistrationDate,
        Field::Msrp,
        Field::IsImport,
        Field::EmissionStandard,
        Field::ProductionDate,
        Field::InsuranceExpiryDate,
        Field::LaunchDate,
        Field::OwnerName,
        Field::OwnerAddress,
        Field::Violations,
    ];

    /// The field's name in `VehicleProfile` (and in `include`, merge configuration and
    /// `Disagreement.field`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Vin => "vin",
            Field::VinValid => "vin_valid",
            Field::Plate => "plate",
            Field::PlateType => "plate_type",
            Field::IssuingAuthority => "issuing_authority",
            Field::EngineNumber => "engine_number",
            Field::Brand => "brand",
            Field::Manufacturer => "manufacturer",
            Field::Model => "model",
            Field::Series => "series",
            Field::ModelYear => "model_year",
            Field::Country => "country",
            Field::BodyType => "body_type",
            Field::EngineModel => "engine_model",
            Field::DisplacementMl => "displacement_ml",
            Field::FuelType => "fuel_type",
            Field::Transmission => "transmission",
            Field::DriveMode => "drive_mode",
            Field::Seats => "seats",
            Field::BodyColor => "body_color",
            Field::Usage => "usage",
            Field::VehicleType => "vehicle_type",
            Field::FirstRegistrationDate => "first_registration_date",
            Field::Msrp => "msrp",
            Field::IsImport => "is_import",
            Field::EmissionStandard => "emission_standard",
            Field::ProductionDate => "production_date",
            Field::InsuranceExpiryDate => "insurance_expiry_date",
            Field::LaunchDate => "launch_date",
            Field::OwnerName => "owner_name",
            Field::OwnerAddress => "owner_address",
            Field::Violations => "violations",
        }
    }

    /// The field named `name`, as the proto spells it.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of fields (a bit set: the plan asks "does this step supply anything still
/// wanted?" many times per request).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fields(u64);

impl Fields {
    pub const EMPTY: Fields = Fields(0);

    pub fn of(fields: &[Field]) -> Fields {
        Fields(fields.iter().fold(0, |acc, f| acc | f.bit()))
    }

    /// What an empty `include` means: every field except the paid-for-separately
    /// `violations`.
    pub fn default_include() -> Fields {
        let mut all = Fields::of(&Field::ALL);
        all.remove(Field::Violations);
        all
    }

    pub fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }

    pub fn remove(&mut self, f: Field) {
        self.0 &= !f.bit();
    }

    #[must_use]
    pub fn union(self, other: Fields) -> Fields {
        Fields(self.0 | other.0)
    }

    #[must_use]
    pub fn minus(self, other: Fields) -> Fields {
        Fields(self.0 & !other.0)
    }

    pub fn intersects(self, other: Fields) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Field::name)).finish()
    }
}

/// The fields an `include` mask names. Unknown paths are returned as errors (each with
/// what was given), so that a typo is INVALID_ARGUMENT rather than a silently smaller
/// profile. A sub-path ("violations.count") selects its top-level field: sources answer
/// whole fields.
pub fn parse_include(paths: &[String]) -> Result<Fields, Vec<String>> {
    if paths.is_empty() {
        return Ok(Fields::default_include());
    }
    let mut wanted = Fields::EMPTY;
    let mut unknown = Vec::new();
    for path in paths {
        let top = path.trim().split('.').next().unwrap_or_default();
        match Field::from_name(top) {
            Some(f) => wanted.insert(f),
            None => unknown.push(path.clone()),
        }
    }
    if unknown.is_empty() {
        Ok(wanted)
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
        let names: std::collections::BTreeSet<_> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Field::ALL.len());
    }

    #[test]
    fn names_are_the_proto_field_names() {
        // The descriptor set holds every field name as a string.
        let text = String::from_utf8_lossy(contracts::FILE_DESCRIPTOR_SET);
        for f in Field::ALL {
            assert!(
                text.contains(f.name()),
                "{} is not in the descriptors",
                f.name()
            );
        }
    }

    #[test]
    fn empty_include_is_everything_but_violations() {
        let all = parse_include(&[]).expect("empty is fine");
        assert!(all.contains(Field::Brand));
        assert!(all.contains(Field::Vin));
        assert!(!all.contains(Field::Violations));
    }

    #[test]
    fn include_names_fields_and_rejects_typos() {
        let w = parse_include(&["brand".into(), "violations.total_fine".into()]).expect("ok");
        assert_eq!(w, Fields::of(&[Field::Brand, Field::Violations]));
        let err = parse_include(&["brnad".into(), "vin".into()]).expect_err("typo");
        assert_eq!(err, vec!["brnad".to_owned()]);
    }

    #[test]
    fn set_operations() {
        let a = Fields::of(&[Field::Vin, Field::Brand]);
        let b = Fields::of(&[Field::Brand]);
        assert_eq!(a.minus(b), Fields::of(&[Field::Vin]));
        assert!(a.intersects(b));
        assert!(!a.minus(b).intersects(b));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![Field::Vin, Field::Brand]);
    }
}
