//! The local decode (domain::vin) in contract types. Local facts cost nothing and carry
//! provenance `local` with the table or rule that produced them.

use contracts::axle::common::v1::Provenance;
use contracts::axle::vin::v1::{
    CheckDigit, CheckDigitState, Country, Manufacturer, ModelYear, ModelYearBasis,
    ValidateVinResponse, VinProblem, VinProblemKind,
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
        }),
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
