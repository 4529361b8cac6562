//! `axle.plate.v1.PlateService`.

use contracts::axle::plate::v1::plate_service_server::PlateService;
use contracts::axle::plate::v1::{
    LookupVehicleRequest, LookupVehicleResponse, ParsePlateRequest, ParsePlateResponse,
};
use kit::error::ApiError;
use tonic::{Request, Response, Status};

use crate::config::PlateServiceConfig;
use crate::convert;

#[derive(Debug, Clone)]
pub struct Plate {
    max_input_chars: usize,
}

impl Plate {
    pub fn new(cfg: &PlateServiceConfig) -> Self {
        Self {
            max_input_chars: cfg.max_input_chars,
        }
    }

    /// Only what cannot be a plate in any spelling is an error: empty or absurdly long.
    fn check_input(&self, plate: &str) -> Result<(), ApiError> {
        if plate.trim().is_empty() {
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

#[tonic::async_trait]
impl PlateService for Plate {
    async fn parse_plate(
        &self,
        request: Request<ParsePlateRequest>,
    ) -> Result<Response<ParsePlateResponse>, Status> {
        let req = request.into_inner();
        self.check_input(&req.plate)?;
        let report = domain::plate::parse(&req.plate, convert::color_from_proto(req.color));
        Ok(Response::new(convert::to_response(&report)))
    }

    async fn lookup_vehicle(
        &self,
        _request: Request<LookupVehicleRequest>,
    ) -> Result<Response<LookupVehicleResponse>, Status> {
        Err(Status::unimplemented(
            "LookupVehicle is not available yet: the plate vendors (xiaoshibao, platecb) are \
             being integrated; ParsePlate is available",
        ))
    }
}
