//! What LookupVehicle reveals: VINs and engine numbers masked unless the deployment
//! serves callers entitled to them; owner names, ID-card and phone numbers in fields the
//! vendors' documents do not describe always masked (no caller is entitled yet).

use contracts::axle::plate::v1::LookupVehicleResponse;
use facts::mask::mask_field;

use crate::config::Privacy;

/// Masks a VIN to its WMI and last four characters (anything shorter than a VIN to its
/// last four only, so a fragment never shows most of itself).
pub fn mask_vin(vin: &str) -> String {
    domain::pii::mask_vin(vin)
}

/// Masks an engine number to its last four characters: the number is asked for, with the
/// plate, by violation and registration services, so it identifies the vehicle.
pub fn mask_engine_number(number: &str) -> String {
    domain::pii::mask_tail4(number)
}

/// Applies the deployment's privacy settings to a built record.
pub fn apply(resp: &mut LookupVehicleResponse, privacy: &Privacy) {
    if !privacy.reveal_engine_number {
        mask_field(
            resp.engine_number.as_mut(),
            &mut resp.disagreements,
            "engine_number",
            mask_engine_number,
        );
    }
    // Identifiers and owner data can also arrive in fields the vendor's document does not
    // describe: masked by the key's meaning and by the value's shape.
    let reveal = domain::pii::Reveal {
        full_vin: privacy.reveal_full_vin,
        engine_number: privacy.reveal_engine_number,
    };
    for f in &mut resp.unmapped_fields {
        f.value = domain::pii::mask_vendor_field(&f.name, &f.value, reveal);
    }
    if !privacy.reveal_full_vin {
        mask_field(resp.vin.as_mut(), &mut resp.disagreements, "vin", |v| {
            mask_vin(&domain::vin::normalize(v))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_masked_to_their_tails() {
        assert_eq!(mask_vin("LSJA24U66JA123456"), "LSJ**********3456");
        assert_eq!(mask_vin("ABC"), "***");
        assert_eq!(
            mask_vin("LSVAM418"),
            "****M418",
            "a fragment shows its last 4 only"
        );
        assert_eq!(mask_engine_number("DLF123456"), "*****3456");
        assert_eq!(mask_engine_number(" 1234 "), "****");
        assert_eq!(mask_engine_number("发动机号1234"), "****1234");
    }
}
