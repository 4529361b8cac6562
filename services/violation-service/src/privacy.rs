//! What QueryViolations reveals: the engine number and VIN it echoes (in notes and
//! records' unmapped fields) masked unless the deployment serves callers entitled to
//! them; owner names, ID-card and phone numbers in fields the vendor's document does not
//! describe always masked.

use contracts::axle::violation::v1::QueryViolationsResponse;

use crate::config::Privacy;

/// Masks what the deployment does not reveal, in place.
pub fn apply(resp: &mut QueryViolationsResponse, privacy: &Privacy, sent: &[&str]) {
    let reveal = domain::pii::Reveal {
        full_vin: privacy.reveal_full_vin,
        engine_number: privacy.reveal_engine_number,
    };
    let fields = resp
        .violations
        .iter_mut()
        .flat_map(|v| v.unmapped_fields.iter_mut())
        .chain(resp.unmapped_fields.iter_mut());
    for f in fields {
        f.value = domain::pii::mask_vendor_field(&f.name, &f.value, reveal);
    }
    // A note may quote a number as given; numbers are never needed in a note.
    for note in &mut resp.notes {
        for number in sent.iter().filter(|n| n.len() >= 4) {
            if note.contains(number) {
                *note = note.replace(number, &domain::pii::mask_tail4(number));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use contracts::axle::plate::v1::VendorField;

    use super::*;

    #[test]
    fn numbers_in_notes_and_vendor_fields_are_masked() {
        let mut resp = QueryViolationsResponse {
            notes: vec!["engine_number: AD50EG081600062 trimmed".to_owned()],
            unmapped_fields: vec![VendorField {
                source: "apistore".into(),
                name: "frameNo".into(),
                value: "LNBSCC3H8GF308384".into(),
            }],
            ..QueryViolationsResponse::default()
        };
        apply(&mut resp, &Privacy::default(), &["AD50EG081600062"]);
        assert!(!resp.notes[0].contains("AD50EG08"), "{}", resp.notes[0]);
        assert!(resp.notes[0].contains("0062"), "{}", resp.notes[0]);
        assert_ne!(resp.unmapped_fields[0].value, "LNBSCC3H8GF308384");
    }
}
