//! Code-table facts: a merged 使用性质 or 车辆类型 text as its GA code with the text it was
//! read from, the merge's confidence scaled by how sure the reading is, and the
//! alternatives read the same way.

use contracts::axle::common::v1::{Provenance, StringFact};
use contracts::axle::plate::v1::{UsageNature, VehicleTypeCode};

/// 使用性质 (GA 802 codes A-U) from a merged text fact. A text no code matches keeps its
/// original text with an empty code and zero confidence: shown, never guessed.
pub fn usage(fact: StringFact) -> UsageNature {
    let alternatives = fact
        .alternatives
        .iter()
        .map(|a| usage_of(&a.value, a.confidence, a.provenance.clone()))
        .collect();
    UsageNature {
        alternatives,
        ..usage_of(&fact.value, fact.confidence, fact.provenance)
    }
}

fn usage_of(text: &str, confidence: f32, provenance: Option<Provenance>) -> UsageNature {
    let matched = domain::usage::usage_from_text(text);
    UsageNature {
        code: matched
            .as_ref()
            .map(|m| m.usage.code.to_string())
            .unwrap_or_default(),
        name_zh: matched
            .as_ref()
            .map(|m| m.usage.name_zh.to_owned())
            .unwrap_or_default(),
        name: matched
            .as_ref()
            .map(|m| m.usage.name.to_owned())
            .unwrap_or_default(),
        confidence: confidence * matched.as_ref().map_or(0.0, |m| m.confidence),
        original_text: text.to_owned(),
        provenance,
        alternatives: Vec::new(),
    }
}

/// 车辆类型 (GA 24.4 codes, e.g. K33) from a merged text fact; `None` when no code matches.
pub fn vehicle_type(fact: &StringFact) -> Option<VehicleTypeCode> {
    let m = domain::vehicle_type::vehicle_type_from_text(&fact.value)?;
    Some(VehicleTypeCode {
        code: m.vehicle_type.code.to_owned(),
        name_zh: m.vehicle_type.name_zh.to_owned(),
        original_text: fact.value.clone(),
        confidence: fact.confidence * m.confidence,
        provenance: fact.provenance.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::common::v1::Alternative;

    #[test]
    fn usage_texts_become_codes_with_their_alternatives() {
        let u = usage(StringFact {
            value: "非营运".to_owned(),
            confidence: 0.8,
            alternatives: vec![Alternative {
                value: "营转非".to_owned(),
                confidence: 0.3,
                ..Alternative::default()
            }],
            ..StringFact::default()
        });
        assert_eq!((u.code.as_str(), u.original_text.as_str()), ("A", "非营运"));
        assert!(u.confidence > 0.0 && u.confidence <= 0.8);
        assert_eq!(u.alternatives[0].code, "L", "营业转非营业");
        let unknown = usage(StringFact {
            value: "营运".to_owned(),
            confidence: 0.8,
            ..StringFact::default()
        });
        assert_eq!(unknown.code, "", "commercial, but no code says which kind");
        assert!(unknown.confidence.abs() < f32::EPSILON);
    }

    #[test]
    fn vehicle_types_become_codes() {
        let t = vehicle_type(&StringFact {
            value: "小型轿车".to_owned(),
            confidence: 0.9,
            ..StringFact::default()
        })
        .expect("K33");
        assert_eq!(t.code, "K33");
        assert!(
            vehicle_type(&StringFact {
                value: "飞船".to_owned(),
                ..StringFact::default()
            })
            .is_none()
        );
    }
}
