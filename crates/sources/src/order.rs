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
/// `order`; sources the order does not name follow, so a new vendor works before anyone
/// ranks it: among those (equal priority) the cheaper goes first, then registry order.
/// A source with no configured price counts as dearer than any priced one (its price
/// is unknown, not zero). A name in `order` that no source has is an error naming
/// the known ones (a typo must not silently drop a vendor).
pub fn arrange<Q: ?Sized, A>(
    sources: Vec<Arc<dyn Source<Q, A>>>,
    order: &[String],
) -> Result<Vec<Arc<dyn Source<Q, A>>>, OrderError> {
    let known: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    check_names("vendors.order", order, &known)?;
    let mut sources = sources;
    // Stable: equally ranked and priced sources keep their registry order.
    sources.sort_by_cached_key(|s| {
        let rank = order
            .iter()
            .position(|o| o == s.name())
            .unwrap_or(order.len());
        (rank, price_key(s.cost()))
    });
    Ok(sources)
}

/// Orders prices: known before unknown, then by currency (vendors billing in different
/// currencies are not compared by amount), then by amount.
fn price_key(cost: Option<contracts::axle::common::v1::Money>) -> (bool, String, i128) {
    match cost {
        Some(m) => (
            false,
            m.currency_code,
            i128::from(m.units) * 1_000_000_000 + i128::from(m.nanos),
        ),
        None => (true, String::new(), 0),
    }
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
