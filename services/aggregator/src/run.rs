//! Runs a plan: the steps that can start at once start together, those that wait for
//! LookupVehicle start when it answers, and with a photo the steps planned from what it
//! showed start when it is read, every call under the request's one deadline
//! (through `kit::client::ServiceClient`, which sends what is left of it downstream as
//! `grpc-timeout`). Each step's outcome is sent as it arrives, so that a stream can show
//! it at once; a step still running when the deadline for steps passes is cut and
//! reported TIMEOUT. A step never fails the request: every outcome is a status.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::ocr::v1::RecognizeVehicleLicenseRequest;
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, LookupVehicleResponse, ParsePlateRequest};
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::vin::v1::{DecodeVinRequest, ValidateVinRequest};
use contracts::axle::violation::v1::QueryViolationsRequest;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use domain::violation::RuleTable;
use kit::client::ServiceClient;
use kit::client::Transport;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::budget::Budget;
use crate::cache::AnswerCache;
use crate::config::Prices;
use crate::input::Input;
use crate::plan::{Deadlines, Plan, Start, Step, Timing};
use crate::profile::{self, Answers};
use crate::table::{self, StepStatus, Table};

pub use crate::outcome::{Answer, Done, Recognized};

/// The downstream services, each behind the platform's client side.
#[derive(Debug, Clone)]
pub struct Downstream {
    pub vin: ServiceClient<VinServiceClient<Transport>>,
    pub plate: ServiceClient<PlateServiceClient<Transport>>,
    /// `None` when violations are disabled by configuration.
    pub violation: Option<ServiceClient<ViolationServiceClient<Transport>>>,
    /// `None` when photos are disabled by configuration.
    pub ocr: Option<ServiceClient<OcrServiceClient<Transport>>>,
    /// plate- and ocr-service's internal-caller token (empty: none sent).
    pub internal_token: settings::Secret<String>,
}

/// The outcomes so far, kept by step (never by arrival), so that what a response says
/// does not depend on which service answered first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collector {
    pub answers: Answers,
    steps: Vec<StepStatus>,
    running: Vec<Step>,
    /// Whether every step so far was served from the cache or not called for a reason
    /// the request alone decides, and the least time left of those kept answers: how
    /// long the response may be kept whole ([`crate::responses`]).
    replayable: bool,
    fresh_for: Option<Duration>,
}

impl Collector {
    /// Starts with every planned step running and every step not planned reported.
    pub fn new(plan: &Plan) -> Self {
        let mut c = Self {
            running: plan.steps.iter().map(|p| p.step).collect(),
            replayable: true,
            ..Self::default()
        };
        for n in &plan.not_planned {
            c.steps.push(StepStatus {
                step: n.step,
                status: table::skipped(n.step, SourceState::Skipped, n.reason, &n.message),
            });
        }
        c.steps.sort_by_key(|s| s.step);
        c
    }

    pub fn apply(&mut self, done: Done) {
        self.running.retain(|s| *s != done.step);
        match done.fresh_for {
            Some(left) => {
                self.fresh_for = Some(self.fresh_for.map_or(left, |f| f.min(left)));
            }
            // Not called, for a reason the request and the kept answers decide (no VIN
            // to ask about, the city's rule unmet): the same next time. Anything else
            // (a call made, failed, late, over budget) is not.
            None => {
                self.replayable &= matches!(done.answer, Answer::Nothing)
                    && done.status.state == SourceState::Skipped as i32
                    && done.step != Step::Recognize;
            }
        }
        match done.answer {
            Answer::Recognize(r) => {
                let Recognized { response, then } = *r;
                self.answers.license = response;
                // What the photo made worth asking is running from now on.
                self.running.extend(then.steps.iter().map(|p| p.step));
                for n in &then.not_planned {
                    self.steps.push(StepStatus {
                        step: n.step,
                        status: table::skipped(n.step, SourceState::Skipped, n.reason, &n.message),
                    });
                }
            }
            Answer::Nothing => {}
            Answer::ParsePlate(r) => self.answers.parse_plate = Some(*r),
            Answer::ValidateVin(r) => self.answers.validate_vin = Some(*r),
            Answer::DecodeVin(r) => self.answers.decode_vin = Some(*r),
            Answer::Lookup(r) => self.answers.lookup = Some(*r),
            Answer::Violations(r) => self.answers.violations = Some(*r),
        }
        self.steps.push(StepStatus {
            step: done.step,
            status: done.status,
        });
        self.steps.sort_by_key(|s| s.step);
    }

    pub fn table(&self) -> Table {
        table::build(&self.steps, &self.running, &self.answers)
    }

    pub fn finished(&self) -> bool {
        self.running.is_empty()
    }

    /// How long the response as of now may be served again whole: `Some` only when
    /// every step has ended, each served from the cache (with time left) or not called
    /// for a reason the request decides.
    pub fn replayable_for(&self) -> Option<Duration> {
        if !(self.replayable && self.finished()) {
            return None;
        }
        self.fresh_for.filter(|f| !f.is_zero())
    }
}

/// How long past the deadline for steps a call may still answer before it is cut: the
/// client side already bounds each call by that deadline; this only catches a call that
/// overruns it (a stalled connection), so the merge reserve stays the merge's.
const CUT_MARGIN: Duration = Duration::from_millis(5);

/// Everything a run needs besides the plan.
#[derive(Debug)]
pub struct Run {
    pub downstream: Arc<Downstream>,
    pub input: Arc<Input>,
    pub deadlines: Deadlines,
    /// Shared by the run's tasks: each paid call reserves its price when it starts.
    pub budget: Arc<Mutex<Budget>>,
    pub prices: Prices,
    pub cache: AnswerCache,
    /// The violation city rules and the deadline's split: to plan and time what follows
    /// a photo's reading.
    pub rules: &'static RuleTable,
    pub timing: Timing,
}

impl Run {
    /// What follows a photo's reading: the plan from what it showed (and the request's
    /// hints), with the request's known facts and deadlines updated for it; the reading
    /// and that plan are put in `done` for the collector. A photo refused as invalid
    /// (INVALID_ARGUMENT: the request fails) is followed by nothing; a photo that could
    /// not be read (or not in time) by what the hints alone allow.
    fn follow_up(&mut self, done: &mut Done) -> Plan {
        let response = match std::mem::replace(&mut done.answer, Answer::Nothing) {
            Answer::Recognize(r) => r.response,
            _ => None,
        };
        let then = if photo_refused(&done.status) {
            Plan::default()
        } else {
            let known =
                crate::input::with_license(&self.input.known, response.as_ref(), self.input.color);
            let then = crate::plan::plan(&known, self.input.wanted, self.rules);
            self.input = Arc::new(Input {
                known,
                ..(*self.input).clone()
            });
            self.deadlines =
                crate::plan::split(&then, Instant::now(), self.deadlines.steps, &self.timing);
            then
        };
        done.answer = Answer::Recognize(Box::new(Recognized {
            response,
            then: then.clone(),
        }));
        then
    }
}

/// Whether ocr-service refused the photo itself (not a JPEG or PNG, corrupt, too large,
/// a URL it may not fetch): the caller's to fix, so the request fails. A good image
/// that shows no licence (NO_LICENSE_FOUND) is a photo that could not be read: a
/// partial answer, like any other reading that failed.
pub fn photo_refused(status: &SourceStatus) -> bool {
    status.code == tonic::Code::InvalidArgument as i32 && status.reason != "NO_LICENSE_FOUND"
}

/// Starts the steps of `plan` that start at once; returns those that wait for
/// LookupVehicle (started at once, to be skipped, when the lookup is not made).
fn launch(
    r: &Run,
    plan: &Plan,
    set: &mut JoinSet<Done>,
    ids: &mut HashMap<tokio::task::Id, Step>,
    tx: &mpsc::UnboundedSender<Done>,
) -> Vec<Step> {
    let mut after: Vec<Step> = plan
        .steps
        .iter()
        .filter(|p| p.start == Start::AfterLookup)
        .map(|p| p.step)
        .collect();
    for p in plan.steps.iter().filter(|p| p.start == Start::Now) {
        let deadline = match p.step {
            Step::LookupVehicle => r.deadlines.lookup,
            Step::Recognize => r.deadlines.recognize,
            _ => r.deadlines.steps,
        };
        let call = prepare(r, p.step, VinFrom::Request);
        let started = start(r, set, ids, tx, p.step, deadline, call);
        if p.step == Step::LookupVehicle && !started {
            // No lookup (over budget): the steps waiting for it have nothing to go on.
            for step in std::mem::take(&mut after) {
                let call = prepare(r, step, VinFrom::Lookup(None));
                start(r, set, ids, tx, step, r.deadlines.steps, call);
            }
        }
    }
    after
}

/// Runs `plan`, sending each step's outcome to `tx` as it arrives.
pub async fn run(mut r: Run, plan: Plan, tx: mpsc::UnboundedSender<Done>) {
    let began = Instant::now();
    let steps_deadline = r.deadlines.steps;
    let mut set: JoinSet<Done> = JoinSet::new();
    let mut ids: HashMap<tokio::task::Id, Step> = HashMap::new();
    let mut after = launch(&r, &plan, &mut set, &mut ids, &tx);
    let cut_at = tokio::time::Instant::from_std(r.deadlines.steps + CUT_MARGIN);
    loop {
        match tokio::time::timeout_at(cut_at, set.join_next_with_id()).await {
            Ok(None) => break,
            Ok(Some(Ok((id, mut done)))) => {
                ids.remove(&id);
                if done.step == Step::Recognize {
                    let then = r.follow_up(&mut done);
                    let _ = tx.send(done);
                    after = launch(&r, &then, &mut set, &mut ids, &tx);
                    continue;
                }
                let lookup_done = done.step == Step::LookupVehicle;
                let found = match &done.answer {
                    Answer::Lookup(l) => Some(l.clone()),
                    _ => None,
                };
                let _ = tx.send(done);
                if lookup_done {
                    for step in std::mem::take(&mut after) {
                        let call = prepare(&r, step, VinFrom::Lookup(found.as_deref()));
                        start(&r, &mut set, &mut ids, &tx, step, steps_deadline, call);
                    }
                }
            }
            Ok(Some(Err(e))) => {
                // A call that panicked: reported as this source's failure, never the
                // request's.
                if let Some(step) = ids.remove(&e.id()) {
                    tracing::error!(rpc = step.rpc(), error = %e, "downstream call task failed");
                    let _ = tx.send(Done::nothing(
                        step,
                        failed(step, "INTERNAL", "the call failed inside the aggregator"),
                    ));
                }
            }
            Err(_) => {
                set.abort_all();
                for (_, step) in ids.drain() {
                    let _ = tx.send(Done::nothing(
                        step,
                        kit::client::source_status::timed_out(
                            step.service().name(),
                            began.elapsed(),
                        ),
                    ));
                }
                break;
            }
        }
    }
    // Steps still waiting for a lookup that never answered in time.
    for step in after {
        let _ = tx.send(Done::nothing(
            step,
            table::skipped(
                step,
                SourceState::Timeout,
                "DEADLINE_EXCEEDED",
                "not called: the deadline passed before LookupVehicle found the VIN",
            ),
        ));
    }
}

fn failed(step: Step, reason: &str, message: &str) -> SourceStatus {
    SourceStatus {
        source: step.service().name().to_owned(),
        state: SourceState::Failed as i32,
        code: tonic::Code::Internal as i32,
        reason: reason.to_owned(),
        message: format!("{}: {message}", step.rpc()),
        ..SourceStatus::default()
    }
}

/// Where the VIN a step asks about comes from.
#[derive(Clone, Copy)]
enum VinFrom<'a> {
    /// The request (the step starts at once).
    Request,
    /// LookupVehicle's answer (`None`: it gave none).
    Lookup(Option<&'a LookupVehicleResponse>),
}

impl<'a> VinFrom<'a> {
    fn lookup(self) -> Option<&'a LookupVehicleResponse> {
        match self {
            VinFrom::Request => None,
            VinFrom::Lookup(l) => l,
        }
    }
}

/// A step ready to call, or the reason it is not called.
enum Call {
    ParsePlate(ParsePlateRequest),
    ValidateVin(ValidateVinRequest),
    DecodeVin(DecodeVinRequest),
    Lookup(LookupVehicleRequest),
    Violations(QueryViolationsRequest),
    Recognize(RecognizeVehicleLicenseRequest),
    Not(SourceStatus),
}

/// The request of `step`, asking about the VIN `from` gives.
fn prepare(r: &Run, step: Step, from: VinFrom<'_>) -> Call {
    let known = &r.input.known;
    let skip = |reason: &str, message: String| {
        Call::Not(table::skipped(step, SourceState::Skipped, reason, &message))
    };
    if step == Step::Recognize {
        return match &r.input.photo {
            Some(photo) => Call::Recognize(photo.clone()),
            None => skip(
                "NO_PHOTO",
                "not called: the request has no photo".to_owned(),
            ),
        };
    }
    // The VIN to ask about: the request's, or the one the lookup found.
    let vin = match from {
        VinFrom::Request => known.vin.clone(),
        VinFrom::Lookup(None) => {
            return skip(
                "LOOKUP_UNANSWERED",
                "not called: it needs the VIN, and LookupVehicle did not answer".to_owned(),
            );
        }
        VinFrom::Lookup(Some(l)) => profile::vin_found(l),
    };
    let plate = known.plate.clone().unwrap_or_default();
    match step {
        Step::ParsePlate => Call::ParsePlate(ParsePlateRequest {
            plate,
            color: r.input.color,
        }),
        Step::LookupVehicle => Call::Lookup(LookupVehicleRequest {
            plate,
            color: r.input.color,
        }),
        Step::ValidateVin | Step::DecodeVin => match vin {
            Some(vin) if step == Step::ValidateVin => Call::ValidateVin(ValidateVinRequest { vin }),
            Some(vin) => Call::DecodeVin(DecodeVinRequest { vin }),
            None => match from.lookup().and_then(|l| l.vin.as_ref()) {
                Some(v) if profile::is_masked(&v.value) => {
                    let mut s = table::skipped(
                        step,
                        SourceState::Skipped,
                        "VIN_MASKED",
                        "not called: plate-service returned the VIN masked \
                         (its privacy.reveal_full_vin is off), so it cannot be asked about",
                    );
                    s.operator_action_required = true;
                    Call::Not(s)
                }
                Some(_) => skip(
                    "VIN_INVALID",
                    "not called: the VIN the plate vendors gave fails the local VIN rules"
                        .to_owned(),
                ),
                None => skip(
                    "NO_VIN_FOUND",
                    "not called: the plate vendors gave no VIN for this plate".to_owned(),
                ),
            },
        },
        // Answered above.
        Step::Recognize => skip("NO_PHOTO", "not called".to_owned()),
        Step::QueryViolations => {
            let engine = match from.lookup() {
                Some(l) => known.engine_number.clone().or_else(|| {
                    l.engine_number
                        .as_ref()
                        .map(|e| e.value.clone())
                        .filter(|e| !profile::is_masked(e))
                }),
                None => known.engine_number.clone(),
            };
            // The city's rule again, with what the lookup added.
            if matches!(from, VinFrom::Lookup(_)) {
                let rules = domain::violation::embedded().ok();
                let found =
                    rules.and_then(|t| t.for_plate(&plate, known.plate_type.as_deref()).ok());
                if let Some(found) = found
                    && let Err(missing) = domain::violation::check(
                        &found.rule,
                        engine.as_deref().unwrap_or_default(),
                        vin.as_deref().unwrap_or_default(),
                    )
                {
                    let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
                    return skip(
                        "CITY_RULE_UNMET",
                        format!(
                            "not called: {} (give them as hints; plate-service masks what it does not reveal)",
                            text.join("; ")
                        ),
                    );
                }
            }
            Call::Violations(QueryViolationsRequest {
                plate,
                plate_type: known.plate_type.clone().unwrap_or_default(),
                engine_number: engine.unwrap_or_default(),
                vin: vin.unwrap_or_default(),
                color: r.input.color,
                query_handle: String::new(),
            })
        }
    }
}

/// A downstream call, ready to be awaited.
type CallFuture = Pin<Box<dyn Future<Output = Done> + Send>>;

/// Starts `call` (unless it is already known not to be made): a kept answer is used as
/// it is; otherwise a paid call reserves its price first, and the call is shared with
/// any identical one in flight (`cache`). Returns whether a task was started.
fn start(
    r: &Run,
    set: &mut JoinSet<Done>,
    ids: &mut HashMap<tokio::task::Id, Step>,
    tx: &mpsc::UnboundedSender<Done>,
    step: Step,
    deadline: Instant,
    call: Call,
) -> bool {
    let ds = r.downstream.clone();
    let at = Some(deadline);
    let (request, future): (Vec<u8>, CallFuture) = match call {
        Call::Not(status) => {
            let _ = tx.send(Done::nothing(step, status));
            return false;
        }
        Call::ParsePlate(m) => (
            m.encode_to_vec(),
            Box::pin(async move {
                let reply = ds
                    .plate
                    .call_idempotent(at, m, |mut c, r| async move { c.parse_plate(r).await })
                    .await;
                done(
                    step,
                    reply.status,
                    reply.response.map(|r| Answer::ParsePlate(Box::new(r))),
                )
            }),
        ),
        Call::Lookup(m) => (
            m.encode_to_vec(),
            Box::pin(async move {
                let token = &ds.internal_token;
                let reply = ds
                    .plate
                    .call(at, m, |mut c, mut r| {
                        kit::client::attach_internal_token(r.metadata_mut(), token.expose());
                        async move { c.lookup_vehicle(r).await }
                    })
                    .await;
                done(
                    step,
                    reply.status,
                    reply.response.map(|r| Answer::Lookup(Box::new(r))),
                )
            }),
        ),
        Call::ValidateVin(m) => (
            m.encode_to_vec(),
            Box::pin(async move {
                let reply = ds
                    .vin
                    .call_idempotent(at, m, |mut c, r| async move { c.validate_vin(r).await })
                    .await;
                done(
                    step,
                    reply.status,
                    reply.response.map(|r| Answer::ValidateVin(Box::new(r))),
                )
            }),
        ),
        Call::DecodeVin(m) => (
            m.encode_to_vec(),
            Box::pin(async move {
                let reply = ds
                    .vin
                    .call(at, m, |mut c, r| async move { c.decode_vin(r).await })
                    .await;
                done(
                    step,
                    reply.status,
                    reply.response.map(|r| Answer::DecodeVin(Box::new(r))),
                )
            }),
        ),
        Call::Recognize(m) => {
            let Some(client) = ds.ocr.clone() else {
                let _ = tx.send(Done::nothing(
                    step,
                    table::skipped(
                        step,
                        SourceState::Skipped,
                        "SOURCE_DISABLED",
                        "not called: photos are disabled in this deployment (services.ocr_enabled)",
                    ),
                ));
                return false;
            };
            // Never kept nor coalesced: the key would be the photo itself (megabytes).
            (
                Vec::new(),
                Box::pin(async move {
                    let token = &ds.internal_token;
                    let reply = client
                        .call(at, m, |mut c, mut r| {
                            kit::client::attach_internal_token(r.metadata_mut(), token.expose());
                            async move { c.recognize_vehicle_license(r).await }
                        })
                        .await;
                    done(
                        step,
                        reply.status,
                        reply.response.map(|r| {
                            Answer::Recognize(Box::new(Recognized {
                                response: Some(r),
                                then: Plan::default(),
                            }))
                        }),
                    )
                }),
            )
        }
        Call::Violations(m) => {
            let Some(client) = ds.violation.clone() else {
                let _ = tx.send(Done::nothing(
                    step,
                    table::skipped(
                        step,
                        SourceState::Skipped,
                        "SOURCE_DISABLED",
                        "not called: violations are disabled in this deployment (services.violation_enabled)",
                    ),
                ));
                return false;
            };
            (
                m.encode_to_vec(),
                Box::pin(async move {
                    let reply = client
                        .call(at, m, |mut c, r| async move { c.query_violations(r).await })
                        .await;
                    done(
                        step,
                        reply.status,
                        reply.response.map(|r| Answer::Violations(Box::new(r))),
                    )
                }),
            )
        }
    };
    let cache = r.cache.clone();
    let budget = r.budget.clone();
    let price = r.prices.of(step).map(crate::config::Price::money);
    // A span per step, a child of the request's: the call runs as a task of its own but
    // belongs to the request's trace, and the trace shows what the cache and the budget
    // decided for it (a cached step has no downstream span of its own).
    let span = tracing::info_span!(
        "aggregator.step",
        otel.name = format!("step {}", step.rpc()),
        rpc = step.rpc(),
        paid = step.paid(),
        cache = tracing::field::Empty,
        cost = tracing::field::Empty,
        state = tracing::field::Empty,
    );
    let handle = set.spawn(tracing::Instrument::instrument(
        async move {
            let done = step_outcome(step, request, deadline, future, &cache, &budget, price).await;
            let state =
                SourceState::try_from(done.status.state).map_or("UNKNOWN", |s| s.as_str_name());
            tracing::Span::current().record("state", state);
            done
        },
        span,
    ));
    ids.insert(handle.id(), step);
    true
}

/// A step's outcome: kept, refused by the budget, or called (through the cache, which
/// shares identical calls in flight).
async fn step_outcome(
    step: Step,
    request: Vec<u8>,
    deadline: Instant,
    future: CallFuture,
    cache: &AnswerCache,
    budget: &Mutex<Budget>,
    price: Option<contracts::axle::common::v1::Money>,
) -> Done {
    // A photo's reading is never kept (the photo is the caller's, and each is new).
    let keep = step != Step::Recognize;
    // Boxed, as is the call below: in a debug build the nested futures of a call would
    // otherwise take more stack than a test thread has.
    if keep && let Some(kept) = Box::pin(cache.kept(step, &request)).await {
        return kept;
    }
    if step.paid() {
        let reserved = budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reserve(step, price.as_ref());
        if let Err(status) = reserved {
            tracing::Span::current().record("cost", "over budget: not called");
            return Done::nothing(step, status);
        }
        if let Some(p) = &price {
            tracing::Span::current().record("cost", facts::money::display(p).as_str());
        }
    }
    if !keep {
        return future.await;
    }
    cache
        .answer(step, request, deadline + CUT_MARGIN, future)
        .await
}

fn done(step: Step, status: SourceStatus, answer: Option<Answer>) -> Done {
    Done {
        step,
        status,
        answer: answer.unwrap_or(Answer::Nothing),
        fresh_for: None,
    }
}

#[cfg(test)]
mod tests;
