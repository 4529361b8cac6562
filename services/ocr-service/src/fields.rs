//! Raw readings -> the contract's typed fields, each cross-checked: the one place where
//! a reading becomes a `LicenseFront` / `LicenseBack`, whoever read it.

use contracts::axle::common::v1::{DateFact, StringFact};
use contracts::axle::ocr::v1::{
    CountField, CrossCheck, CrossCheckResult, DateField, InspectionRecordField, LicenseBack,
    LicenseFront, MassField, Point, Quad, Reading, SizeField, TextField, UsageField,
    VehicleTypeField,
};
use domain::vin::{OcrVinOutcome, check_ocr_vin};

use crate::read::{RawField, RawRead};

fn check(result: CrossCheckResult, rule: &str, message: impl Into<String>) -> CrossCheck {
    CrossCheck {
        result: result as i32,
        message: message.into(),
        rule: rule.to_owned(),
    }
}

fn not_checked() -> CrossCheck {
    check(CrossCheckResult::NotChecked, "", "")
}

fn passed(rule: &str, message: impl Into<String>) -> CrossCheck {
    check(CrossCheckResult::CheckedPassed, rule, message)
}

fn failed(rule: &str, message: impl Into<String>) -> CrossCheck {
    check(CrossCheckResult::CheckedFailed, rule, message)
}

fn reading(f: &RawField, cross_check: CrossCheck) -> Reading {
    Reading {
        text: f.text.clone(),
        confidence: f.confidence,
        provenance: Some(f.provenance.clone()),
        quad: f.quad.map(|q| Quad {
            corners: q.iter().map(|[x, y]| Point { x: *x, y: *y }).collect(),
        }),
        cross_check: Some(cross_check),
    }
}

fn text(f: &RawField) -> TextField {
    TextField {
        value: f.text.clone(),
        reading: Some(reading(f, not_checked())),
    }
}

/// Today in China (UTC+8), ISO: registration and issue dates are China civil dates.
pub fn today_in_china() -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
    let d = now.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// 号牌号码: normalised and checked with the plate rules.
pub fn plate(f: &RawField) -> TextField {
    let report = domain::plate::parse(&f.text, None);
    let cross_check = if report.valid && report.corrections.is_empty() {
        passed("plate-format", "a valid plate")
    } else if report.valid {
        let what = report.corrections.join("; ");
        if f.from_vendor {
            passed(
                "plate-format",
                format!("a valid plate once normalised ({what})"),
            )
        } else {
            check(
                CrossCheckResult::CheckedCorrected,
                "plate-format",
                format!("normalised to a valid plate: {what}"),
            )
        }
    } else {
        let why: Vec<String> = report.problems.iter().map(|p| p.message.clone()).collect();
        failed(
            "plate-format",
            format!(
                "not a valid plate: {}",
                if why.is_empty() {
                    "unknown format".to_owned()
                } else {
                    why.join("; ")
                }
            ),
        )
    };
    TextField {
        value: if report.valid {
            report.normalized
        } else {
            f.text.clone()
        },
        reading: Some(reading(f, cross_check)),
    }
}

/// 车辆识别代号: the check digit; a local reading is corrected when exactly one
/// correction of look-alike characters passes, a vendor's is flagged, never rewritten.
pub fn vin(f: &RawField) -> TextField {
    let c = check_ocr_vin(&f.text);
    let (value, cross_check) = match &c.outcome {
        OcrVinOutcome::Passed => (c.vin.clone(), passed("vin-check-digit", c.message())),
        OcrVinOutcome::Corrected { .. } if !f.from_vendor => (
            c.vin.clone(),
            check(
                CrossCheckResult::CheckedCorrected,
                "vin-check-digit",
                c.message(),
            ),
        ),
        OcrVinOutcome::Corrected { .. } => {
            // What the vendor sent stays as sent: its own OCR may be right and the card
            // wrong, or the sample data (seed 002's example VIN fails) is not a VIN.
            let read = domain::vin::normalize(&f.text);
            let digit = domain::vin::compute_check_digit(&read)
                .map(|d| format!("{d} computed"))
                .unwrap_or_default();
            (
                f.text.clone(),
                failed(
                    "vin-check-digit",
                    format!(
                        "check digit fails as the vendor read it ({} read, {digit}); the only correction of look-alike characters that passes would be {} (not applied to a vendor's answer: look at the photo)",
                        read.chars().nth(8).unwrap_or('?'),
                        c.vin
                    ),
                ),
            )
        }
        OcrVinOutcome::Failed { .. } => (f.text.clone(), failed("vin-check-digit", c.message())),
    };
    TextField {
        value,
        reading: Some(reading(f, cross_check)),
    }
}

/// A date: ISO, not in the future; `not_before` (the registration date for the issue
/// date) when given.
pub fn date(f: &RawField, not_before: Option<&str>) -> DateField {
    let iso = domain::dates::iso_date(&f.text);
    let today = today_in_china();
    let cross_check = match &iso {
        None => failed("date-plausible", "not a date"),
        Some(d) if d.as_str() > today.as_str() => {
            failed("date-plausible", format!("{d} is in the future"))
        }
        Some(d) if d.as_str() < "1949-10-01" => failed(
            "date-plausible",
            format!("{d} is before any 行驶证 was issued"),
        ),
        Some(d) => match not_before {
            Some(reg) if d.as_str() < reg => failed(
                "date-order",
                format!("issued {d}, before the registration on {reg}"),
            ),
            Some(reg) => passed(
                "date-order",
                format!("not in the future, not before the registration ({reg})"),
            ),
            None => passed("date-plausible", "not in the future"),
        },
    };
    DateField {
        date: Some(DateFact {
            value: iso.unwrap_or_else(|| f.text.clone()),
            confidence: f.confidence,
            provenance: Some(f.provenance.clone()),
            alternatives: Vec::new(),
        }),
        reading: Some(reading(f, cross_check)),
    }
}

fn string_fact(f: &RawField) -> StringFact {
    StringFact {
        value: f.text.clone(),
        confidence: f.confidence,
        provenance: Some(f.provenance.clone()),
        alternatives: Vec::new(),
    }
}

/// 使用性质 to its GA 802 code.
pub fn usage(f: &RawField) -> UsageField {
    let u = facts::codes::usage(string_fact(f));
    let cross_check = if u.code.is_empty() {
        failed(
            "usage-code-table",
            format!("{} matches no 使用性质 code", f.text),
        )
    } else {
        passed(
            "usage-code-table",
            format!("code {} ({})", u.code, u.name_zh),
        )
    };
    UsageField {
        usage: Some(u),
        reading: Some(reading(f, cross_check)),
    }
}

/// 车辆类型 to its GA 24.4 code.
pub fn vehicle_type(f: &RawField) -> VehicleTypeField {
    let t = facts::codes::vehicle_type(&string_fact(f));
    let cross_check = match &t {
        Some(t) => passed(
            "vehicle-type-code-table",
            format!("code {} ({})", t.code, t.name_zh),
        ),
        None => failed(
            "vehicle-type-code-table",
            format!("{} matches no 车辆类型 code", f.text),
        ),
    };
    VehicleTypeField {
        vehicle_type: t,
        reading: Some(reading(f, cross_check)),
    }
}

/// A mass as printed ("2085kg", "1.5t", "--") in kilograms; `None` when not a mass.
pub fn parse_mass(text: &str) -> Option<Option<i32>> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if t.is_empty() || t.chars().all(|c| matches!(c, '-' | '—' | '－' | '/')) {
        return Some(None);
    }
    let (num, factor) = if let Some(n) = t.strip_suffix("kg").or_else(|| t.strip_suffix("千克")) {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('t').or_else(|| t.strip_suffix("吨")) {
        (n, 1000.0)
    } else {
        (t.as_str(), 1.0)
    };
    let v: f64 = num.parse().ok()?;
    let kg = (v * factor).round();
    if !(kg.is_finite() && (0.0..=200_000.0).contains(&kg)) {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounded to 0..=200000 above"
    )]
    Some(Some(kg as i32))
}

fn mass(f: &RawField) -> MassField {
    match parse_mass(&f.text) {
        Some(Some(kg)) => MassField {
            kilograms: kg,
            not_applicable: false,
            reading: Some(reading(f, not_checked())),
        },
        Some(None) => MassField {
            kilograms: 0,
            not_applicable: true,
            reading: Some(reading(f, not_checked())),
        },
        None => MassField {
            kilograms: 0,
            not_applicable: false,
            reading: Some(reading(f, failed("mass-format", "not a mass in kg or t"))),
        },
    }
}

/// 外廓尺寸 "4667×1839×1694mm" as (length, width, height) in mm.
pub fn parse_size(text: &str) -> Option<(i32, i32, i32)> {
    let t = text
        .trim()
        .trim_end_matches("mm")
        .trim_end_matches("MM")
        .trim_end_matches("毫米");
    let parts: Vec<i32> = t
        .split(['×', 'x', 'X', '*', '＊', '✕'])
        .map(|p| p.trim().parse().ok())
        .collect::<Option<Vec<_>>>()?;
    match parts.as_slice() {
        [l, w, h] => Some((*l, *w, *h)),
        _ => None,
    }
}

fn size(f: &RawField) -> SizeField {
    match parse_size(&f.text) {
        Some((l, w, h)) => {
            // GB 1589: at most 22 m long (articulated), 2.55 m wide, 4 m high; a
            // micro car is over 2 m long.
            let plausible = (1500..=22_000).contains(&l)
                && (800..=2_600).contains(&w)
                && (800..=4_200).contains(&h);
            SizeField {
                length_mm: l,
                width_mm: w,
                height_mm: h,
                reading: Some(reading(
                    f,
                    if plausible {
                        passed("size-plausible", "within GB 1589's limits")
                    } else {
                        failed(
                            "size-plausible",
                            "outside any road vehicle's dimensions (GB 1589)",
                        )
                    },
                )),
            }
        }
        None => SizeField {
            reading: Some(reading(
                f,
                failed("size-format", "not length×width×height in mm"),
            )),
            ..SizeField::default()
        },
    }
}

fn seats(f: &RawField) -> CountField {
    let digits: String = f.text.chars().filter(char::is_ascii_digit).collect();
    match digits.parse::<i32>() {
        Ok(n) if (1..=100).contains(&n) => CountField {
            value: n,
            reading: Some(reading(f, passed("seats-plausible", "1 to 100 seats"))),
        },
        _ => CountField {
            value: 0,
            reading: Some(reading(
                f,
                failed("seats-plausible", "not a number of seats"),
            )),
        },
    }
}

/// 检验有效期至 in a record ("检验有效期至2019年11月粤E(01)") as ISO, `None` if absent.
pub fn inspection_expiry(record: &str) -> Option<String> {
    let after = record.split("有效期至").nth(1)?;
    let end = after.find('月').map(|i| i + '月'.len_utf8())?;
    let date_part = &after[..end];
    // "2019年11月12日" keeps its day when printed.
    let with_day = after[end..]
        .find('日')
        .filter(|i| *i <= 3 && after[end..end + i].chars().all(|c| c.is_ascii_digit()))
        .map(|i| &after[..end + i + '日'.len_utf8()]);
    domain::dates::iso_date(with_day.unwrap_or(date_part))
}

fn inspection(f: &RawField) -> InspectionRecordField {
    let expiry = inspection_expiry(&f.text);
    InspectionRecordField {
        value: f.text.clone(),
        valid_until: expiry.map(|value| DateFact {
            value,
            confidence: f.confidence,
            provenance: Some(f.provenance.clone()),
            alternatives: Vec::new(),
        }),
        reading: Some(reading(f, not_checked())),
    }
}

/// The front from its readings.
pub fn front(read: &RawRead) -> LicenseFront {
    let register = read.get("register_date").map(|f| date(f, None));
    let register_iso = register
        .as_ref()
        .and_then(|d| d.date.as_ref())
        .map(|d| d.value.clone())
        .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-');
    LicenseFront {
        plate: read.get("plate").map(plate),
        vehicle_type: read.get("vehicle_type").map(vehicle_type),
        owner: read.get("owner").map(text),
        address: read.get("address").map(text),
        use_character: read.get("use_character").map(usage),
        model: read.get("model").map(text),
        vin: read.get("vin").map(vin),
        engine_number: read.get("engine_number").map(text),
        register_date: register,
        issue_date: read
            .get("issue_date")
            .map(|f| date(f, register_iso.as_deref())),
        seal: read.get("seal").map(text),
    }
}

/// The back from its readings.
pub fn back(read: &RawRead) -> LicenseBack {
    let mut b = LicenseBack {
        plate: read.get("plate").map(plate),
        file_number: read.get("file_number").map(text),
        approved_passengers: read.get("approved_passengers").map(seats),
        total_mass: read.get("total_mass").map(mass),
        curb_weight: read.get("curb_weight").map(mass),
        rated_load: read.get("rated_load").map(mass),
        external_size: read.get("external_size").map(size),
        traction_mass: read.get("traction_mass").map(mass),
        remarks: read.get("remarks").map(text),
        inspection_record: read.get("inspection_record").map(inspection),
        sub_page_code: read.get("sub_page_code").map(text),
        fuel_type: read.get("fuel_type").map(text),
    };
    // The curb weight is part of the total mass.
    if let (Some(total), Some(curb)) = (&b.total_mass, &mut b.curb_weight)
        && !total.not_applicable
        && !curb.not_applicable
        && total.kilograms > 0
        && curb.kilograms > 0
        && let Some(r) = curb.reading.as_mut()
        && r.cross_check
            .as_ref()
            .is_some_and(|c| c.result == CrossCheckResult::NotChecked as i32)
    {
        r.cross_check = Some(if curb.kilograms <= total.kilograms {
            passed("mass-order", "not more than the total mass")
        } else {
            failed(
                "mass-order",
                format!(
                    "{} kg is more than the total mass, {} kg",
                    curb.kilograms, total.kilograms
                ),
            )
        });
    }
    b
}

/// The back's plate against the front's, when both sides were read: a mismatch fails
/// the back's plate (two different licences, or a misread).
pub fn check_sides(front: &LicenseFront, back: &mut LicenseBack) {
    let (Some(fp), Some(bp)) = (&front.plate, &mut back.plate) else {
        return;
    };
    let Some(r) = bp.reading.as_mut() else { return };
    let base_failed = r
        .cross_check
        .as_ref()
        .is_some_and(|c| c.result == CrossCheckResult::CheckedFailed as i32);
    if base_failed {
        return;
    }
    r.cross_check = Some(if fp.value == bp.value {
        passed("front-back-plate", "a valid plate, the same as the front's")
    } else {
        failed(
            "front-back-plate",
            format!(
                "{} on the back, {} on the front: not the same licence, or a misread",
                bp.value, fp.value
            ),
        )
    });
}

/// Whether a reading of a field passed (or was corrected by) its check, or has no check.
pub fn trusted(c: Option<&CrossCheck>) -> bool {
    c.is_none_or(|c| c.result != CrossCheckResult::CheckedFailed as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Side;
    use contracts::axle::common::v1::Provenance;

    fn raw(name: &'static str, text: &str, from_vendor: bool) -> RawField {
        RawField {
            name,
            text: text.to_owned(),
            confidence: 0.9,
            quad: Some([[1.0, 2.0], [30.0, 2.0], [30.0, 12.0], [1.0, 12.0]]),
            provenance: Provenance::default(),
            from_vendor,
        }
    }

    fn result(c: Option<&Reading>) -> CrossCheckResult {
        CrossCheckResult::try_from(
            c.and_then(|r| r.cross_check.as_ref())
                .map_or(0, |c| c.result),
        )
        .expect("known")
    }

    #[test]
    fn vins_local_ones_corrected_vendor_ones_flagged() {
        let local = vin(&raw("vin", "LSVAM41B2N2123456", false));
        assert_eq!(local.value, "LSVAM4182N2123456");
        assert_eq!(
            result(local.reading.as_ref()),
            CrossCheckResult::CheckedCorrected
        );
        let seed = vin(&raw("vin", "123456789ABCDEFGH", true));
        assert_eq!(
            seed.value, "123456789ABCDEFGH",
            "the vendor's answer is kept"
        );
        assert_eq!(
            result(seed.reading.as_ref()),
            CrossCheckResult::CheckedFailed
        );
        let good = vin(&raw("vin", "LSVAM4182N2123456", true));
        assert_eq!(
            result(good.reading.as_ref()),
            CrossCheckResult::CheckedPassed
        );
        let quad = good.reading.and_then(|r| r.quad).expect("box");
        assert_eq!(quad.corners.len(), 4);
    }

    #[test]
    fn plates_dates_and_codes() {
        let p = plate(&raw("plate", "粤B 2177C", true));
        assert_eq!(p.value, "粤B2177C");
        assert_eq!(result(p.reading.as_ref()), CrossCheckResult::CheckedPassed);
        assert_eq!(
            result(plate(&raw("plate", "ABC", true)).reading.as_ref()),
            CrossCheckResult::CheckedFailed
        );
        let reg = date(&raw("register_date", "2015年4月11日", true), None);
        assert_eq!(
            reg.date.as_ref().map(|d| d.value.as_str()),
            Some("2015-04-11")
        );
        assert_eq!(
            result(reg.reading.as_ref()),
            CrossCheckResult::CheckedPassed
        );
        let early = date(&raw("issue_date", "2015-04-10", true), Some("2015-04-11"));
        assert_eq!(
            result(early.reading.as_ref()),
            CrossCheckResult::CheckedFailed
        );
        let future = date(&raw("issue_date", "2999-01-01", true), None);
        assert_eq!(
            result(future.reading.as_ref()),
            CrossCheckResult::CheckedFailed
        );
        let u = usage(&raw("use_character", "非营运", true));
        assert_eq!(u.usage.as_ref().map(|u| u.code.as_str()), Some("A"));
        let t = vehicle_type(&raw("vehicle_type", "小型轿车", true));
        assert_eq!(
            t.vehicle_type.as_ref().map(|t| t.code.as_str()),
            Some("K33")
        );
        let t = vehicle_type(&raw("vehicle_type", "飞船", true));
        assert_eq!(result(t.reading.as_ref()), CrossCheckResult::CheckedFailed);
    }

    #[test]
    fn the_back_in_units() {
        assert_eq!(parse_mass("2085kg"), Some(Some(2085)));
        assert_eq!(parse_mass("1.5t"), Some(Some(1500)));
        assert_eq!(parse_mass("--"), Some(None));
        assert_eq!(parse_mass("heavy"), None);
        assert_eq!(parse_size("4667×1839×1694mm"), Some((4667, 1839, 1694)));
        assert_eq!(parse_size("4667x1839"), None);
        assert_eq!(
            inspection_expiry("检验有效期至2019年11月粤E(01)汽油").as_deref(),
            Some("2019-11")
        );
        assert_eq!(
            inspection_expiry("检验有效期至2021年03月15日").as_deref(),
            Some("2021-03-15")
        );
        assert_eq!(inspection_expiry("备注"), None);
        let read = RawRead {
            side: Side::Back,
            fields: vec![
                raw("plate", "粤B 2177C", true),
                raw("approved_passengers", "5人", true),
                raw("total_mass", "2085kg", true),
                raw("curb_weight", "1610kg", true),
                raw("rated_load", "--", true),
                raw("external_size", "4667×1839×1694mm", true),
            ],
        };
        let b = back(&read);
        assert_eq!(b.approved_passengers.as_ref().map(|s| s.value), Some(5));
        assert!(b.rated_load.as_ref().is_some_and(|m| m.not_applicable));
        assert_eq!(
            result(b.curb_weight.as_ref().and_then(|m| m.reading.as_ref())),
            CrossCheckResult::CheckedPassed
        );
        assert_eq!(b.external_size.as_ref().map(|s| s.width_mm), Some(1839));
        let mut b2 = b.clone();
        let f = front(&RawRead {
            side: Side::Front,
            fields: vec![raw("plate", "粤BB4321", true)],
        });
        check_sides(&f, &mut b2);
        assert_eq!(
            result(b2.plate.as_ref().and_then(|p| p.reading.as_ref())),
            CrossCheckResult::CheckedFailed
        );
    }
}
