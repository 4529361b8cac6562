//! Input clean-up. People paste VINs from documents, photos and spreadsheets: case,
//! full-width forms (ＬＳＶ…), spaces and dashes are noise, not part of the VIN.

/// Trims, upper-cases, maps full-width ASCII (U+FF01..U+FF5E) to ASCII, and drops
/// whitespace (including the ideographic space U+3000), dashes and dots, which never
/// occur in a VIN but are common separators in printed ones, and every control or
/// invisible character ([`crate::text::is_control_or_invisible`]). Everything else is
/// kept, so that the rules can point at it.
///
/// Text pasted from a page or a form often brings a label ("VIN: …", "车架号：…") and
/// the sentence's punctuation ("…。"); those are dropped at the ends. A VIN cannot start
/// with "VIN" (I is never a VIN character), so the label is never part of one.
///
/// Characters are folded before labels are looked for, and labels are dropped until none
/// is left, so that normalising twice changes nothing: a full-width label (`ＶＩＮ：`) or
/// one behind a dash (`-VIN`) used to survive the first pass as `VIN:` and go in the
/// second (found by the `vin` fuzz target).
pub fn normalize(input: &str) -> String {
    let mut folded = String::with_capacity(input.len().min(64));
    for c in input.chars() {
        // Control and invisible characters go first, so that one in front of a label (a
        // byte-order mark, an escape sequence's ESC) does not hide the label.
        if crate::text::is_control_or_invisible(c) {
            continue;
        }
        let c = crate::text::fold_width(c);
        let c = crate::text::latin_look_alike(c).unwrap_or(c);
        if c.is_whitespace()
            || matches!(
                c,
                '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '.' | '·' | '_'
            )
        {
            continue;
        }
        folded.push(c.to_ascii_uppercase());
    }
    strip_labels(&folded).to_owned()
}

/// Labels that precede a VIN in pasted text, longest first.
const LABELS: &[&str] = &[
    "车辆识别代号",
    "车辆识别代码",
    "车辆识别号码",
    "车辆识别号",
    "车架号码",
    "车架号",
    "VIN码",
    "VIN号",
    "VIN",
];

fn is_edge_punctuation(c: char) -> bool {
    matches!(
        c,
        ':' | '：'
            | ','
            | '，'
            | ';'
            | '；'
            | '。'
            | '、'
            | '='
            | '#'
            | '"'
            | '\''
            | '“'
            | '”'
            | '‘'
            | '’'
            | '「'
            | '」'
            | '【'
            | '】'
            | '('
            | ')'
            | '（'
            | '）'
            | '['
            | ']'
            | '<'
            | '>'
            | '《'
            | '》'
    ) || c.is_whitespace()
}

/// `s` (folded: upper case, no spaces) without its leading labels and the punctuation
/// around them and at its ends.
fn strip_labels(s: &str) -> &str {
    let mut rest = s.trim_matches(is_edge_punctuation);
    while let Some(label) = LABELS.iter().find(|label| rest.starts_with(*label)) {
        rest = rest[label.len()..].trim_matches(is_edge_punctuation);
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_the_usual_noise() {
        assert_eq!(normalize("  wp0aa2978bl012976 "), "WP0AA2978BL012976");
        assert_eq!(
            normalize("ＬＳＶ－ＡＧ２１８０Ｅ２１０００１０"),
            "LSVAG2180E2100010"
        );
        assert_eq!(
            normalize("LSV AG2180\u{3000}E21-00010"),
            "LSVAG2180E2100010"
        );
        assert_eq!(normalize("1HG CM826 33A 004352"), "1HGCM82633A004352");
        assert_eq!(normalize("1HG—CM82633A004352"), "1HGCM82633A004352");
        // Not silently dropped: non-ASCII letters stay so the rules can report them.
        assert_eq!(normalize("ä"), "ä");
        // Invisible characters from copied text, and Cyrillic/Greek look-alikes.
        assert_eq!(
            normalize("\u{FEFF}WP0AA2978\u{200B}BL012976\u{00AD}"),
            "WP0AA2978BL012976"
        );
        assert_eq!(normalize("1HGCМ82633А004352"), "1HGCM82633A004352");
        assert_eq!(normalize("---"), "");
        // Pasted with a label or a sentence's punctuation.
        for pasted in [
            "VIN: LRW3E7FA9MC239068",
            "vin:LRW3E7FA9MC239068",
            "车架号：LRW3E7FA9MC239068。",
            "车辆识别代号 LRW3E7FA9MC239068；",
            "“LRW3E7FA9MC239068”，",
            "(LRW3E7FA9MC239068)",
        ] {
            assert_eq!(normalize(pasted), "LRW3E7FA9MC239068", "{pasted}");
        }
        // Every control character is dropped alike: ESC and DEL as NUL, CR and LF are,
        // so none is echoed back in `normalized_vin` (an ESC would act on a terminal).
        for noisy in [
            "WP0AA2978\u{1B}BL012976",
            "\u{1B}[31mWP0AA2978BL012976\u{1B}",
            "WP0AA2978BL012976\0\0\0",
            "WP0AA2978BL012976\r\n",
            "WP0\u{7F}AA2978\u{9B}BL012976\u{85}",
            "WP0AA\u{E0041}2978BL012976",
        ] {
            let n = normalize(noisy);
            assert!(!n.chars().any(char::is_control), "{noisy:?} -> {n:?}");
        }
        assert_eq!(normalize("WP0AA2978\u{1B}BL012976"), "WP0AA2978BL012976");
        assert_eq!(
            normalize("WP0\u{7F}AA2978\u{9B}BL012976\u{85}"),
            "WP0AA2978BL012976"
        );
        // What is left of an escape sequence is visible, and the rules point at it.
        assert_eq!(
            normalize("WP0AA\u{1B}[0m2978BL012976"),
            "WP0AA[0M2978BL012976"
        );
        // A control or invisible character in front of a label does not hide it.
        assert_eq!(
            normalize("\u{FEFF}VIN: LRW3E7FA9MC239068"),
            "LRW3E7FA9MC239068"
        );
        assert_eq!(
            normalize("\u{1B}车架号：LRW3E7FA9MC239068"),
            "LRW3E7FA9MC239068"
        );
        // Punctuation inside is kept for the rules to point at.
        assert_eq!(normalize("LRW3E7FA9，MC239068"), "LRW3E7FA9,MC239068");
    }

    /// Found by the `vin` fuzz target (fuzz/seeds/vin/): a label that only appeared once
    /// characters were folded or separators dropped survived the first normalisation and
    /// went in the second, so a full-width label made a valid VIN invalid.
    #[test]
    fn normalising_twice_changes_nothing() {
        for pasted in [
            "ＶＩＮ：LRW3E7FA9MC239068",
            "ｖｉｎ LRW3E7FA9MC239068",
            "-VIN LRW3E7FA9MC239068",
            "V-IN: LRW3E7FA9MC239068",
            "VINVIN:LRW3E7FA9MC239068",
            "VIN: 车架号：LRW3E7FA9MC239068",
            "车架号 ：（LRW3E7FA9MC239068）",
        ] {
            assert_eq!(normalize(pasted), "LRW3E7FA9MC239068", "{pasted}");
        }
        let found = "VINVIN:\u{FFFD} : LR\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}L";
        let once = normalize(found);
        assert_eq!(normalize(&once), once);
        assert_eq!(once, "\u{FFFD}:LR\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}L");
    }
}
