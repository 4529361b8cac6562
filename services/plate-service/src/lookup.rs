//! LookupVehicle: the local parse, then the plate vendors, merged per field.
//!
//! Today one vendor answers synchronously (xiaoshibao, seed 000); platecb (seed 004, by
//! callback) is listed as SKIPPED until its webhook lands. Every VIN a vendor returns is
//! checked with the local VIN rules: one that fails its check digit is flagged
//! (`vin_valid = false`, lower confidence), never passed on silently.

use std::time::{Duration, Instant};

use connector::status;
use contracts::axle::common::v1::{DateFact, Money, Provenance, StringFact};
use contracts::axle::plate::v1::{LookupVehicleResponse, ParsePlateResponse, UsageNature};
use domain::vin::CheckDigitState;

use crate::connectors::xiaoshibao::{self, XiaoshibaoClient, XiaoshibaoVehicle};

/// Masks a VIN to its WMI and last four characters.
pub fn mask_vin(vin: &str) -> String {
    let chars: Vec<char> = vin.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i >= chars.len() - 4 {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Short province / city names as the vendor's example uses them ("广东", "深圳").
pub fn short_name(name: &str) -> String {
    let mut s = name.split('(').next().unwrap_or(name).to_owned();
    for suffix in [
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "自治区",
        "自治州",
        "省",
        "市",
        "地区",
        "盟",
    ] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_owned();
            break;
        }
    }
    s
}

#[derive(Debug)]
pub struct Lookup<'a> {
    pub xiaoshibao: Option<&'a XiaoshibaoClient>,
    pub reveal_full_vin: bool,
}

impl Lookup<'_> {
    pub async fn run(
        &self,
        parsed: ParsePlateResponse,
        deadline: Option<Instant>,
    ) -> LookupVehicleResponse {
        let mut resp = LookupVehicleResponse {
            sources: vec![status::ok("local", 0, Duration::ZERO, false)],
            ..LookupVehicleResponse::default()
        };
        let (province, city) = parsed
            .issuing_authority
            .as_ref()
            .map(|a| (short_name(&a.province), short_name(&a.city)))
            .unwrap_or_default();
        let plate = parsed.normalized_plate.clone();
        resp.plate = Some(parsed);

        match self.xiaoshibao {
            None => resp.sources.push(status::skipped(
                xiaoshibao::SOURCE,
                "xiaoshibao is disabled in this deployment's configuration",
            )),
            Some(client) => {
                let started = Instant::now();
                match client.lookup(&plate, &province, &city, deadline).await {
                    Ok(outcome) => {
                        let cost = outcome.cost.as_ref().map(|c| {
                            let (units, nanos) = c.units_nanos();
                            Money {
                                currency_code: c.currency.clone(),
                                units,
                                nanos,
                            }
                        });
                        let provenance = Provenance {
                            source: xiaoshibao::SOURCE.to_owned(),
                            sandbox: outcome.sandbox,
                            fetched_at: Some(prost_types::Timestamp::from(
                                std::time::SystemTime::now(),
                            )),
                            cost: cost.clone(),
                            upstream_sources: outcome.value.sources.clone(),
                            ..Provenance::default()
                        };
                        let mut st = status::ok(
                            xiaoshibao::SOURCE,
                            outcome.attempts,
                            outcome.latency,
                            outcome.sandbox,
                        );
                        st.cost = cost;
                        resp.sources.push(st);
                        self.fill(&mut resp, &outcome.value, &provenance);
                    }
                    Err(err) => {
                        tracing::warn!(vendor = xiaoshibao::SOURCE, error = %err, "vendor call failed");
                        resp.sources.push(status::from_error(
                            xiaoshibao::SOURCE,
                            &err,
                            started.elapsed(),
                        ));
                    }
                }
            }
        }
        resp.sources.push(status::skipped(
            "platecb",
            "platecb (seed 004, answers by callback) is not integrated yet",
        ));
        resp
    }

    fn fill(&self, resp: &mut LookupVehicleResponse, v: &XiaoshibaoVehicle, p: &Provenance) {
        let base = v.confidence.unwrap_or(0.8);
        let fact = |value: &str, confidence: f32| {
            (!value.is_empty()).then(|| StringFact {
                value: value.to_owned(),
                confidence,
                provenance: Some(p.clone()),
                alternatives: Vec::new(),
            })
        };
        if !v.vin.is_empty() {
            let report = domain::vin::validate(&v.vin, current_year());
            // A VIN that breaks its mandatory check digit is not the vehicle's VIN as
            // registered: keep it visible, flagged, with low confidence.
            let ok = report.valid && report.check_digit.state != CheckDigitState::Invalid;
            resp.vin_valid = ok;
            let shown = if self.reveal_full_vin {
                report.normalized.clone()
            } else {
                mask_vin(&report.normalized)
            };
            resp.vin = fact(&shown, if ok { base } else { base.min(0.3) });
        }
        if let Some(m) = domain::usage::usage_from_text(&v.usage) {
            resp.usage = Some(UsageNature {
                code: m.usage.code.to_string(),
                name_zh: m.usage.name_zh.to_owned(),
                name: m.usage.name.to_owned(),
                original_text: v.usage.clone(),
                confidence: base * m.confidence,
                provenance: Some(p.clone()),
            });
        } else if !v.usage.is_empty() {
            resp.usage = Some(UsageNature {
                original_text: v.usage.clone(),
                confidence: 0.0,
                provenance: Some(p.clone()),
                ..UsageNature::default()
            });
        }
        resp.brand = fact(&v.brand, base);
        resp.model = fact(&v.model, base);
        if !v.first_register_date.is_empty() {
            resp.first_registration_date = Some(DateFact {
                value: v.first_register_date.clone(),
                confidence: base,
                provenance: Some(p.clone()),
                alternatives: Vec::new(),
            });
        }
    }
}

fn current_year() -> i32 {
    // Days since the epoch -> civil year (proleptic Gregorian), to avoid a time-crate
    // dependency for one number.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    i32::try_from(year).unwrap_or(2026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_and_names() {
        assert_eq!(mask_vin("LSJA24U66JA123456"), "LSJ**********3456");
        assert_eq!(mask_vin("ABC"), "***");
        assert_eq!(short_name("广东省"), "广东");
        assert_eq!(short_name("深圳市"), "深圳");
        assert_eq!(short_name("新疆维吾尔自治区"), "新疆");
        assert_eq!(short_name("佛山市顺德区"), "佛山市顺德区");
        assert!((2026..2100).contains(&current_year()));
    }
}
