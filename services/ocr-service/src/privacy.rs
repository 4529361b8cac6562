//! What RecognizeVehicleLicense reveals: the owner's name, the address, the engine
//! number and the full VIN are masked unless the deployment serves callers entitled to
//! them. The text as read (`Reading.text`) and check messages are masked the same way,
//! so a masked value never shows in full anywhere in the answer.

use contracts::axle::ocr::v1::{LicenseBack, LicenseFront, TextField};

use crate::config::Privacy;

/// An address to its first 6 characters (province and city), the rest starred.
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.trim().chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 6 { *c } else { '*' })
        .collect()
}

fn mask(field: Option<&mut TextField>, how: impl Fn(&str) -> String) {
    if let Some(f) = field {
        f.value = how(&f.value);
        if let Some(r) = f.reading.as_mut() {
            r.text = how(&r.text);
            if let Some(c) = r.cross_check.as_mut() {
                c.message = domain::pii::mask_identifiers(&c.message);
            }
        }
    }
}

/// What an internal caller (holding the internal token) is shown: the identifiers it
/// goes on with (the VIN to decode, the engine number a city's violation rule asks for)
/// in full; the owner's name and address as for anyone.
pub fn for_internal(p: &Privacy) -> Privacy {
    Privacy {
        reveal_full_vin: true,
        reveal_engine_number: true,
        ..p.clone()
    }
}

pub fn front(f: &mut LicenseFront, p: &Privacy) {
    if !p.reveal_owner {
        mask(f.owner.as_mut(), domain::pii::mask_name);
    }
    if !p.reveal_address {
        mask(f.address.as_mut(), mask_address);
    }
    if !p.reveal_engine_number {
        mask(f.engine_number.as_mut(), domain::pii::mask_tail4);
    }
    if !p.reveal_full_vin {
        mask(f.vin.as_mut(), |v| {
            domain::pii::mask_vin(&domain::vin::normalize(v))
        });
    }
}

pub fn back(b: &mut LicenseBack, p: &Privacy) {
    // Remarks are free text: an ID, phone or VIN written there is masked by its shape
    // (no caller is entitled to ID and phone numbers).
    if !(p.reveal_owner && p.reveal_full_vin) {
        mask(b.remarks.as_mut(), domain::pii::mask_identifiers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::ocr::v1::Reading;

    #[expect(clippy::unnecessary_wraps, reason = "the message's fields are Options")]
    fn field(v: &str) -> Option<TextField> {
        Some(TextField {
            value: v.to_owned(),
            reading: Some(Reading {
                text: v.to_owned(),
                ..Reading::default()
            }),
        })
    }

    #[test]
    fn personal_fields_are_masked_by_default() {
        let mut f = LicenseFront {
            owner: field("艾米"),
            address: field("深圳市南山区高新科技园科技中一路腾云大厦"),
            engine_number: field("8B12345"),
            vin: field("LSVAM4182N2123456"),
            ..LicenseFront::default()
        };
        front(&mut f, &Privacy::default());
        let v = |t: &Option<TextField>| {
            t.as_ref().map(|t| {
                (
                    t.value.clone(),
                    t.reading
                        .as_ref()
                        .map(|r| r.text.clone())
                        .unwrap_or_default(),
                )
            })
        };
        assert_eq!(v(&f.owner), Some(("艾*".to_owned(), "艾*".to_owned())));
        assert_eq!(
            v(&f.address).map(|a| a.0),
            Some(format!("深圳市南山区{}", "*".repeat(14)))
        );
        assert_eq!(v(&f.engine_number).map(|a| a.0), Some("***2345".to_owned()));
        assert_eq!(v(&f.vin).map(|a| a.1), Some("LSV**********3456".to_owned()));
        let mut open = LicenseFront {
            owner: field("艾米"),
            ..LicenseFront::default()
        };
        front(
            &mut open,
            &Privacy {
                reveal_owner: true,
                ..Privacy::default()
            },
        );
        assert_eq!(v(&open.owner).map(|a| a.0), Some("艾米".to_owned()));
    }
}
