//! Properties of VIN and plate normalisation over arbitrary text: no control character
//! ever survives it (one would act on the terminal that shows `normalized_vin`), and
//! control or invisible characters change nothing else, wherever they are.

use domain::text::is_control_or_invisible;
use proptest::prelude::*;

/// Every control character (C0, DEL, C1) and a sample of the invisible format ones.
fn noise() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_map(|u| char::from_u32(u).unwrap_or('\0')),
        Just('\u{7F}'),
        (0x80u32..0xA0).prop_map(|u| char::from_u32(u).unwrap_or('\0')),
        prop::sample::select(vec![
            '\u{AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{200F}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{E0001}',
            '\u{E0041}',
        ]),
    ]
}

/// Text with noise mixed in: arbitrary characters of any script, plus controls.
fn noisy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![any::<char>(), noise()], 0..40)
        .prop_map(|v| v.into_iter().collect())
}

/// Visible text with noise inserted: (the text, the text with the noise).
fn text_and_noisy_copy() -> impl Strategy<Value = (String, String)> {
    (
        "\\PC{0,30}",
        prop::collection::vec((any::<prop::sample::Index>(), noise()), 1..6),
    )
        .prop_map(|(clean, inserts)| {
            let mut chars: Vec<char> = clean.chars().collect();
            for (at, c) in inserts {
                chars.insert(at.index(chars.len() + 1), c);
            }
            (clean, chars.into_iter().collect())
        })
}

proptest! {
    #[test]
    fn no_control_character_survives_vin_normalisation(input in noisy_text()) {
        let out = domain::vin::normalize(&input);
        prop_assert!(!out.chars().any(is_control_or_invisible), "{:?} -> {:?}", input, out);
        let r = domain::vin::validate(&input, 2026);
        prop_assert!(!r.normalized.chars().any(is_control_or_invisible), "{:?}", r.normalized);
    }

    #[test]
    fn no_control_character_survives_plate_normalisation(input in noisy_text()) {
        let out = domain::plate::normalize(&input).plate;
        prop_assert!(!out.chars().any(is_control_or_invisible), "{:?} -> {:?}", input, out);
        let r = domain::plate::parse(&input, None);
        prop_assert!(
            !r.normalized.chars().any(is_control_or_invisible),
            "{:?}",
            r.normalized
        );
    }

    #[test]
    fn control_characters_change_nothing_else_in_a_vin((clean, noisy) in text_and_noisy_copy()) {
        prop_assert_eq!(domain::vin::normalize(&noisy), domain::vin::normalize(&clean));
    }

    #[test]
    fn control_characters_change_nothing_else_in_a_plate((clean, noisy) in text_and_noisy_copy()) {
        prop_assert_eq!(domain::plate::normalize(&noisy), domain::plate::normalize(&clean));
    }
}
