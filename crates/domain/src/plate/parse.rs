//! Plate formats in use (GA 36-2018 and the new-energy amendment).
//!
//! | format | example | category | GA 24.7 |
//! |---|---|---|---|
//! | province + letter + 5 | 粤B12345 | ordinary (blue small / yellow large) | 02 / 01 |
//! | province + letter + D/F (or A-C,E / G,H,J,K) + 5 | 粤BD12345, 沪AA12345 | small new energy | 52 |
//! | province + letter + 5 digits + D/F | 粤B12345D | large new energy | 51 |
//! | province + letter + 4 + 学/警/挂/领/试/超 | 粤B1234学 | coach, police, trailer ... | 16/23/15/04/18 |
//! | 粤Z + 4 + 港/澳 | 粤Z1234港 | Hong Kong / Macao cross-border | 26 / 27 |
//! | province + team code + 4 + 应急 | 京X1234应急 | emergency rescue (car) | — |
//! | 应急 + province + 3 digits + team code | 应急京123A | emergency rescue (motorcycle) | — |
//! | 使 + 6 digits, or 6 digits + 使 | 使014578 | embassy | 03 |
//! | WJ + province + 5 | WJ粤12345 | armed police | 31 |
//! | military (two letters, or 军区 character + letter) | VA12345 | not supported | 32 |
//!
//! Serial characters are digits and letters other than I and O.

use super::authority::{Authority, Province, authority_of, province_of};
use super::normalize::normalize;
use super::types::{PlateType, plate_type};

/// Plate colour, when the caller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateColor {
    Blue,
    Yellow,
    Green,
    White,
    Black,
    YellowGreen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateCategory {
    Ordinary,
    NewEnergySmall,
    NewEnergyLarge,
    Coach,
    Police,
    Trailer,
    Consulate,
    Embassy,
    HongKong,
    Macao,
    Test,
    Oversize,
    Emergency,
    ArmedPolice,
    Military,
}

/// One problem, at a 1-based character position of the normalised plate (0: whole plate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateProblem {
    pub position: usize,
    pub expected: String,
    pub found: String,
    pub message: String,
    /// The problem is the plate colour given with the plate, not the plate's text.
    pub about_color: bool,
}

impl PlateCategory {
    /// How people call the category, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ordinary => "ordinary",
            Self::NewEnergySmall => "small new-energy",
            Self::NewEnergyLarge => "large new-energy",
            Self::Coach => "driving-school (学)",
            Self::Police => "police (警)",
            Self::Trailer => "trailer (挂)",
            Self::Consulate => "consulate (领)",
            Self::Embassy => "embassy (使)",
            Self::HongKong => "Hong Kong (港)",
            Self::Macao => "Macao (澳)",
            Self::Test => "test (试)",
            Self::Oversize => "oversize (超)",
            Self::Emergency => "emergency (应急)",
            Self::ArmedPolice => "armed-police (WJ)",
            Self::Military => "military",
        }
    }
}

impl PlateColor {
    /// The colour in words, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Yellow => "yellow",
            Self::Green => "green",
            Self::White => "white",
            Self::Black => "black",
            Self::YellowGreen => "yellow-green",
        }
    }
}

/// A character as messages show it: invisible and control characters (which would
/// otherwise vanish, or act on a terminal) as `\u{…}`.
fn shown(c: char) -> String {
    if c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    {
        c.escape_unicode().to_string()
    } else {
        c.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateReport {
    pub normalized: String,
    pub valid: bool,
    /// False for formats Axle recognises but does not decode (military plates).
    pub supported: bool,
    pub problems: Vec<PlateProblem>,
    pub corrections: Vec<String>,
    pub category: Option<PlateCategory>,
    pub province: Option<&'static Province>,
    pub authority: Option<&'static Authority>,
    /// The 号牌种类 when the plate (and colour) decide it.
    pub plate_type: Option<PlateType>,
    /// Every plausible 号牌种类 when they do not.
    pub candidates: Vec<PlateType>,
    /// True when the colour would decide between candidates and was not given.
    pub color_needed: bool,
}

fn serial_char(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'I' && c != 'O')
}

/// Characters that open a pre-2012 military plate (军区 / 军种 abbreviations).
const MILITARY_CHARS: &[char] = &['军', '北', '南', '广', '沈', '兰', '成', '济', '空', '海'];

fn types(codes: &[&str]) -> Vec<PlateType> {
    codes.iter().filter_map(|c| plate_type(c)).collect()
}

struct Builder {
    chars: Vec<char>,
    problems: Vec<PlateProblem>,
}

impl Builder {
    fn problem(&mut self, position: usize, expected: &str, message: String) {
        let found = position
            .checked_sub(1)
            .and_then(|i| self.chars.get(i))
            .map(char::to_string)
            .unwrap_or_default();
        self.problems.push(PlateProblem {
            position,
            expected: expected.to_owned(),
            found,
            message,
            about_color: false,
        });
    }

    /// A problem with the colour given for the plate.
    fn color_problem(&mut self, expected: &str, message: String) {
        self.problem(0, expected, message);
        if let Some(p) = self.problems.last_mut() {
            p.about_color = true;
        }
    }

    /// Checks that `chars[from..to]` are serial characters.
    fn serial(&mut self, from: usize, to: usize) {
        for i in from..to.min(self.chars.len()) {
            let c = self.chars[i];
            if !serial_char(c) {
                self.problem(
                    i + 1,
                    "a digit or a letter other than I and O",
                    format!("{} cannot appear in a plate's serial", shown(c)),
                );
            }
        }
    }

    fn digits(&mut self, from: usize, to: usize) {
        for i in from..to.min(self.chars.len()) {
            let c = self.chars[i];
            if !c.is_ascii_digit() {
                self.problem(
                    i + 1,
                    "a digit",
                    format!("{} must be a digit in this plate format", shown(c)),
                );
            }
        }
    }
}

/// Parses a plate as typed. Never panics; malformed input is a report with problems.
pub fn parse(input: &str, color: Option<PlateColor>) -> PlateReport {
    let norm = normalize(input);
    let chars: Vec<char> = norm.plate.chars().collect();
    let mut b = Builder {
        chars: chars.clone(),
        problems: Vec::new(),
    };
    let mut report = PlateReport {
        normalized: norm.plate.clone(),
        valid: false,
        supported: true,
        problems: Vec::new(),
        corrections: norm.corrections,
        category: None,
        province: None,
        authority: None,
        plate_type: None,
        candidates: Vec::new(),
        color_needed: false,
    };
    let n = chars.len();
    if n == 0 {
        b.problem(0, "a plate", "the plate is empty".to_owned());
        report.problems = b.problems;
        return report;
    }

    // Embassy: 使 + 6 digits (current) or 6 digits + 使 (older plates).
    if chars.contains(&'使') {
        report.category = Some(PlateCategory::Embassy);
        report.plate_type = plate_type("03");
        let digits_at = usize::from(chars[0] == '使');
        if n != 7 || (chars[0] != '使' && chars[6] != '使') {
            b.problem(
                0,
                "使 followed by 6 digits",
                format!("an embassy plate has 7 characters, this one {n}"),
            );
        } else {
            b.digits(digits_at, digits_at + 6);
        }
        return finish(report, b, color);
    }

    // Emergency-rescue plates (national fire and rescue, 2018): the character after the
    // province is the rescue team's code, not a vehicle office's letter, so no issuing
    // city is derived from it. Car: province + team code + 4 + 应急 (8 characters);
    // motorcycle: 应急 + province + 3 digits + team code (7).
    if norm.plate.ends_with("应急") || norm.plate.starts_with("应急") {
        report.category = Some(PlateCategory::Emergency);
        let motorcycle = norm.plate.starts_with("应急");
        let (province_at, team_at) = if motorcycle { (2, 6) } else { (0, 1) };
        match chars.get(province_at).and_then(|c| province_of(*c)) {
            Some(p) => report.province = Some(p),
            None => b.problem(
                province_at + 1,
                "a province abbreviation such as 京, 沪 or 粤",
                format!(
                    "{} is not a province abbreviation",
                    chars
                        .get(province_at)
                        .map_or_else(String::new, |c| shown(*c))
                ),
            ),
        }
        let expected_len = if motorcycle { 7 } else { 8 };
        if n == expected_len {
            b.serial(team_at, team_at + 1);
            if motorcycle {
                b.digits(3, 6);
            } else {
                b.serial(2, 6);
            }
        } else {
            b.problem(
                0,
                if motorcycle {
                    "应急 + province + 3 digits + team code (7 characters)"
                } else {
                    "province + team code + 4 characters + 应急 (8 characters)"
                },
                format!("an emergency-rescue plate of this form has {expected_len} characters, this one {n}"),
            );
        }
        return finish(report, b, color);
    }

    // Armed police: WJ + province + 5 (the last may be a service letter).
    if n >= 2 && chars[0] == 'W' && chars[1] == 'J' {
        report.category = Some(PlateCategory::ArmedPolice);
        report.plate_type = plate_type("31");
        if let Some(p) = chars.get(2).and_then(|c| province_of(*c)) {
            report.province = Some(p);
            if n == 8 {
                b.digits(3, 7);
                b.serial(7, 8);
            } else {
                b.problem(
                    0,
                    "WJ + province + 5 characters",
                    format!("an armed-police plate has 8 characters, this one {n}"),
                );
            }
        } else if n == 7 {
            // Plates of national units carry no province.
            b.digits(2, 6);
            b.serial(6, 7);
        } else {
            b.problem(
                3,
                "a province abbreviation",
                "an armed-police plate continues with a province".to_owned(),
            );
        }
        return finish(report, b, color);
    }

    // Military plates: recognised, not decoded.
    let first = chars[0];
    // Current military plates: two letters then five digits; older ones open with a
    // 军区 character and a letter.
    let two_letters_five_digits = n == 7
        && chars[..2].iter().all(char::is_ascii_uppercase)
        && chars[2..].iter().all(char::is_ascii_digit);
    if two_letters_five_digits
        || (MILITARY_CHARS.contains(&first) && chars.get(1).is_some_and(char::is_ascii_uppercase))
    {
        report.category = Some(PlateCategory::Military);
        report.supported = false;
        report.plate_type = plate_type("32");
        b.problem(
            0,
            "a civil plate",
            "military plates are not supported: their registers are not public".to_owned(),
        );
        return finish(report, b, color);
    }

    let Some(province) = province_of(first) else {
        b.problem(
            1,
            "a province abbreviation such as 京, 沪 or 粤",
            format!("{} is not a province abbreviation", shown(first)),
        );
        return finish(report, b, color);
    };
    report.province = Some(province);
    let Some(&letter) = chars.get(1) else {
        b.problem(
            0,
            "7 or 8 characters",
            "the plate stops after the province".to_owned(),
        );
        return finish(report, b, color);
    };
    if letter.is_ascii_uppercase() {
        report.authority = authority_of(first, letter);
        if report.authority.is_none() {
            b.problem(
                2,
                "an issuing letter in use",
                format!(
                    "{}{} is not an issuing authority",
                    shown(first),
                    shown(letter)
                ),
            );
        }
    } else {
        b.problem(
            2,
            "a letter (the issuing authority)",
            format!("{} is not a letter", shown(letter)),
        );
    }

    let last = chars[n - 1];
    if let Some((category, code)) = match last {
        '学' => Some((PlateCategory::Coach, "16")),
        '警' => Some((PlateCategory::Police, "23")),
        '挂' => Some((PlateCategory::Trailer, "15")),
        '领' => Some((PlateCategory::Consulate, "04")),
        '港' => Some((PlateCategory::HongKong, "26")),
        '澳' => Some((PlateCategory::Macao, "27")),
        '试' => Some((PlateCategory::Test, "18")),
        '超' => Some((PlateCategory::Oversize, "01")),
        _ => None,
    } {
        report.category = Some(category);
        report.plate_type = plate_type(code);
        if n == 7 {
            b.serial(2, 6);
        } else {
            b.problem(
                0,
                "7 characters",
                format!("a {last} plate has 7 characters, this one {n}"),
            );
        }
        if matches!(last, '港' | '澳') && (first != '粤' || letter != 'Z') {
            b.problem(2, "粤Z", format!("{last} plates are issued as 粤Z only"));
        }
    } else if n == 8 {
        // Small new-energy plates: D (pure electric) and F (other new energy), extended
        // in 2022 where D/F ran out: A B C E for pure electric, G H J K for the others.
        if matches!(
            chars[2],
            'D' | 'A' | 'B' | 'C' | 'E' | 'F' | 'G' | 'H' | 'J' | 'K'
        ) && !matches!(chars[7], 'D' | 'F')
        {
            report.category = Some(PlateCategory::NewEnergySmall);
            report.plate_type = plate_type("52");
            // D/F, then a letter or digit, then four digits.
            b.serial(3, 4);
            b.digits(4, 8);
        } else if matches!(chars[7], 'D' | 'F') {
            report.category = Some(PlateCategory::NewEnergyLarge);
            report.plate_type = plate_type("51");
            b.digits(2, 7);
        } else {
            b.problem(
                3,
                "an energy letter: D or F (since 2022 also A-C, E, G, H, J, K) after the issuing letter, or a final D/F",
                "an 8-character plate is a new-energy plate: small ones carry the energy letter third, large ones D or F last".to_owned(),
            );
        }
    } else if n == 7 {
        report.category = Some(PlateCategory::Ordinary);
        b.serial(2, 7);
        // Serials with up to three letters are issued (real plates such as 粤BZ7XT2,
        // 苏ETSD12, 川ABGN98); four or five letters are not.
        if let Some(fourth) = chars[2..7]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .nth(3)
        {
            b.problem(
                fourth.0 + 3,
                "a digit (an ordinary serial has at most 3 letters)",
                format!("{} would be the serial's fourth letter", fourth.1),
            );
        }
        match color {
            Some(PlateColor::Blue) => report.plate_type = plate_type("02"),
            Some(PlateColor::Yellow) => report.plate_type = plate_type("01"),
            Some(PlateColor::Black) => report.candidates = types(&["05", "06"]),
            Some(PlateColor::Green | PlateColor::YellowGreen) => b.color_problem(
                "8 characters",
                "green plates are new-energy plates, which have 8 characters".to_owned(),
            ),
            Some(PlateColor::White) => b.color_problem(
                "a police, armed-police or military plate",
                "white plates are police (警), armed-police (WJ) or military plates".to_owned(),
            ),
            None => {
                report.candidates = types(&["02", "01"]);
                report.color_needed = true;
            }
        }
    } else {
        b.problem(
            0,
            "7 characters (8 for new-energy plates)",
            format!("this plate has {n} characters"),
        );
    }
    if first == '粤'
        && letter == 'Z'
        && !matches!(
            report.category,
            Some(PlateCategory::HongKong | PlateCategory::Macao)
        )
    {
        b.problem(
            0,
            "港 or 澳 as the last character",
            "粤Z is issued only to Hong Kong and Macao cross-border vehicles (粤Z····港 / 粤Z····澳)"
                .to_owned(),
        );
    }
    finish(report, b, color)
}

fn finish(mut report: PlateReport, b: Builder, color: Option<PlateColor>) -> PlateReport {
    report.problems = b.problems;
    if let (Some(c), Some(cat)) = (color, report.category) {
        let expected = match cat {
            PlateCategory::NewEnergySmall => Some(PlateColor::Green),
            PlateCategory::NewEnergyLarge => Some(PlateColor::YellowGreen),
            PlateCategory::Coach | PlateCategory::Trailer | PlateCategory::Oversize => {
                Some(PlateColor::Yellow)
            }
            PlateCategory::Police | PlateCategory::ArmedPolice => Some(PlateColor::White),
            PlateCategory::Embassy
            | PlateCategory::Consulate
            | PlateCategory::HongKong
            | PlateCategory::Macao => Some(PlateColor::Black),
            _ => None,
        };
        if let Some(e) = expected.filter(|e| *e != c) {
            report.problems.push(PlateProblem {
                position: 0,
                expected: e.label().to_owned(),
                found: c.label().to_owned(),
                message: format!(
                    "{} plates are {}, not {}",
                    cat.label(),
                    e.label(),
                    c.label()
                ),
                about_color: true,
            });
        }
    }
    report.problems.sort_by_key(|p| p.position);
    report.valid = report.supported && report.problems.is_empty() && report.category.is_some();
    if report.plate_type.is_some() {
        report.candidates.clear();
    }
    report
}

#[cfg(test)]
mod tests;
