//! Typed configuration: built-in defaults < TOML file < environment.
//!
//! Environment variables are `<PREFIX>_<SECTION>__<KEY>` (double underscore between
//! levels, case-insensitive), e.g. `AXLE_SERVER__LISTEN=0.0.0.0:50051` or
//! `AXLE_VENDORS__CONNAPI__KEY=...`. Config structs use `#[serde(deny_unknown_fields)]`,
//! so a typo is an error that names the key and where it came from, not a silently
//! ignored setting.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::Value;

pub use settings::duration;

/// Parses "250ms", "5s", "1m30s" (the form every duration in configuration takes).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse(text)
}

/// A configuration that cannot be used, with the key and its origin.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration at `{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    #[error("environment variable {var} does not name a config key: {message}")]
    BadEnvKey { var: String, message: String },
    #[error("cannot render configuration: {0}")]
    Render(String),
}

/// Loads `T`: `T::default()`, then `file`, then environment variables starting with
/// `<env_prefix>_`.
pub fn load<T>(file: Option<&Path>, env_prefix: &str) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default + Validate,
{
    // vars() panics on a variable that is not UTF-8, even one unrelated to Axle.
    let prefix = format!("{}_", env_prefix.to_ascii_uppercase());
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let Ok(k) = k.into_string() else { continue };
        match v.into_string() {
            Ok(v) => env.push((k, v)),
            Err(_) if k.to_ascii_uppercase().starts_with(&prefix) => {
                return Err(ConfigError::BadEnvKey {
                    var: k,
                    message: "its value is not valid UTF-8".to_owned(),
                });
            }
            Err(_) => {}
        }
    }
    load_with_env(file, env_prefix, env)
}

/// [`load`] with an explicit environment (tests must not mutate the process's).
pub fn load_with_env<T, I>(file: Option<&Path>, env_prefix: &str, env: I) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default + Validate,
    I: IntoIterator<Item = (String, String)>,
{
    let text = match file {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.to_owned(),
                error,
            })?,
        ),
        None => None,
    };
    load_text_with_env(file.zip(text.as_deref()), env_prefix, env)
}

/// [`load_with_env`] over a file's text already read (`path` only names it in errors):
/// the whole of configuration parsing without the file system, which is what the config
/// fuzz target (`fuzz/`) feeds arbitrary text to.
pub fn load_text_with_env<T, I>(
    file: Option<(&Path, &str)>,
    env_prefix: &str,
    env: I,
) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default + Validate,
    I: IntoIterator<Item = (String, String)>,
{
    // Defaults go into the tree with their secrets (a default credential, such as the
    // sandbox's demo key, must survive being layered over).
    let mut merged = settings::secret::serialize_exposed(|| Value::try_from(T::default()))
        .map_err(|e| ConfigError::Render(e.to_string()))?;
    let mut origins: BTreeMap<String, String> = BTreeMap::new();

    if let Some((path, text)) = file {
        let value: Value = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        record_origins(
            &value,
            "",
            &format!("file {}", path.display()),
            &mut origins,
        );
        merge(&mut merged, value);
    }

    let prefix = format!("{}_", env_prefix.to_ascii_uppercase());
    // Env values that parsed as numbers/bools; if the target is a string, retry as text.
    let mut coerced: BTreeMap<String, String> = BTreeMap::new();
    // Nested keys need `__`; a variable without it is a config key only when it names a
    // top-level key, so unrelated variables (`AXLE_CONFIG`, `AXLE_VIN_ENDPOINT` of the
    // CLI) are not mistaken for typos.
    let top_level: Vec<String> = match &merged {
        Value::Table(t) => t.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let env: Vec<(String, String)> = env.into_iter().collect();
    // `AXLE_SERVER_LISTEN` (one underscore) names nothing, but it is what people write
    // for `server.listen`: say so instead of ignoring it.
    for (k, _) in &env {
        let up = k.to_ascii_uppercase();
        let Some(rest) = up.strip_prefix(&prefix) else {
            continue;
        };
        if rest.contains("__") || top_level.iter().any(|t| t.eq_ignore_ascii_case(rest)) {
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        if let Some(nested) = single_underscore_key(&merged, &lower) {
            return Err(ConfigError::BadEnvKey {
                var: k.clone(),
                message: format!(
                    "levels are separated by two underscores: did you mean {prefix}{}?",
                    nested.to_ascii_uppercase()
                ),
            });
        }
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            let up = k.to_ascii_uppercase();
            up.strip_prefix(&prefix).is_some_and(|rest| {
                rest.contains("__") || top_level.iter().any(|t| t.eq_ignore_ascii_case(rest))
            })
        })
        .collect();
    env.sort();
    for (var, raw) in env {
        let path: Vec<String> = var[prefix.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::BadEnvKey {
                var,
                message: "empty key segment (use one `__` between levels)".to_owned(),
            });
        }
        let key = path.join(".");
        let typed = scalar(&raw);
        if !matches!(typed, Value::String(_)) {
            coerced.insert(key.clone(), raw.clone());
        }
        set_path(&mut merged, &path, typed).map_err(|message| ConfigError::BadEnvKey {
            var: var.clone(),
            message,
        })?;
        origins.insert(key, format!("environment variable {var}"));
    }

    // A value like "123456" for a secret is a string even though it looks like a number:
    // on a type error at a coerced env key, put the text back and try again.
    for _ in 0..=coerced.len() {
        let de = merged.clone();
        match serde_path_to_error::deserialize::<_, T>(de) {
            // Values that parse but cannot work are refused here, with the key and where
            // it was set, so that `--print-config` catches them before a start does.
            Ok(cfg) => {
                return match cfg.problems().into_iter().next() {
                    None => Ok(cfg),
                    Some((key, message)) => Err(ConfigError::Invalid {
                        origin: origin_of(&key, &origins),
                        key,
                        message,
                    }),
                };
            }
            Err(err) => {
                let key = err.path().to_string();
                if let Some(raw) = coerced.remove(&key) {
                    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
                    let _ = set_path(&mut merged, &path, Value::String(raw));
                    continue;
                }
                return Err(describe(&err, &origins, &secret_paths::<T>()));
            }
        }
    }
    Err(ConfigError::Render(
        "configuration did not settle".to_owned(),
    ))
}

/// For `server_listen` (an env name written with one underscore), the `server__listen`
/// form when `server.listen` is a key of the defaults.
fn single_underscore_key(tree: &Value, lower: &str) -> Option<String> {
    let Value::Table(top) = tree else { return None };
    for (name, section) in top {
        let Some(rest) = lower.strip_prefix(&format!("{name}_")) else {
            continue;
        };
        if let Value::Table(keys) = section {
            if keys.contains_key(rest) {
                return Some(format!("{name}__{rest}"));
            }
            if let Some(deeper) = single_underscore_key(section, rest) {
                return Some(format!("{name}__{deeper}"));
            }
        }
    }
    None
}

/// Dotted paths of the secrets in `T`'s defaults (they render redacted).
fn secret_paths<T: Serialize + Default>() -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, &key, out);
                }
            }
            Value::String(s) if s == settings::secret::REDACTED => out.push(prefix.to_owned()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = settings::secret::serialize_marked(|| Value::try_from(T::default())) {
        walk(&v, "", &mut out);
    }
    out
}

/// serde names Rust types ("expected usize"); people configuring a service read words.
fn humanize(message: &str) -> String {
    let mut out = message.to_owned();
    for (rust, words) in [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
    ] {
        out = out.replace(rust, words);
    }
    out
}

/// `message` with every quoted value replaced: serde quotes the offending value, which
/// for a secret is the secret.
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push_str("***");
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

fn describe(
    err: &serde_path_to_error::Error<toml::de::Error>,
    origins: &BTreeMap<String, String>,
    secrets: &[String],
) -> ConfigError {
    let parent = err.path().to_string();
    let mut message = humanize(err.inner().message());
    // The key is a secret, or a section holding one (a secret value written where the
    // section belongs): the message must not repeat the value.
    if secrets
        .iter()
        .any(|s| *s == parent || s.starts_with(&format!("{parent}.")))
    {
        message = redact_values(&message);
    }
    // For unknown fields, the offending key is the field named in the message.
    let key = match message.split('`').nth(1) {
        Some(field) if message.starts_with("unknown field") => {
            if parent == field || parent.ends_with(&format!(".{field}")) {
                parent
            } else if parent == "." || parent.is_empty() {
                field.to_owned()
            } else {
                format!("{parent}.{field}")
            }
        }
        _ => parent,
    };
    let origin = origin_of(&key, origins);
    ConfigError::Invalid {
        key,
        origin,
        message,
    }
}

/// Where the value at `key` came from: a file, an environment variable, or the defaults.
fn origin_of(key: &str, origins: &BTreeMap<String, String>) -> String {
    origins
        .get(key)
        .cloned()
        .or_else(|| {
            origins
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{key}.")))
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "built-in defaults".to_owned())
}

/// Values that parse but cannot work, found once a configuration is loaded: each as
/// (key path from the configuration's root, what is wrong).
pub trait Validate {
    fn problems(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// `problems` of a section, with their keys put under `section`.
pub fn under(section: &str, problems: Vec<(String, String)>) -> Vec<(String, String)> {
    problems
        .into_iter()
        .map(|(k, m)| (format!("{section}.{k}"), m))
        .collect()
}

/// A confidence setting outside 0..=1 (or not a number): merged confidences would be
/// clamped silently, so the configuration is refused instead.
pub fn confidence_problem(key: &str, value: f32) -> Option<(String, String)> {
    (!(0.0..=1.0).contains(&value)).then(|| {
        (
            key.to_owned(),
            format!("must be a number between 0 and 1, not {value}"),
        )
    })
}

fn record_origins(value: &Value, prefix: &str, origin: &str, out: &mut BTreeMap<String, String>) {
    if let Value::Table(t) = value {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(key.clone(), origin.to_owned());
            record_origins(v, &key, origin, out);
        }
    }
}

/// Deep-merges `overlay` into `base`: tables merge key by key, everything else replaces.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn set_path(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let Value::Table(t) = cur else {
            return Err(format!("`{}` is not a section", path[..i].join(".")));
        };
        if i + 1 == path.len() {
            t.insert(seg.clone(), value);
            return Ok(());
        }
        cur = t
            .entry(seg.clone())
            .or_insert_with(|| Value::Table(toml::Table::new()));
    }
    Ok(())
}

/// Env text as a TOML scalar when it is one (numbers, booleans, arrays), else a string.
fn scalar(raw: &str) -> Value {
    let t = raw.trim();
    let looks_typed = t.starts_with('[') || t == "true" || t == "false" || t.parse::<f64>().is_ok();
    if looks_typed
        && let Ok(Value::Table(mut tbl)) = toml::from_str::<Value>(&format!("v = {t}"))
        && let Some(v) = tbl.remove("v")
    {
        return v;
    }
    Value::String(raw.to_owned())
}

/// Renders a configuration as TOML (secrets print as `*** redacted ***`).
pub fn to_toml<T: Serialize>(cfg: &T) -> Result<String, ConfigError> {
    toml::to_string_pretty(cfg).map_err(|e| ConfigError::Render(e.to_string()))
}

mod sections;

pub use sections::{LogFormat, ServerConfig, TelemetryConfig, optional_addr};

#[cfg(test)]
mod tests;
