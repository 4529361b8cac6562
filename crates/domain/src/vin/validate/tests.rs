use super::*;

const NOW: i32 = 2026;

#[test]
fn the_seed_sample_is_valid() {
    let r = validate("WP0AA2978BL012976", NOW);
    assert!(r.valid, "{r:?}");
    assert_eq!(r.check_digit.state, CheckDigitState::Valid);
    assert_eq!(r.model_year.as_ref().map(|y| y.year), Some(2011));
    assert_eq!(r.country.map(|c| c.code), Some("DE"));
    assert_eq!(r.region, Some("Europe"));
    assert_eq!(r.wmi.as_deref(), Some("WP0"));
    assert_eq!(r.plant_code, Some('L'));
    assert_eq!(r.serial_number.as_deref(), Some("012976"));
}

#[test]
fn the_seed_request_typo_is_caught_and_fixed() {
    // Seed 001's request example spells the sample VIN with the letter O.
    let r = validate("WPOAA2978BL012976", NOW);
    assert!(!r.valid);
    let p = &r.problems[0];
    assert_eq!((p.position, p.kind), (3, VinProblemKind::ForbiddenLetter));
    assert_eq!(p.suggestion.as_deref(), Some("replace O with 0"));
    assert_eq!(r.suggested_vin.as_deref(), Some("WP0AA2978BL012976"));
}

#[test]
fn north_american_check_digit_is_mandatory() {
    assert!(validate("1HGCM82633A004352", NOW).valid);
    let r = validate("1HGCM82643A004352", NOW);
    assert!(!r.valid);
    assert_eq!(r.check_digit.state, CheckDigitState::Invalid);
    assert_eq!(r.check_digit.expected, Some('3'));
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == VinProblemKind::CheckDigitMismatch && p.position == 9)
    );
}

#[test]
fn pasted_noise_and_look_alike_scripts_are_cleaned() {
    // Cyrillic М and А, a byte-order mark and a zero-width space.
    let r = validate("\u{FEFF}1HGCМ82633А0043\u{200B}52", NOW);
    assert!(r.valid, "{r:?}");
    assert_eq!(r.normalized, "1HGCM82633A004352");
}

#[test]
fn a_non_ascii_character_does_not_shift_positions() {
    let r = validate("1HGC\u{00E4}82633A004352", NOW);
    assert!(!r.valid);
    assert_eq!(
        r.check_digit.actual,
        Some('3'),
        "position 9 counted in characters"
    );
    let p = &r.problems[0];
    assert_eq!((p.position, p.kind), (5, VinProblemKind::InvalidCharacter));
    assert_eq!(r.country.map(|c| c.code), Some("US"));
}

#[test]
fn position_10_letters_get_no_digit_reading() {
    // O at position 10: its look-alike 0 is not a year code.
    let r = validate("WP0AA2978OL012976", NOW);
    let p = r
        .problems
        .iter()
        .find(|p| p.position == 10)
        .expect("problem");
    assert_eq!(p.kind, VinProblemKind::ForbiddenLetter);
    assert!(p.suggestion.is_none(), "{p:?}");
    assert!(r.suggested_vin.is_none());
    assert_eq!(
        r.check_digit.expected, None,
        "no single reading to compute it on"
    );
    // I at position 10 reads as 1, a year code.
    let r = validate("1HGCM8263IA004352", NOW);
    let p = r
        .problems
        .iter()
        .find(|p| p.position == 10)
        .expect("problem");
    assert!(p.suggestion.is_some());
}

#[test]
fn a_look_alike_elsewhere_keeps_country_and_expected_check_digit() {
    let r = validate("1HGCM82633A0O4352", NOW);
    assert!(!r.valid);
    assert_eq!(r.country.map(|c| c.code), Some("US"));
    assert_eq!(r.region, Some("North America"));
    assert_eq!(r.check_digit.state, CheckDigitState::NotChecked);
    assert_eq!(
        r.check_digit.expected,
        Some('3'),
        "computed on the corrected VIN"
    );
    assert_eq!(r.suggested_vin.as_deref(), Some("1HGCM82633A004352"));
}

#[test]
fn a_north_american_year_beyond_next_year_is_invalid() {
    // Letter at position 7 with 'Y' at 10 reads 2030.
    let vin = with_check_digit("1G1ZT5ST0YF000000");
    let r = validate(&vin, NOW);
    assert!(!r.valid, "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.position == 10 && p.kind == VinProblemKind::InvalidModelYear)
    );
}

#[test]
fn heavy_trucks_are_dated_by_recency() {
    let vin = with_check_digit("1XKYD49X0HJ123456");
    let r = validate(&vin, NOW);
    assert!(r.valid, "{r:?}");
    let y = r.model_year.expect("year");
    assert_eq!((y.year, y.candidates.clone()), (2017, vec![1987, 2017]));
    let r = validate("7SAYGDEE7NF449780", NOW);
    assert_eq!(r.country.map(|c| c.code), Some("US"));
    assert_eq!(r.region, Some("North America"));
}

#[test]
fn an_unknown_small_maker_names_the_six_character_key() {
    let r = validate("VF9AB12C18M111123", NOW);
    let p = r
        .problems
        .iter()
        .find(|p| p.kind == VinProblemKind::UnknownWmi)
        .expect("unknown WMI");
    assert!(p.message.contains("VF9111"), "{}", p.message);
    assert!(r.manufacturer.is_none());
}

#[test]
fn chinese_check_digit_is_mandatory() {
    // Both of China's ranges: L and the newer H.
    for base in ["LSVAG2180E2100010", "HXMAA1230RA123456"] {
        let vin = with_check_digit(base);
        assert!(validate(&vin, NOW).valid, "{vin}");
        let mut wrong = vin.clone().into_bytes();
        wrong[12] = if wrong[12] == b'1' { b'2' } else { b'1' };
        let wrong = String::from_utf8(wrong).expect("ascii");
        assert_eq!(
            validate(&wrong, NOW).check_digit.state,
            CheckDigitState::Invalid,
            "{wrong}"
        );
    }
}

#[test]
fn european_vins_without_check_digit_are_not_invalid() {
    // Mercedes-Benz and many European makers do not use position 9 as a check digit.
    let r = validate("WDB2030461A123456", NOW);
    assert!(r.valid, "{r:?}");
    assert!(matches!(
        r.check_digit.state,
        CheckDigitState::NotUsed | CheckDigitState::Valid
    ));
    assert!(!r.check_digit.mandatory);
    let r = validate("VF1RFB00X56789012", NOW);
    assert!(r.valid);
}

#[test]
fn each_bad_position_is_reported() {
    let r = validate("1HG*M82633AI04352", NOW);
    let positions: Vec<(usize, VinProblemKind)> =
        r.problems.iter().map(|p| (p.position, p.kind)).collect();
    assert_eq!(
        positions,
        vec![
            (4, VinProblemKind::InvalidCharacter),
            (12, VinProblemKind::ForbiddenLetter)
        ]
    );
    assert_eq!(r.check_digit.state, CheckDigitState::NotChecked);
    assert!(
        r.suggested_vin.is_none(),
        "an invalid character cannot be fixed automatically"
    );
}

#[test]
fn wrong_length_and_garbage_never_panic() {
    for input in ["", "ABC", "1HGCM82633A0043521", "😀😀😀", "\u{0}", "ＷＰ０"] {
        let r = validate(input, NOW);
        assert!(!r.valid, "{input:?}");
    }
    let r = validate("1HGCM82633A00435", NOW);
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == VinProblemKind::WrongLength)
    );
}

#[test]
fn full_width_and_separators() {
    let r = validate("  ｗｐ０ａａ－２９７８ＢＬ０１２９７６ ", NOW);
    assert!(r.valid);
    assert_eq!(r.normalized, "WP0AA2978BL012976");
}

#[test]
fn invalid_model_year_code_where_mandatory() {
    let mut v = with_check_digit("LSVAG2180U2100010").into_bytes();
    v[8] = compute_check_digit(std::str::from_utf8(&v).expect("ascii")).expect("cd") as u8;
    let v = String::from_utf8(v).expect("ascii");
    let r = validate(&v, NOW);
    assert!(!r.valid);
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == VinProblemKind::InvalidModelYear && p.position == 10)
    );
}

/// Real VINs (check digits computed, not remembered), plus published samples that turn
/// out to be wrong: a table keeps the expectations visible.
#[test]
fn real_vins() {
    use CheckDigitState::{Invalid, NotUsed, Valid};
    // (vin, valid, check-digit state, expected digit, model year)
    let table: &[(&str, bool, CheckDigitState, char, Option<i32>)] = &[
        ("1HGCM82633A004352", true, Valid, '3', Some(2003)),
        ("1M8GDM9AXKP042788", true, Valid, 'X', Some(1989)),
        ("3C6JR7AT4EG248404", true, Valid, '4', Some(2014)),
        ("WP0AA2978BL012976", true, Valid, '8', Some(2011)),
        ("WBA5B3C50GG252337", true, Valid, '0', Some(2016)),
        ("ZFF76ZHT3E0201920", true, Valid, '3', Some(2014)),
        // Seed 003/004 samples of BAIC (China: the check digit is mandatory).
        ("LNBSCC3H5JT920714", true, Valid, '5', Some(2018)),
        ("LNBSCC3H8GF308384", true, Valid, '8', Some(2016)),
        // A Tesla VIN as printed in a public README: its check digit is wrong.
        ("5YJ3E1EA5KF000316", false, Invalid, '0', Some(2019)),
        // Seed sample "LSJA24U66JA123456" is made up: mandatory check digit fails.
        ("LSJA24U66JA123456", false, Invalid, '0', Some(2018)),
        // European makers need not use position 9: a mismatch is NotUsed, not invalid.
        ("WDB2030461A123456", true, NotUsed, 'X', Some(2001)),
        // Real VINs from public fleet rosters and decoder test suites (see
        // data/wmi_na_heavy.tsv): heavy trucks by recency, light pickups by position 7.
        ("1HTMMAAN23H601246", true, Valid, '2', Some(2003)),
        ("1M2AX07C6GM030635", true, Valid, '6', Some(2016)),
        ("2NP2HJ7X8JM493059", true, Valid, '8', Some(2018)),
        ("2NKHHM6X2EM406412", true, Valid, '2', Some(2014)),
        ("1GCEC14W6TZ228585", true, Valid, '6', Some(1996)),
        ("1FTJW36F9TEA02868", true, Valid, '9', Some(1996)),
        ("1N6SD16S6NC347945", true, Valid, '6', Some(1992)),
        // Tesla Austin: 7SA is a US WMI, so its check digit is mandatory.
        ("7SAYGDEE7NF449780", true, Valid, '7', Some(2022)),
        ("7SAYGDEE7NF449781", false, Invalid, '9', Some(2022)),
        // Li Auto's current WMI.
        ("HLX13B176S1200049", true, Valid, '6', Some(2025)),
        // SGMW's and Leapmotor's new-energy WMIs.
        ("LK6ADAE15ME534998", true, Valid, '5', Some(2021)),
        ("LFZ63AL45MD004265", true, Valid, '5', Some(2021)),
    ];
    for &(vin, valid, state, expected, year) in table {
        let r = validate(vin, NOW);
        assert_eq!(r.valid, valid, "{vin}: {:?}", r.problems);
        assert_eq!(r.check_digit.state, state, "{vin}");
        assert_eq!(r.check_digit.expected, Some(expected), "{vin}");
        assert_eq!(r.model_year.map(|y| y.year), year, "{vin}");
    }
}

#[test]
fn small_makers_are_found_by_positions_12_to_14() {
    // "xx9" WMIs: third character 9, the maker is 1E9 + positions 12-14 (690: Ecocar).
    let vin = with_check_digit("1E9AA1234PA690123");
    let r = validate(&vin, NOW);
    assert!(r.valid, "{r:?}");
    let m = r.manufacturer.expect("small maker");
    assert_eq!(m.wmi, "1E9690");
    assert_eq!(m.source, "vpic");
    // Same 3 characters, other positions 12-14: not that maker.
    let other = validate(&with_check_digit("1E9AA1234PA111123"), NOW);
    assert!(
        other
            .manufacturer
            .as_ref()
            .is_none_or(|m| m.wmi != "1E9690")
    );
}

#[test]
fn invalid_year_code_outside_na_and_china_is_a_note() {
    // Position 10 'Z' on a German VIN: no year, still valid, one note at position 10.
    let r = validate("WDB203046Z1123456", NOW);
    assert!(r.valid, "{r:?}");
    assert!(r.model_year.is_none());
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == VinProblemKind::InvalidModelYear && p.position == 10)
    );
}

#[test]
fn both_year_cycles() {
    // Position 7 numeric -> 1980-2009, letter -> 2010-2039 (49 CFR 565.15(a)).
    let old = with_check_digit("1G1JC5240P7000001");
    let new = with_check_digit("1G1JC5SB0P7000001");
    assert_eq!(validate(&old, NOW).model_year.map(|y| y.year), Some(1993));
    assert_eq!(validate(&new, NOW).model_year.map(|y| y.year), Some(2023));
}

pub(crate) fn with_check_digit(vin: &str) -> String {
    let mut b = vin.as_bytes().to_vec();
    b[8] = compute_check_digit(vin).expect("17 valid chars") as u8;
    String::from_utf8(b).expect("ascii")
}
