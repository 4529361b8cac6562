//! The local plate parse (domain::plate) in contract types.

use contracts::axle::plate::v1::{
    IssuingAuthority, ParsePlateResponse, PlateCategory, PlateColor, PlateProblem, PlateType,
    Province,
};
use domain::plate as dp;

pub fn color_from_proto(c: i32) -> Option<dp::PlateColor> {
    match PlateColor::try_from(c).unwrap_or(PlateColor::Unspecified) {
        PlateColor::Unspecified => None,
        PlateColor::Blue => Some(dp::PlateColor::Blue),
        PlateColor::Yellow => Some(dp::PlateColor::Yellow),
        PlateColor::Green => Some(dp::PlateColor::Green),
        PlateColor::White => Some(dp::PlateColor::White),
        PlateColor::Black => Some(dp::PlateColor::Black),
        PlateColor::YellowGreen => Some(dp::PlateColor::YellowGreen),
    }
}

fn category(c: dp::PlateCategory) -> PlateCategory {
    use dp::PlateCategory as D;
    match c {
        D::Ordinary => PlateCategory::Ordinary,
        D::NewEnergySmall => PlateCategory::NewEnergySmall,
        D::NewEnergyLarge => PlateCategory::NewEnergyLarge,
        D::Coach => PlateCategory::Coach,
        D::Police => PlateCategory::Police,
        D::Trailer => PlateCategory::Trailer,
        D::Consulate => PlateCategory::Consulate,
        D::Embassy => PlateCategory::Embassy,
        D::HongKong => PlateCategory::HongKong,
        D::Macao => PlateCategory::Macao,
        D::Test => PlateCategory::Test,
        D::Oversize => PlateCategory::Oversize,
        D::Emergency => PlateCategory::Emergency,
        D::ArmedPolice => PlateCategory::ArmedPolice,
        D::Military => PlateCategory::Military,
    }
}

fn plate_type(t: dp::PlateType) -> PlateType {
    PlateType {
        code: t.code.to_owned(),
        name_zh: t.name_zh.to_owned(),
        name: t.name.to_owned(),
    }
}

pub fn to_response(r: &dp::PlateReport) -> ParsePlateResponse {
    ParsePlateResponse {
        valid: r.valid,
        normalized_plate: r.normalized.clone(),
        problems: r
            .problems
            .iter()
            .map(|p| PlateProblem {
                position: u32::try_from(p.position).unwrap_or(0),
                expected: p.expected.clone(),
                found: p.found.clone(),
                message: p.message.clone(),
                field: if p.about_color { "color" } else { "plate" }.to_owned(),
            })
            .collect(),
        category: r.category.map_or(PlateCategory::Unspecified, category) as i32,
        issuing_authority: r.authority.map(|a| IssuingAuthority {
            province: a.province.name_zh.to_owned(),
            province_abbreviation: a.province.abbreviation.to_string(),
            city: a.city.to_owned(),
            city_pinyin: a.city_pinyin.to_owned(),
            division_code: a.division_code.to_owned(),
            letter: a.letter.to_string(),
            note: a.note.unwrap_or_default().to_owned(),
        }),
        plate_type: r.plate_type.map(plate_type),
        plate_type_candidates: r.candidates.iter().copied().map(plate_type).collect(),
        color_needed: r.color_needed,
        corrections: r.corrections.clone(),
        supported: r.supported,
        province: r.province.map(|p| Province {
            abbreviation: p.abbreviation.to_string(),
            name_zh: p.name_zh.to_owned(),
            name: p.name.to_owned(),
            division_code: p.division_code.to_owned(),
        }),
    }
}
