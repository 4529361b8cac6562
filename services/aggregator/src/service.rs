//! `axle.aggregator.v1.AggregatorService`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use contracts::axle::aggregator::v1::aggregator_service_server::AggregatorService;
use contracts::axle::aggregator::v1::{
    AttachedResponses, GetVehicleProfileRequest, GetVehicleProfileResponse,
    StreamVehicleProfileRequest, StreamVehicleProfileResponse,
};
use domain::violation::RuleTable;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::budget::Budget;
use crate::cache::AnswerCache;
use crate::config::AggregatorConfig;
use crate::error::AggError;
use crate::input::{self, Input};
use crate::plan::{self, Plan};
use crate::profile;
use crate::responses::ResponseCache;
use crate::run::{self, Collector, Done, Downstream, Run};

/// The service implementation; cheap to clone.
#[derive(Debug, Clone)]
pub struct Aggregator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AggregatorConfig,
    downstream: Arc<Downstream>,
    rules: &'static RuleTable,
    cache: AnswerCache,
    responses: ResponseCache,
    /// Every source a request may prefer.
    sources: Vec<String>,
}

/// One request, checked and planned.
struct Prepared {
    input: Arc<Input>,
    plan: Plan,
    started: Instant,
    deadline: Instant,
}

impl Aggregator {
    pub fn new(
        config: AggregatorConfig,
        downstream: Downstream,
        rules: &'static RuleTable,
        cache: AnswerCache,
        responses: ResponseCache,
    ) -> Self {
        let mut sources: Vec<String> = vec![profile::REQUEST.to_owned(), profile::LOCAL.to_owned()];
        for s in config
            .merge
            .default
            .iter()
            .chain(config.merge.fields.values().flatten())
        {
            if !sources.contains(s) {
                sources.push(s.clone());
            }
        }
        Self {
            inner: Arc::new(Inner {
                config,
                downstream: Arc::new(downstream),
                rules,
                cache,
                responses,
                sources,
            }),
        }
    }

    fn prepare<T>(
        &self,
        request: &Request<T>,
        message: &GetVehicleProfileRequest,
    ) -> Result<Prepared, AggError> {
        let started = Instant::now();
        let cfg = &self.inner.config;
        let deadline = kit::deadline::deadline_of(request)
            .unwrap_or_else(|| started + cfg.timing.default_deadline);
        let sources: Vec<&str> = self.inner.sources.iter().map(String::as_str).collect();
        let currency = cfg.spend.prices.decode_vin.currency.clone();
        let input = input::check(
            message,
            &cfg.merge,
            cfg.max_input_chars,
            &sources,
            &currency,
        )?;
        if input.photo.is_some() && !cfg.services.ocr_enabled {
            return Err(AggError::Unimplemented(
                "this deployment reads no 行驶证 photos (services.ocr_enabled = false): \
                 give the plate or the VIN the licence shows"
                    .to_owned(),
            ));
        }
        let plan = plan::plan(&input.known, input.wanted, self.inner.rules);
        Ok(Prepared {
            input: Arc::new(input),
            plan,
            started,
            deadline,
        })
    }

    /// Starts running `p`; its outcomes arrive on the returned receiver.
    fn launch(&self, p: &Prepared) -> mpsc::UnboundedReceiver<Done> {
        let cfg = &self.inner.config;
        let deadlines = plan::deadlines(&p.plan, Instant::now(), p.deadline, &cfg.timing.timing());
        let deployment_cap = cfg
            .spend
            .max_per_request
            .as_ref()
            .map(crate::config::Price::money);
        let run = Run {
            downstream: self.inner.downstream.clone(),
            input: p.input.clone(),
            deadlines,
            budget: Arc::new(std::sync::Mutex::new(Budget::new(
                p.input.spend_cap.as_ref(),
                deployment_cap.as_ref(),
            ))),
            prices: cfg.spend.prices.clone(),
            cache: self.inner.cache.clone(),
            rules: self.inner.rules,
            timing: cfg.timing.timing(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        // Spawned: a caller that hangs up does not leave its calls half-driven, and the
        // stream's sender is not held up by them.
        tokio::spawn(tracing::Instrument::instrument(
            run::run(run, p.plan.clone(), tx),
            tracing::Span::current(),
        ));
        rx
    }

    /// The response as of what `c` holds.
    fn respond(&self, p: &Prepared, c: &Collector) -> GetVehicleProfileResponse {
        let cfg = &self.inner.config;
        let (profile, disagreements) = profile::build(
            &p.input.policy,
            &p.input.known,
            p.input.wanted,
            &c.answers,
            &cfg.privacy,
            SystemTime::now(),
        );
        let table = c.table();
        GetVehicleProfileResponse {
            profile: Some(Box::new(profile)),
            disagreements,
            sources: table.sources,
            complete: table.complete,
            cost: table.cost,
            paid_calls: table.paid_calls,
            attached: p
                .input
                .attach_responses
                .then(|| Box::new(attached(&c.answers, &p.input, &cfg.privacy))),
            latency: Some(crate::table::proto_duration(p.started.elapsed())),
        }
    }
}

/// The downstream responses as the caller may see them: what the caller did not give
/// (a VIN the lookup found, engine numbers) masked unless the deployment reveals it.
fn attached(
    a: &profile::Answers,
    input: &Input,
    privacy: &crate::config::Privacy,
) -> AttachedResponses {
    let mut lookup = a.lookup.clone();
    if let Some(l) = &mut lookup {
        if !privacy.reveal_full_vin {
            facts::mask::mask_field(l.vin.as_mut(), &mut l.disagreements, "vin", |v| {
                if profile::is_masked(v) {
                    v.to_owned()
                } else {
                    domain::pii::mask_vin(&domain::vin::normalize(v))
                }
            });
        }
        if !privacy.reveal_engine_number {
            facts::mask::mask_field(
                l.engine_number.as_mut(),
                &mut l.disagreements,
                "engine_number",
                |v| {
                    if profile::is_masked(v) {
                        v.to_owned()
                    } else {
                        domain::pii::mask_tail4(v)
                    }
                },
            );
        }
        let reveal = domain::pii::Reveal {
            full_vin: privacy.reveal_full_vin,
            engine_number: privacy.reveal_engine_number,
        };
        for f in &mut l.unmapped_fields {
            f.value = domain::pii::mask_vendor_field(&f.name, &f.value, reveal);
        }
    }
    // The VIN services' answers are about the VIN asked: the caller's own, or one the
    // lookup found, which only a deployment that reveals VINs hands out whole.
    let vin_shown = input.known.vin.is_some() || privacy.reveal_full_vin;
    AttachedResponses {
        validate_vin: a.validate_vin.clone().filter(|_| vin_shown),
        decode_vin: a.decode_vin.clone().filter(|_| vin_shown),
        parse_plate: a.parse_plate.clone(),
        lookup_vehicle: lookup,
        violations: a.violations.clone(),
        license: a.license.clone().map(|mut l| {
            mask_license(&mut l, privacy);
            l
        }),
    }
}

/// The photo's reading as the caller may see it: ocr-service revealed the VIN and
/// engine number to the aggregator (to decode them), so they are masked here per the
/// aggregator's own privacy settings, in the value, the text as read and the check
/// message alike; the owner and address come masked by ocr-service already.
fn mask_license(
    l: &mut contracts::axle::ocr::v1::RecognizeVehicleLicenseResponse,
    privacy: &crate::config::Privacy,
) {
    let Some(front) = l.front.as_mut() else {
        return;
    };
    let mask = |f: Option<&mut contracts::axle::ocr::v1::TextField>,
                how: &dyn Fn(&str) -> String| {
        if let Some(f) = f {
            f.value = how(&f.value);
            if let Some(r) = f.reading.as_mut() {
                r.text = how(&r.text);
                if let Some(c) = r.cross_check.as_mut() {
                    c.message = domain::pii::mask_identifiers(&c.message);
                }
            }
        }
    };
    if !privacy.reveal_full_vin {
        mask(front.vin.as_mut(), &|v| {
            if profile::is_masked(v) {
                v.to_owned()
            } else {
                domain::pii::mask_vin(&domain::vin::normalize(v))
            }
        });
    }
    if !privacy.reveal_engine_number {
        mask(front.engine_number.as_mut(), &|v| {
            if profile::is_masked(v) {
                v.to_owned()
            } else {
                domain::pii::mask_tail4(v)
            }
        });
    }
}

/// The request's error when ocr-service refused the photo itself (not a JPEG or PNG,
/// corrupt, too large, a URL it may not fetch): the caller's to fix, so the call fails
/// as it would have at ocr-service, naming the request's field.
fn refused_photo(done: &Done, input: &Input) -> Option<AggError> {
    if done.step != plan::Step::Recognize || !run::photo_refused(&done.status) {
        return None;
    }
    let by_url = matches!(
        input.photo.as_ref().and_then(|p| p.source.as_ref()),
        Some(contracts::axle::ocr::v1::recognize_vehicle_license_request::Source::ImageUrl(_))
    );
    let field = if by_url {
        "license_image.image_url"
    } else {
        "license_image.image"
    };
    Some(AggError::invalid(
        field,
        format!("ocr-service refused the photo: {}", done.status.message),
        "INVALID_IMAGE",
    ))
}

type ProfileStream =
    Pin<Box<dyn Stream<Item = Result<StreamVehicleProfileResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AggregatorService for Aggregator {
    async fn get_vehicle_profile(
        &self,
        request: Request<GetVehicleProfileRequest>,
    ) -> Result<Response<GetVehicleProfileResponse>, Status> {
        let started = Instant::now();
        let responses = &self.inner.responses;
        // Looked up before the request is checked: only a request that was answered
        // (so passed the checks) is kept, and the checks give the same verdict again.
        let key = responses.key(request.get_ref());
        if let Some(key) = &key
            && let Some(kept) = responses.replay(key, started).await
        {
            return Ok(Response::new(kept));
        }
        let p = self.prepare(&request, request.get_ref())?;
        let mut rx = self.launch(&p);
        let mut c = Collector::new(&p.plan);
        while let Some(done) = rx.recv().await {
            if let Some(e) = refused_photo(&done, &p.input) {
                return Err(e.into());
            }
            c.apply(done);
        }
        let response = self.respond(&p, &c);
        if let (Some(key), Some(ttl)) = (key, c.replayable_for()) {
            responses.keep(key, &response, ttl).await;
        }
        Ok(Response::new(response))
    }

    type StreamVehicleProfileStream = ProfileStream;

    async fn stream_vehicle_profile(
        &self,
        request: Request<StreamVehicleProfileRequest>,
    ) -> Result<Response<Self::StreamVehicleProfileStream>, Status> {
        let message = request.get_ref().request.clone().unwrap_or_default();
        let p = self.prepare(&request, &message)?;
        let mut rx = self.launch(&p);
        let (tx, out) = mpsc::channel::<Result<StreamVehicleProfileResponse, Status>>(8);
        let this = self.clone();
        tokio::spawn(async move {
            let mut c = Collector::new(&p.plan);
            // What the request itself says, before any service answered.
            let first = StreamVehicleProfileResponse {
                snapshot: Some(Box::new(this.respond(&p, &c))),
                trigger: String::new(),
                r#final: false,
            };
            if Box::pin(tx.send(Ok(first))).await.is_err() {
                return;
            }
            while let Some(done) = rx.recv().await {
                if let Some(e) = refused_photo(&done, &p.input) {
                    let _ = Box::pin(tx.send(Err(e.into()))).await;
                    return;
                }
                let trigger = done.step.service().name().to_owned();
                c.apply(done);
                let message = StreamVehicleProfileResponse {
                    snapshot: Some(Box::new(this.respond(&p, &c))),
                    trigger,
                    r#final: false,
                };
                // The caller hung up: stop building messages (the calls finish or are
                // cut at the deadline by the run).
                if Box::pin(tx.send(Ok(message))).await.is_err() {
                    return;
                }
            }
            let last = StreamVehicleProfileResponse {
                snapshot: Some(Box::new(this.respond(&p, &c))),
                trigger: String::new(),
                r#final: true,
            };
            let _ = Box::pin(tx.send(Ok(last))).await;
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}
