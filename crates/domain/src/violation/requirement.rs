//! What a city asks of one number (engine number or VIN) in a violation query.

use std::fmt;

/// The longest VIN (ISO 3779): no city can ask for more trailing characters than this.
pub const VIN_LENGTH: u8 = 17;

/// The longest trailing part a rule may ask of an engine number. Engine numbers have no
/// standard length; the longest in the wild run to about 20 characters, and no source asks
/// for more than 6 trailing ones.
pub const MAX_ENGINE_TAIL: u8 = 20;

/// What a query needs of one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// The city does not ask for it.
    NotRequired,
    /// The last `n` characters (1..=17 for a VIN, 1..=20 for an engine number).
    LastChars(u8),
    /// The whole number.
    Full,
}

impl Requirement {
    pub fn is_required(self) -> bool {
        self != Self::NotRequired
    }

    /// How strict, for merging: not asked < last n (by n) < whole. A whole number carries
    /// every tail, so it satisfies any other requirement.
    fn rank(self) -> u16 {
        match self {
            Self::NotRequired => 0,
            Self::LastChars(n) => u16::from(n),
            Self::Full => u16::MAX,
        }
    }

    /// The stricter of two requirements: what a query must carry to satisfy both.
    #[must_use]
    pub fn stricter(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// Parses the table's spelling: `-` (not asked), `n` (the last n) or `full`. `none`,
    /// `no` and `0` are accepted for "not asked" so a configuration file reads naturally.
    pub fn parse(spec: &str, field: Field) -> Result<Self, RequirementError> {
        let s = spec.trim();
        match s.to_ascii_lowercase().as_str() {
            "-" | "0" | "none" | "no" => return Ok(Self::NotRequired),
            "full" | "all" => return Ok(Self::Full),
            _ => {}
        }
        let n: u8 = s.parse().map_err(|_| RequirementError::Unreadable {
            field,
            spec: s.to_owned(),
        })?;
        if n > field.max_tail() {
            return Err(RequirementError::TooLong {
                field,
                n,
                max: field.max_tail(),
            });
        }
        Ok(Self::LastChars(n))
    }

    /// The table's spelling, the inverse of [`Requirement::parse`].
    pub fn spec(self) -> String {
        match self {
            Self::NotRequired => "-".to_owned(),
            Self::LastChars(n) => n.to_string(),
            Self::Full => "full".to_owned(),
        }
    }
}

impl fmt::Display for Requirement {
    /// In words, for messages: "not required", "the last 6 characters", "the whole number".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRequired => f.write_str("not required"),
            Self::LastChars(1) => f.write_str("the last character"),
            Self::LastChars(n) => write!(f, "the last {n} characters"),
            Self::Full => f.write_str("the whole number"),
        }
    }
}

/// The two numbers a violation query may need, named as the request fields are
/// (`QueryViolations` takes `engine_number` and `vin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    EngineNumber,
    Vin,
}

impl Field {
    /// The request field's name, for field violations a program can act on.
    pub fn name(self) -> &'static str {
        match self {
            Self::EngineNumber => "engine_number",
            Self::Vin => "vin",
        }
    }

    /// The number in words, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::EngineNumber => "engine number",
            Self::Vin => "VIN",
        }
    }

    /// The number with its article, for messages: "an engine number", "a VIN".
    pub fn with_article(self) -> &'static str {
        match self {
            Self::EngineNumber => "an engine number",
            Self::Vin => "a VIN",
        }
    }

    pub(crate) fn max_tail(self) -> u8 {
        match self {
            Self::EngineNumber => MAX_ENGINE_TAIL,
            Self::Vin => VIN_LENGTH,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A requirement that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequirementError {
    Unreadable { field: Field, spec: String },
    TooLong { field: Field, n: u8, max: u8 },
}

impl fmt::Display for RequirementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { field, spec } => write!(
                f,
                "{field}: {spec:?} is not a requirement: write -, a number of trailing characters, or full"
            ),
            Self::TooLong { field, n, max } => write!(
                f,
                "{field}: the last {n} characters cannot be asked, {} has at most {max} (write full for the whole number)",
                field.with_article()
            ),
        }
    }
}

impl std::error::Error for RequirementError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_bad_ones_are_named() {
        for (spec, req) in [
            ("-", Requirement::NotRequired),
            ("6", Requirement::LastChars(6)),
            ("full", Requirement::Full),
        ] {
            assert_eq!(Requirement::parse(spec, Field::Vin), Ok(req));
            assert_eq!(req.spec(), spec);
        }
        assert_eq!(
            Requirement::parse(" FULL ", Field::EngineNumber),
            Ok(Requirement::Full)
        );
        assert_eq!(
            Requirement::parse("none", Field::Vin),
            Ok(Requirement::NotRequired)
        );
        let e = Requirement::parse("18", Field::Vin).expect_err("too long");
        assert!(e.to_string().starts_with("vin: the last 18"), "{e}");
        assert!(Requirement::parse("20", Field::EngineNumber).is_ok());
        for bad in ["", "six", "-1", "6.5", "256", "全部"] {
            let e = Requirement::parse(bad, Field::EngineNumber).expect_err(bad);
            assert!(e.to_string().starts_with("engine_number: "), "{e}");
        }
    }

    #[test]
    fn stricter_is_a_maximum() {
        use Requirement::{Full, LastChars, NotRequired};
        assert_eq!(NotRequired.stricter(LastChars(4)), LastChars(4));
        assert_eq!(LastChars(6).stricter(LastChars(4)), LastChars(6));
        assert_eq!(LastChars(17).stricter(Full), Full);
        assert_eq!(Full.stricter(NotRequired), Full);
        assert_eq!(NotRequired.stricter(NotRequired), NotRequired);
        assert_eq!(LastChars(6).to_string(), "the last 6 characters");
        assert_eq!(Full.to_string(), "the whole number");
    }
}
