//! DecodeVin's merged summary: each field from the highest-priority source that has it,
//! with provenance, merged confidence and the disagreeing alternatives. The facts crate
//! builds the facts; this module says what each source states about which field.

use contracts::axle::common::v1::Disagreement;
use contracts::axle::vin::v1::{ModelYearBasis, ValidateVinResponse, VehicleSummary};
use facts::{Facts, Stated, confidence};
use merge::MergePolicy;

use crate::connectors::VendorDecode;
use crate::local::local_provenance;

/// Builds the summary from the local decode and the vendors' decodes.
pub fn build(
    policy: &MergePolicy,
    report: &domain::vin::VinReport,
    local: &ValidateVinResponse,
    vendors: &[VendorDecode],
) -> (VehicleSummary, Vec<Disagreement>) {
    let mut b = Facts::new(policy);
    // A vendor that itself says the VIN breaks the rules matched it loosely; one that
    // answers about another VIN (a fuzzy match on its side) describes another car.
    let asked = &report.normalized;
    let vconf = |v: &VendorDecode| {
        let d = &v.decode;
        let other_vin = !d.vin.is_empty() && domain::vin::normalize(&d.vin) != *asked;
        if d.vendor_vin_valid == Some(false) || other_vin {
            v.confidence * confidence::LOOSE_MATCH_FACTOR
        } else {
            v.confidence
        }
    };
    let vprov = |v: &VendorDecode| v.decode.provenance.clone().unwrap_or_default();
    let vtext =
        |f: fn(&contracts::axle::vin::v1::VendorVinDecode) -> String| -> Vec<Stated<String>> {
            vendors
                .iter()
                .map(|v| Stated::new(f(&v.decode), vprov(v), vconf(v)))
                .collect()
        };
    let vint =
        |f: fn(&contracts::axle::vin::v1::VendorVinDecode) -> Option<i32>| -> Vec<Stated<i32>> {
            vendors
                .iter()
                .filter_map(|v| f(&v.decode).map(|x| Stated::new(x, vprov(v), vconf(v))))
                .collect()
        };

    let mut manufacturer = vtext(|v| v.manufacturer.clone());
    if let Some(m) = &local.manufacturer {
        // The register knows the legal manufacturer; prefer its Chinese name when known so
        // that it compares with Chinese catalogue names.
        let name = if m.name_zh.is_empty() {
            m.name.clone()
        } else {
            m.name_zh.clone()
        };
        // The same provenance ValidateVin reports for the manufacturer.
        let provenance = m
            .provenance
            .clone()
            .unwrap_or_else(|| local_provenance("wmi"));
        manufacturer.push(Stated::new(name, provenance, confidence::LOCAL_REGISTER));
    }

    let mut model_year = vint(|v| v.model_year);
    if let Some(y) = &local.model_year {
        // Position 10 is unambiguous within its cycle; the cycle choice by recency is a
        // guess for old vehicles, hence the lower confidence. Where no rule makes
        // position 10 the year (outside North America and China, e.g. many European
        // makers' VINs) it may not be a year at all: lower still.
        let year_mandated = local.check_digit.as_ref().is_some_and(|c| c.mandatory);
        let conf = if y.basis == ModelYearBasis::Position7 as i32 {
            confidence::LOCAL_RULE
        } else if year_mandated {
            confidence::LOCAL_MANDATED_YEAR
        } else {
            confidence::LOCAL_GUESSED_YEAR
        };
        // A recency guess yields to a vendor that names another year the same code can
        // mean (a 1994 car whose code also reads 2024): the vendor's year then stands on
        // its own provenance, and the guess is no evidence either way. A vendor year the
        // code cannot mean (a catalogue 款 year) changes nothing.
        let settled_by_vendor = y.basis == ModelYearBasis::MostRecent as i32
            && model_year
                .iter()
                .any(|c| c.value != y.year && y.candidates.contains(&c.value));
        // Where no rule makes position 10 the year, a vendor's year far from the reading
        // says position 10 is no year at all (a 2021 Mercedes whose position 10 reads
        // "2001"); a year or two apart is the usual gap between a catalogue 款 year and
        // the VIN's, and the reading stands (Porsche encodes the year everywhere).
        let settled_by_vendor = settled_by_vendor
            || (!year_mandated && model_year.iter().any(|c| (c.value - y.year).abs() > 2));
        if !settled_by_vendor {
            model_year.push(Stated::new(
                y.year,
                local_provenance("iso3779-model-year"),
                conf,
            ));
        }
    }

    let mut country = Vec::new();
    if let Some(c) = &local.country {
        country.push(Stated::new(
            c.code.clone(),
            local_provenance("iso3780-wmi-country"),
            confidence::LOCAL_RULE,
        ));
    }

    let summary = VehicleSummary {
        brand: b.name("brand", vtext(|v| v.brand.clone())),
        manufacturer: b.name("manufacturer", manufacturer),
        model_name: b.name("model_name", vtext(|v| v.name.clone())),
        series: b.name("series", vtext(|v| v.series.clone())),
        model_year: b.int("model_year", model_year),
        country: b.name("country", country),
        engine_model: b.name(
            "engine_model",
            vtext(|v| {
                v.engine
                    .as_ref()
                    .map(|e| {
                        if e.model.is_empty() {
                            e.code.clone()
                        } else {
                            e.model.clone()
                        }
                    })
                    .unwrap_or_default()
            }),
        ),
        displacement_ml: b.int(
            "displacement_ml",
            vint(|v| v.engine.as_ref().and_then(|e| e.displacement_ml)),
        ),
        fuel_type: b.name(
            "fuel_type",
            vtext(|v| {
                v.engine
                    .as_ref()
                    .map(|e| e.fuel_type.clone())
                    .unwrap_or_default()
            }),
        ),
        transmission: b.name(
            "transmission",
            vtext(|v| {
                v.transmission
                    .as_ref()
                    .map(|t| t.description.clone())
                    .unwrap_or_default()
            }),
        ),
        drive_mode: b.name(
            "drive_mode",
            vtext(|v| {
                v.chassis
                    .as_ref()
                    .map(|c| c.drive_mode.clone())
                    .unwrap_or_default()
            }),
        ),
        body_type: b.name(
            "body_type",
            vtext(|v| {
                v.body
                    .as_ref()
                    .map(|x| x.r#type.clone())
                    .unwrap_or_default()
            }),
        ),
        seats: b.int(
            "seats",
            vint(|v| v.body.as_ref().and_then(|x| x.seat_count)),
        ),
        msrp: b.money(
            "msrp",
            vendors
                .iter()
                .filter_map(|v| {
                    let m = v.decode.pricing.as_ref()?.msrp.clone()?;
                    Some(Stated::new(m, vprov(v), vconf(v)))
                })
                .collect(),
        ),
        is_import: b.boolean(
            "is_import",
            vendors
                .iter()
                .filter_map(|v| {
                    v.decode
                        .is_import
                        .map(|x| Stated::new(x, vprov(v), vconf(v)))
                })
                .collect(),
        ),
        launch_date: b.date("launch_date", vtext(|v| v.launch_date.clone())),
        emission_standard: b.name(
            "emission_standard",
            vtext(|v| {
                v.engine
                    .as_ref()
                    .map(|e| e.emission_standard.clone())
                    .unwrap_or_default()
            }),
        ),
    };
    (summary, b.into_disagreements())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local;
    use contracts::axle::common::v1::Provenance;
    use contracts::axle::vin::v1::VendorVinDecode;

    /// Year chosen for `vin` when a vendor says `vendor_year`.
    fn merged_year(vin: &str, vendor_year: i32) -> Option<i32> {
        let report = domain::vin::validate(vin, 2026);
        let local = local::to_response(&report);
        let vendor = VendorDecode {
            decode: VendorVinDecode {
                provenance: Some(Provenance {
                    source: "connapi".to_owned(),
                    ..Default::default()
                }),
                model_year: Some(vendor_year),
                ..Default::default()
            },
            confidence: 0.9,
        };
        let policy = MergePolicy::new(&["connapi", "local"]).with_field("model_year", &["local"]);
        let (summary, _) = build(&policy, &report, &local, &[vendor]);
        summary.model_year.map(|f| f.value)
    }

    fn summary_with(vin: &str, vendor: VendorVinDecode) -> VehicleSummary {
        let report = domain::vin::validate(vin, 2026);
        let local = local::to_response(&report);
        let vendor = VendorDecode {
            decode: VendorVinDecode {
                provenance: Some(Provenance {
                    source: "connapi".to_owned(),
                    ..Default::default()
                }),
                ..vendor
            },
            confidence: 0.9,
        };
        build(
            &crate::config::default_merge_policy(),
            &report,
            &local,
            &[vendor],
        )
        .0
    }

    #[test]
    fn the_register_decides_the_manufacturer_and_placeholders_or_other_scripts_prove_nothing() {
        // The vendor names another maker: the WMI register (local) wins, the vendor's
        // name stays visible as the alternative.
        let s = summary_with(
            "LSVAM4182N2123456",
            VendorVinDecode {
                manufacturer: "一汽-大众".to_owned(),
                ..Default::default()
            },
        );
        let m = s.manufacturer.expect("manufacturer");
        assert_eq!(m.value, "上汽大众");
        assert_eq!(m.alternatives[0].value, "一汽-大众");
        // "-" is no answer, and an English name cannot confirm a Chinese one.
        for said in ["-", "Porsche AG"] {
            let s = summary_with(
                "LFV2A21K0A4000000",
                VendorVinDecode {
                    manufacturer: said.to_owned(),
                    ..Default::default()
                },
            );
            let m = s.manufacturer.expect("manufacturer");
            assert_eq!(m.value, "一汽-大众", "{said}");
            assert!(
                m.confidence < 0.95,
                "no agreement boost from {said:?}: {}",
                m.confidence
            );
            assert!(m.alternatives.is_empty(), "{said}");
        }
    }

    #[test]
    fn a_year_no_rule_puts_at_position_10_is_a_weaker_guess() {
        let year = |vin: &str| {
            summary_with(vin, VendorVinDecode::default())
                .model_year
                .expect("year")
                .confidence
        };
        let china = year("LSVAM4187C2184847");
        let europe = year("WBA8E9C50GK646385");
        let north_america = year("1HGCM82633A004352");
        assert!(
            europe < china && china < north_america,
            "{europe} {china} {north_america}"
        );
    }

    #[test]
    fn a_year_settled_by_the_vendor_carries_the_vendors_provenance() {
        let s = summary_with(
            "ZA9DU07P0RLA99945",
            VendorVinDecode {
                model_year: Some(1994),
                ..Default::default()
            },
        );
        let y = s.model_year.expect("year");
        assert_eq!(y.value, 1994);
        assert_eq!(y.provenance.map(|p| p.source), Some("connapi".to_owned()));
        assert!(
            y.confidence <= 0.9 + f32::EPSILON,
            "no self-confirmation: {}",
            y.confidence
        );
    }

    #[test]
    fn a_vendor_settles_which_cycle_a_recency_guess_meant() {
        // Lamborghini, code R: 1994 or 2024; recency alone says 2024.
        assert_eq!(merged_year("ZA9DU07P0RLA99945", 1994), Some(1994));
        assert_eq!(merged_year("ZA9DU07P0RLA99945", 2024), Some(2024));
        // A year the code cannot mean (a catalogue 款 year) does not move the local year.
        assert_eq!(merged_year("WP0AA2978BL012976", 2010), Some(2011));
        // Position 7 is not a guess: it is kept.
        assert_eq!(merged_year("1HGCM82633A004352", 1973), Some(2003));
        // A European VIN whose position 10 is no year: the vendor's 2021, not "2001".
        assert_eq!(merged_year("W1K2130421A123456", 2021), Some(2021));
    }
}
