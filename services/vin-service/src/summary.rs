//! DecodeVin's merged summary: each field from the highest-priority source that has it,
//! with provenance, merged confidence and the disagreeing alternatives.

use contracts::axle::common::v1::{
    Alternative, BoolFact, DateFact, Disagreement, Int32Fact, Money, MoneyFact, Provenance,
    StringFact,
};
use contracts::axle::vin::v1::{
    ModelYearBasis, ValidateVinResponse, VehicleSummary, VendorVinDecode,
};
use merge::{Candidate, MergePolicy, Merged};

use crate::local::{self, local_provenance};

/// A candidate value with the provenance to attach if it wins.
type Cand<V> = Candidate<(V, Provenance)>;

struct Builder<'a> {
    policy: &'a MergePolicy,
    disagreements: Vec<Disagreement>,
}

impl Builder<'_> {
    fn merge<V: Clone + ToString>(
        &mut self,
        field: &str,
        cands: Vec<Cand<V>>,
        same: impl Fn(&V, &V) -> bool,
    ) -> Option<(V, f32, Provenance, Vec<Alternative>)> {
        let merged: Merged<(V, Provenance)> =
            self.policy.merge(field, cands, |a, b| same(&a.0, &b.0))?;
        let alternatives: Vec<Alternative> = merged
            .alternatives
            .iter()
            .map(|c| Alternative {
                value: c.value.0.to_string(),
                provenance: Some(c.value.1.clone()),
                confidence: c.confidence,
                rejected_reason: String::new(),
            })
            .collect();
        if !alternatives.is_empty() {
            self.disagreements.push(Disagreement {
                field: field.to_owned(),
                chosen_source: merged.source.clone(),
                chosen_value: merged.value.0.to_string(),
                values: alternatives.clone(),
            });
        }
        let (value, provenance) = merged.value;
        Some((value, merged.confidence, provenance, alternatives))
    }

    fn text(&mut self, field: &str, cands: Vec<Cand<String>>) -> Option<StringFact> {
        // Placeholders ("-", "无", "未知") say nothing: not a value, not agreement.
        let mut cands: Vec<Cand<String>> = cands
            .into_iter()
            .filter(|c| !is_placeholder(&c.value.0))
            .collect();
        // Texts in the other script than the chosen one (an English register name
        // against a Chinese catalogue name) can be neither evidence nor contradiction:
        // they stay in the vendor's own decode and are left out of this merge.
        let order = self.policy.order_for(field).to_vec();
        let rank = |source: &str| {
            order
                .iter()
                .position(|s| s == source)
                .unwrap_or(order.len())
        };
        if let Some(lead) = cands.iter().min_by_key(|c| rank(&c.source)) {
            let script = has_cjk(&lead.value.0);
            cands.retain(|c| has_cjk(&c.value.0) == script);
        }
        self.merge(field, cands, comparable_text_eq)
            .map(|(value, confidence, p, alternatives)| StringFact {
                value,
                confidence,
                provenance: Some(p),
                alternatives,
            })
    }

    fn int(&mut self, field: &str, cands: Vec<Cand<i32>>) -> Option<Int32Fact> {
        self.merge(field, cands, |a, b| a == b)
            .map(|(value, confidence, p, alternatives)| Int32Fact {
                value,
                confidence,
                provenance: Some(p),
                alternatives,
            })
    }
}

/// Folds what does not make two texts different: case, spacing, dashes, middle dots,
/// full-width forms (ＢＭＷ, （DCT）).
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '·' | '\u{3000}'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A vendor's way of saying "unknown": nothing left after folding, or a known word.
fn is_placeholder(s: &str) -> bool {
    fold(s).is_empty() || domain::text::is_placeholder(s)
}

/// Two vendor texts (in the same script: see `Builder::text`) agree when equal up to
/// case, spacing and width, or when one contains the other ("保时捷" and "进口保时捷").
#[allow(clippy::ptr_arg)] // used as the comparator for `V = String`
fn comparable_text_eq(a: &String, b: &String) -> bool {
    let (na, nb) = (fold(a), fold(b));
    !na.is_empty() && !nb.is_empty() && (na == nb || na.contains(&nb) || nb.contains(&na))
}

/// Builds the summary from the local decode and the vendors' decodes.
pub fn build(
    policy: &MergePolicy,
    report: &domain::vin::VinReport,
    local: &ValidateVinResponse,
    vendors: &[VendorVinDecode],
    vendor_confidence: f32,
) -> (VehicleSummary, Vec<Disagreement>) {
    let mut b = Builder {
        policy,
        disagreements: Vec::new(),
    };
    // A vendor that itself says the VIN breaks the rules matched it loosely; one that
    // answers about another VIN (a fuzzy match on its side) describes another car.
    let asked = &report.normalized;
    let vconf = |v: &VendorVinDecode| {
        let other_vin = !v.vin.is_empty() && domain::vin::normalize(&v.vin) != *asked;
        if v.vendor_vin_valid == Some(false) || other_vin {
            vendor_confidence * 0.5
        } else {
            vendor_confidence
        }
    };
    let vprov = |v: &VendorVinDecode| v.provenance.clone().unwrap_or_default();
    let vtext = |f: fn(&VendorVinDecode) -> String| -> Vec<Cand<String>> {
        vendors
            .iter()
            .map(|v| Candidate::new(source_of(v), (f(v), vprov(v)), vconf(v)))
            .collect()
    };
    let vint = |f: fn(&VendorVinDecode) -> Option<i32>| -> Vec<Cand<i32>> {
        vendors
            .iter()
            .filter_map(|v| f(v).map(|x| Candidate::new(source_of(v), (x, vprov(v)), vconf(v))))
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
        manufacturer.push(Candidate::new(local::SOURCE, (name, provenance), 0.9));
    }

    let mut model_year = vint(|v| v.model_year);
    if let Some(y) = &local.model_year {
        // Position 10 is unambiguous within its cycle; the cycle choice by recency is a
        // guess for old vehicles, hence the lower confidence. Where no rule makes
        // position 10 the year (outside North America and China, e.g. many European
        // makers' VINs) it may not be a year at all: lower still.
        let year_mandated = local.check_digit.as_ref().is_some_and(|c| c.mandatory);
        let conf = if y.basis == ModelYearBasis::Position7 as i32 {
            0.95
        } else if year_mandated {
            0.85
        } else {
            0.6
        };
        // A recency guess yields to a vendor that names another year the same code can
        // mean (a 1994 car whose code also reads 2024): the vendor's year then stands on
        // its own provenance, and the guess is no evidence either way. A vendor year the
        // code cannot mean (a catalogue 款 year) changes nothing.
        let settled_by_vendor = y.basis == ModelYearBasis::MostRecent as i32
            && model_year
                .iter()
                .any(|c| c.value.0 != y.year && y.candidates.contains(&c.value.0));
        // Where no rule makes position 10 the year, a vendor's year far from the reading
        // says position 10 is no year at all (a 2021 Mercedes whose position 10 reads
        // "2001"); a year or two apart is the usual gap between a catalogue 款 year and
        // the VIN's, and the reading stands (Porsche encodes the year everywhere).
        let settled_by_vendor = settled_by_vendor
            || (!year_mandated && model_year.iter().any(|c| (c.value.0 - y.year).abs() > 2));
        if !settled_by_vendor {
            model_year.push(Candidate::new(
                local::SOURCE,
                (y.year, local_provenance("iso3779-model-year")),
                conf,
            ));
        }
    }

    let mut country = Vec::new();
    if let Some(c) = &local.country {
        country.push(Candidate::new(
            local::SOURCE,
            (c.code.clone(), local_provenance("iso3780-wmi-country")),
            0.95,
        ));
    }
    let _ = report;

    let summary = VehicleSummary {
        brand: b.text("brand", vtext(|v| v.brand.clone())),
        manufacturer: b.text("manufacturer", manufacturer),
        model_name: b.text("model_name", vtext(|v| v.name.clone())),
        series: b.text("series", vtext(|v| v.series.clone())),
        model_year: b.int("model_year", model_year),
        country: b.text("country", country),
        engine_model: b.text(
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
        fuel_type: b.text(
            "fuel_type",
            vtext(|v| {
                v.engine
                    .as_ref()
                    .map(|e| e.fuel_type.clone())
                    .unwrap_or_default()
            }),
        ),
        transmission: b.text(
            "transmission",
            vtext(|v| {
                v.transmission
                    .as_ref()
                    .map(|t| t.description.clone())
                    .unwrap_or_default()
            }),
        ),
        drive_mode: b.text(
            "drive_mode",
            vtext(|v| {
                v.chassis
                    .as_ref()
                    .map(|c| c.drive_mode.clone())
                    .unwrap_or_default()
            }),
        ),
        body_type: b.text(
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
        msrp: {
            let cands: Vec<Cand<Priced>> = vendors
                .iter()
                .filter_map(|v| {
                    let m = v.pricing.as_ref()?.msrp.clone()?;
                    Some(Candidate::new(
                        source_of(v),
                        (Priced(m), vprov(v)),
                        vconf(v),
                    ))
                })
                .collect();
            // Prices that differ by less than one yuan are the same price.
            b.merge("msrp", cands, |a, b| {
                a.0.currency_code == b.0.currency_code
                    && nanos_of(&a.0).abs_diff(nanos_of(&b.0)) < 1_000_000_000
            })
            .map(|(value, confidence, p, alternatives)| MoneyFact {
                value: Some(value.0),
                confidence,
                provenance: Some(p),
                alternatives,
            })
        },
        is_import: {
            let cands: Vec<Cand<bool>> = vendors
                .iter()
                .filter_map(|v| {
                    v.is_import
                        .map(|x| Candidate::new(source_of(v), (x, vprov(v)), vconf(v)))
                })
                .collect();
            b.merge("is_import", cands, |a, b| a == b).map(
                |(value, confidence, p, alternatives)| BoolFact {
                    value,
                    confidence,
                    provenance: Some(p),
                    alternatives,
                },
            )
        },
        launch_date: {
            let cands = vtext(|v| v.launch_date.clone());
            b.text("launch_date", cands).map(|f| DateFact {
                value: f.value,
                confidence: f.confidence,
                provenance: f.provenance,
                alternatives: f.alternatives,
            })
        },
        emission_standard: b.text(
            "emission_standard",
            vtext(|v| {
                v.engine
                    .as_ref()
                    .map(|e| e.emission_standard.clone())
                    .unwrap_or_default()
            }),
        ),
    };
    (summary, b.disagreements)
}

/// A price as a merge candidate, shown as "CNY 1224300.00" (prices within a yuan of each
/// other count as the same price).
#[derive(Debug, Clone, PartialEq)]
struct Priced(Money);

impl std::fmt::Display for Priced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cents = nanos_of(&self.0) / 10_000_000;
        write!(
            f,
            "{} {}.{:02}",
            self.0.currency_code,
            cents / 100,
            (cents % 100).abs()
        )
    }
}

/// The amount in billionths, for exact comparison.
fn nanos_of(m: &Money) -> i128 {
    i128::from(m.units) * 1_000_000_000 + i128::from(m.nanos)
}

fn source_of(v: &VendorVinDecode) -> String {
    v.provenance
        .as_ref()
        .map(|p| p.source.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_compare_up_to_case_width_and_containment() {
        assert!(comparable_text_eq(&"ＢＭＷ".into(), &"bmw".into()));
        assert!(comparable_text_eq(&"保时捷".into(), &"进口保时捷".into()));
        assert!(is_placeholder("-") && is_placeholder(" 未知 ") && !is_placeholder("本田"));
        assert!(!comparable_text_eq(&"保时捷".into(), &"大众".into()));
        assert!(comparable_text_eq(
            &"FAW-Volkswagen".into(),
            &"faw volkswagen".into()
        ));
    }

    #[test]
    fn prices_are_shown_and_compared_exactly() {
        let p = Priced(Money {
            currency_code: "CNY".to_owned(),
            units: 1_224_300,
            nanos: 500_000_000,
        });
        assert_eq!(p.to_string(), "CNY 1224300.50");
        assert_eq!(nanos_of(&p.0), 1_224_300_500_000_000);
    }

    /// Year chosen for `vin` when a vendor says `vendor_year`.
    fn merged_year(vin: &str, vendor_year: i32) -> Option<i32> {
        let report = domain::vin::validate(vin, 2026);
        let local = local::to_response(&report);
        let vendor = VendorVinDecode {
            provenance: Some(contracts::axle::common::v1::Provenance {
                source: "connapi".to_owned(),
                ..Default::default()
            }),
            model_year: Some(vendor_year),
            ..Default::default()
        };
        let policy = MergePolicy::new(&["connapi", "local"]).with_field("model_year", &["local"]);
        let (summary, _) = build(&policy, &report, &local, &[vendor], 0.9);
        summary.model_year.map(|f| f.value)
    }

    fn summary_with(vin: &str, vendor: VendorVinDecode) -> VehicleSummary {
        let report = domain::vin::validate(vin, 2026);
        let local = local::to_response(&report);
        let vendor = VendorVinDecode {
            provenance: Some(contracts::axle::common::v1::Provenance {
                source: "connapi".to_owned(),
                ..Default::default()
            }),
            ..vendor
        };
        build(
            &crate::config::default_merge_policy(),
            &report,
            &local,
            &[vendor],
            0.9,
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
