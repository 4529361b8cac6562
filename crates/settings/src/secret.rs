//! Credentials that cannot leak through formatting or serialisation.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret prints and serialises as.
pub const REDACTED: &str = "*** redacted ***";

/// A value (API key, signing secret, token) that prints and serialises as
/// `*** redacted ***`. The only way to the value is [`Secret::expose`], so every use is
/// greppable.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value, for building a request or a signature.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    /// True when no value was configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

thread_local! {
    static EXPOSE: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    static MARK_ALL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every secret, even an empty one, serialising as the redaction marker,
/// on this thread only: to find where a configuration holds secrets.
pub fn serialize_marked<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MARK_ALL.set(self.0);
        }
    }
    let _reset = Reset(MARK_ALL.replace(true));
    f()
}

/// Runs `f` with secrets serialising as their values, on this thread only.
///
/// For one caller: the configuration loader, which serialises the built-in defaults into
/// the tree that the file and environment are layered onto, and must not turn a default
/// credential into the redaction marker. Nothing serialised inside `f` may be written out.
pub fn serialize_exposed<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPOSE.set(self.0);
        }
    }
    let _reset = Reset(EXPOSE.replace(true));
    f()
}

/// Serialises as the redaction marker, so dumping a configuration never leaks it (see
/// [`serialize_exposed`] for the one exception).
impl<T: Serialize + AsRef<str>> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // An empty secret is "not set", which a dump must show: "" hides nothing.
        if MARK_ALL.get() {
            serializer.serialize_str(REDACTED)
        } else if EXPOSE.get() || self.0.as_ref().is_empty() {
            self.0.serialize(serializer)
        } else {
            serializer.serialize_str(REDACTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Cfg {
        key: Secret<String>,
    }

    #[test]
    fn an_empty_secret_shows_as_unset() {
        let cfg = Cfg {
            key: Secret::new(String::new()),
        };
        assert_eq!(
            toml::to_string(&cfg).expect("serialises").trim(),
            "key = \"\""
        );
        let marked = serialize_marked(|| toml::to_string(&cfg).expect("serialises"));
        assert!(marked.contains(REDACTED), "{marked}");
    }

    #[test]
    fn never_prints_or_serialises_the_value() {
        let cfg: Cfg = toml::from_str("key = \"s3cr3t-value\"").expect("parses");
        assert_eq!(cfg.key.expose(), "s3cr3t-value");
        for text in [
            format!("{cfg:?}"),
            format!("{cfg:#?}"),
            format!("{}", cfg.key),
            serde_json::to_string(&cfg).expect("serialises"),
            toml::to_string(&cfg).expect("serialises"),
        ] {
            assert!(!text.contains("s3cr3t"), "leaked in {text}");
            assert!(text.contains("redacted"), "{text}");
        }
        let exposed = serialize_exposed(|| serde_json::to_string(&cfg).expect("serialises"));
        assert!(exposed.contains("s3cr3t-value"));
        // The exception ends with the closure.
        assert!(
            !serde_json::to_string(&cfg)
                .expect("serialises")
                .contains("s3cr3t")
        );
    }
}
