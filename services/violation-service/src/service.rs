//! `axle.violation.v1.ViolationService`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::violation::v1::violation_service_server::ViolationService;
use contracts::axle::violation::v1::{
    GetCityRulesRequest, GetCityRulesResponse, QueryViolationsRequest, QueryViolationsResponse,
};
use domain::violation::RuleTable;
use kit::error::ApiError;
use sources::{Asked, SourceList, status};
use tonic::{Request, Response, Status};

use crate::config::{Privacy, ViolationServiceConfig};
use crate::query::{Planned, plan};
use crate::report::{Answer, Handles, ViolationQuery};
use crate::{answer, privacy, rules};

#[derive(Debug, Clone)]
pub struct Violations {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_input_chars: usize,
    table: RuleTable,
    vendors: SourceList<ViolationQuery, Answer>,
    handles: Vec<Arc<dyn Handles>>,
    privacy: Privacy,
}

impl Violations {
    pub fn new(
        cfg: &ViolationServiceConfig,
        table: RuleTable,
        vendors: SourceList<ViolationQuery, Answer>,
        handles: Vec<Arc<dyn Handles>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_input_chars: cfg.max_input_chars,
                table,
                vendors,
                handles,
                privacy: cfg.privacy.clone(),
            }),
        }
    }
}

impl Inner {
    fn check_lengths(&self, fields: &[(&str, &str)]) -> Result<(), ApiError> {
        for (name, value) in fields {
            let n = value.chars().count();
            if n > self.max_input_chars {
                return Err(ApiError::invalid_argument(
                    name,
                    &format!(
                        "is {n} characters long; at most {} are accepted",
                        self.max_input_chars
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn query(
        &self,
        req: QueryViolationsRequest,
        deadline: Option<Instant>,
    ) -> Result<QueryViolationsResponse, ApiError> {
        self.check_lengths(&[
            ("plate", &req.plate),
            ("plate_type", &req.plate_type),
            ("engine_number", &req.engine_number),
            ("vin", &req.vin),
            ("query_handle", &req.query_handle),
        ])?;
        let color = check_color(req.color)?;
        if !req.query_handle.trim().is_empty() {
            return self.by_handle(&req).await;
        }
        if req.plate.trim().is_empty() {
            return Err(ApiError::invalid_argument(
                "plate",
                "must not be empty: give the plate, e.g. 粤B12345 (or a query_handle)",
            ));
        }
        let planned = plan(
            &self.table,
            &req.plate,
            color,
            &req.plate_type,
            &req.engine_number,
            &req.vin,
        )?;
        let mut resp = base(&planned, &self.table);
        let (answers, asked) = Asked::split(self.vendors.ask(&planned.query, deadline).await);
        let mut statuses = vec![status::ok("local", 0, Duration::ZERO, false)];
        statuses.extend(asked);
        answer::fill(&mut resp, &answers, statuses);
        privacy::apply(
            &mut resp,
            &self.privacy,
            &[req.engine_number.trim(), req.vin.trim()],
        );
        Ok(resp)
    }

    /// The answer of an earlier PENDING query: no new charge, whatever it holds.
    async fn by_handle(
        &self,
        req: &QueryViolationsRequest,
    ) -> Result<QueryViolationsResponse, ApiError> {
        let handle = req.query_handle.trim();
        if handle.len() != 32 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::invalid_argument(
                "query_handle",
                "is not a handle this service gave out (32 hexadecimal characters, from a \
                 PENDING answer's query_handle)",
            ));
        }
        for source in &self.handles {
            let found = source
                .by_handle(handle)
                .await
                .map_err(|e| ApiError::Unavailable {
                    message: "the answer store is unavailable; ask again shortly".to_owned(),
                    retry_after: Some(Duration::from_secs(5)),
                    reason: "CALLBACK_STORE_UNAVAILABLE",
                    metadata: vec![("detail".to_owned(), e.to_string())],
                })?;
            let Some((key, answer, status)) = found else {
                continue;
            };
            let mut parts = key.split('|');
            let (plate, plate_type) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            );
            if !req.plate.trim().is_empty() && domain::plate::normalize(&req.plate).plate != plate {
                return Err(ApiError::invalid_argument(
                    "plate",
                    &format!(
                        "the query_handle is for another plate; leave plate empty or give {plate}"
                    ),
                ));
            }
            let mut resp = QueryViolationsResponse {
                plate_type_name: domain::plate::plate_type(&plate_type)
                    .map(|t| t.name_zh.to_owned())
                    .unwrap_or_default(),
                city_rule: self
                    .table
                    .for_plate(&plate, Some(&plate_type))
                    .ok()
                    .map(|l| rules::to_proto(&l.rule, &self.table)),
                plate,
                plate_type,
                ..QueryViolationsResponse::default()
            };
            answer::fill(&mut resp, answer.as_slice(), vec![status]);
            privacy::apply(&mut resp, &self.privacy, &[]);
            return Ok(resp);
        }
        Err(ApiError::NotFound {
            resource: format!("query_handle {handle}"),
            message: format!(
                "no query {handle} is known here (never given out, or forgotten after the \
                 store's keep_submissions): query again with the plate and numbers"
            ),
        })
    }
}

/// The response's echo of what was asked and checked.
fn base(planned: &Planned, table: &RuleTable) -> QueryViolationsResponse {
    QueryViolationsResponse {
        plate: planned.query.plate.clone(),
        plate_type: planned.plate_type.code.to_owned(),
        plate_type_name: planned.plate_type.name_zh.to_owned(),
        city_rule: Some(rules::to_proto(&planned.rule, table)),
        notes: planned.notes.clone(),
        ..QueryViolationsResponse::default()
    }
}

/// An enum value this contract does not define is a client error, not "unspecified".
fn check_color(color: i32) -> Result<Option<domain::plate::PlateColor>, ApiError> {
    use contracts::axle::plate::v1::PlateColor as P;
    use domain::plate::PlateColor as D;
    let Ok(c) = P::try_from(color) else {
        return Err(ApiError::invalid_argument(
            "color",
            &format!("{color} is not a PlateColor value (0 to leave it out, 1-6 for a colour)"),
        ));
    };
    Ok(match c {
        P::Unspecified => None,
        P::Blue => Some(D::Blue),
        P::Yellow => Some(D::Yellow),
        P::Green => Some(D::Green),
        P::White => Some(D::White),
        P::Black => Some(D::Black),
        P::YellowGreen => Some(D::YellowGreen),
    })
}

#[tonic::async_trait]
impl ViolationService for Violations {
    async fn query_violations(
        &self,
        request: Request<QueryViolationsRequest>,
    ) -> Result<Response<QueryViolationsResponse>, Status> {
        let deadline = kit::deadline::deadline_of(&request).map(kit::deadline::with_reserve);
        let resp = self.inner.query(request.into_inner(), deadline).await?;
        Ok(Response::new(resp))
    }

    async fn get_city_rules(
        &self,
        request: Request<GetCityRulesRequest>,
    ) -> Result<Response<GetCityRulesResponse>, Status> {
        let req = request.into_inner();
        self.inner
            .check_lengths(&[("plate_type", &req.plate_type)])?;
        if let Some(contracts::axle::violation::v1::get_city_rules_request::City::Plate(p)) =
            &req.city
        {
            self.inner.check_lengths(&[("plate", p)])?;
        }
        Ok(Response::new(rules::get(&self.inner.table, &req)?))
    }
}
