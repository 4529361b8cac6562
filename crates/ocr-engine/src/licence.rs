//! Which recognised line is which field of a 行驶证 (GA 37 机动车行驶证).
//!
//! The printed form labels every field (号牌号码, 车辆类型 ...; the back: 档案编号, 核定载人数
//! ...), usually with an English label beside it, and the value follows its label on the
//! same row. The recogniser may return a label and its value as one line ("号牌号码粤B12345")
//! or as two, may merge two fields of one row into one line, and may lose a label to
//! glare. So fields are found in three passes:
//!
//! 1. labels inside lines: the text after a label, up to the next label, is its value;
//! 2. a label alone: its value is the nearest line to its right on the same row;
//! 3. what is still missing is recognised by its shape among the lines nobody claimed
//!    (a 17-character VIN, a plate the plate rules accept, dates, a 使用性质 of the code
//!    table, "…kg", "…mm", "N人", 检验有效期至 …), with lower confidence.
//!
//! Robust to rotation and crops by construction: positions are compared relative to the
//! lines' own heights, never to the photo's size.

use crate::geometry::Quad;
use crate::types::{Field, FieldName, Read, Side, TextLine};

/// A field's printed label and the spellings the recogniser produces for it (partial
/// labels where the first or last character is often lost), longest first.
struct Label {
    name: FieldName,
    side: Option<Side>,
    spellings: &'static [&'static str],
}

const LABELS: &[Label] = &[
    Label {
        name: FieldName::Plate,
        side: None,
        spellings: &["号牌号码", "号牌号", "牌号码"],
    },
    Label {
        name: FieldName::VehicleType,
        side: Some(Side::Front),
        spellings: &["车辆类型", "辆类型", "车辆类"],
    },
    Label {
        name: FieldName::Owner,
        side: Some(Side::Front),
        spellings: &["所有人"],
    },
    Label {
        name: FieldName::Address,
        side: Some(Side::Front),
        spellings: &["住址"],
    },
    Label {
        name: FieldName::UseCharacter,
        side: Some(Side::Front),
        spellings: &["使用性质", "用性质", "使用性"],
    },
    Label {
        name: FieldName::Model,
        side: Some(Side::Front),
        spellings: &["品牌型号", "牌型号", "品牌型"],
    },
    Label {
        name: FieldName::Vin,
        side: Some(Side::Front),
        spellings: &[
            "车辆识别代号",
            "车辆识别代码",
            "识别代号",
            "辆识别代号",
            "车辆识别代",
        ],
    },
    Label {
        name: FieldName::EngineNumber,
        side: Some(Side::Front),
        spellings: &["发动机号码", "发动机号", "动机号码"],
    },
    Label {
        name: FieldName::RegisterDate,
        side: Some(Side::Front),
        spellings: &["注册日期", "注册日"],
    },
    Label {
        name: FieldName::IssueDate,
        side: Some(Side::Front),
        spellings: &["发证日期", "发证日"],
    },
    Label {
        name: FieldName::FileNumber,
        side: Some(Side::Back),
        spellings: &["档案编号", "案编号", "档案编"],
    },
    Label {
        name: FieldName::ApprovedPassengers,
        side: Some(Side::Back),
        spellings: &["核定载人数", "定载人数", "核定载人"],
    },
    // Longer labels containing 总质量 come first in matching (see `labels_in`).
    Label {
        name: FieldName::TractionMass,
        side: Some(Side::Back),
        spellings: &["准牵引总质量", "牵引总质量"],
    },
    Label {
        name: FieldName::RatedLoad,
        side: Some(Side::Back),
        spellings: &["核定载质量", "定载质量"],
    },
    Label {
        name: FieldName::CurbWeight,
        side: Some(Side::Back),
        spellings: &["整备质量", "备质量"],
    },
    Label {
        name: FieldName::TotalMass,
        side: Some(Side::Back),
        spellings: &["总质量"],
    },
    Label {
        name: FieldName::ExternalSize,
        side: Some(Side::Back),
        spellings: &["外廓尺寸", "廓尺寸", "外廓尺"],
    },
    Label {
        name: FieldName::Remarks,
        side: Some(Side::Back),
        spellings: &["备注"],
    },
    Label {
        name: FieldName::InspectionRecord,
        side: Some(Side::Back),
        spellings: &["检验记录", "验记录"],
    },
];

/// English labels printed beside the Chinese ones, compared without spaces and case.
const ENGLISH: &[&str] = &[
    "vehicleidentificationnumber",
    "vehicleidentificationno",
    "usecharacter",
    "registerdate",
    "registrationdate",
    "issuedate",
    "vehicletype",
    "plateno",
    "engineno",
    "address",
    "owner",
    "model",
    "vin",
];

/// 使用性质 as printed (GA 24.3), for placing a value whose label was lost.
const USE_CHARACTERS: &[&str] = &[
    "非营运",
    "营转非",
    "出租转非",
    "预约出租转非",
    "预约出租客运",
    "出租客运",
    "公路客运",
    "公交客运",
    "旅游客运",
    "租赁",
    "货运",
    "危化品运输",
    "教练",
    "幼儿校车",
    "小学生校车",
    "初中生校车",
    "中小学生校车",
    "其他校车",
    "警用",
    "消防",
    "救护",
    "工程救险",
    "营运",
    "非营业",
    "营业",
];

/// Confidence kept when a value was placed by its shape, not its label.
const BY_SHAPE: f32 = 0.85;

#[derive(Debug, Clone)]
struct Candidate {
    name: FieldName,
    text: String,
    confidence: f32,
    quad: Quad,
    by_label: bool,
}

/// The fields of a photo from its lines (reading order), for `side` when known.
pub fn extract(lines: Vec<TextLine>, side: Option<Side>) -> Read {
    let side = side.unwrap_or_else(|| detect_side(&lines));
    let mut found: Vec<Candidate> = Vec::new();
    let mut claimed = vec![false; lines.len()];
    let mut pending_labels: Vec<(usize, FieldName)> = Vec::new();

    // 1. Labels inside lines.
    for (i, line) in lines.iter().enumerate() {
        let compact = compact(&line.text);
        let hits = labels_in(&compact, side);
        if hits.is_empty() {
            continue;
        }
        claimed[i] = true;
        for (k, &(start, len, name)) in hits.iter().enumerate() {
            let end = hits.get(k + 1).map_or(compact.len(), |h| h.0);
            let rest = strip_label_rest(
                name,
                &compact[start..start + len],
                &compact[start + len..end],
            );
            let value = clean(name, &strip_english(rest));
            if value.is_empty() || !plausible(name, &value) {
                pending_labels.push((i, name));
            } else {
                found.push(Candidate {
                    name,
                    text: value,
                    confidence: line.confidence,
                    quad: line.quad,
                    by_label: true,
                });
            }
        }
    }

    // 2. A label alone: the nearest unclaimed line to its right on the same row.
    for (i, name) in pending_labels {
        if found.iter().any(|c| c.name == name) {
            continue;
        }
        let label = &lines[i];
        let best = lines
            .iter()
            .enumerate()
            .filter(|(j, l)| {
                !claimed[*j]
                    && same_row(label, l)
                    && left(l) >= left(label)
                    && plausible(name, &clean(name, &strip_english(&compact(&l.text))))
            })
            .min_by(|a, b| left(a.1).total_cmp(&left(b.1)));
        if let Some((j, value)) = best {
            let text = clean(name, &strip_english(&compact(&value.text)));
            if !text.is_empty() && plausible(name, &text) {
                claimed[j] = true;
                found.push(Candidate {
                    name,
                    text,
                    confidence: value.confidence,
                    quad: value.quad,
                    by_label: true,
                });
            }
        }
    }

    // 3. By shape, among the lines nobody claimed.
    let mut dates: Vec<(usize, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if claimed[i] {
            continue;
        }
        let text = strip_english(&compact(&line.text));
        if text.is_empty() {
            continue;
        }
        if let Some(name) = shape_of(&text, side) {
            if name == FieldName::RegisterDate {
                dates.push((i, text));
                continue;
            }
            if !found.iter().any(|c| c.name == name) {
                claimed[i] = true;
                found.push(Candidate {
                    name,
                    text: clean(name, &text),
                    confidence: line.confidence * BY_SHAPE,
                    quad: line.quad,
                    by_label: false,
                });
            }
        }
    }
    // Dates without labels: the register date is printed left of (or above) the issue date.
    dates.sort_by(|a, b| {
        let (la, lb) = (&lines[a.0], &lines[b.0]);
        if same_row(la, lb) {
            left(la).total_cmp(&left(lb))
        } else {
            top(la).total_cmp(&top(lb))
        }
    });
    for (i, text) in dates {
        let name = [FieldName::RegisterDate, FieldName::IssueDate]
            .into_iter()
            .find(|n| !found.iter().any(|c| c.name == *n));
        if let Some(name) = name {
            found.push(Candidate {
                name,
                text: clean(name, &text),
                confidence: lines[i].confidence * BY_SHAPE,
                quad: lines[i].quad,
                by_label: false,
            });
        }
    }

    // One value per field: a labelled one before one placed by shape.
    found.sort_by(|a, b| a.name.cmp(&b.name).then(b.by_label.cmp(&a.by_label)));
    found.dedup_by(|a, b| a.name == b.name);
    Read {
        side,
        fields: found
            .into_iter()
            .filter(|c| belongs(c.name, side))
            .map(|c| Field {
                name: c.name,
                text: c.text,
                confidence: c.confidence,
                quad: c.quad,
            })
            .collect(),
        lines,
    }
}

/// Whether a field is printed on `side`.
fn belongs(name: FieldName, side: Side) -> bool {
    LABELS
        .iter()
        .find(|l| l.name == name)
        .is_none_or(|l| l.side.is_none_or(|s| s == side))
        || (name == FieldName::Seal && side == Side::Front)
}

/// Front or back, by which side's labels (and shapes) the lines carry.
pub fn detect_side(lines: &[TextLine]) -> Side {
    let (mut front, mut back) = (0_i32, 0_i32);
    for l in lines {
        let c = compact(&l.text);
        if c.contains("行驶证") && !c.contains("副页") {
            front += 2;
        }
        if c.contains("副页") || c.contains("检验有效期") {
            back += 2;
        }
        for label in LABELS {
            if label.spellings.iter().any(|s| c.contains(s)) {
                match label.side {
                    Some(Side::Front) => front += 1,
                    Some(Side::Back) => back += 1,
                    None => {}
                }
            }
        }
        if is_vin_shaped(&c) {
            front += 1;
        }
        if c.ends_with("kg") || c.ends_with("mm") {
            back += 1;
        }
    }
    if back > front {
        Side::Back
    } else {
        Side::Front
    }
}

/// Every label in `compact` text (start byte, byte length, field), in order, longest
/// spelling first where spellings overlap; back-only labels are not looked for on the
/// front and the reverse, so 总质量 in a front remark is not a label.
fn labels_in(compact: &str, side: Side) -> Vec<(usize, usize, FieldName)> {
    let mut hits: Vec<(usize, usize, FieldName)> = Vec::new();
    for label in LABELS.iter().filter(|l| l.side.is_none_or(|s| s == side)) {
        for s in label.spellings {
            for (start, _) in compact.match_indices(s) {
                let end = start + s.len();
                if !hits.iter().any(|&(hs, hl, _)| start < hs + hl && hs < end) {
                    hits.push((start, s.len(), label.name));
                }
            }
        }
    }
    hits.sort_by_key(|h| h.0);
    hits
}

/// The field a text looks like, when it looks like one.
fn shape_of(text: &str, side: Side) -> Option<FieldName> {
    let upper = text.to_ascii_uppercase();
    match side {
        Side::Front => {
            if is_vin_shaped(&upper) {
                return Some(FieldName::Vin);
            }
            if is_plate(&upper) {
                return Some(FieldName::Plate);
            }
            if is_date(text) {
                return Some(FieldName::RegisterDate);
            }
            if USE_CHARACTERS.contains(&text) {
                return Some(FieldName::UseCharacter);
            }
            if text.contains("公安局") || text.contains("交通警察") || text.contains("车辆管理所")
            {
                return Some(FieldName::Seal);
            }
            if text.contains('牌') && text.chars().any(|c| c.is_ascii_alphanumeric()) {
                return Some(FieldName::Model);
            }
            if text.chars().count() <= 10
                && [
                    "轿车",
                    "客车",
                    "货车",
                    "牵引车",
                    "挂车",
                    "作业车",
                    "摩托车",
                    "越野车",
                    "自卸车",
                ]
                .iter()
                .any(|k| text.ends_with(k))
            {
                return Some(FieldName::VehicleType);
            }
            None
        }
        Side::Back => {
            if is_plate(&upper) {
                return Some(FieldName::Plate);
            }
            if text.contains("检验有效期") {
                return Some(FieldName::InspectionRecord);
            }
            let lower = text.to_ascii_lowercase();
            if lower.ends_with("mm") && lower.matches(['×', 'x', '*', 'X']).count() >= 2 {
                return Some(FieldName::ExternalSize);
            }
            if text.ends_with('人')
                && text
                    .trim_end_matches('人')
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                return Some(FieldName::ApprovedPassengers);
            }
            if text.len() >= 10 && text.chars().all(|c| c.is_ascii_digit()) {
                return Some(FieldName::FileNumber);
            }
            None
        }
    }
}

fn is_vin_shaped(text: &str) -> bool {
    let alnum: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
    alnum.len() == 17
        && text.chars().count() <= 19
        && alnum.chars().any(|c| c.is_ascii_digit())
        && alnum.chars().any(|c| c.is_ascii_alphabetic())
}

fn is_plate(text: &str) -> bool {
    let first = text.chars().next();
    first.is_some_and(|c| !c.is_ascii())
        && text.chars().count() <= 9
        && domain::plate::parse(text, None).valid
}

fn is_date(text: &str) -> bool {
    domain::dates::iso_date(text).is_some_and(|d| d.len() == 10)
}

/// Text without spaces, full-width forms folded (the recogniser mixes both), and the
/// label's colon dropped.
fn compact(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// The text with an English label at its start or end removed ("PlateNo.粤B12345" ->
/// "粤B12345"), compared without case and dots.
fn strip_english(text: &str) -> String {
    let mut t = text.trim_matches([':', '：', '.', '·', ',']).to_owned();
    loop {
        let lower = t.to_ascii_lowercase().replace('.', "");
        let Some(word) = ENGLISH
            .iter()
            .find(|w| lower.starts_with(*w) || lower.ends_with(*w))
        else {
            break;
        };
        // Map the match back onto `t` (dots were removed for the comparison).
        let keep: String = if lower.starts_with(word) {
            skip_ascii_letters(&t, word.len(), false)
        } else {
            skip_ascii_letters(&t, word.len(), true)
        };
        if keep.len() == t.len() {
            break;
        }
        keep.trim_matches([':', '：', '.', '·', ','])
            .clone_into(&mut t);
    }
    t
}

/// `t` without its first (or last) `n` ASCII letters and the dots among them.
fn skip_ascii_letters(t: &str, n: usize, from_end: bool) -> String {
    let chars: Vec<char> = t.chars().collect();
    let mut count = 0;
    let mut cut = 0;
    let iter: Box<dyn Iterator<Item = &char>> = if from_end {
        Box::new(chars.iter().rev())
    } else {
        Box::new(chars.iter())
    };
    for c in iter {
        if count == n {
            break;
        }
        if c.is_ascii_alphabetic() {
            count += 1;
        } else if *c != '.' {
            break;
        }
        cut += 1;
    }
    if count < n {
        return t.to_owned();
    }
    if from_end {
        chars[..chars.len() - cut].iter().collect()
    } else {
        chars[cut..].iter().collect()
    }
}

/// A value as the field is written: identifiers upper-cased without separators and the
/// letters they cannot contain read as the digits they were (a plate's serial and a VIN
/// have no O or I; engine numbers avoid them for the same reason), dates as ISO, sizes
/// with ×, and the stray characters the recogniser glues on before a plate or a 使用性质.
fn clean(name: FieldName, text: &str) -> String {
    let t = text.trim_matches([':', '：', '.', '·', ',', ' ']);
    match name {
        FieldName::Vin => t
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| match c.to_ascii_uppercase() {
                'O' | 'Q' => '0',
                'I' => '1',
                c => c,
            })
            .collect(),
        FieldName::EngineNumber => t
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                c => c,
            })
            .collect(),
        FieldName::Plate => clean_plate(t),
        FieldName::RegisterDate | FieldName::IssueDate => {
            date_in(t).unwrap_or_else(|| t.to_owned())
        }
        FieldName::ExternalSize => t
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .map(|c| {
                if matches!(c, 'x' | 'X' | '*' | '✕' | '╳') {
                    '×'
                } else {
                    c
                }
            })
            .collect(),
        FieldName::UseCharacter => USE_CHARACTERS
            .iter()
            .filter(|u| t.contains(*u))
            .max_by_key(|u| u.chars().count())
            .map_or_else(|| t.to_owned(), |u| (*u).to_owned()),
        _ => t.to_owned(),
    }
}

/// The plate in `t`: from its province character on, separators dropped, the serial's
/// O and I read as 0 and 1 (GA 36 leaves them out), cut to what the plate rules accept.
fn clean_plate(t: &str) -> String {
    let chars: Vec<char> = t
        .chars()
        .filter(|c| !matches!(c, '·' | '-' | '.' | ' ' | '•'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let start = chars
        .iter()
        .position(|&c| domain::plate::province_of(c).is_some() && !c.is_ascii())
        .unwrap_or(0);
    let mut plate: Vec<char> = chars[start..].to_vec();
    for c in plate.iter_mut().skip(2) {
        *c = match *c {
            'O' => '0',
            'I' => '1',
            c => c,
        };
    }
    // The longest prefix that is a plate (a trailing stray character is dropped).
    for len in (7..=plate.len().min(9)).rev() {
        let candidate: String = plate[..len].iter().collect();
        if domain::plate::parse(&candidate, None).valid {
            return candidate;
        }
    }
    plate.into_iter().collect()
}

/// The first date in `t` as ISO ("2015-04-11", also from "2015-0411", "20150411",
/// "2015年4月11日"), when it is a real date.
fn date_in(t: &str) -> Option<String> {
    let digits: Vec<(usize, char)> = t
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .collect();
    let run: String = digits.iter().map(|(_, c)| c).collect();
    if let Some(d) = domain::dates::iso_date(t.trim_start_matches(|c: char| !c.is_ascii_digit()))
        .filter(|d| d.len() == 10)
    {
        return Some(d);
    }
    if run.len() == 8 {
        return domain::dates::iso_date(&run).filter(|d| d.len() == 10);
    }
    None
}

/// What is left of a value once the rest of a partly read label is dropped ("使用性" read
/// as the label leaves "质非营运": the 质 is the label's).
fn strip_label_rest<'a>(name: FieldName, matched: &str, value: &'a str) -> &'a str {
    let Some(full) = LABELS
        .iter()
        .find(|l| l.name == name)
        .and_then(|l| l.spellings.first())
    else {
        return value;
    };
    if matched == *full {
        return value;
    }
    let rest: Vec<char> = full.chars().skip_while(|c| matched.contains(*c)).collect();
    let mut v = value;
    for c in rest {
        match v.strip_prefix(c) {
            Some(r) => v = r,
            None => break,
        }
    }
    v
}

/// Whether `text` can be the value of `name`: Chinese fields carry Chinese, dates digits,
/// identifiers letters or digits; an English label read on its own is none of them.
fn plausible(name: FieldName, text: &str) -> bool {
    let cjk = text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
    let digit = text.chars().any(|c| c.is_ascii_digit());
    match name {
        FieldName::Owner
        | FieldName::Address
        | FieldName::UseCharacter
        | FieldName::VehicleType
        | FieldName::Seal => cjk,
        FieldName::Model => cjk || digit,
        FieldName::RegisterDate | FieldName::IssueDate => date_in(text).is_some(),
        FieldName::Vin => digit,
        // Engine numbers are letters and digits, rarely letters only; an English label
        // read on its own is the thing to keep out.
        FieldName::EngineNumber => {
            !text.is_empty()
                && text.chars().all(|c| c.is_ascii_alphanumeric())
                && !ENGLISH
                    .iter()
                    .any(|w| text.to_ascii_lowercase().contains(w))
        }
        FieldName::Plate => text.chars().next().is_some_and(|c| !c.is_ascii()),
        _ => true,
    }
}

fn top(l: &TextLine) -> f32 {
    l.quad[0][1].min(l.quad[1][1])
}

fn left(l: &TextLine) -> f32 {
    l.quad[0][0].min(l.quad[3][0])
}

fn height(l: &TextLine) -> f32 {
    f32::midpoint(l.quad[3][1] - l.quad[0][1], l.quad[2][1] - l.quad[1][1])
}

fn center_y(l: &TextLine) -> f32 {
    l.quad.iter().map(|p| p[1]).sum::<f32>() / 4.0
}

/// Two lines on one printed row: their centres closer than 60 % of the taller one.
fn same_row(a: &TextLine, b: &TextLine) -> bool {
    (center_y(a) - center_y(b)).abs() < 0.6 * height(a).max(height(b)).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x: f32, y: f32, w: f32) -> TextLine {
        TextLine {
            text: text.to_owned(),
            confidence: 0.95,
            quad: [[x, y], [x + w, y], [x + w, y + 30.0], [x, y + 30.0]],
        }
    }

    fn get(r: &Read, name: FieldName) -> Option<&str> {
        r.field(name).map(|f| f.text.as_str())
    }

    /// The seed's front example, as the recogniser splits a real form: labels merged with
    /// their values, labels alone, English labels, two fields on one row.
    #[test]
    fn a_front_is_read_by_its_labels() {
        let lines = vec![
            line("中华人民共和国机动车行驶证", 200.0, 20.0, 500.0),
            line("号牌号码", 40.0, 100.0, 120.0),
            line("Plate No.粤BB4321", 170.0, 100.0, 200.0),
            line("车辆类型小型轿车", 450.0, 100.0, 250.0),
            line("所有人 艾米", 40.0, 150.0, 200.0),
            line(
                "住址 深圳市南山区高新科技园科技中一路腾云大厦",
                40.0,
                200.0,
                600.0,
            ),
            line("使用性质", 40.0, 250.0, 120.0),
            line("非营运", 170.0, 252.0, 90.0),
            line("品牌型号东风雪铁龙牌DC7183LYAA", 400.0, 250.0, 350.0),
            line("车辆识别代号 VIN", 40.0, 300.0, 200.0),
            line("LDC613P25A1234567", 260.0, 300.0, 300.0),
            line("发动机号码 Engine No. 8B12345", 40.0, 350.0, 400.0),
            line("注册日期2015-04-11", 40.0, 400.0, 260.0),
            line("发证日期2015-04-12", 400.0, 400.0, 260.0),
            line("广东省深圳市公安局交通警察支队", 40.0, 460.0, 300.0),
        ];
        let r = extract(lines, None);
        assert_eq!(r.side, Side::Front);
        assert_eq!(get(&r, FieldName::Plate), Some("粤BB4321"));
        assert_eq!(get(&r, FieldName::VehicleType), Some("小型轿车"));
        assert_eq!(get(&r, FieldName::Owner), Some("艾米"));
        assert_eq!(
            get(&r, FieldName::Address),
            Some("深圳市南山区高新科技园科技中一路腾云大厦")
        );
        assert_eq!(get(&r, FieldName::UseCharacter), Some("非营运"));
        assert_eq!(get(&r, FieldName::Model), Some("东风雪铁龙牌DC7183LYAA"));
        assert_eq!(get(&r, FieldName::Vin), Some("LDC613P25A1234567"));
        assert_eq!(get(&r, FieldName::EngineNumber), Some("8B12345"));
        assert_eq!(get(&r, FieldName::RegisterDate), Some("2015-04-11"));
        assert_eq!(get(&r, FieldName::IssueDate), Some("2015-04-12"));
        assert_eq!(
            get(&r, FieldName::Seal),
            Some("广东省深圳市公安局交通警察支队")
        );
        assert!(r.fields.iter().all(|f| f.confidence > 0.8));
    }

    #[test]
    fn lost_labels_are_made_up_for_by_shape() {
        let lines = vec![
            line("粤B12345", 170.0, 100.0, 150.0),
            line("LSVAM4182N2123456", 260.0, 300.0, 300.0),
            line("2019-05-20", 60.0, 400.0, 150.0),
            line("2019-05-27", 400.0, 400.0, 150.0),
            line("出租客运", 170.0, 250.0, 100.0),
        ];
        let r = extract(lines, Some(Side::Front));
        assert_eq!(get(&r, FieldName::Plate), Some("粤B12345"));
        assert_eq!(get(&r, FieldName::Vin), Some("LSVAM4182N2123456"));
        assert_eq!(get(&r, FieldName::RegisterDate), Some("2019-05-20"));
        assert_eq!(get(&r, FieldName::IssueDate), Some("2019-05-27"));
        assert_eq!(get(&r, FieldName::UseCharacter), Some("出租客运"));
        assert!(r.field(FieldName::Vin).is_some_and(|f| f.confidence < 0.95));
    }

    /// The seed's back example.
    #[test]
    fn a_back_is_detected_and_read() {
        let lines = vec![
            line("号牌号码 粤B 2177C", 40.0, 40.0, 250.0),
            line("档案编号440681681182", 400.0, 40.0, 300.0),
            line("核定载人数5人", 40.0, 90.0, 200.0),
            line("总质量2085kg", 300.0, 90.0, 200.0),
            line("整备质量1610kg", 40.0, 140.0, 200.0),
            line("核定载质量--", 300.0, 140.0, 200.0),
            line("外廓尺寸4667×1839×1694mm", 40.0, 190.0, 400.0),
            line("准牵引总质量--", 40.0, 240.0, 200.0),
            line("备注", 40.0, 290.0, 60.0),
            line("检验有效期至2019年11月粤E(01)", 40.0, 340.0, 400.0),
        ];
        let r = extract(lines, None);
        assert_eq!(r.side, Side::Back);
        assert_eq!(get(&r, FieldName::Plate), Some("粤B2177C"));
        assert_eq!(get(&r, FieldName::FileNumber), Some("440681681182"));
        assert_eq!(get(&r, FieldName::ApprovedPassengers), Some("5人"));
        assert_eq!(get(&r, FieldName::TotalMass), Some("2085kg"));
        assert_eq!(get(&r, FieldName::CurbWeight), Some("1610kg"));
        assert_eq!(get(&r, FieldName::RatedLoad), Some("--"));
        assert_eq!(get(&r, FieldName::ExternalSize), Some("4667×1839×1694mm"));
        assert_eq!(get(&r, FieldName::TractionMass), Some("--"), "not 总质量");
        assert_eq!(
            get(&r, FieldName::InspectionRecord),
            Some("检验有效期至2019年11月粤E(01)")
        );
        assert!(r.field(FieldName::Vin).is_none());
    }

    #[test]
    fn english_labels_are_stripped_from_either_end() {
        assert_eq!(strip_english("PlateNo.粤B12345"), "粤B12345");
        assert_eq!(strip_english("8B12345EngineNo."), "8B12345");
        assert_eq!(strip_english("Owner"), "");
        assert_eq!(strip_english("小型轿车VehicleType"), "小型轿车");
        assert_eq!(
            strip_english("LSVAM4182N2123456"),
            "LSVAM4182N2123456",
            "a VIN is not a label"
        );
    }

    proptest::proptest! {
        /// Whatever the recogniser returns, extraction never panics and never invents a
        /// value that no line contains.
        #[test]
        fn extraction_is_total_and_invents_nothing(texts in proptest::collection::vec(".{0,30}", 0..12)) {
            let lines: Vec<TextLine> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| line(t, 10.0 * i as f32, 35.0 * i as f32, 100.0))
                .collect();
            let all: String = texts.iter().map(|t| compact(t).to_uppercase()).collect();
            let r = extract(lines, None);
            for f in &r.fields {
                let v: String = f.text.chars().filter(|c| !c.is_whitespace()).collect();
                let v = v.to_uppercase();
                let found = v.chars().all(|c| all.contains(c));
                proptest::prop_assert!(found, "{:?} from {:?}", f, texts);
            }
        }
    }
}
