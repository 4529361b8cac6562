//! What a vendor's call becomes in the contract's terms: its cost as Money, its answer's
//! provenance.

use std::time::SystemTime;

use contracts::axle::common::v1::{Money, Provenance};

/// `axle.common.v1.Money` for what a vendor call cost.
pub fn money(cost: &connector::client::Cost) -> Money {
    facts::money::from_decimal(&cost.currency, cost.amount)
}

/// The configured price of one billed call of a vendor, for `Source::cost`.
pub fn price(http: &connector::config::HttpClientConfig) -> Option<Money> {
    http.cost_per_call
        .as_ref()
        .map(|c| facts::money::from_decimal(&c.currency, c.amount))
}

/// The provenance of a vendor's answer fetched now: source, sandbox label, cost.
pub fn provenance<T>(source: &str, outcome: &connector::client::Outcome<T>) -> Provenance {
    Provenance {
        source: source.to_owned(),
        sandbox: outcome.sandbox,
        fetched_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        cost: outcome.cost.as_ref().map(money),
        ..Provenance::default()
    }
}
