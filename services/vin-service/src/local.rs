//! The local decode (domain::vin) in contract types. Local facts cost nothing and carry
//! provenance `local` with the table or rule that produced them.

use contracts::axle::common::v1::Provenance;
use contracts::axle::vin::v1::{
    CheckDigit, CheckDigitState, Country, Make, MakeBasis, MakeName, Manufacturer, ModelYear,
    ModelYearBasis, ValidateVinResponse, VinProblem, VinProblemKind,
};
use domain::vin as dv;

/// Source name of facts computed in-process.
pub const SOURCE: &str = "local";

pub fn local_provenance(rule: &str) -> Provenance {
    Provenance {
        source: SOURCE.to_owned(),
        local: true,
        rule: rule.to_owned(),
        fetched_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Provenance::default()
    }
}

pub fn to_response(r: &dv::VinReport) -> ValidateVinResponse {
    ValidateVinResponse {
        valid: r.valid,
        normalized_vin: r.normalized.clone(),
        problems: r
            .problems
            .iter()
            .map(|p| problem(p, &r.normalized))
            .collect(),
        check_digit: Some(CheckDigit {
            state: match r.check_digit.state {
                dv::CheckDigitState::Valid => CheckDigitState::Valid,
                dv::CheckDigitState::Invalid => CheckDigitState::Invalid,
                dv::CheckDigitState::NotUsed => CheckDigitState::NotUsed,
                dv::CheckDigitState::NotChecked => CheckDigitState::NotChecked,
            } as i32,
            expected: r.check_digit.expected.map(String::from).unwrap_or_default(),
            actual: r.check_digit.actual.map(String::from).unwrap_or_default(),
            mandatory: r.check_digit.mandatory,
        }),
        model_year: r.model_year.as_ref().map(|y| ModelYear {
            year: y.year,
            candidates: y.candidates.clone(),
            code: y.code.to_string(),
            basis: match y.basis {
                dv::ModelYearBasis::Position7 => ModelYearBasis::Position7,
                dv::ModelYearBasis::MostRecent => ModelYearBasis::MostRecent,
            } as i32,
        }),
        manufacturer: r.manufacturer.as_ref().map(|m| Manufacturer {
            wmi: m.wmi.clone(),
            name: m.name.clone(),
            name_zh: m.name_zh.clone().unwrap_or_default(),
            vehicle_type: m.vehicle_type.clone().unwrap_or_default(),
            provenance: Some(local_provenance(rule_of(m.source))),
            legal_name: m.legal_name.clone().unwrap_or_default(),
            release: m.release.unwrap_or_default().to_owned(),
        }),
        make: r.make.as_ref().map(make),
        country: r.country.as_ref().map(|c| Country {
            code: c.code.to_owned(),
            name: c.name.to_owned(),
            name_zh: c.name_zh.to_owned(),
        }),
        wmi: r.wmi.clone().unwrap_or_default(),
        vds: r.vds.clone().unwrap_or_default(),
        vis: r.vis.clone().unwrap_or_default(),
        region: r.region.unwrap_or_default().to_owned(),
        plant_code: r.plant_code.map(String::from).unwrap_or_default(),
        serial_number: r.serial_number.clone().unwrap_or_default(),
        suggested_vin: r.suggested_vin.clone().unwrap_or_default(),
    }
}

fn make(m: &dv::MakeReport) -> Make {
    let name = |n: &dv::Make| MakeName {
        name: n.name.clone(),
        name_zh: n.name_zh.clone(),
        name_zh_latin: n.name_zh_latin,
    };
    let named = m.make.as_ref().map(name).unwrap_or_default();
    Make {
        name: named.name,
        name_zh: named.name_zh,
        name_zh_latin: named.name_zh_latin,
        candidates: m.candidates.iter().map(name).collect(),
        basis: match m.basis {
            dv::MakeBasis::Wmi => MakeBasis::Wmi,
            dv::MakeBasis::Vds => MakeBasis::Vds,
        } as i32,
        provenance: Some(local_provenance(make_rule_of(m.source))),
    }
}

/// Provenance rule names for the make tables.
pub fn make_rule_of(table: &str) -> &'static str {
    match table {
        "vpic" => "vpic-wmi-make",
        "vpic-vds" => "vpic-vds-make",
        "vininfo" => "vininfo-wmi",
        "china-makes" => "china-make-overlay",
        _ => "make",
    }
}

/// Provenance rule names for the WMI tables.
pub fn rule_of(table: &str) -> &'static str {
    match table {
        "china-overlay" => "china-wmi-overlay",
        "vininfo" => "vininfo-wmi",
        "vpic" => "vpic-wmi",
        "na-heavy" => "na-heavy-truck-wmi",
        _ => "wmi",
    }
}

fn problem(p: &dv::VinProblem, normalized: &str) -> VinProblem {
    // An unknown WMI is three characters (six for a small maker), not the first one.
    let found = if p.kind == dv::VinProblemKind::UnknownWmi {
        let wmi = normalized.get(..3).unwrap_or_default();
        match (normalized.as_bytes().get(2), normalized.get(11..14)) {
            (Some(b'9'), Some(tail)) => format!("{wmi}{tail}"),
            _ => wmi.to_owned(),
        }
    } else {
        p.found.map(String::from).unwrap_or_default()
    };
    VinProblem {
        position: u32::try_from(p.position).unwrap_or(0),
        kind: problem_kind(p.kind) as i32,
        found,
        expected: p.expected.clone(),
        suggestion: p.suggestion.clone().unwrap_or_default(),
        message: p.message.clone(),
    }
}

pub(crate) fn problem_kind(k: dv::VinProblemKind) -> VinProblemKind {
    match k {
        dv::VinProblemKind::WrongLength => VinProblemKind::WrongLength,
        dv::VinProblemKind::InvalidCharacter => VinProblemKind::InvalidCharacter,
        dv::VinProblemKind::ForbiddenLetter => VinProblemKind::ForbiddenLetter,
        dv::VinProblemKind::CheckDigitMismatch => VinProblemKind::CheckDigitMismatch,
        dv::VinProblemKind::InvalidModelYear => VinProblemKind::InvalidModelYear,
        dv::VinProblemKind::UnknownWmi => VinProblemKind::UnknownWmi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_wmi_is_reported_as_the_wmi() {
        // (LSB, which this test used before, is in vPIC's register now.)
        let r = to_response(&dv::validate("LSXX50000S0000500", 2026));
        let p = r
            .problems
            .iter()
            .find(|p| p.kind == VinProblemKind::UnknownWmi as i32)
            .expect("unknown WMI");
        assert_eq!(p.found, "LSX");
    }

    #[test]
    fn the_make_is_the_brand_in_both_languages_or_the_possible_makes() {
        let r = to_response(&dv::validate("1HGCM82633A004352", 2026));
        let m = r.make.expect("make");
        assert_eq!((m.name.as_str(), m.name_zh.as_str()), ("Honda", "本田"));
        assert_eq!(m.basis, MakeBasis::Wmi as i32);
        assert_eq!(
            m.provenance.map(|p| p.rule),
            Some("vpic-wmi-make".to_owned())
        );
        // 1FT carries Ford and (in vPIC, a few years) Lincoln: the VDS says Ford.
        let m = to_response(&dv::validate("1FTFW1ET5DFC10312", 2026))
            .make
            .expect("make");
        assert_eq!((m.name.as_str(), m.name_zh.as_str()), ("Ford", "福特"));
        assert_eq!(
            m.provenance.map(|p| p.rule),
            Some("vpic-vds-make".to_owned())
        );
        let m = to_response(&dv::validate("1C4PJMCB5GW123456", 2026))
            .make
            .expect("make");
        assert_eq!((m.name.as_str(), m.basis), ("Jeep", MakeBasis::Vds as i32));
        let m = to_response(&dv::validate("LFV2A21K6A4123456", 2026))
            .make
            .expect("make");
        assert!(m.name.is_empty(), "{m:?}");
        let zh: Vec<&str> = m.candidates.iter().map(|c| c.name_zh.as_str()).collect();
        assert_eq!(zh, ["大众", "奥迪", "捷达"]);
        assert!(!m.candidates.iter().any(|c| c.name_zh_latin), "{m:?}");
        assert_eq!(
            m.provenance.map(|p| p.rule),
            Some("china-make-overlay".to_owned())
        );
        // A brand with no Chinese name in use: the Latin name in both, flagged.
        let m = to_response(&dv::validate("4X4TSMB26JA123456", 2026))
            .make
            .expect("make");
        assert_eq!(
            (m.name.as_str(), m.name_zh.as_str(), m.name_zh_latin),
            ("Forest River", "Forest River", true)
        );
        // A VIN that is not 17 VIN characters has no make.
        assert!(to_response(&dv::validate("1G1ZD5ST0", 2026)).make.is_none());
    }

    #[test]
    fn manufacturer_provenance_names_the_table() {
        for (vin, rule) in [
            ("TMBAG7NE0J0000001", "vininfo-wmi"),
            ("1HGCM82633A004352", "vpic-wmi"),
            ("LSVAM4182N2123456", "china-wmi-overlay"),
            // vPIC's register names every maker of the heavy-truck list now (the list
            // still sets their type), so "na-heavy-truck-wmi" names none today.
            ("1HTMMAAN23H601246", "vpic-wmi"),
        ] {
            let r = to_response(&dv::validate(vin, 2026));
            let p = r
                .manufacturer
                .and_then(|m| m.provenance)
                .expect("manufacturer");
            assert_eq!((p.local, p.rule.as_str()), (true, rule), "{vin}");
        }
    }
}
