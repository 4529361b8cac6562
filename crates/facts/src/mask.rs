//! Masking applied to a built fact: its value, its alternatives and the field's entries in
//! the disagreement list, so that a masked identifier never shows in full anywhere.

use contracts::axle::common::v1::{Disagreement, StringFact};

/// Applies `mask` to a fact, its alternatives and its disagreement entries.
pub fn mask_field(
    fact: Option<&mut StringFact>,
    disagreements: &mut [Disagreement],
    field: &str,
    mask: impl Fn(&str) -> String,
) {
    if let Some(f) = fact {
        f.value = mask(&f.value);
        for a in &mut f.alternatives {
            a.value = mask(&a.value);
        }
    }
    for d in disagreements.iter_mut().filter(|d| d.field == field) {
        d.chosen_value = mask(&d.chosen_value);
        for a in &mut d.values {
            a.value = mask(&a.value);
        }
    }
}
