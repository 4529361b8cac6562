//! `axle.plate.v1.PlateService`.

use contracts::axle::plate::v1::plate_service_server::PlateService;
use contracts::axle::plate::v1::{
    LookupVehicleRequest, LookupVehicleResponse, ParsePlateRequest, ParsePlateResponse,
};
use std::sync::Arc;

use kit::error::{ApiError, FieldViolation};
use tonic::{Request, Response, Status};

use crate::config::PlateServiceConfig;
use crate::convert;
use crate::lookup::Lookup;

#[derive(Debug, Clone)]
pub struct Plate {
    max_input_chars: usize,
    lookup: Arc<Lookup>,
}

impl Plate {
    pub fn new(cfg: &PlateServiceConfig, lookup: Lookup) -> Self {
        Self {
            max_input_chars: cfg.max_input_chars,
            lookup: Arc::new(lookup),
        }
    }

    /// Only what cannot be a plate in any spelling is an error: empty or absurdly long.
    fn check_input(&self, plate: &str) -> Result<(), ApiError> {
        // Only separators ("·", "--") is empty too.
        if plate.trim().is_empty() || domain::plate::normalize(plate).plate.is_empty() {
            return Err(ApiError::invalid_argument(
                "plate",
                "must not be empty: give the plate, e.g. 粤B12345",
            ));
        }
        let n = plate.chars().count();
        if n > self.max_input_chars {
            return Err(ApiError::invalid_argument(
                "plate",
                &format!(
                    "is {n} characters long; a plate has 7 or 8 (at most {} accepted with separators)",
                    self.max_input_chars
                ),
            ));
        }
        Ok(())
    }
}

/// An enum value this contract does not define is a client error, not "unspecified".
fn check_color(color: i32) -> Result<(), ApiError> {
    if contracts::axle::plate::v1::PlateColor::try_from(color).is_err() {
        return Err(ApiError::invalid_argument(
            "color",
            &format!("{color} is not a PlateColor value (0 to leave it out, 1-6 for a colour)"),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl PlateService for Plate {
    async fn parse_plate(
        &self,
        request: Request<ParsePlateRequest>,
    ) -> Result<Response<ParsePlateResponse>, Status> {
        let req = request.into_inner();
        self.check_input(&req.plate)?;
        check_color(req.color)?;
        let report = domain::plate::parse(&req.plate, convert::color_from_proto(req.color));
        Ok(Response::new(convert::to_response(&report)))
    }

    async fn lookup_vehicle(
        &self,
        request: Request<LookupVehicleRequest>,
    ) -> Result<Response<LookupVehicleResponse>, Status> {
        let deadline = kit::deadline::deadline_of(&request).map(kit::deadline::with_reserve);
        let internal = kit::client::carries_internal_token(
            request.metadata(),
            self.lookup.privacy.internal_token.expose(),
        );
        let req = request.into_inner();
        self.check_input(&req.plate)?;
        check_color(req.color)?;
        let report = domain::plate::parse(&req.plate, convert::color_from_proto(req.color));
        if !report.valid {
            // Vendors bill per call: a plate that cannot exist is not worth paying for.
            // The reason tells "retype the plate" (INVALID_PLATE, per violation
            // PLATE_FORMAT or PLATE_COLOR_MISMATCH) from "a real plate Axle does not serve"
            // (UNSUPPORTED_PLATE: military).
            let mut violations: Vec<FieldViolation> = report
                .problems
                .iter()
                .map(|p| FieldViolation {
                    field: if p.about_color { "color" } else { "plate" }.to_owned(),
                    description: if p.position == 0 {
                        p.message.clone()
                    } else {
                        format!(
                            "position {}: {} (expected {})",
                            p.position, p.message, p.expected
                        )
                    },
                    reason: if !report.supported {
                        "PLATE_UNSUPPORTED"
                    } else if p.about_color {
                        "PLATE_COLOR_MISMATCH"
                    } else {
                        "PLATE_FORMAT"
                    }
                    .to_owned(),
                })
                .collect();
            if violations.is_empty() {
                violations.push(FieldViolation {
                    field: "plate".to_owned(),
                    description: "is not a plate in any format in use".to_owned(),
                    reason: "PLATE_FORMAT".to_owned(),
                });
            }
            return Err(ApiError::InvalidArgument {
                violations,
                reason: if report.supported {
                    "INVALID_PLATE"
                } else {
                    "UNSUPPORTED_PLATE"
                },
                metadata: vec![("normalized_plate".to_owned(), report.normalized.clone())],
            }
            .into());
        }
        Ok(Response::new(
            self.lookup
                .run(convert::to_response(&report), deadline, internal)
                .await,
        ))
    }
}
