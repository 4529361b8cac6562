//! Checks a query's engine number and VIN against a city's rule before anything is sent:
//! says exactly what is missing or wrong, and what to send when all is well.

use std::fmt;

use super::requirement::{Field, Requirement, VIN_LENGTH};
use super::rules::{CityRule, Combine};
use crate::text::{fold_width, is_control_or_invisible, is_placeholder, latin_look_alike};

/// The shortest whole engine number accepted: shorter ones are tails typed where the whole
/// number is asked (车行易's form applies the same minimum to a "完整发动机号").
pub const MIN_WHOLE_ENGINE_NUMBER: usize = 5;

/// What to send for a query that passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The engine number to send (normalised, trimmed to what the city asks), or `None`
    /// when the city does not ask for it.
    pub engine_number: Option<String>,
    /// The VIN to send, likewise.
    pub vin: Option<String>,
    /// What was changed or left out, for a caller to see: "engine_number: trimmed to the
    /// last 6 characters that 粤B (深圳市) asks for".
    pub notes: Vec<String>,
}

/// One thing wrong with a query, for a field violation a program can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: Field,
    /// "the last 6 characters of the engine number are required for 粤B (深圳市)".
    pub description: String,
    /// What the city asks of this field.
    pub required: Requirement,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// A number as typed, cleaned: width folded, look-alike Cyrillic/Greek letters mapped,
/// upper case, spaces and invisible characters dropped.
pub fn normalize_number(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && !is_control_or_invisible(*c))
        .map(fold_width)
        .map(|c| latin_look_alike(c).unwrap_or(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Checks `engine_number` and `vin` (as typed; empty when not given) against `rule`.
/// Longer numbers than the city needs are trimmed to its tail, and the notes say so; a
/// number the city does not ask for is not sent. Never panics, whatever the input.
pub fn check(rule: &CityRule, engine_number: &str, vin: &str) -> Result<Checked, Vec<Violation>> {
    let engine = field(rule, Field::EngineNumber, engine_number);
    let vin = field(rule, Field::Vin, vin);
    let either = rule.combine == Combine::Either
        && rule.engine_number.is_required()
        && rule.vin.is_required();
    let mut notes = Vec::new();
    match (engine, vin) {
        (Ok(e), Ok(v)) => {
            notes.extend(e.note);
            notes.extend(v.note);
            Ok(Checked {
                engine_number: e.send,
                vin: v.send,
                notes,
            })
        }
        // Either number will do: send the one that passes, say why the other is not sent.
        (Ok(ok), Err(bad)) | (Err(bad), Ok(ok)) if either && ok.send.is_some() => {
            notes.extend(ok.note);
            notes.push(format!(
                "{}: not sent ({}); {} accepts either number",
                bad.field,
                bad.description,
                rule.label()
            ));
            let (engine_number, vin) = match bad.field {
                Field::Vin => (ok.send, None),
                Field::EngineNumber => (None, ok.send),
            };
            Ok(Checked {
                engine_number,
                vin,
                notes,
            })
        }
        (e, v) => {
            let mut violations: Vec<Violation> = [e.err(), v.err()].into_iter().flatten().collect();
            if either {
                for v in &mut violations {
                    v.description
                        .push_str(" (or give the other number instead: either will do)");
                }
            }
            Err(violations)
        }
    }
}

struct Passed {
    send: Option<String>,
    note: Option<String>,
}

fn field(rule: &CityRule, field: Field, input: &str) -> Result<Passed, Violation> {
    let required = rule.requirement(field);
    let value = normalize_number(input);
    let given = !value.is_empty() && !is_placeholder(&value);
    let who = rule.label();
    let violation = |description: String| Violation {
        field,
        description,
        required,
    };
    let noun = field.noun();
    if !required.is_required() {
        return Ok(Passed {
            send: None,
            note: given.then(|| format!("{field}: not needed for {who}, not sent")),
        });
    }
    if !given {
        return Err(violation(match required {
            Requirement::Full => format!("the whole {noun} is required for {who}"),
            _ => format!("{required} of the {noun} are required for {who}"),
        }));
    }
    let len = value.chars().count();
    if field == Field::Vin && len > usize::from(VIN_LENGTH) {
        return Err(violation(format!(
            "a VIN has {VIN_LENGTH} characters, this one {len}"
        )));
    }
    let (send, note) = if let Requirement::LastChars(n) = required {
        let n = usize::from(n);
        if len < n {
            return Err(violation(format!(
                "{required} of the {noun} are required for {who}; {len} were given"
            )));
        }
        let tail: String = value.chars().skip(len - n).collect();
        let note = (len > n).then(|| format!("{field}: trimmed to {required} that {who} asks for"));
        (tail, note)
    } else {
        let min = match field {
            Field::Vin => usize::from(VIN_LENGTH),
            Field::EngineNumber => MIN_WHOLE_ENGINE_NUMBER,
        };
        if len < min {
            let why = match field {
                Field::Vin => "a VIN has 17",
                Field::EngineNumber => "too few for a whole engine number",
            };
            return Err(violation(format!(
                "the whole {noun} is required for {who}; {len} characters were given, {why}"
            )));
        }
        (value, None)
    };
    if let Some(problem) = bad_character(field, &send) {
        return Err(violation(problem));
    }
    Ok(Passed {
        send: Some(send),
        note,
    })
}

/// The first character of a normalised number (see [`normalize_number`]) that cannot be
/// in it, said for a caller: what a query or a hint is refused for.
pub fn bad_character(field: Field, value: &str) -> Option<String> {
    value.chars().find_map(|c| {
        if !c.is_ascii_alphanumeric() {
            Some(format!(
                "{} cannot appear in {}: only letters and digits",
                shown(c),
                field.with_article()
            ))
        } else if field == Field::Vin && matches!(c, 'I' | 'O' | 'Q') {
            Some(format!(
                "{c} cannot appear in a VIN (ISO 3779 leaves out I, O and Q; 1 or 0 is meant)"
            ))
        } else {
            None
        }
    })
}

fn shown(c: char) -> String {
    if c.is_control() {
        c.escape_unicode().to_string()
    } else {
        format!("{c:?}")
    }
}

#[cfg(test)]
mod tests;
