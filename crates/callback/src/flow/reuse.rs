//! Which stored answer may be served instead of asking (and paying) again: shared by the
//! caller's first look and the claimant's second one.

use crate::store::{Store, StoreError, StoredResult};

use super::settings::Settings;

/// Says whether a stored answer may be served again (a vendor's "query failed" may not).
pub(crate) type Reusable = dyn Fn(&StoredResult) -> bool + Send + Sync;

/// The newest answer for `key` within `result_ttl` that may be served again.
pub(crate) async fn reusable_result(
    store: &dyn Store,
    vendor: &str,
    settings: &Settings,
    reusable: &Reusable,
    key: &str,
) -> Result<Option<StoredResult>, StoreError> {
    let rows = store
        .results_for_key(vendor, key, settings.result_ttl, settings.reuse_candidates)
        .await?;
    Ok(rows.into_iter().find(|r| reusable(r)))
}
