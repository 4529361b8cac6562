//! Properties of plate parsing over generated plates of every format.

use domain::plate::{PlateCategory, authority_of, parse, provinces};
use proptest::prelude::*;

const SERIAL: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A province abbreviation and one of its assigned issuing letters.
fn prefix() -> impl Strategy<Value = (char, char)> {
    let assigned: Vec<(char, char)> = provinces()
        .iter()
        .flat_map(|p| {
            LETTERS
                .iter()
                .map(move |l| (p.abbreviation, char::from(*l)))
        })
        .filter(|(p, l)| authority_of(*p, *l).is_some())
        // 粤Z carries only 港/澳 plates.
        .filter(|(p, l)| (*p, *l) != ('粤', 'Z'))
        .collect();
    prop::sample::select(assigned)
}

/// An ordinary serial: five digits, up to two of them replaced by letters (GA 36-2018).
fn ordinary_serial() -> impl Strategy<Value = String> {
    (
        digits(5),
        prop::collection::vec((0usize..5, prop::sample::select(LETTERS.to_vec())), 0..=3),
    )
        .prop_map(|(d, letters)| {
            let mut v: Vec<char> = d.chars().collect();
            for (i, l) in letters {
                v[i] = char::from(l);
            }
            v.into_iter().collect()
        })
}

fn serial(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SERIAL.to_vec()), len)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn digits(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, len)
        .prop_map(|v| v.into_iter().map(|d| char::from(b'0' + d)).collect())
}

proptest! {
    #[test]
    fn every_ordinary_plate_parses_with_its_authority((p, l) in prefix(), s in ordinary_serial()) {
        let plate = format!("{p}{l}{s}");
        let r = parse(&plate, None);
        prop_assert!(r.valid, "{}: {:?}", plate, r.problems);
        prop_assert_eq!(r.category, Some(PlateCategory::Ordinary));
        let a = r.authority.expect("authority");
        prop_assert_eq!((a.province.abbreviation, a.letter), (p, l));
        prop_assert!(r.color_needed);
    }

    #[test]
    fn an_ordinary_serial_with_four_letters_is_refused(
        (p, l) in prefix(),
        s in serial(5),
    ) {
        prop_assume!(s.chars().filter(char::is_ascii_uppercase).count() >= 4);
        let plate = format!("{p}{l}{s}");
        prop_assert!(!parse(&plate, None).valid, "{}", plate);
    }

    #[test]
    fn every_new_energy_plate_parses(
        (p, l) in prefix(),
        df in prop::sample::select(vec!['D', 'F']),
        second in prop::sample::select(SERIAL.to_vec()),
        d4 in digits(4),
        d5 in digits(5),
    ) {
        let small = format!("{p}{l}{df}{}{d4}", char::from(second));
        let r = parse(&small, None);
        prop_assert!(r.valid, "{}: {:?}", small, r.problems);
        prop_assert_eq!(r.plate_type.map(|t| t.code), Some("52"));
        let large = format!("{p}{l}{d5}{df}");
        let r = parse(&large, None);
        prop_assert!(r.valid, "{}: {:?}", large, r.problems);
        prop_assert_eq!(r.plate_type.map(|t| t.code), Some("51"));
    }

    #[test]
    fn separators_case_and_width_do_not_change_the_answer((p, l) in prefix(), s in serial(5)) {
        let plain = format!("{p}{l}{s}");
        let messy: String = format!(" {p}{}·{} ", l.to_ascii_lowercase(), s.to_ascii_lowercase())
            .chars()
            .map(|c| if c.is_ascii_digit() { char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap_or(c) } else { c })
            .collect();
        let (a, b) = (parse(&plain, None), parse(&messy, None));
        prop_assert_eq!(a.normalized, b.normalized);
        prop_assert_eq!(a.valid, b.valid);
    }

    #[test]
    fn parse_never_panics(input in "\\PC{0,16}") {
        let _ = parse(&input, None);
    }

    #[test]
    fn normalisation_is_idempotent(input in "[ 粤京沪a-zA-Z0-9·\\-ＢＤ１２]{0,12}") {
        let once = domain::plate::normalize(&input).plate;
        prop_assert_eq!(domain::plate::normalize(&once).plate, once.clone());
    }
}
