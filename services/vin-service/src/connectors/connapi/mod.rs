//! connapi (seed 001): VIN -> ~70 decode fields.
//!
//! `GET|POST {base}/api/vin/get` with `key` and `vin`; when 签名校验 is enabled on the
//! account, header `sign: md5(http_build_query(params) + SK)`. The vendor answers HTTP 200
//! with its own code in the body: 200 ok, 400 not provisioned / no balance, 403 bad
//! parameters, 404 no record, 500 vendor internal error, 501 vendor's upstream failed,
//! 601 interface not enabled, 602 account suspended, 603 balance exhausted,
//! 604 interface discontinued.

pub mod transformers;

use std::sync::Arc;
use std::time::Instant;

use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::signing::{md5_query_then_secret, php_http_build_query};
use connector::{ConnectorError, VendorError, VendorErrorKind};
use contracts::axle::vin::v1::VendorVinDecode;
use sources::{Asked, BoxFuture, Source, SourceContext};

use super::{VendorDecode, VinQuery, VinSource};
use crate::config::{ConnapiConfig, HttpMethod};

/// Connector name: used in provenance, metrics and the merge policy.
pub const SOURCE: &str = "connapi";
const PATH: &str = "/api/vin/get";

/// What connapi said about one VIN.
#[derive(Debug, Clone)]
pub struct ConnapiDecode {
    pub decode: VendorVinDecode,
    /// The vendor's own rule check (`iscorrect`), if it sent one.
    pub vendor_says_valid: Option<bool>,
}

#[derive(Debug)]
pub struct ConnapiClient {
    client: VendorClient,
    config: ConnapiConfig,
}

/// connapi as a source of vin-service, or a disabled one when switched off.
pub fn source(
    config: &ConnapiConfig,
    ctx: &SourceContext,
) -> Result<Arc<VinSource>, ConnectorError> {
    if !config.enabled {
        return Ok(Arc::new(sources::Disabled::new(SOURCE)));
    }
    Ok(Arc::new(ConnapiClient::new(config, ctx.client())?))
}

impl Source<VinQuery, VendorDecode> for ConnapiClient {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<contracts::axle::common::v1::Money> {
        sources::price(&self.config.http)
    }

    fn repeatable(&self) -> bool {
        true
    }

    fn ask<'a>(
        &'a self,
        query: &'a VinQuery,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Asked<VendorDecode>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.decode(&query.vin, deadline).await;
            Asked::from_call(SOURCE, result, started, |value, mut provenance| {
                let mut decode = value.decode;
                provenance.vendor_request_id.clone_from(&decode.order_no);
                decode.provenance = Some(provenance);
                VendorDecode {
                    decode,
                    confidence: self.config.confidence,
                }
            })
        })
    }
}

impl ConnapiClient {
    pub fn new(config: &ConnapiConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &config.http, ctx)?,
            config: config.clone(),
        })
    }

    /// Decodes `vin` (already normalised and validated locally). A lookup is idempotent,
    /// so transport failures are retried; a vendor "no record" is an answer, not a retry.
    pub async fn decode(
        &self,
        vin: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<ConnapiDecode>, CallFailure> {
        let params = [("key", self.config.key.expose().as_str()), ("vin", vin)];
        // Built once: the signature covers exactly these bytes, and the vendor checks
        // them as sent (PHP's http_build_query form).
        let query = php_http_build_query(&params);
        let sign = self
            .config
            .sign_secret
            .as_ref()
            .map(|sk| md5_query_then_secret(&query, sk.expose()));
        let url = format!("{}{PATH}", self.client.base_url().trim_end_matches('/'));
        let method = self.config.method;

        self.client
            .execute(
                Operation {
                    name: "vin_get",
                    idempotent: true,
                },
                deadline,
                |http| {
                    let req = match method {
                        HttpMethod::Get => http.get(format!("{url}?{query}")),
                        HttpMethod::Post => http
                            .post(&url)
                            .header(
                                "content-type",
                                "application/x-www-form-urlencoded;charset=utf-8",
                            )
                            .body(query.clone()),
                    };
                    match &sign {
                        Some(sign) => req.header("sign", sign.as_str()),
                        None => req,
                    }
                },
                |resp| classify(resp, vin),
            )
            .await
    }
}

/// Turns one HTTP response into an answer, a retry, or a final error. Public for the
/// fuzz targets (`fuzz/`), which feed it arbitrary responses.
pub fn classify(resp: &RawResponse, vin: &str) -> Classification<ConnapiDecode> {
    if let Some(err) = connector::client::classify_http_status(resp) {
        return connector::client::retry_or_fail(err);
    }
    let envelope = match transformers::parse_envelope(&resp.body) {
        Ok(env) => env,
        Err(detail) => return Classification::Fail(VendorError::MalformedBody { detail }),
    };
    match envelope.code {
        // Code 200 is billed (seed 001): an answer we cannot read still cost money, and
        // so does an empty one, which says the vendor has no record.
        200 if transformers::result_is_empty(&envelope) => {
            Classification::FailBilled(VendorError::Vendor {
                code: "200".to_owned(),
                message: "success with an empty result".to_owned(),
                kind: VendorErrorKind::NotFound,
            })
        }
        200 => match transformers::to_decode(envelope, vin) {
            Ok(decode) => Classification::Done(decode),
            Err(detail) => Classification::FailBilled(VendorError::MalformedBody { detail }),
        },
        code => connector::client::retry_or_fail(vendor_error(code, &envelope.msg)),
    }
}

/// The vendor's error codes in our taxonomy (seed 001, 返回示例). 500 and 501 are the
/// vendor's own or its upstream's transient failures, so they are retried; the account
/// codes are not: retrying cannot top up a balance.
pub fn vendor_error(code: i64, msg: &str) -> VendorError {
    let kind = match code {
        403 => VendorErrorKind::InvalidRequest,
        404 => VendorErrorKind::NotFound,
        // 400 没有开通此业务或权限余额不足: not enabled, or no permission or balance.
        400 => VendorErrorKind::NotEnabledOrNoBalance,
        603 => VendorErrorKind::QuotaExhausted,
        601 => VendorErrorKind::PermissionMissing,
        602 => VendorErrorKind::AccountProblem,
        604 => VendorErrorKind::Discontinued,
        500 => VendorErrorKind::VendorInternal,
        501 => VendorErrorKind::UpstreamOfVendor,
        _ => VendorErrorKind::Unknown,
    };
    VendorError::Vendor {
        code: code.to_string(),
        message: msg.chars().take(200).collect(),
        kind,
    }
}
