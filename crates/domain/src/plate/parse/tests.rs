use super::*;

fn code(r: &PlateReport) -> Option<&'static str> {
    r.plate_type.map(|t| t.code)
}

#[test]
fn an_ordinary_serial_has_at_most_three_letters() {
    for plate in ["京AB1C23", "粤BA1234", "粤BZ7XT2", "苏ETSD12", "川ABGN98"] {
        assert!(parse(plate, None).valid, "{plate}");
    }
    for plate in ["粤BABCDE", "粤BAB1CD"] {
        let r = parse(plate, None);
        assert!(!r.valid, "{plate}");
        assert!(
            r.problems
                .iter()
                .any(|p| p.message.contains("fourth letter")),
            "{r:?}"
        );
    }
}

#[test]
fn emergency_plates_name_no_issuing_city() {
    // Car: province + rescue-team code + 4 + 应急; motorcycle: 应急 + province + 3
    // digits + team code.
    for plate in ["京X1234应急", "粤B1234应急", "应急京123A", "应急·粤·456B"] {
        let r = parse(plate, None);
        assert!(r.valid, "{plate}: {:?}", r.problems);
        assert_eq!(r.category, Some(PlateCategory::Emergency));
        assert!(r.province.is_some() && r.authority.is_none(), "{plate}");
    }
    for plate in [
        "京A12345应急",
        "京A123应急",
        "应急京1234A",
        "应急X123A",
        "应急京12A3",
    ] {
        assert!(!parse(plate, None).valid, "{plate}");
    }
}

#[test]
fn yue_z_is_only_hong_kong_and_macao() {
    assert!(parse("粤Z1234港", None).valid);
    assert!(parse("粤Z1234澳", None).valid);
    let r = parse("粤Z12345", None);
    assert!(!r.valid);
    assert!(
        r.problems
            .iter()
            .any(|p| p.message.contains("粤Z is issued only"))
    );
}

#[test]
fn armed_police_plates_are_white() {
    assert!(parse("WJ粤12345", Some(PlateColor::White)).valid);
    assert!(!parse("WJ粤12345", Some(PlateColor::Blue)).valid);
    // O typed for 0 in the serial.
    let r = parse("WJ粤O2345", None);
    assert!(r.valid, "{r:?}");
    assert_eq!(r.normalized, "WJ粤02345");
}

#[test]
fn ordinary_plates_need_the_colour_to_decide_01_or_02() {
    let r = parse("粤B12345", None);
    assert!(r.valid, "{r:?}");
    assert_eq!(r.category, Some(PlateCategory::Ordinary));
    assert_eq!(r.authority.map(|a| a.city), Some("深圳市"));
    assert!(r.color_needed);
    assert_eq!(
        r.candidates.iter().map(|t| t.code).collect::<Vec<_>>(),
        ["02", "01"]
    );
    assert_eq!(code(&parse("粤B12345", Some(PlateColor::Blue))), Some("02"));
    assert_eq!(
        code(&parse("粤B12345", Some(PlateColor::Yellow))),
        Some("01")
    );
    assert!(!parse("粤B12345", Some(PlateColor::Green)).valid);
}

#[test]
fn new_energy_plates() {
    let r = parse("粤BD12345", None);
    assert_eq!(
        (r.category, code(&r)),
        (Some(PlateCategory::NewEnergySmall), Some("52"))
    );
    assert!(r.valid);
    assert!(
        parse("京AF0A123", None)
            .problems
            .iter()
            .any(|p| p.position == 5)
    );
    let r = parse("粤B12345D", None);
    assert_eq!(
        (r.category, code(&r)),
        (Some(PlateCategory::NewEnergyLarge), Some("51"))
    );
    assert!(!parse("粤B12345X", None).valid);
}

#[test]
fn special_suffixes() {
    for (plate, cat, c) in [
        ("粤B1234学", PlateCategory::Coach, Some("16")),
        ("粤B1234警", PlateCategory::Police, Some("23")),
        ("粤B1234挂", PlateCategory::Trailer, Some("15")),
        ("沪A1234领", PlateCategory::Consulate, Some("04")),
        ("粤Z1234港", PlateCategory::HongKong, Some("26")),
        ("粤Z1234澳", PlateCategory::Macao, Some("27")),
        ("京A1234试", PlateCategory::Test, Some("18")),
        ("京A1234超", PlateCategory::Oversize, Some("01")),
        ("粤B1234应急", PlateCategory::Emergency, None),
        ("使014578", PlateCategory::Embassy, Some("03")),
        ("224002使", PlateCategory::Embassy, Some("03")),
        ("WJ粤12345", PlateCategory::ArmedPolice, Some("31")),
    ] {
        let r = parse(plate, None);
        assert!(r.valid, "{plate}: {:?}", r.problems);
        assert_eq!(r.category, Some(cat), "{plate}");
        assert_eq!(code(&r), c, "{plate}");
    }
    assert!(!parse("京A1234港", None).valid, "港 plates are 粤Z only");
}

#[test]
fn military_plates_are_not_supported_rather_than_garbage() {
    for plate in ["VA12345", "KV12345", "北K12345"] {
        let r = parse(plate, None);
        assert_eq!(r.category, Some(PlateCategory::Military), "{plate}");
        assert!(!r.supported && !r.valid);
    }
}

#[test]
fn problems_name_the_position() {
    let r = parse("甲B12345", None);
    assert_eq!(r.problems[0].position, 1);
    let r = parse("XB1234Z", None);
    assert_eq!(r.problems[0].position, 1, "not a military layout: {r:?}");
    let r = parse("粤I12345", None);
    assert_eq!(r.problems[0].position, 2);
    let r = parse("粤B1234", None);
    assert!(r.problems.iter().any(|p| p.position == 0));
    let r = parse("", None);
    assert!(!r.valid);
}

#[test]
fn corrections_are_reported() {
    let r = parse("粤b·O2345", None);
    assert!(r.valid);
    assert_eq!(r.normalized, "粤B02345");
    assert_eq!(r.corrections.len(), 1);
}
