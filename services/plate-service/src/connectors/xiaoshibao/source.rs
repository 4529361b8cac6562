//! xiaoshibao as a source of plate-service.

use std::sync::Arc;
use std::time::Instant;

use connector::ConnectorError;
use sources::{Asked, BoxFuture, Source, SourceContext};

use super::{SOURCE, XiaoshibaoClient, XiaoshibaoConfig};
use crate::report::{PlateQuery, PlateSource, VehicleReport, iso, sorted};

/// xiaoshibao as a source, or a disabled one when switched off.
pub fn source(
    cfg: &XiaoshibaoConfig,
    ctx: &SourceContext,
) -> Result<Arc<PlateSource>, ConnectorError> {
    if !cfg.enabled {
        return Ok(Arc::new(sources::Disabled::new(SOURCE)));
    }
    Ok(Arc::new(XiaoshibaoClient::new(cfg, ctx.client())?))
}

impl Source<PlateQuery, VehicleReport> for XiaoshibaoClient {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<contracts::axle::common::v1::Money> {
        sources::price(&self.cfg.http)
    }

    fn repeatable(&self) -> bool {
        true
    }

    fn ask<'a>(
        &'a self,
        q: &'a PlateQuery,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Asked<VehicleReport>> {
        Box::pin(async move {
            let started = Instant::now();
            let (province, city) = (short_name(&q.province), short_name(&q.city));
            let result = self.lookup(&q.plate, &province, &city, deadline).await;
            Asked::from_call(SOURCE, result, started, |v, mut provenance| {
                provenance.upstream_sources = v.sources;
                VehicleReport {
                    provenance,
                    confidence: v.confidence.unwrap_or(self.cfg.confidence),
                    vin: v.vin,
                    usage: v.usage,
                    brand: v.brand,
                    model: v.model,
                    first_registration_date: iso(v.first_register_date),
                    unmapped: sorted(v.unmapped),
                    ..VehicleReport::default()
                }
            })
        })
    }
}

/// Short province / city names as the vendor's example uses them ("广东", "深圳").
pub fn short_name(name: &str) -> String {
    let mut s = name.split('(').next().unwrap_or(name).to_owned();
    for suffix in [
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "自治区",
        "自治州",
        "省",
        "市",
        "地区",
        "盟",
    ] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_owned();
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shortened_as_the_vendor_writes_them() {
        assert_eq!(short_name("广东省"), "广东");
        assert_eq!(short_name("深圳市"), "深圳");
        assert_eq!(short_name("新疆维吾尔自治区"), "新疆");
        assert_eq!(short_name("佛山市顺德区"), "佛山市顺德区");
    }
}
