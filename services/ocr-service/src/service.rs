//! `axle.ocr.v1.OcrService`.

use std::sync::Arc;
use std::time::Instant;

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::ocr::v1::ocr_service_server::OcrService;
use contracts::axle::ocr::v1::{
    LicensePhoto, LicenseSide, RecognizeVehicleLicenseRequest, RecognizeVehicleLicenseResponse,
    license_photo, recognize_vehicle_license_request,
};
use kit::error::ApiError;
use sources::SourceList;
use tonic::{Request, Response, Status};

use crate::config::{InputConfig, LocalConfig, OcrServiceConfig, Privacy, Strategy};
use crate::connectors::apihz::VendorQuery;
use crate::error::OcrError;
use crate::image::Photo;
use crate::local::{Pool, Reader};
use crate::read::{RawField, RawRead, Side};
use crate::{fields, privacy};

/// Where a photo comes from.
#[derive(Debug, Clone)]
enum Source {
    Bytes(Vec<u8>),
    Url(String),
}

/// Everything a recognition needs, shared by the RPCs in flight.
#[derive(Debug)]
pub struct Readers {
    pub strategy: Strategy,
    pub local: LocalConfig,
    pub input: InputConfig,
    pub privacy: Privacy,
    pub engine: Option<Arc<dyn Reader>>,
    pub pool: Pool,
    pub vendor: Option<SourceList<VendorQuery, RawRead>>,
    pub vendor_max_base64: usize,
}

#[derive(Debug, Clone)]
pub struct Ocr {
    readers: Arc<Readers>,
}

impl Ocr {
    pub fn new(readers: Readers) -> Self {
        Self {
            readers: Arc::new(readers),
        }
    }
}

fn side_of(s: LicenseSide) -> Option<Side> {
    match s {
        LicenseSide::Unspecified => None,
        LicenseSide::Front => Some(Side::Front),
        LicenseSide::Back => Some(Side::Back),
    }
}

fn proto_side(s: Side) -> LicenseSide {
    match s {
        Side::Front => LicenseSide::Front,
        Side::Back => LicenseSide::Back,
    }
}

/// A local reading good enough to stand without the vendor: read sure enough and, for
/// the VIN and the plate, passing (or correctable by) their rules.
fn local_good(f: &RawField, min_confidence: f32) -> bool {
    if f.confidence < min_confidence {
        return false;
    }
    match f.name {
        "vin" => !matches!(
            domain::vin::check_ocr_vin(&f.text).outcome,
            domain::vin::OcrVinOutcome::Failed { .. }
        ),
        "plate" => domain::plate::parse(&f.text, None).valid,
        _ => true,
    }
}

impl Readers {
    fn required(&self, side: Side) -> &[String] {
        match side {
            Side::Front => &self.local.required_front,
            Side::Back => &self.local.required_back,
        }
    }

    fn enough(&self, read: &RawRead) -> bool {
        self.required(read.side).iter().all(|name| {
            read.get(name)
                .is_some_and(|f| local_good(f, self.local.min_confidence))
        })
    }

    /// The photo's bytes: as sent, or downloaded.
    async fn bytes(
        &self,
        source: Source,
        field: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, OcrError> {
        match source {
            Source::Bytes(b) => {
                crate::image::check_size(b.len(), &self.input).map_err(|problem| {
                    OcrError::Image {
                        field: format!("{field}image"),
                        problem,
                    }
                })?;
                Ok(b)
            }
            Source::Url(u) => {
                let field = format!("{field}image_url");
                if !self.input.url.enabled {
                    return Err(OcrError::Request {
                        field,
                        message: "is not accepted by this deployment: send the image bytes"
                            .to_owned(),
                    });
                }
                crate::fetch::fetch(&u, &self.input.url, self.input.max_image_bytes, deadline)
                    .await
                    .map_err(|problem| OcrError::Fetch { field, problem })
            }
        }
    }

    /// Reads one photo with the configured strategy.
    async fn read_photo(
        &self,
        source: Source,
        field: &str,
        side: Option<Side>,
        deadline: Option<Instant>,
        statuses: &mut Vec<SourceStatus>,
    ) -> Result<RawRead, OcrError> {
        let is_url = matches!(source, Source::Url(_));
        let bytes = self.bytes(source, field, deadline).await?;
        let input = self.input.clone();
        let image_field = format!("{field}{}", if is_url { "image_url" } else { "image" });
        let photo: Arc<Photo> = Arc::new(
            self.pool
                .run(deadline, move || crate::image::decode(bytes, &input))
                .await?
                .map_err(|problem| OcrError::Image {
                    field: image_field,
                    problem,
                })?,
        );

        let mut local = None;
        let engine = self
            .engine
            .as_ref()
            .filter(|_| self.strategy != Strategy::VendorOnly);
        match engine {
            Some(engine) => {
                let started = Instant::now();
                let (engine, p) = (engine.clone(), photo.clone());
                let read = self
                    .pool
                    .run(deadline, move || {
                        engine
                            .read(&p.image, side.map(crate::local::engine_side))
                            .map(crate::local::to_raw)
                    })
                    .await?;
                match read {
                    Ok(read) => {
                        statuses.push(sources::status::ok(
                            crate::local::SOURCE,
                            1,
                            started.elapsed(),
                            false,
                        ));
                        local = Some(read);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "local OCR engine failed");
                        statuses.push(SourceStatus {
                            source: crate::local::SOURCE.to_owned(),
                            state: contracts::axle::common::v1::SourceState::Failed as i32,
                            code: tonic::Code::Internal as i32,
                            reason: "LOCAL_ENGINE_FAILED".to_owned(),
                            message: format!("the local engine could not read the photo: {e}"),
                            latency: prost_types::Duration::try_from(started.elapsed()).ok(),
                            ..SourceStatus::default()
                        });
                    }
                }
            }
            None => statuses.push(sources::status::skipped(
                crate::local::SOURCE,
                if self.strategy == Strategy::VendorOnly {
                    "strategy is vendor_only"
                } else {
                    "the local engine is off (local.enabled = false)"
                },
            )),
        }

        let local_enough = local.as_ref().is_some_and(|r| self.enough(r));
        let vendor = self
            .vendor
            .as_ref()
            .filter(|_| self.strategy != Strategy::LocalOnly);
        let vendor_read = match vendor {
            Some(list) if !local_enough => {
                let max = self.vendor_max_base64;
                let p = photo.clone();
                let fitted: Arc<[u8]> = self
                    .pool
                    .run(deadline, move || crate::image::fit_for_vendor(&p, max))
                    .await?
                    .map_err(|problem| OcrError::Image {
                        field: format!("{field}image"),
                        problem,
                    })?
                    .into();
                // The vendor needs the side: the detected one, the one given, or front
                // then back (a front answer without a VIN or owner is not a front).
                let sides = match side.or(local.as_ref().map(|r| r.side)) {
                    Some(s) => vec![s],
                    None => vec![Side::Front, Side::Back],
                };
                let mut found = None;
                for s in sides.iter().copied() {
                    let asked = list
                        .ask(
                            &VendorQuery {
                                image: fitted.clone(),
                                side: s,
                            },
                            deadline,
                        )
                        .await;
                    let (answers, st) = sources::Asked::split(asked);
                    statuses.extend(st);
                    if let Some(read) = answers.into_iter().next() {
                        let looks_right = s == Side::Back
                            || sides.len() == 1
                            || read.get("vin").is_some()
                            || read.get("owner").is_some();
                        if looks_right {
                            found = Some(read);
                            break;
                        }
                    }
                }
                found
            }
            Some(_) => {
                statuses.push(sources::status::skipped(
                    crate::connectors::apihz::SOURCE,
                    "the local read was enough",
                ));
                None
            }
            None => None,
        };

        match (local, vendor_read) {
            (Some(l), None) => Ok(l),
            (None, Some(v)) => Ok(v),
            (Some(l), Some(v)) => Ok(merge(&l, v, self.local.min_confidence)),
            (None, None) => Err(OcrError::Unread {
                statuses: statuses.clone(),
            }),
        }
    }
}

/// Local and vendor readings of one photo: per field the local one when it is good
/// enough, else the vendor's, else the local one anyway.
fn merge(local: &RawRead, vendor: RawRead, min_confidence: f32) -> RawRead {
    if local.side != vendor.side {
        // They disagree about the side: the vendor was told a side, the engine saw one.
        return vendor;
    }
    let mut fields: Vec<RawField> = Vec::new();
    let names: Vec<&'static str> = local
        .fields
        .iter()
        .chain(&vendor.fields)
        .map(|f| f.name)
        .fold(Vec::new(), |mut acc, n| {
            if !acc.contains(&n) {
                acc.push(n);
            }
            acc
        });
    for name in names {
        let l = local.get(name);
        let v = vendor.get(name);
        let pick = match (l, v) {
            (Some(l), _) if local_good(l, min_confidence) => Some(l),
            (_, Some(v)) => Some(v),
            (Some(l), None) => Some(l),
            (None, None) => None,
        };
        fields.extend(pick.cloned());
    }
    RawRead {
        side: local.side,
        fields,
    }
}

fn source_of(
    field: &str,
    image: Option<recognize_vehicle_license_request::Source>,
) -> Result<Source, OcrError> {
    match image {
        Some(recognize_vehicle_license_request::Source::Image(b)) => Ok(Source::Bytes(b)),
        Some(recognize_vehicle_license_request::Source::ImageUrl(u)) => Ok(Source::Url(u)),
        None => Err(OcrError::Request {
            field: format!("{field}image"),
            message: "give the photo: `image` (JPEG or PNG bytes) or `image_url`".to_owned(),
        }),
    }
}

fn other_source(photo: LicensePhoto) -> Result<Source, OcrError> {
    match photo.source {
        Some(license_photo::Source::Image(b)) => Ok(Source::Bytes(b)),
        Some(license_photo::Source::ImageUrl(u)) => Ok(Source::Url(u)),
        None => Err(OcrError::Request {
            field: "other_side.image".to_owned(),
            message: "is empty: give `image` or `image_url`, or leave other_side out".to_owned(),
        }),
    }
}

#[tonic::async_trait]
impl OcrService for Ocr {
    async fn recognize_vehicle_license(
        &self,
        request: Request<RecognizeVehicleLicenseRequest>,
    ) -> Result<Response<RecognizeVehicleLicenseResponse>, Status> {
        let deadline = kit::deadline::deadline_of(&request).map(kit::deadline::with_reserve);
        let internal = kit::client::carries_internal_token(
            request.metadata(),
            self.readers.privacy.internal_token.expose(),
        );
        let req = request.into_inner();
        let Ok(side) = LicenseSide::try_from(req.side) else {
            return Err(ApiError::invalid_argument(
                "side",
                &format!(
                    "{} is not a LicenseSide (0 to detect, 1 front, 2 back)",
                    req.side
                ),
            )
            .into());
        };
        let r = &self.readers;
        let main = source_of("", req.source).map_err(ApiError::from)?;
        let other = req
            .other_side
            .map(other_source)
            .transpose()
            .map_err(ApiError::from)?;
        let mut statuses = Vec::new();
        let read = r
            .read_photo(main, "", side_of(side), deadline, &mut statuses)
            .await
            .map_err(ApiError::from)?;
        let mut resp = RecognizeVehicleLicenseResponse {
            side: proto_side(read.side) as i32,
            side_detected: side == LicenseSide::Unspecified,
            ..RecognizeVehicleLicenseResponse::default()
        };
        let mut reads = vec![read];
        if let Some(other) = other {
            let opposite = match reads[0].side {
                Side::Front => Side::Back,
                Side::Back => Side::Front,
            };
            let read = r
                .read_photo(
                    other,
                    "other_side.",
                    Some(opposite),
                    deadline,
                    &mut statuses,
                )
                .await
                .map_err(ApiError::from)?;
            reads.push(read);
        }
        for read in &reads {
            match read.side {
                Side::Front => resp.front = Some(fields::front(read)),
                Side::Back => resp.back = Some(fields::back(read)),
            }
        }
        if let (Some(f), Some(b)) = (&resp.front, &mut resp.back) {
            fields::check_sides(f, b);
        }
        let revealed;
        let privacy = if internal {
            revealed = privacy::for_internal(&r.privacy);
            &revealed
        } else {
            &r.privacy
        };
        if let Some(f) = resp.front.as_mut() {
            privacy::front(f, privacy);
        }
        if let Some(b) = resp.back.as_mut() {
            privacy::back(b, privacy);
        }
        resp.sources = statuses;
        Ok(Response::new(resp))
    }
}

/// Builds the readers from configuration and an optional engine.
pub fn readers(
    cfg: &OcrServiceConfig,
    engine: Option<Arc<dyn Reader>>,
    vendor: Option<SourceList<VendorQuery, RawRead>>,
) -> Readers {
    Readers {
        strategy: cfg.strategy,
        local: cfg.local.clone(),
        input: cfg.input.clone(),
        privacy: cfg.privacy.clone(),
        engine,
        pool: Pool::new(cfg.local.max_concurrent, cfg.local.queue_timeout),
        vendor,
        vendor_max_base64: cfg.vendors.apihz.max_base64_bytes,
    }
}
