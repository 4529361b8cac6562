//! LookupVehicle: the local parse, then the plate vendors per the configured strategy,
//! merged per field by source priority with provenance, confidence and disagreements.
//!
//! * xiaoshibao (seed 000) answers synchronously.
//! * platecb (seed 004) answers by callback: a stored answer younger than `result_ttl` is
//!   returned without asking (or paying) again; a submission still awaiting its callback
//!   is awaited, not repeated; otherwise the query is submitted and awaited until the
//!   caller's deadline, after which the source is reported PENDING and a later call
//!   returns the stored answer.
//!
//! Every VIN a vendor returns is checked with the local VIN rules: one that fails its
//! check digit is flagged (`vin_valid = false`, low confidence), never passed on silently.

use std::time::{Duration, Instant, SystemTime};

use connector::status;
use contracts::axle::common::v1::{
    Alternative, DateFact, Disagreement, Int32Fact, Money, MoneyFact, Provenance, SourceState,
    SourceStatus, StringFact,
};
use contracts::axle::plate::v1::{
    DamageRecord, LookupVehicleResponse, ParsePlateResponse, UsageNature, VehicleDetails,
    VehicleTypeCode, VendorField,
};
use domain::vin::CheckDigitState;
use merge::{Candidate, MergePolicy};
use serde::{Deserialize, Serialize};

use crate::connectors::platecb::{self, PlatecbClient, Waiters};
use crate::connectors::xiaoshibao::{self, XiaoshibaoClient};
use crate::store::CallbackStore;

/// How the vendors are called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Both at once: fastest complete answer, both billed.
    #[default]
    Parallel,
    /// xiaoshibao first; platecb only when xiaoshibao has no answer (vendors cost money).
    Fallback,
}

/// platecb with what its asynchronous protocol needs.
#[derive(Debug)]
pub struct PlatecbSide {
    pub client: PlatecbClient,
    pub store: CallbackStore,
    pub waiters: Waiters,
    pub result_ttl: Duration,
    pub pending_ttl: Duration,
    /// Longest a lookup waits for a callback, whatever the caller's deadline.
    pub max_wait: Duration,
}

#[derive(Debug)]
pub struct Lookup {
    pub xiaoshibao: Option<XiaoshibaoClient>,
    pub platecb: Option<PlatecbSide>,
    pub strategy: Strategy,
    pub policy: MergePolicy,
    pub reveal_full_vin: bool,
    pub reveal_engine_number: bool,
}

/// What one source said, field by field.
#[derive(Debug, Default, Clone)]
struct Said {
    provenance: Provenance,
    confidence: f32,
    vin: String,
    usage: String,
    brand: String,
    model: String,
    first_registration_date: String,
    vehicle_type: String,
    color: String,
    engine_number: String,
    insurance_expiry_date: String,
    production_date: String,
    emission_standard: String,
    approved_passengers: Option<i64>,
    details: platecb::transformers::Details,
    damage: Vec<platecb::transformers::Damage>,
    /// Fields the vendor's document does not describe, as sent.
    unmapped: Vec<(String, String)>,
}

/// Masks a VIN to its WMI and last four characters (anything shorter than a VIN to its
/// last four only, so a fragment never shows most of itself).
pub fn mask_vin(vin: &str) -> String {
    domain::pii::mask_vin(vin)
}

/// Masks an engine number to its last four characters: the number is asked for, with the
/// plate, by violation and registration services, so it identifies the vehicle.
pub fn mask_engine_number(number: &str) -> String {
    domain::pii::mask_tail4(number)
}

/// Applies `mask` to a fact, its alternatives and its disagreement entries.
fn mask_field(
    fact: Option<&mut StringFact>,
    disagreements: &mut [Disagreement],
    field: &str,
    mask: fn(&str) -> String,
) {
    if let Some(f) = fact {
        f.value = mask(&f.value);
        for a in &mut f.alternatives {
            a.value = mask(&a.value);
        }
    }
    for d in disagreements.iter_mut().filter(|d| d.field == field) {
        d.chosen_value = mask(&d.chosen_value);
        for a in &mut d.values {
            a.value = mask(&a.value);
        }
    }
}

/// Vendor leftovers in a stable order (maps iterate randomly).
fn sorted(map: std::collections::HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort();
    v
}

/// Short province / city names as the vendor's example uses them ("广东", "深圳").
pub fn short_name(name: &str) -> String {
    let mut s = name.split('(').next().unwrap_or(name).to_owned();
    for suffix in [
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "自治区",
        "自治州",
        "省",
        "市",
        "地区",
        "盟",
    ] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_owned();
            break;
        }
    }
    s
}

fn money(c: &connector::client::Cost) -> Money {
    let (units, nanos) = c.units_nanos();
    Money {
        currency_code: c.currency.clone(),
        units,
        nanos,
    }
}

impl Lookup {
    pub async fn run(
        &self,
        parsed: ParsePlateResponse,
        deadline: Option<Instant>,
    ) -> LookupVehicleResponse {
        let (province, city) = parsed
            .issuing_authority
            .as_ref()
            .map(|a| (short_name(&a.province), short_name(&a.city)))
            .unwrap_or_default();
        let plate = parsed.normalized_plate.clone();
        let mut sources = vec![status::ok("local", 0, Duration::ZERO, false)];
        let mut said = Vec::new();

        let x = async {
            match &self.xiaoshibao {
                None => (
                    None,
                    status::skipped(
                        xiaoshibao::SOURCE,
                        "xiaoshibao is disabled in this deployment's configuration",
                    ),
                ),
                Some(c) => {
                    self.ask_xiaoshibao(c, &plate, &province, &city, deadline)
                        .await
                }
            }
        };
        let p = async {
            match &self.platecb {
                None => (
                    None,
                    status::skipped(
                        platecb::SOURCE,
                        "platecb is disabled in this deployment's configuration",
                    ),
                ),
                Some(side) => self.ask_platecb(side, &plate, deadline).await,
            }
        };
        match self.strategy {
            Strategy::Parallel => {
                let ((xs, xst), (ps, pst)) = tokio::join!(x, p);
                said.extend(xs);
                said.extend(ps);
                sources.push(xst);
                sources.push(pst);
            }
            Strategy::Fallback => {
                let (xs, xst) = x.await;
                let answered = xs.is_some();
                said.extend(xs);
                sources.push(xst);
                if answered {
                    // Not asked (that would be paid), but an answer already stored costs
                    // nothing and adds its fields.
                    let stored = match &self.platecb {
                        Some(side) => side
                            .store
                            .results_for_plate(&plate, side.result_ttl, 5)
                            .await
                            .ok()
                            .and_then(|rows| rows.into_iter().find(reusable)),
                        None => None,
                    };
                    match stored {
                        Some(stored) => {
                            let (ps, pst) = stored_answer(&stored, Instant::now(), true);
                            said.extend(ps);
                            sources.push(pst);
                        }
                        None => sources.push(status::skipped(
                            platecb::SOURCE,
                            "not needed: a higher-priority source answered (fallback strategy)",
                        )),
                    }
                } else {
                    let (ps, pst) = p.await;
                    said.extend(ps);
                    sources.push(pst);
                }
            }
        }

        let mut resp = self.merge(&said);
        resp.plate = Some(parsed);
        resp.sources = sources;
        resp
    }

    async fn ask_xiaoshibao(
        &self,
        c: &XiaoshibaoClient,
        plate: &str,
        province: &str,
        city: &str,
        deadline: Option<Instant>,
    ) -> (Option<Said>, SourceStatus) {
        let started = Instant::now();
        match c.lookup(plate, province, city, deadline).await {
            Ok(o) => {
                let cost = o.cost.as_ref().map(money);
                let v = o.value;
                let said = Said {
                    provenance: Provenance {
                        source: xiaoshibao::SOURCE.to_owned(),
                        sandbox: o.sandbox,
                        fetched_at: Some(prost_types::Timestamp::from(SystemTime::now())),
                        cost: cost.clone(),
                        upstream_sources: v.sources.clone(),
                        ..Provenance::default()
                    },
                    confidence: v.confidence.unwrap_or(0.8),
                    vin: v.vin,
                    usage: v.usage,
                    brand: v.brand,
                    model: v.model,
                    first_registration_date: iso(v.first_register_date),
                    unmapped: sorted(v.unmapped),
                    ..Said::default()
                };
                let mut st = status::ok(xiaoshibao::SOURCE, o.attempts, o.latency, o.sandbox);
                st.cost = cost;
                (Some(said), st)
            }
            Err(err) => {
                err.log(xiaoshibao::SOURCE, "vendor call");
                (
                    None,
                    status::from_failure(xiaoshibao::SOURCE, &err, started.elapsed()),
                )
            }
        }
    }

    async fn ask_platecb(
        &self,
        side: &PlatecbSide,
        plate: &str,
        deadline: Option<Instant>,
    ) -> (Option<Said>, SourceStatus) {
        let started = Instant::now();
        let store_failed = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "callback store unavailable");
            let mut st = status::skipped(
                platecb::SOURCE,
                "the callback store is unavailable; platecb was not asked",
            );
            st.state = SourceState::Failed as i32;
            st.code = tonic::Code::Unavailable as i32;
            "CALLBACK_STORE_UNAVAILABLE".clone_into(&mut st.reason);
            st.operator_action_required = true;
            st
        };
        // 1. A stored answer: no new charge. A failed query is not an answer to reuse.
        match side
            .store
            .results_for_plate(plate, side.result_ttl, 5)
            .await
        {
            Ok(rows) => {
                if let Some(stored) = rows.iter().find(|r| reusable(r)) {
                    return stored_answer(stored, started, true);
                }
            }
            Err(e) => return (None, store_failed(e)),
        }
        // 2. Claim the query (atomically: two lookups of one plate never both pay), or
        // join the one already claimed.
        let our_ref = PlatecbClient::new_ref();
        let claim = match side.store.claim(plate, &our_ref, side.pending_ttl).await {
            Ok(c) => c,
            Err(e) => return (None, store_failed(e)),
        };
        // Registered before the submission and before looking in the store, so an answer
        // stored at any point from here on wakes us.
        let guard = side.waiters.register(plate);
        let mut cost = None;
        // What the submission was, for a PENDING status: attempts made and whether the
        // sandbox took it.
        let mut submission: Option<(u32, bool)> = None;
        if claim.new {
            // Dropped before the submission is settled (the caller cancelled): give the
            // claim back, or the plate would wait on a query never made.
            let mut unsettled = ReleaseOnDrop::new(&side.store, &our_ref);
            let submitted = side.client.submit(plate, &our_ref, deadline).await;
            unsettled.disarm();
            // Sent (or possibly sent): the claim now lasts pending_ttl. A claim never
            // marked can be taken over after a couple of minutes (its process died).
            let possibly_sent = match &submitted {
                Ok(_) => true,
                Err(err) => !submission_certainly_failed(err),
            };
            if possibly_sent && let Err(e) = side.store.mark_submitted(&our_ref).await {
                tracing::error!(error = %e, "cannot mark a platecb claim submitted");
            }
            match submitted {
                Ok(o) => {
                    cost = o.cost.as_ref().map(money);
                    submission = Some((o.attempts, o.sandbox));
                    // A platform that gives its own id may answer under it alone.
                    if let Some(vendor_id) = o.value.filter(|id| *id != our_ref)
                        && let Err(e) = side.store.add_pending(&vendor_id, plate).await
                    {
                        tracing::error!(error = %e, "cannot record a platecb request id");
                    }
                }
                Err(err) => {
                    err.log(platecb::SOURCE, "submit");
                    // Only a submission that certainly did not become a paid query gives
                    // its claim back; after a timeout the vendor may well have it, and
                    // its callback must still be taken.
                    if submission_certainly_failed(&err)
                        && let Err(e) = side.store.release(&our_ref).await
                    {
                        tracing::error!(error = %e, "cannot release a failed platecb claim");
                    }
                    return (
                        None,
                        status::from_failure(platecb::SOURCE, &err, started.elapsed()),
                    );
                }
            }
        }
        // 3. Wait for an answer for this plate stored since the claim, within the
        // caller's deadline and `max_wait` (a platform that takes minutes must not hold
        // the other sources' answers hostage).
        let wait = deadline
            .map_or(side.max_wait, |d| {
                d.saturating_duration_since(Instant::now())
            })
            .min(side.max_wait);
        let since = claim.claimed_at;
        let arrived = async {
            loop {
                let n = guard.notified();
                let age = Duration::from_secs(u64::try_from(now_secs() - since + 1).unwrap_or(1));
                match side.store.result_for_plate(plate, age).await {
                    Ok(Some(stored)) if stored.received_at >= since => return Ok(stored),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
                // Woken by this process's webhook, or looking again every second: the
                // callback may land on another replica sharing the store.
                let _ = tokio::time::timeout(Duration::from_secs(1), n).await;
            }
        };
        let (said, mut st) = match tokio::time::timeout(wait, arrived).await {
            Ok(Ok(stored)) => stored_answer(&stored, started, false),
            Ok(Err(e)) => (None, store_failed(e)),
            Err(_) => {
                let mut st = status::skipped(
                    platecb::SOURCE,
                    &format!(
                        "platecb accepted the query (request {}) and answers by callback; \
                         it has not arrived within the deadline. Ask again later: the stored answer \
                         is returned without a new charge",
                        claim.request_id
                    ),
                );
                st.state = SourceState::Pending as i32;
                "VENDOR_ANSWER_PENDING".clone_into(&mut st.reason);
                if let Some((attempts, sandbox)) = submission {
                    st.attempts = attempts;
                    st.sandbox = sandbox;
                }
                // The platform usually calls back within seconds; asking again sooner
                // only finds the same nothing.
                st.retry_after = prost_types::Duration::try_from(PENDING_RETRY_AFTER).ok();
                st.latency = prost_types::Duration::try_from(started.elapsed()).ok();
                (None, st)
            }
        };
        // The charge belongs to the lookup that submitted: its status and, when the
        // answer arrived within it, the answer's provenance.
        let mut said = said;
        if let (Some(s), Some(c)) = (said.as_mut(), cost.as_ref()) {
            s.provenance.cost = Some(c.clone());
        }
        if st.cost.is_none() {
            st.cost = cost;
        }
        (said, st)
    }

    fn merge(&self, said: &[Said]) -> LookupVehicleResponse {
        let mut disagreements = Vec::new();
        // `admissible` rejects values the local rules prove wrong: they keep a low
        // confidence and lose to any admissible value, whatever the source priority.
        // Sources whose VIN differs from the chosen one describe another vehicle (or
        // the right one under a wrong VIN): their other fields must not be mixed into
        // this vehicle's record ahead of the chosen VIN's source. Filled once the VIN is
        // merged; empty while it is.
        let mut other_vehicle: Vec<String> = Vec::new();
        // `rejected`: the Alternative.rejected_reason of a value `admissible` refuses.
        let mut checked = |field: &str,
                           pick: fn(&Said) -> &str,
                           admissible: fn(&str) -> bool,
                           rejected: &'static str,
                           other_vehicle: &[String]|
         -> Option<StringFact> {
            let admissible_from = |value: &str, source: &str| {
                admissible(value) && !other_vehicle.iter().any(|o| o == source)
            };
            let cands: Vec<Candidate<(String, Provenance)>> = said
                .iter()
                // "暂无", "-", "0000-00-00": a vendor's "unknown" is no answer.
                .filter(|s| !domain::text::is_placeholder(pick(s)))
                .map(|s| {
                    let value = pick(s);
                    let confidence = if admissible_from(value, &s.provenance.source) {
                        s.confidence
                    } else {
                        s.confidence.min(INADMISSIBLE_CONFIDENCE)
                    };
                    Candidate::new(
                        s.provenance.source.clone(),
                        (value.to_owned(), s.provenance.clone()),
                        confidence,
                    )
                })
                .collect();
            let m = self.policy.merge_admissible(
                field,
                cands,
                |a, b| merge::same_text(&a.0, &b.0) || same_date_at_less_precision(&a.0, &b.0),
                |v| admissible_from(&v.0, &v.1.source),
            )?;
            let alternatives: Vec<Alternative> = m
                .alternatives
                .iter()
                .map(|c| Alternative {
                    value: c.value.0.clone(),
                    provenance: Some(c.value.1.clone()),
                    confidence: c.confidence,
                    rejected_reason: if admissible(&c.value.0) { "" } else { rejected }.to_owned(),
                })
                .collect();
            if !alternatives.is_empty() {
                disagreements.push(Disagreement {
                    field: field.to_owned(),
                    chosen_source: m.source.clone(),
                    chosen_value: m.value.0.clone(),
                    values: alternatives.clone(),
                });
            }
            Some(StringFact {
                value: m.value.0,
                confidence: m.confidence,
                provenance: Some(m.value.1),
                alternatives,
            })
        };
        let vin = checked("vin", |s| &s.vin, vin_passes, "VIN_INVALID", &other_vehicle);
        if let Some(chosen) = &vin {
            let chosen_vin = domain::vin::normalize(&chosen.value);
            other_vehicle = said
                .iter()
                .filter(|s| {
                    !domain::text::is_placeholder(&s.vin)
                        && domain::vin::normalize(&s.vin) != chosen_vin
                })
                .map(|s| s.provenance.source.clone())
                .collect();
        }
        let mut text = |field: &str, pick: fn(&Said) -> &str| {
            checked(field, pick, |_| true, "", &other_vehicle)
        };
        let date = |f: Option<StringFact>| {
            f.map(|f| DateFact {
                value: f.value,
                confidence: f.confidence,
                provenance: f.provenance,
                alternatives: f.alternatives,
            })
        };
        let mut resp = LookupVehicleResponse {
            vin,
            brand: text("brand", |s| &s.brand),
            model: text("model", |s| &s.model),
            first_registration_date: date(text("first_registration_date", |s| {
                &s.first_registration_date
            })),
            vehicle_type: text("vehicle_type", |s| &s.vehicle_type),
            body_color: text("body_color", |s| &s.color),
            engine_number: text("engine_number", |s| &s.engine_number),
            insurance_expiry_date: date(text("insurance_expiry_date", |s| {
                &s.insurance_expiry_date
            })),
            production_date: date(text("production_date", |s| &s.production_date)),
            emission_standard: text("emission_standard", |s| &s.emission_standard),
            ..LookupVehicleResponse::default()
        };
        let usage = text("usage", |s| &s.usage);
        let mut details = VehicleDetails {
            fuel_type: text("fuel_type", |s| &s.details.fuel_type),
            transmission: text("transmission", |s| &s.details.transmission),
            engine_model: text("engine_model", |s| &s.details.engine_model),
            power: text("power", |s| &s.details.power),
            length: text("length", |s| &s.details.length),
            width: text("width", |s| &s.details.width),
            height: text("height", |s| &s.details.height),
            wheelbase: text("wheelbase", |s| &s.details.wheelbase),
            front_track: text("front_track", |s| &s.details.front_track),
            rear_track: text("rear_track", |s| &s.details.rear_track),
            curb_weight: text("curb_weight", |s| &s.details.curb_weight),
            total_weight: text("total_weight", |s| &s.details.total_weight),
            rated_load_weight_kg: text("rated_load_weight_kg", |s| &s.details.rated_load_weight_kg),
            axle_count: text("axle_count", |s| &s.details.axle_count),
            body_boxes: text("body_boxes", |s| &s.details.body_boxes),
            front_tire_size: text("front_tire_size", |s| &s.details.front_tire_size),
            rear_tire_size: text("rear_tire_size", |s| &s.details.rear_tire_size),
            insurance_start_date: date(text("insurance_start_date", |s| {
                &s.details.insurance_start_date
            })),
            market_launch_date: date(text("market_launch_date", |s| {
                &s.details.market_launch_date
            })),
            production_year_month: date(text("production_year_month", |s| {
                &s.details.production_year_month
            })),
            guide_price_10k_cny: text("guide_price_10k_cny", |s| &s.details.guide_price_10k_cny),
            vendor_brand_id: text("vendor_brand_id", |s| &s.details.vendor_brand_id),
            guide_price: None,
        };
        // The guide price as money too, converted exactly from the 万元 text.
        details.guide_price = details.guide_price_10k_cny.as_ref().and_then(|f| {
            let (units, nanos) = domain::money::wan_yuan_to_cny(&f.value)?;
            Some(MoneyFact {
                value: Some(Money {
                    currency_code: "CNY".to_owned(),
                    units,
                    nanos,
                }),
                confidence: f.confidence,
                provenance: f.provenance.clone(),
                // As MoneyFact promises: the other sources' prices as "CNY 129900.00".
                alternatives: f
                    .alternatives
                    .iter()
                    .map(|a| Alternative {
                        value: domain::money::wan_yuan_to_cny(&a.value).map_or_else(
                            || a.value.clone(),
                            |(u, n)| format!("CNY {u}.{:02}", n / 10_000_000),
                        ),
                        ..a.clone()
                    })
                    .collect(),
            })
        });
        if details != VehicleDetails::default() {
            resp.details = Some(details);
        }
        for s in said {
            resp.damage_records
                .extend(s.damage.iter().map(|d| DamageRecord {
                    r#type: d.kind.clone(),
                    part: d.part.clone(),
                    amount: d.amount.clone(),
                    provenance: Some(s.provenance.clone()),
                }));
            resp.unmapped_fields
                .extend(s.unmapped.iter().map(|(name, value)| VendorField {
                    source: s.provenance.source.clone(),
                    name: name.clone(),
                    value: value.clone(),
                }));
        }
        resp.vehicle_type_code = resp.vehicle_type.as_ref().and_then(|t| {
            domain::vehicle_type::vehicle_type_from_text(&t.value).map(|m| VehicleTypeCode {
                code: m.vehicle_type.code.to_owned(),
                name_zh: m.vehicle_type.name_zh.to_owned(),
                original_text: t.value.clone(),
                confidence: t.confidence * m.confidence,
                provenance: t.provenance.clone(),
            })
        });
        // Seat counts go through the same policy as the text fields: a vendor's count
        // never silently shadows another's.
        let seats: Vec<Candidate<(i32, Provenance)>> = said
            .iter()
            .filter_map(|s| {
                let n = i32::try_from(s.approved_passengers?).ok()?;
                Some(Candidate::new(
                    s.provenance.source.clone(),
                    (n, s.provenance.clone()),
                    s.confidence,
                ))
            })
            .collect();
        if let Some(m) = self
            .policy
            .merge("approved_passengers", seats, |a, b| a.0 == b.0)
        {
            let alternatives: Vec<Alternative> = m
                .alternatives
                .iter()
                .map(|c| Alternative {
                    value: c.value.0.to_string(),
                    provenance: Some(c.value.1.clone()),
                    confidence: c.confidence,
                    rejected_reason: String::new(),
                })
                .collect();
            if !alternatives.is_empty() {
                disagreements.push(Disagreement {
                    field: "approved_passengers".to_owned(),
                    chosen_source: m.source.clone(),
                    chosen_value: m.value.0.to_string(),
                    values: alternatives.clone(),
                });
            }
            resp.approved_passengers = Some(Int32Fact {
                value: m.value.0,
                confidence: m.confidence,
                provenance: Some(m.value.1),
                alternatives,
            });
        }
        resp.disagreements = disagreements;
        if let Some(u) = usage {
            let nature = |text: &str, confidence: f32, provenance: Option<Provenance>| {
                let matched = domain::usage::usage_from_text(text);
                UsageNature {
                    code: matched
                        .as_ref()
                        .map(|m| m.usage.code.to_string())
                        .unwrap_or_default(),
                    name_zh: matched
                        .as_ref()
                        .map(|m| m.usage.name_zh.to_owned())
                        .unwrap_or_default(),
                    name: matched
                        .as_ref()
                        .map(|m| m.usage.name.to_owned())
                        .unwrap_or_default(),
                    confidence: confidence * matched.as_ref().map_or(0.0, |m| m.confidence),
                    original_text: text.to_owned(),
                    provenance,
                    alternatives: Vec::new(),
                }
            };
            let alternatives = u
                .alternatives
                .iter()
                .map(|a| nature(&a.value, a.confidence, a.provenance.clone()))
                .collect();
            resp.usage = Some(UsageNature {
                alternatives,
                ..nature(&u.value, u.confidence, u.provenance)
            });
        }
        if !self.reveal_engine_number {
            mask_field(
                resp.engine_number.as_mut(),
                &mut resp.disagreements,
                "engine_number",
                mask_engine_number,
            );
        }
        // Identifiers and owner data can also arrive in fields the vendor's document does
        // not describe: masked by the key's meaning and by the value's shape. Owner
        // names, ID and phone numbers are always masked (no caller is entitled yet).
        let reveal = domain::pii::Reveal {
            full_vin: self.reveal_full_vin,
            engine_number: self.reveal_engine_number,
        };
        for f in &mut resp.unmapped_fields {
            f.value = domain::pii::mask_vendor_field(&f.name, &f.value, reveal);
        }
        resp.vin_valid = resp.vin.as_ref().map(|v| vin_passes(&v.value));
        if !self.reveal_full_vin {
            mask_field(resp.vin.as_mut(), &mut resp.disagreements, "vin", |v| {
                mask_vin(&domain::vin::normalize(v))
            });
        }
        resp
    }
}

/// A vendor's date in ISO 8601 when it reads as one (the contract's promise), else as
/// sent: an unreadable date is passed on, not dropped.
fn iso(date: String) -> String {
    domain::dates::iso_date(&date).unwrap_or(date)
}

/// Whether a failed submission certainly did not become a (paid) query at the vendor:
/// it never left (connect failure, local limit, no time), or the vendor answered it
/// with a refusal. A timeout or a broken connection mid-request are not certain.
fn submission_certainly_failed(err: &connector::client::CallFailure) -> bool {
    use connector::VendorError as E;
    matches!(
        err.error,
        E::Connect { .. }
            | E::LocalRateLimited
            | E::Vendor { .. }
            | E::Auth { .. }
            | E::HttpStatus { .. }
            | E::RateLimited { .. }
            | E::Unavailable { .. }
            | E::Config { .. }
    ) || (matches!(err.error, E::DeadlineExceeded) && err.attempts == 0)
}

/// Releases a claim if dropped while armed (the lookup was cancelled mid-submission).
struct ReleaseOnDrop {
    store: CallbackStore,
    request_id: String,
    armed: bool,
}

impl ReleaseOnDrop {
    fn new(store: &CallbackStore, request_id: &str) -> Self {
        Self {
            store: store.clone(),
            request_id: request_id.to_owned(),
            armed: true,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let (store, id) = (self.store.clone(), self.request_id.clone());
            // Drop cannot wait; the release runs on its own.
            tokio::spawn(async move {
                if let Err(e) = store.release(&id).await {
                    tracing::error!(error = %e, "cannot release a cancelled platecb claim");
                }
            });
        }
    }
}

/// "2022-03" and "2022-03-18" say the same thing at different precisions: agreement,
/// not a disagreement.
fn same_date_at_less_precision(a: &str, b: &str) -> bool {
    let iso = |s: &str| domain::dates::iso_date(s).filter(|d| d == s);
    match (iso(a), iso(b)) {
        (Some(a), Some(b)) => {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            long.starts_with(&short) && long[short.len()..].starts_with('-')
        }
        _ => false,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Confidence cap for a value the local rules prove wrong (see `vin_passes`).
const INADMISSIBLE_CONFIDENCE: f32 = 0.3;

/// Whether a vendor's VIN passes the local VIN rules. One that breaks its mandatory check
/// digit is not the vehicle's VIN as registered: it stays visible, flagged, with low
/// confidence, and any VIN that passes is preferred to it.
fn vin_passes(vin: &str) -> bool {
    let report = domain::vin::validate(vin, kit::clock::current_year());
    report.valid && report.check_digit.state != CheckDigitState::Invalid
}

/// Whether a stored answer for a plate may be served again instead of asking (and paying)
/// anew: only a readable, successful one.
fn reusable(stored: &crate::store::StoredResult) -> bool {
    platecb::transformers::to_vehicle(&stored.payload).is_ok_and(|v| v.succeeded())
}

/// When a caller told that platecb is PENDING should ask again.
const PENDING_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A stored platecb answer as a source's facts.
fn stored_answer(
    stored: &crate::store::StoredResult,
    started: Instant,
    reused: bool,
) -> (Option<Said>, SourceStatus) {
    match platecb::transformers::to_vehicle(&stored.payload) {
        Ok(v) if !v.succeeded() => {
            let err = connector::VendorError::Vendor {
                code: v.result_status.unwrap_or_default().to_string(),
                message: "查询失败: the platform could not complete the query".to_owned(),
                kind: connector::VendorErrorKind::VendorInternal,
            };
            let mut st = status::from_error(platecb::SOURCE, &err, started.elapsed());
            st.sandbox = stored.sandbox;
            st.attempts = u32::from(!reused);
            (None, st)
        }
        Ok(v) => {
            let fetched = SystemTime::UNIX_EPOCH
                + Duration::from_secs(u64::try_from(stored.received_at).unwrap_or(0));
            let said = Said {
                provenance: Provenance {
                    source: platecb::SOURCE.to_owned(),
                    sandbox: stored.sandbox,
                    fetched_at: Some(prost_types::Timestamp::from(fetched)),
                    // The vendor's id when it gave one; else the id we filed it under.
                    vendor_request_id: if stored.vendor_request_id.is_empty() {
                        stored.request_id.clone()
                    } else {
                        stored.vendor_request_id.clone()
                    },
                    ..Provenance::default()
                },
                confidence: 0.85,
                vin: v.vin,
                usage: v.usage,
                brand: v.brand,
                model: v.model,
                first_registration_date: iso(v.first_register_date),
                vehicle_type: v.vehicle_type,
                color: v.color,
                engine_number: v.engine_number,
                insurance_expiry_date: iso(v.insurance_expiry),
                production_date: iso(v.production_date),
                emission_standard: v.emission_standard,
                approved_passengers: v.approved_passengers,
                details: platecb::transformers::Details {
                    insurance_start_date: iso(v.details.insurance_start_date),
                    market_launch_date: iso(v.details.market_launch_date),
                    production_year_month: iso(v.details.production_year_month),
                    ..v.details
                },
                damage: v.damage,
                unmapped: sorted(v.other),
            };
            // A reused answer made no call (and cost nothing this time).
            let mut st = status::ok(
                platecb::SOURCE,
                u32::from(!reused),
                started.elapsed(),
                stored.sandbox,
            );
            if reused {
                st.message = format!(
                    "answered from the callback store (received {}); no new charge{}",
                    stored.received_at,
                    if stored.sandbox {
                        "; simulated by the Axle sandbox"
                    } else {
                        ""
                    }
                );
            }
            (Some(said), st)
        }
        Err(detail) => (
            None,
            status::from_error(
                platecb::SOURCE,
                &connector::VendorError::MalformedBody { detail },
                started.elapsed(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certain_submission_failures_release_the_claim() {
        use connector::VendorError as E;
        use connector::client::CallFailure;
        let f = |error, attempts| CallFailure {
            error,
            attempts,
            sandbox: false,
        };
        assert!(submission_certainly_failed(&f(
            E::Connect {
                detail: String::new()
            },
            1
        )));
        assert!(submission_certainly_failed(&f(E::DeadlineExceeded, 0)));
        // Sent, and then no answer: the vendor may have taken (and billed) it.
        assert!(!submission_certainly_failed(&f(E::DeadlineExceeded, 1)));
        assert!(!submission_certainly_failed(&f(
            E::Timeout {
                after: Duration::from_secs(3)
            },
            1
        )));
        assert!(!submission_certainly_failed(&f(
            E::Io {
                detail: String::new()
            },
            1
        )));
    }

    #[test]
    fn dates_at_different_precisions_agree() {
        assert!(same_date_at_less_precision("2022-03", "2022-03-18"));
        assert!(same_date_at_less_precision("2022", "2022-03"));
        assert!(!same_date_at_less_precision("2022-03", "2022-04-01"));
        assert!(
            !same_date_at_less_precision("2022-03", "2022-03"),
            "equal is same_text's job"
        );
        assert!(!same_date_at_less_precision("LSV", "LSVAM"), "not dates");
    }

    #[test]
    fn masking_and_names() {
        assert_eq!(mask_vin("LSJA24U66JA123456"), "LSJ**********3456");
        assert_eq!(mask_vin("ABC"), "***");
        assert_eq!(
            mask_vin("LSVAM418"),
            "****M418",
            "a fragment shows its last 4 only"
        );
        assert_eq!(mask_engine_number("DLF123456"), "*****3456");
        assert_eq!(mask_engine_number(" 1234 "), "****");
        assert_eq!(mask_engine_number("发动机号1234"), "****1234");
        assert_eq!(short_name("广东省"), "广东");
        assert_eq!(short_name("深圳市"), "深圳");
        assert_eq!(short_name("新疆维吾尔自治区"), "新疆");
        assert_eq!(short_name("佛山市顺德区"), "佛山市顺德区");
    }
}
