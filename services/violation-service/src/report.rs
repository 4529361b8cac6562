//! What violation-service asks its sources and what they answer, in vendor-neutral terms:
//! a violation vendor's connector turns its own answer into a [`ViolationReport`].

use contracts::axle::common::v1::Provenance;

/// A query that passed the city's rule: exactly what is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationQuery {
    /// Normalised plate, e.g. "粤AJ44E6".
    pub plate: String,
    /// 号牌种类 code, e.g. "02".
    pub plate_type: String,
    /// Engine number as the city needs it (trimmed to its tail), or empty.
    pub engine_number: String,
    /// VIN as the city needs it, or empty.
    pub vin: String,
}

impl ViolationQuery {
    /// The key answers are stored and shared under: the vehicle and the numbers sent.
    /// The numbers are part of it because the vendor checks them: an answer bought with
    /// the right engine number must not be served to a caller who gave a wrong one. They
    /// are digested, so the store holds no engine number or VIN.
    pub fn key(&self) -> String {
        let digest = connector::signing::md5_hex(
            format!("{}\u{1f}{}", self.engine_number, self.vin).as_bytes(),
        );
        format!("{}|{}|{}", self.plate, self.plate_type, &digest[..16])
    }
}

/// A violation vendor.
pub type ViolationSource = dyn sources::Source<ViolationQuery, Answer>;

/// What a violation source gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The vehicle's violations (possibly none).
    Report(Box<ViolationReport>),
    /// The vendor took the query and answers later: `handle` finds the answer then,
    /// without a new charge (QueryViolationsResponse.query_handle).
    Pending { handle: String },
}

/// Finds the answer of an earlier PENDING query by its handle (a vendor answering by
/// callback keeps its queries in its store).
pub trait Handles: Send + Sync + std::fmt::Debug {
    /// `Ok(None)`: the handle is not this vendor's (or forgotten). Otherwise the query's
    /// store key, its answer (a report, or still pending) and the source's status.
    fn by_handle<'a>(&'a self, handle: &'a str) -> sources::BoxFuture<'a, HandleLookup>;
}

/// What [`Handles::by_handle`] finds.
pub type HandleLookup = Result<
    Option<(
        String,
        Option<Answer>,
        contracts::axle::common::v1::SourceStatus,
    )>,
    callback::StoreError,
>;

/// How a violation has been handled (seed 003 `handleSign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    #[default]
    Unknown,
    /// 1, and the seed's default for an empty or absent value: 未处理 未缴费.
    Unhandled,
    /// 2: 已处理 未缴费.
    HandledUnpaid,
    /// 3: 已处理 已缴费.
    Paid,
}

/// One violation record as a source reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// Unix seconds, from the source's China Standard Time; `None` when unreadable.
    pub occurred_at: Option<i64>,
    /// As the source wrote it.
    pub occurred_at_local: String,
    pub address: String,
    pub action: String,
    pub code: String,
    /// Fine in fen; `None` when the source left it blank.
    pub fine_fen: Option<i64>,
    pub points: Option<i32>,
    pub city: String,
    pub city_code: String,
    pub collecting_agency: String,
    pub decision_number: String,
    pub handling_number: String,
    pub monitor_number: String,
    pub handling: Handling,
    pub can_handle_online: bool,
    /// Keys the vendor's document does not describe, as sent.
    pub unmapped: Vec<(String, String)>,
}

/// What a source answered about a vehicle's violations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViolationReport {
    pub provenance: Provenance,
    /// The plate the vendor says it answered for (`carNo`), when it says.
    pub car_no: String,
    /// The vendor's `vioNum`.
    pub count: Option<i64>,
    /// The vendor's `fineTotal`, in fen.
    pub fine_total_fen: Option<i64>,
    /// The vendor's `integralTotal`.
    pub points_total: Option<i64>,
    /// Newest first.
    pub records: Vec<Record>,
    pub unmapped: Vec<(String, String)>,
    /// When the answer was received (Unix seconds): older than now for a stored answer.
    pub received_at: Option<std::time::SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(engine: &str, vin: &str) -> ViolationQuery {
        ViolationQuery {
            plate: "粤B12345".into(),
            plate_type: "02".into(),
            engine_number: engine.into(),
            vin: vin.into(),
        }
    }

    #[test]
    fn keys_tell_the_numbers_apart_without_holding_them() {
        let a = q("600062", "");
        assert_eq!(a.key(), q("600062", "").key());
        assert_ne!(a.key(), q("600063", "").key());
        assert_ne!(q("6000", "62").key(), q("600062", "").key());
        assert!(a.key().starts_with("粤B12345|02|"), "{}", a.key());
        assert!(!a.key().contains("600062"));
    }
}
