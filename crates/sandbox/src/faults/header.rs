//! The `x-sandbox-fault` header's text form of a rule.

use super::rule::{
    CallbackFault, FaultAction, FaultRule, Latency, default_chunk, default_interval,
};

/// Parses the `x-sandbox-fault` header: either a JSON [`FaultRule`], or directives
/// separated by `;` or `,`:
///
/// - `delay=200` (ms), `delay=100..300` (uniform), `delay=lognormal:100:800` (p50:p99)
/// - `code=500` (vendor error code), `status=429` with optional `retry-after=2`
/// - `malformed` or `malformed=40` (truncate the body to 40 bytes)
/// - `slow` or `slow=16:200` (16 bytes every 200 ms)
/// - `reset`
/// - `content-type=text/html` (the real body under another Content-Type)
/// - `charset=gbk` or `charset=gbk:utf-8` (the body in GBK, declared as no charset /
///   as UTF-8)
/// - `callback=bad-signature`, `callback=duplicate`, `callback=out-of-order`
/// - `p=0.3` (probability, drawn from the seeded RNG)
pub fn parse_fault_header(text: &str) -> Result<FaultRule, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let rule: FaultRule = serde_json::from_str(text).map_err(|e| e.to_string())?;
        rule.validate()?;
        return Ok(rule);
    }
    let mut rule = FaultRule::default();
    let mut actions = Vec::new();
    let mut status = None;
    let mut retry_after = None;
    for token in text
        .split([';', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (name, value) = match token.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (token.to_ascii_lowercase(), None),
        };
        let need = || value.ok_or_else(|| format!("`{name}` needs a value"));
        match name.as_str() {
            "delay" | "latency" => rule.latency = Some(parse_latency(need()?)?),
            "code" => actions.push(FaultAction::VendorCode {
                code: num(need()?)?,
                msg: None,
            }),
            "status" => status = Some(num(need()?)?),
            "retry-after" | "retry_after" => retry_after = Some(num(need()?)?),
            "malformed" => actions.push(FaultAction::Malformed {
                truncate_at: value.map(num).transpose()?,
            }),
            "slow" => {
                let (chunk_bytes, interval_ms) = match value {
                    None => (default_chunk(), default_interval()),
                    Some(v) => {
                        let (c, i) = v
                            .split_once(':')
                            .ok_or_else(|| format!("slow wants BYTES:MS, got `{v}`"))?;
                        (num(c)?, num(i)?)
                    }
                };
                actions.push(FaultAction::SlowBody {
                    chunk_bytes,
                    interval_ms,
                });
            }
            "reset" => actions.push(FaultAction::Reset {}),
            "content-type" | "content_type" => actions.push(FaultAction::ContentType {
                value: need()?.to_owned(),
            }),
            "charset" => {
                let v = need()?;
                let (encoding, declared) = match v.split_once(':') {
                    Some((e, d)) => (e, Some(d.trim().to_owned())),
                    None => (v, None),
                };
                actions.push(FaultAction::Charset {
                    encoding: encoding.trim().to_owned(),
                    declared,
                });
            }
            "callback" => {
                let v = need()?;
                let mode = CallbackFault::parse(v).ok_or_else(|| {
                    format!("callback wants bad-signature, duplicate or out-of-order, got `{v}`")
                })?;
                actions.push(FaultAction::Callback { mode });
            }
            "p" | "probability" => {
                rule.probability = need()?
                    .parse()
                    .map_err(|_| format!("bad probability `{token}`"))?;
            }
            other => return Err(format!("unknown directive `{other}`")),
        }
    }
    match (status, retry_after) {
        (Some(status), retry_after_s) => actions.push(FaultAction::HttpStatus {
            status,
            retry_after_s,
            body: None,
        }),
        (None, Some(_)) => return Err("retry-after needs status=...".to_owned()),
        (None, None) => {}
    }
    if actions.len() > 1 {
        return Err(
            "at most one of code, status, malformed, slow, reset, content-type, charset, callback"
                .to_owned(),
        );
    }
    rule.action = actions.pop();
    rule.validate()?;
    Ok(rule)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    let s = s.trim();
    s.strip_suffix("ms")
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("not a number: `{s}`"))
}

fn parse_latency(v: &str) -> Result<Latency, String> {
    if let Some(rest) = v.strip_prefix("lognormal:") {
        let (p50, p99) = rest
            .split_once(':')
            .ok_or_else(|| format!("lognormal wants P50:P99, got `{v}`"))?;
        return Ok(Latency::LogNormal {
            p50_ms: num(p50)?,
            p99_ms: num(p99)?,
            max_ms: None,
        });
    }
    if let Some((min, max)) = v.split_once("..") {
        return Ok(Latency::Uniform {
            min_ms: num(min)?,
            max_ms: num(max)?,
        });
    }
    Ok(Latency::Fixed { ms: num(v)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_directives() {
        let r = parse_fault_header("delay=100..300; status=429; retry-after=2").expect("parses");
        assert_eq!(
            r.latency,
            Some(Latency::Uniform {
                min_ms: 100,
                max_ms: 300
            })
        );
        assert_eq!(
            r.action,
            Some(FaultAction::HttpStatus {
                status: 429,
                retry_after_s: Some(2),
                body: None
            })
        );
        let r = parse_fault_header("code=500,p=0.5").expect("parses");
        assert_eq!(
            r.action,
            Some(FaultAction::VendorCode {
                code: 500,
                msg: None
            })
        );
        assert!((r.probability - 0.5).abs() < f64::EPSILON);
        assert_eq!(
            parse_fault_header("slow=8:50").expect("parses").action,
            Some(FaultAction::SlowBody {
                chunk_bytes: 8,
                interval_ms: 50
            })
        );
        assert_eq!(
            parse_fault_header("delay=lognormal:50:400")
                .expect("parses")
                .latency,
            Some(Latency::LogNormal {
                p50_ms: 50,
                p99_ms: 400,
                max_ms: None
            })
        );
        assert_eq!(
            parse_fault_header("reset").expect("parses").action,
            Some(FaultAction::Reset {})
        );
        assert_eq!(
            parse_fault_header("content-type=text/html")
                .expect("parses")
                .action,
            Some(FaultAction::ContentType {
                value: "text/html".into()
            })
        );
        assert_eq!(
            parse_fault_header("charset=gbk:utf-8")
                .expect("parses")
                .action,
            Some(FaultAction::Charset {
                encoding: "gbk".into(),
                declared: Some("utf-8".into())
            })
        );
        assert_eq!(
            parse_fault_header("callback=out-of-order")
                .expect("parses")
                .action,
            Some(FaultAction::Callback {
                mode: CallbackFault::OutOfOrder
            })
        );
        assert_eq!(
            parse_fault_header(r#"{"action":{"kind":"malformed","truncate_at":5}}"#)
                .expect("parses")
                .action,
            Some(FaultAction::Malformed {
                truncate_at: Some(5)
            })
        );
    }

    #[test]
    fn bad_headers_are_refused_with_a_reason() {
        for (bad, says) in [
            ("code=500;reset", "at most one"),
            ("retry-after=3", "needs status"),
            ("bogus", "unknown directive `bogus`"),
            ("p=2", "probability"),
            ("p=x", "bad probability"),
            ("delay=9..1", "min_ms 9 > max_ms 1"),
            ("status=42", "invalid HTTP status 42"),
            ("code", "`code` needs a value"),
            ("slow=8", "BYTES:MS"),
            ("delay=lognormal:5", "P50:P99"),
            ("{\"vin\": 1}", "invalid type"),
            ("callback=twice", "callback wants"),
            ("charset=klingon", "not a known label"),
            ("reset;charset=gbk", "at most one"),
        ] {
            let err = parse_fault_header(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
