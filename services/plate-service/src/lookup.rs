//! LookupVehicle: the local parse, then the plate vendors (sources) per the configured
//! strategy, merged into one vehicle record (`record`), masked per the deployment's
//! privacy settings (`privacy`).

use std::time::{Duration, Instant};

use contracts::axle::plate::v1::{LookupVehicleResponse, ParsePlateResponse};
use merge::MergePolicy;
use sources::{Asked, SourceList, status};

use crate::config::Privacy;
use crate::report::{PlateQuery, VehicleReport};
use crate::{privacy, record};

#[derive(Debug)]
pub struct Lookup {
    pub vendors: SourceList<PlateQuery, VehicleReport>,
    pub policy: MergePolicy,
    pub privacy: Privacy,
}

impl Lookup {
    /// `internal`: the caller is an Axle service holding the internal token (it masks
    /// for its own callers), so identifiers are not masked here.
    pub async fn run(
        &self,
        parsed: ParsePlateResponse,
        deadline: Option<Instant>,
        internal: bool,
    ) -> LookupVehicleResponse {
        let query = PlateQuery::from_parse(&parsed);
        let (reports, asked) = Asked::split(self.vendors.ask(&query, deadline).await);
        let mut sources = vec![status::ok("local", 0, Duration::ZERO, false)];
        sources.extend(asked);
        let mut resp = record::build(&self.policy, &reports);
        if internal {
            let revealed = Privacy {
                reveal_full_vin: true,
                reveal_engine_number: true,
                ..self.privacy.clone()
            };
            privacy::apply(&mut resp, &revealed);
        } else {
            privacy::apply(&mut resp, &self.privacy);
        }
        resp.plate = Some(parsed);
        resp.sources = sources;
        resp
    }
}
