//! Personal data in text a vendor sent outside its documented fields.
//!
//! Vendors add keys without notice, and some send owner data unmasked (seed 000 offers
//! 脱敏 as an option, so the default is clear text). Such values reach callers only as
//! "unmapped" vendor fields, where no typed masking applies: this module finds personal
//! data by the key's meaning and by the value's shape, and masks it.

/// What a vendor field holds, judged by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Vin,
    EngineNumber,
    PersonName,
    IdNumber,
    Phone,
    Other,
}

/// Splits a key such as `owner_name`, `vehicle.vin`, `ownerName` into lower-case words.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The kind of a key, by its English words, pinyin initials (cjh 车架号, fdjh 发动机号,
/// sfzh 身份证号, xm 姓名, syr 所有人, lxdh 联系电话) or Chinese.
pub fn key_kind(key: &str) -> KeyKind {
    let w = words(key);
    let has = |xs: &[&str]| w.iter().any(|x| xs.contains(&x.as_str()));
    let zh = |xs: &[&str]| xs.iter().any(|x| key.contains(x));
    if has(&["vin", "cjh", "clsbdh", "frame", "chassis"]) || zh(&["车架", "识别代号", "识别码"])
    {
        KeyKind::Vin
    } else if (has(&["engine"]) && !has(&["model", "type", "brand", "oil"]))
        || has(&["fdjh", "engineno", "enginenumber"])
        || zh(&["发动机号", "发动机编号"])
    {
        KeyKind::EngineNumber
    } else if has(&[
        "idcard", "idno", "sfzh", "sfz", "identity", "certno", "zjhm",
    ]) || (has(&["id"]) && has(&["card", "number", "no"]))
        || zh(&["身份证", "证件号"])
    {
        KeyKind::IdNumber
    } else if has(&["phone", "mobile", "tel", "telephone", "sjhm", "lxdh", "dh"])
        || zh(&["手机", "电话"])
    {
        KeyKind::Phone
    } else if has(&["owner", "xm", "syr", "czxm", "holder", "contact", "lxr"])
        || zh(&["车主", "所有人", "姓名", "联系人", "户主"])
    {
        KeyKind::PersonName
    } else {
        KeyKind::Other
    }
}

/// A person's name: its first character only ("张三" -> "张*").
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first)
            .chain(chars.map(|_| '*'))
            .collect::<String>(),
        None => String::new(),
    }
}

/// All but the last four characters starred; four or fewer are starred entirely (a
/// short value would show all of itself).
pub fn mask_tail4(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep = chars.len() - 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

/// WMI and the last four kept: "LSV**********4847".
pub fn mask_vin(vin: &str) -> String {
    let chars: Vec<char> = vin.chars().collect();
    if chars.len() < 17 {
        return mask_tail4(vin);
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i + 4 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

fn is_vin_char(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'O' | 'Q'))
}

/// Masks every run in free text shaped like a VIN (17 VIN characters with letters and
/// digits), a mainland ID number (18 characters, the last may be X; or 15 digits) or a
/// mainland mobile number (11 digits from 13-19). Runs are maximal alphanumeric runs, so
/// a longer number is never mistaken for one of these.
pub fn mask_identifiers(text: &str) -> String {
    scan(text, false)
}

fn scan(text: &str, keep_vins: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let upper = run.to_ascii_uppercase();
        let digits = run.bytes().filter(u8::is_ascii_digit).count();
        let n = run.len();
        let id18 = n == 18
            && upper[..17].bytes().all(|b| b.is_ascii_digit())
            && upper.ends_with(|c: char| c.is_ascii_digit() || c == 'X');
        let id15 = n == 15 && digits == 15;
        let phone = n == 11
            && digits == 11
            && run.starts_with('1')
            && matches!(run.as_bytes()[1], b'3'..=b'9');
        let vin = n == 17 && upper.chars().all(is_vin_char) && digits > 0 && digits < 17;
        if id18 || id15 {
            out.push_str(&mask_tail4(&run));
        } else if phone {
            out.push_str(&run[..3]);
            out.push_str("****");
            out.push_str(&run[7..]);
        } else if vin && !keep_vins {
            out.push_str(&mask_vin(&upper));
        } else {
            out.push_str(&run);
        }
    }
    out
}

/// What may be shown of a vendor field that no typed field covers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reveal {
    pub full_vin: bool,
    pub engine_number: bool,
}

/// Masks a vendor field's value by its key's meaning, then any identifier its text
/// contains (a VIN nested in a JSON value, a phone number in a remark).
pub fn mask_vendor_field(key: &str, value: &str, reveal: Reveal) -> String {
    let by_key = match key_kind(key) {
        KeyKind::Vin if !reveal.full_vin => {
            let compact: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
            if compact.len() == 17 {
                mask_vin(&compact.to_ascii_uppercase())
            } else {
                mask_identifiers(value)
            }
        }
        KeyKind::EngineNumber if !reveal.engine_number => mask_tail4(value),
        KeyKind::PersonName => mask_name(value),
        KeyKind::IdNumber | KeyKind::Phone => mask_tail4(value),
        _ => value.to_owned(),
    };
    // With VINs revealed only the VIN-shaped runs may stay; ID and phone numbers never do.
    scan(&by_key, reveal.full_vin)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIDE: Reveal = Reveal {
        full_vin: false,
        engine_number: false,
    };

    #[test]
    fn keys_by_meaning_not_by_substring() {
        assert_eq!(key_kind("vin"), KeyKind::Vin);
        assert_eq!(key_kind("vehicle.vin"), KeyKind::Vin);
        assert_eq!(key_kind("carVin"), KeyKind::Vin);
        assert_eq!(
            key_kind("province"),
            KeyKind::Other,
            "province is not a VIN"
        );
        assert_eq!(key_kind("fdjh"), KeyKind::EngineNumber);
        assert_eq!(key_kind("发动机编号"), KeyKind::EngineNumber);
        assert_eq!(key_kind("engine_model"), KeyKind::Other);
        assert_eq!(key_kind("owner_name"), KeyKind::PersonName);
        assert_eq!(key_kind("车主"), KeyKind::PersonName);
        assert_eq!(key_kind("id_card"), KeyKind::IdNumber);
        assert_eq!(key_kind("sfzh"), KeyKind::IdNumber);
        assert_eq!(key_kind("phone"), KeyKind::Phone);
        assert_eq!(
            key_kind("name"),
            KeyKind::Other,
            "a model's name is not a person's"
        );
    }

    #[test]
    fn personal_data_is_masked_by_key_and_by_shape() {
        let m = |k: &str, v: &str| mask_vendor_field(k, v, HIDE);
        assert_eq!(m("owner_name", "张三"), "张*");
        assert_eq!(m("id_card", "440301199001011234"), "**************1234");
        assert_eq!(m("phone", "13800138000"), "*******8000");
        assert_eq!(m("remark", "联系13800138000"), "联系138****8000");
        assert_eq!(
            m("remark", "证件440301199001011234"),
            "证件**************1234"
        );
        assert_eq!(
            m("vehicle", r#"{"vin":"LNBSCC3H5JT920714"}"#),
            r#"{"vin":"LNB**********0714"}"#
        );
        assert_eq!(m("fdjh", "AD50EG081600062"), "***********0062");
        assert_eq!(m("province", "广东"), "广东");
        assert_eq!(m("model", "宝来 2018款"), "宝来 2018款");
        // A longer number is not an ID or a phone number.
        assert_eq!(
            m("order_no", "202406120000123456789"),
            "202406120000123456789"
        );
    }

    #[test]
    fn revealed_vins_stay_but_people_never_do() {
        let r = Reveal {
            full_vin: true,
            engine_number: true,
        };
        assert_eq!(
            mask_vendor_field("note", "LNBSCC3H5JT920714 13800138000", r),
            "LNBSCC3H5JT920714 138****8000"
        );
        assert_eq!(mask_vendor_field("owner", "李四", r), "李*");
    }
}
