//! `axle ocr FILE [--side front|back] [--other FILE] [--json]`: a 行驶证 photo read by
//! ocr-service, each field with its value, its cross-check and where it came from.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::ocr::v1::{
    CrossCheckResult, LicenseBack, LicenseFront, LicensePhoto, LicenseSide, Reading,
    RecognizeVehicleLicenseRequest, RecognizeVehicleLicenseResponse, license_photo,
    recognize_vehicle_license_request,
};

use crate::ClientArgs;
use crate::readable::source_line;
use crate::render::to_json;
use crate::vin::{channel, status_error};

/// The side a photo shows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SideArg {
    Front,
    Back,
}

#[derive(Debug, clap::Args)]
pub struct OcrArgs {
    /// The photo (JPEG or PNG), or an http(s) URL the service fetches.
    pub file: Option<String>,
    /// Which side it shows; left out, ocr-service detects it.
    #[arg(long, value_enum)]
    pub side: Option<SideArg>,
    /// A photo of the other side of the same licence (its plate is checked against the
    /// first's).
    #[arg(long)]
    pub other: Option<PathBuf>,
}

fn photo(arg: &str) -> anyhow::Result<recognize_vehicle_license_request::Source> {
    if arg.starts_with("http://") || arg.starts_with("https://") {
        return Ok(recognize_vehicle_license_request::Source::ImageUrl(
            arg.to_owned(),
        ));
    }
    let bytes = std::fs::read(arg).map_err(|e| anyhow::anyhow!("cannot read {arg}: {e}"))?;
    Ok(recognize_vehicle_license_request::Source::Image(bytes))
}

pub async fn run(args: &OcrArgs, client_args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let endpoint = client_args.endpoint_or("AXLE_OCR_ENDPOINT", "http://127.0.0.1:50054");
    let Some(file) = &args.file else {
        anyhow::bail!("give the photo: axle ocr FILE (or axle ocr eval, the engine's evaluation)");
    };
    let source = photo(file)?;
    let other_side = match &args.other {
        Some(p) => Some(LicensePhoto {
            source: Some(license_photo::Source::Image(
                std::fs::read(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
            )),
        }),
        None => None,
    };
    let mut client = OcrServiceClient::new(channel(&endpoint, "ocr-service").await?)
        .max_decoding_message_size(16 * 1024 * 1024);
    let mut req = tonic::Request::new(RecognizeVehicleLicenseRequest {
        source: Some(source),
        side: match args.side {
            None => LicenseSide::Unspecified,
            Some(SideArg::Front) => LicenseSide::Front,
            Some(SideArg::Back) => LicenseSide::Back,
        } as i32,
        other_side,
    });
    req.set_timeout(client_args.timeout);
    let resp = match client.recognize_vehicle_license(req).await {
        Ok(r) => r.into_inner(),
        // The photo itself is the problem: say what to change (exit 1).
        Err(s) if s.code() == tonic::Code::InvalidArgument => {
            eprintln!("not read: {}", crate::render::safe(s.message()));
            return Ok(ExitCode::from(1));
        }
        Err(s) => return Err(status_error(s)),
    };
    if client_args.json {
        crate::render::out(&format!(
            "{}\n",
            to_json(&resp, "axle.ocr.v1.RecognizeVehicleLicenseResponse")?
        ))?;
    } else {
        crate::render::out(&crate::render::safe_lines(&describe(&resp)))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn mark(r: Option<&Reading>) -> String {
    let Some(r) = r else { return String::new() };
    let check = r.cross_check.as_ref();
    let result = check
        .and_then(|c| CrossCheckResult::try_from(c.result).ok())
        .unwrap_or(CrossCheckResult::Unspecified);
    let sign = match result {
        CrossCheckResult::CheckedPassed => "✓",
        CrossCheckResult::CheckedCorrected => "✓ corrected",
        CrossCheckResult::CheckedFailed => "✗",
        CrossCheckResult::NotChecked | CrossCheckResult::Unspecified => "",
    };
    let source = r.provenance.as_ref().map_or("", |p| p.source.as_str());
    let mut out = format!("  [{source} {:.2}]", r.confidence);
    if !sign.is_empty() {
        let _ = write!(out, " {sign}");
        if let Some(c) =
            check.filter(|c| !c.message.is_empty() && result != CrossCheckResult::CheckedPassed)
        {
            let _ = write!(out, " {}", c.message);
        }
    }
    out
}

fn line(out: &mut String, label: &str, value: &str, r: Option<&Reading>) {
    let _ = writeln!(out, "  {label:<8} {value}{}", mark(r));
}

fn front(out: &mut String, f: &LicenseFront) {
    let _ = writeln!(out, "正页 (front)");
    let text = |t: &Option<contracts::axle::ocr::v1::TextField>| {
        t.as_ref().map(|t| (t.value.clone(), t.reading.clone()))
    };
    for (label, field) in [
        ("号牌号码", text(&f.plate)),
        ("所有人", text(&f.owner)),
        ("住址", text(&f.address)),
        ("品牌型号", text(&f.model)),
        ("识别代号", text(&f.vin)),
        ("发动机号", text(&f.engine_number)),
        ("发证机关", text(&f.seal)),
    ] {
        if let Some((v, r)) = field {
            line(out, label, &v, r.as_ref());
        }
    }
    if let Some(t) = &f.vehicle_type {
        let v = t.vehicle_type.as_ref().map_or_else(
            || {
                t.reading
                    .as_ref()
                    .map(|r| r.text.clone())
                    .unwrap_or_default()
            },
            |c| format!("{} ({})", c.original_text, c.code),
        );
        line(out, "车辆类型", &v, t.reading.as_ref());
    }
    if let Some(u) = &f.use_character {
        let v = u.usage.as_ref().map_or_else(String::new, |c| {
            if c.code.is_empty() {
                c.original_text.clone()
            } else {
                format!("{} ({})", c.original_text, c.code)
            }
        });
        line(out, "使用性质", &v, u.reading.as_ref());
    }
    for (label, d) in [("注册日期", &f.register_date), ("发证日期", &f.issue_date)] {
        if let Some(d) = d {
            let v = d.date.as_ref().map(|d| d.value.clone()).unwrap_or_default();
            line(out, label, &v, d.reading.as_ref());
        }
    }
}

fn back(out: &mut String, b: &LicenseBack) {
    let _ = writeln!(out, "副页 (back)");
    for (label, t) in [
        ("号牌号码", &b.plate),
        ("档案编号", &b.file_number),
        ("备注", &b.remarks),
        ("燃料种类", &b.fuel_type),
    ] {
        if let Some(t) = t {
            line(out, label, &t.value, t.reading.as_ref());
        }
    }
    if let Some(c) = &b.approved_passengers {
        line(out, "核定载人", &format!("{}", c.value), c.reading.as_ref());
    }
    for (label, m) in [
        ("总质量", &b.total_mass),
        ("整备质量", &b.curb_weight),
        ("核定载质量", &b.rated_load),
        ("准牵引总质量", &b.traction_mass),
    ] {
        if let Some(m) = m {
            let v = if m.not_applicable {
                "-- (not applicable)".to_owned()
            } else {
                format!("{} kg", m.kilograms)
            };
            line(out, label, &v, m.reading.as_ref());
        }
    }
    if let Some(s) = &b.external_size {
        let v = format!("{}×{}×{} mm", s.length_mm, s.width_mm, s.height_mm);
        line(out, "外廓尺寸", &v, s.reading.as_ref());
    }
    if let Some(i) = &b.inspection_record {
        let until = i
            .valid_until
            .as_ref()
            .map(|d| format!(" (valid until {})", d.value))
            .unwrap_or_default();
        line(
            out,
            "检验记录",
            &format!("{}{until}", i.value),
            i.reading.as_ref(),
        );
    }
}

/// The readable answer.
pub fn describe(r: &RecognizeVehicleLicenseResponse) -> String {
    let mut out = String::new();
    let side = LicenseSide::try_from(r.side)
        .map_or("?", |s| s.as_str_name().trim_start_matches("LICENSE_SIDE_"));
    let _ = writeln!(
        out,
        "side: {side}{}",
        if r.side_detected { " (detected)" } else { "" }
    );
    if let Some(f) = &r.front {
        front(&mut out, f);
    }
    if let Some(b) = &r.back {
        back(&mut out, b);
    }
    let _ = writeln!(out, "sources:");
    for s in &r.sources {
        let _ = writeln!(out, "  {}", source_line(s, None, SystemTime::now()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::common::v1::Provenance;
    use contracts::axle::ocr::v1::{CrossCheck, MassField, TextField};

    #[test]
    fn fields_show_their_check_and_source() {
        let reading = |result: CrossCheckResult, message: &str| {
            Some(Reading {
                text: String::new(),
                confidence: 0.9,
                provenance: Some(Provenance {
                    source: "apihz".to_owned(),
                    ..Provenance::default()
                }),
                quad: None,
                cross_check: Some(CrossCheck {
                    result: result as i32,
                    message: message.to_owned(),
                    rule: String::new(),
                }),
            })
        };
        let r = RecognizeVehicleLicenseResponse {
            side: LicenseSide::Front as i32,
            side_detected: true,
            front: Some(LicenseFront {
                vin: Some(TextField {
                    value: "123**********EFGH".to_owned(),
                    reading: reading(
                        CrossCheckResult::CheckedFailed,
                        "check digit 9 read, 7 computed",
                    ),
                }),
                plate: Some(TextField {
                    value: "粤BB4321".to_owned(),
                    reading: reading(CrossCheckResult::CheckedPassed, "a valid plate"),
                }),
                ..LicenseFront::default()
            }),
            back: Some(LicenseBack {
                rated_load: Some(MassField {
                    not_applicable: true,
                    ..MassField::default()
                }),
                ..LicenseBack::default()
            }),
            sources: Vec::new(),
        };
        let text = describe(&r);
        assert!(text.contains("side: FRONT (detected)"), "{text}");
        assert!(
            text.contains("123**********EFGH  [apihz 0.90] ✗ check digit 9 read, 7 computed"),
            "{text}"
        );
        assert!(text.contains("粤BB4321  [apihz 0.90] ✓\n"), "{text}");
        assert!(text.contains("-- (not applicable)"), "{text}");
    }
}
