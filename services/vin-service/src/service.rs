//! `axle.vin.v1.VinService`.

use std::sync::Arc;
use std::time::Duration;

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::vin::v1::vin_service_server::VinService;
use contracts::axle::vin::v1::{
    DecodeVinRequest, DecodeVinResponse, ValidateVinRequest, ValidateVinResponse,
};
use kit::error::{ApiError, FieldViolation};
use sources::{Asked, SourceList, status};
use tonic::{Request, Response, Status};

use crate::config::VinServiceConfig;
use crate::connectors::{VendorDecode, VinQuery};
use crate::{local, summary};

/// The service implementation; cheap to clone.
#[derive(Debug, Clone)]
pub struct Vin {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: VinServiceConfig,
    vendors: SourceList<VinQuery, VendorDecode>,
}

impl Vin {
    pub fn new(config: VinServiceConfig, vendors: SourceList<VinQuery, VendorDecode>) -> Self {
        Self {
            inner: Arc::new(Inner { config, vendors }),
        }
    }

    /// Rejects what cannot be a VIN in any spelling: empty, or absurdly long (a VIN is 17
    /// characters; the limit leaves room for spaces, dashes and full-width forms).
    fn check_input(&self, vin: &str) -> Result<(), ApiError> {
        let chars = vin.chars().count();
        // Only separators and invisible characters ("---", a lone BOM) is empty too.
        if vin.trim().is_empty() || domain::vin::normalize(vin).is_empty() {
            return Err(ApiError::invalid_argument(
                "vin",
                "must not be empty: give the 17-character VIN (车架号)",
            ));
        }
        let max = self.inner.config.max_input_chars;
        if chars > max {
            return Err(ApiError::invalid_argument(
                "vin",
                &format!(
                    "is {chars} characters long; a VIN has 17 (at most {max} accepted with separators)"
                ),
            ));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl VinService for Vin {
    async fn validate_vin(
        &self,
        request: Request<ValidateVinRequest>,
    ) -> Result<Response<ValidateVinResponse>, Status> {
        let vin = request.into_inner().vin;
        self.check_input(&vin)?;
        let report = domain::vin::validate(&vin, kit::clock::current_year());
        Ok(Response::new(local::to_response(&report)))
    }

    async fn decode_vin(
        &self,
        request: Request<DecodeVinRequest>,
    ) -> Result<Response<DecodeVinResponse>, Status> {
        let deadline = kit::deadline::deadline_of(&request).map(kit::deadline::with_reserve);
        let vin = request.into_inner().vin;
        self.check_input(&vin)?;
        let report = domain::vin::validate(&vin, kit::clock::current_year());
        if !report.valid {
            // Vendors bill per call: a VIN that cannot exist is not worth paying for.
            return Err(invalid_vin(&report).into());
        }
        let local = local::to_response(&report);
        let query = VinQuery {
            vin: report.normalized.clone(),
        };
        let (vendors, asked) = Asked::split(self.inner.vendors.ask(&query, deadline).await);
        let mut sources = vec![status::ok(local::SOURCE, 0, Duration::ZERO, false)];
        sources.extend(asked);
        let (summary, disagreements) =
            summary::build(&self.inner.config.merge, &report, &local, &vendors);
        let vendor_decodes = vendors.into_iter().map(|v| v.decode).collect();
        Ok(Response::new(DecodeVinResponse {
            local: Some(local),
            summary: Some(summary),
            vendor_decodes,
            sources,
            disagreements,
        }))
    }
}

/// One field violation per problem, each naming the position and the likely fix, with
/// the problem's kind as its reason; the corrected VIN, when there is one, goes into
/// `ErrorInfo` (reason INVALID_VIN, metadata `suggested_vin`).
fn invalid_vin(report: &domain::vin::VinReport) -> ApiError {
    let mut violations: Vec<FieldViolation> = report
        .problems
        .iter()
        .filter(|p| !matches!(p.kind, domain::vin::VinProblemKind::UnknownWmi))
        .map(|p| {
            let mut description = if p.position > 0 {
                format!("position {}: {}", p.position, p.message)
            } else {
                p.message.clone()
            };
            if let Some(s) = &p.suggestion {
                description = format!("{description} ({s})");
            }
            FieldViolation {
                field: "vin".to_owned(),
                description,
                reason: crate::local::problem_kind(p.kind).as_str_name().to_owned(),
            }
        })
        .collect();
    if violations.is_empty() {
        violations.push(FieldViolation {
            field: "vin".to_owned(),
            description: "is not a valid VIN".to_owned(),
            reason: String::new(),
        });
    }
    let mut metadata = vec![("normalized_vin".to_owned(), report.normalized.clone())];
    if let Some(s) = &report.suggested_vin {
        // Said in the message too, for people.
        if let Some(first) = violations.first_mut() {
            first.description = format!("{} — did you mean {s}?", first.description);
        }
        metadata.push(("suggested_vin".to_owned(), s.clone()));
    }
    ApiError::InvalidArgument {
        violations,
        reason: "INVALID_VIN",
        metadata,
    }
}

/// Status list helper for tests.
pub fn source<'a>(resp: &'a DecodeVinResponse, name: &str) -> Option<&'a SourceStatus> {
    resp.sources.iter().find(|s| s.source == name)
}
