//! A photo read, before typing and cross-checks: what the local engine and the vendor
//! both produce, so that one place (`crate::fields`) turns either into the contract.

use contracts::axle::common::v1::Provenance;

/// Side of a 行驶证.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Front,
    Back,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Self::Front => "front",
            Self::Back => "back",
        }
    }
}

/// One field as read: its name (`crate::config::FRONT_FIELDS` / `BACK_FIELDS`, plus the
/// vendor's `sub_page_code` and `fuel_type`), the text, how sure the reader is, where.
#[derive(Debug, Clone, PartialEq)]
pub struct RawField {
    pub name: &'static str,
    pub text: String,
    pub confidence: f32,
    /// Corners in the decoded image's pixels; `None` from a reader that gives none.
    pub quad: Option<[[f32; 2]; 4]>,
    pub provenance: Provenance,
    /// Read by a vendor: its text is kept as sent; a cross-check flags, never corrects.
    pub from_vendor: bool,
}

/// One side read by one reader.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRead {
    pub side: Side,
    pub fields: Vec<RawField>,
}

impl RawRead {
    pub fn get(&self, name: &str) -> Option<&RawField> {
        self.fields
            .iter()
            .find(|f| f.name == name && !f.text.trim().is_empty())
    }
}
