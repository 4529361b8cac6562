//! apistore's fixture file (`fixtures/apistore.json`): the vehicles it knows, the answer
//! of each in its own shape, the debug-mode answer, and vehicles that always fail.
//!
//! A query matches a vehicle by plate and `car_type`, and by each number the vehicle
//! has (`engine_number`, `frame_number`): the query must give the number's trailing
//! characters, at least [`MIN_TRAILING`] of them (the whole number when it is shorter),
//! as cities accept the last six. A number the vehicle lacks is not compared: its city
//! does not ask for it. Everything is compared as sent, so lower-case letters (seed 003:
//! 字母必须大写) find nothing.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::SandboxError;

/// Trailing characters of an engine or frame number a query must give at the least.
pub(super) const MIN_TRAILING: usize = 6;

const ORIGIN: &str = "fixtures/apistore.json";
/// Members the sandbox sets itself, never a fixture.
const RESERVED: [&str; 5] = ["codeid", "message", "time", "data", "retdata"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(rename = "_notice")]
    _notice: String,
    /// What an app in debug mode gets for any query (10024).
    pub(super) debug: Answer,
    pub(super) vehicles: Vec<Vehicle>,
    pub(super) special: Vec<Special>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Vehicle {
    /// What the vehicle exercises (shown in `/_sandbox/info` and the README).
    pub(super) label: String,
    pub(super) car_no: String,
    pub(super) car_type: String,
    #[serde(default)]
    pub(super) engine_number: Option<String>,
    #[serde(default)]
    pub(super) frame_number: Option<String>,
    /// Answered 10023, then by callback.
    #[serde(default, rename = "async")]
    pub(super) answered_later: bool,
    pub(super) answer: Answer,
}

/// A vehicle the platform always fails on, with that code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Special {
    pub(super) label: String,
    pub(super) car_no: String,
    pub(super) car_type: String,
    pub(super) code: i64,
}

/// One answer as the vendor shapes it: `fields` are its top-level members verbatim
/// (`carNo`, `vioNum`, …, and any extra key), and the records go in `records_in`
/// (`data` or `retdata`), as `records_as` says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Answer {
    pub(super) records_in: RecordsIn,
    pub(super) records_as: RecordsAs,
    pub(super) fields: Map<String, Value>,
    pub(super) records: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RecordsIn {
    Data,
    Retdata,
}

/// retdata: 可能是数据、对象或者字符串 (seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RecordsAs {
    /// `[record, …]`
    Array,
    /// The one record itself.
    Object,
    /// The array, JSON-encoded into a string.
    String,
}

/// What a query names.
#[derive(Debug, Clone, Copy)]
pub(super) struct Query<'a> {
    /// The plate, separators removed.
    pub(super) plate: &'a str,
    pub(super) car_type: &'a str,
    pub(super) engine_number: Option<&'a str>,
    pub(super) frame_number: Option<&'a str>,
}

/// What the fixtures have for a query.
#[derive(Debug)]
pub(super) enum Found<'a> {
    Vehicle(&'a Vehicle),
    /// A vehicle the platform fails on, with that code.
    Failure(i64),
    Nothing,
}

impl File {
    /// Reads the embedded file and refuses one the sandbox could not answer from.
    pub(super) fn load(text: &str) -> Result<Self, SandboxError> {
        let bad = |detail: String| SandboxError::Fixture {
            origin: ORIGIN.into(),
            detail,
        };
        let file: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        file.debug.check().map_err(|e| bad(format!("debug: {e}")))?;
        let mut seen = HashSet::new();
        for v in &file.vehicles {
            v.answer
                .check()
                .map_err(|e| bad(format!("{}: {e}", v.car_no)))?;
            if v.engine_number.is_none() && v.frame_number.is_none() {
                return Err(bad(format!(
                    "{}: needs an engine or frame number, or any plate would match",
                    v.car_no
                )));
            }
            if !seen.insert((v.car_no.as_str(), v.car_type.as_str())) {
                return Err(bad(format!("{} {} listed twice", v.car_no, v.car_type)));
            }
        }
        for s in &file.special {
            if !seen.insert((s.car_no.as_str(), s.car_type.as_str())) {
                return Err(bad(format!("{} {} listed twice", s.car_no, s.car_type)));
            }
        }
        Ok(file)
    }

    pub(super) fn find(&self, q: &Query<'_>) -> Found<'_> {
        let same_vehicle =
            |car_no: &str, car_type: &str| car_no == q.plate && car_type == q.car_type;
        if let Some(s) = self
            .special
            .iter()
            .find(|s| same_vehicle(&s.car_no, &s.car_type))
        {
            return Found::Failure(s.code);
        }
        self.vehicles
            .iter()
            .find(|v| {
                same_vehicle(&v.car_no, &v.car_type)
                    && trailing_match(v.engine_number.as_deref(), q.engine_number)
                    && trailing_match(v.frame_number.as_deref(), q.frame_number)
            })
            .map_or(Found::Nothing, Found::Vehicle)
    }
}

/// Whether `given` names the fixture's number `full` (see the module comment).
pub(super) fn trailing_match(full: Option<&str>, given: Option<&str>) -> bool {
    match (full, given) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(full), Some(given)) => {
            given.chars().count() >= MIN_TRAILING.min(full.chars().count()) && full.ends_with(given)
        }
    }
}

impl Answer {
    fn check(&self) -> Result<(), String> {
        if let Some(k) = RESERVED.iter().find(|k| self.fields.contains_key(**k)) {
            return Err(format!("`{k}` is set by the sandbox, not in `fields`"));
        }
        if self.records_as == RecordsAs::Object && self.records.len() != 1 {
            return Err(format!(
                "records_as object needs exactly one record, not {}",
                self.records.len()
            ));
        }
        if !self.records.iter().all(Value::is_object) {
            return Err("every record is a JSON object".into());
        }
        Ok(())
    }

    /// The answer's members besides `codeid` and `message`: the fields verbatim, the
    /// records in their place and shape, and `time` (the platform's clock, in seconds,
    /// as a string like the seed's example `1557294956`).
    pub(super) fn render(&self, time: u64) -> Map<String, Value> {
        let mut out = self.fields.clone();
        let records = Value::Array(self.records.clone());
        let placed = match self.records_as {
            RecordsAs::Array => records,
            RecordsAs::Object => self.records.first().cloned().unwrap_or(Value::Null),
            RecordsAs::String => Value::String(records.to_string()),
        };
        let key = match self.records_in {
            RecordsIn::Data => "data",
            RecordsIn::Retdata => "retdata",
        };
        out.insert(key.into(), placed);
        out.insert("time".into(), Value::String(time.to_string()));
        out
    }
}
