//! The configured priority order of a service's sources, checked against what is
//! registered.

use std::sync::Arc;

use crate::Source;

/// A configured source order or merge policy that names a source no one registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("unknown source {name:?} in {setting} (known: {known})")]
    Unknown {
        setting: String,
        name: String,
        known: String,
    },
    #[error("source {name:?} is listed twice in {setting}")]
    Twice { setting: String, name: String },
}

/// Puts `sources` (as a service's registry built them) in the configured priority
/// `order`; sources the order does not name follow, in registry order, so a new vendor
/// works before anyone ranks it. A name in `order` that no source has is an error naming
/// the known ones (a typo must not silently drop a vendor).
pub fn arrange<Q: ?Sized, A>(
    sources: Vec<Arc<dyn Source<Q, A>>>,
    order: &[String],
) -> Result<Vec<Arc<dyn Source<Q, A>>>, OrderError> {
    let known: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    check_names("vendors.order", order, &known)?;
    let mut sources = sources;
    // Stable: unnamed sources keep their registry order after the named ones.
    sources.sort_by_key(|s| {
        order
            .iter()
            .position(|o| o == s.name())
            .unwrap_or(order.len())
    });
    Ok(sources)
}

/// Checks that every source a merge policy ranks exists, so a typo in
/// `[merge]` cannot silently rank a source last.
pub fn check_policy(
    setting: &str,
    policy: &merge::MergePolicy,
    known: &[&str],
) -> Result<(), OrderError> {
    check_names(&format!("{setting}.default"), &policy.default, known)?;
    for (field, order) in &policy.fields {
        check_names(&format!("{setting}.fields.{field}"), order, known)?;
    }
    Ok(())
}

fn check_names(setting: &str, names: &[String], known: &[&str]) -> Result<(), OrderError> {
    for (i, name) in names.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(OrderError::Unknown {
                setting: setting.to_owned(),
                name: name.clone(),
                known: known.join(", "),
            });
        }
        if names[..i].contains(name) {
            return Err(OrderError::Twice {
                setting: setting.to_owned(),
                name: name.clone(),
            });
        }
    }
    Ok(())
}
