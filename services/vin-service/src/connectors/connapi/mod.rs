//! connapi (seed 001): VIN -> ~70 decode fields.
//!
//! `GET|POST {base}/api/vin/get` with `key` and `vin`; when 签名校验 is enabled on the
//! account, header `sign: md5(http_build_query(params) + SK)`. The vendor answers HTTP 200
//! with its own code in the body: 200 ok, 400 not provisioned / no balance, 403 bad
//! parameters, 404 no record, 500 vendor internal error, 501 vendor's upstream failed,
//! 601 interface not enabled, 602 account suspended, 603 balance exhausted,
//! 604 interface discontinued.

pub mod transformers;

use std::time::Instant;

use connector::client::{
    CallFailure, Classification, Operation, Outcome, RawResponse, VendorClient,
};
use connector::metrics::VendorMetrics;
use connector::signing::{connapi_sign, php_http_build_query};
use connector::{ConnectorError, VendorError, VendorErrorKind};
use contracts::axle::vin::v1::VendorVinDecode;

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

impl ConnapiClient {
    pub fn new(config: &ConnapiConfig, metrics: &VendorMetrics) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &config.http, metrics)?,
            config: config.clone(),
        })
    }

    /// Wires the trace-context injector so vendor calls join the caller's trace.
    #[must_use]
    pub fn with_header_injector(mut self, injector: connector::client::HeaderInjector) -> Self {
        self.client = self.client.with_header_injector(injector);
        self
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
            .map(|sk| connapi_sign(&query, sk.expose()));
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

/// Turns one HTTP response into an answer, a retry, or a final error.
fn classify(resp: &RawResponse, vin: &str) -> Classification<ConnapiDecode> {
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
        400 | 603 => VendorErrorKind::QuotaExhausted,
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
