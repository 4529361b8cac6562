//! `image_url`: fetched over http(s) only, with a timeout, a size cap and a content-type
//! check, behind an SSRF guard.
//!
//! A URL is a request Axle makes on the caller's behalf from inside the cluster, so it
//! must not reach what only the cluster can reach: loopback, private and shared ranges,
//! link-local (where cloud metadata services answer, 169.254.169.254 and fd00:ec2::254),
//! multicast and the like. The guard checks every address the host name resolves to, then
//! connects to exactly those addresses (no second DNS answer can differ: DNS rebinding),
//! and follows redirects itself, checking each hop the same way. A deployment whose
//! photos are on an internal store names that host in `allowed_private_hosts`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use crate::config::UrlFetchConfig;

/// Why a URL could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchProblem {
    /// The caller's to fix (INVALID_ARGUMENT).
    #[error("{0}")]
    Refused(String),
    /// The photo's server failed or could not be reached (UNAVAILABLE).
    #[error("{0}")]
    Unreachable(String),
    /// The download did not finish within the timeout or the deadline.
    #[error("{0}")]
    TimedOut(String),
}

/// Whether an address is one a fetch on a caller's behalf must not reach.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    (s[6] & 0xff) as u8,
                    (s[7] >> 8) as u8,
                    (s[7] & 0xff) as u8,
                );
                return forbidden_v4(v4);
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local (fd00:ec2::254, AWS's metadata service, is here)
                || (s[0] & 0xfe00) == 0xfc00
                // fe80::/10 link-local
                || (s[0] & 0xffc0) == 0xfe80
                // ::/96 IPv4-compatible (deprecated), 2001:db8::/32 documentation
                || (s[0..6] == [0, 0, 0, 0, 0, 0])
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        // 100.64.0.0/10 shared address space (carrier-grade NAT, some cluster networks)
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // 192.0.0.0/24 IETF protocol assignments, 198.18.0.0/15 benchmarking
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        // 240.0.0.0/4 reserved
        || o[0] >= 240
}

/// Content types a photo may come with; `application/octet-stream` (object stores'
/// default) is accepted and the bytes decide.
fn acceptable_type(ct: &str) -> bool {
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        ct.as_str(),
        "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/png" | "application/octet-stream"
    )
}

/// Fetches `url` within `cfg.timeout` (and `deadline`), at most `max_bytes`.
pub async fn fetch(
    url: &str,
    cfg: &UrlFetchConfig,
    max_bytes: usize,
    deadline: Option<Instant>,
) -> Result<Vec<u8>, FetchProblem> {
    let until = {
        let own = Instant::now() + cfg.timeout;
        deadline.map_or(own, |d| d.min(own))
    };
    match tokio::time::timeout_at(until.into(), fetch_inner(url, cfg, max_bytes)).await {
        Ok(r) => r,
        Err(_) => Err(FetchProblem::TimedOut(format!(
            "image_url did not finish downloading within {}",
            settings::duration::format(cfg.timeout)
        ))),
    }
}

async fn fetch_inner(
    url: &str,
    cfg: &UrlFetchConfig,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchProblem> {
    let mut current = reqwest::Url::parse(url.trim())
        .map_err(|e| FetchProblem::Refused(format!("is not a URL ({e})")))?;
    for hop in 0..=cfg.max_redirects {
        let addrs = check_url(&current, cfg).await?;
        let host = current.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Connect only to the addresses just checked.
            .resolve_to_addrs(&host, &addrs)
            .no_proxy()
            .build()
            .map_err(|e| FetchProblem::Unreachable(format!("cannot build a client: {e}")))?;
        let resp = client
            .get(current.clone())
            .header(reqwest::header::ACCEPT, "image/jpeg, image/png")
            .send()
            .await
            .map_err(|e| {
                FetchProblem::Unreachable(format!(
                    "image_url could not be fetched: {}",
                    e.without_url()
                ))
            })?;
        let status = resp.status();
        if status.is_redirection() {
            let Some(next) = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
            else {
                return Err(FetchProblem::Unreachable(format!(
                    "image_url answered HTTP {} without a usable Location",
                    status.as_u16()
                )));
            };
            if hop == cfg.max_redirects {
                break;
            }
            current = next;
            continue;
        }
        if status.is_client_error() {
            return Err(FetchProblem::Refused(format!(
                "answered HTTP {}: check the link",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(FetchProblem::Unreachable(format!(
                "image_url's server answered HTTP {}",
                status.as_u16()
            )));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !acceptable_type(&ct) {
            return Err(FetchProblem::Refused(format!(
                "is served as {:?}, not as a JPEG or PNG image",
                if ct.is_empty() {
                    "no content type"
                } else {
                    ct.as_str()
                }
            )));
        }
        if let Some(len) = resp.content_length()
            && usize::try_from(len).map_or(true, |l| l > max_bytes)
        {
            return Err(FetchProblem::Refused(format!(
                "is {len} bytes; at most {max_bytes} bytes are accepted"
            )));
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            FetchProblem::Unreachable(format!("image_url download failed: {}", e.without_url()))
        })? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchProblem::Refused(format!(
                    "is more than {max_bytes} bytes, the most accepted"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    Err(FetchProblem::Refused(format!(
        "redirects more than {} times",
        cfg.max_redirects
    )))
}

/// Checks one URL (the first or a redirect's target) and returns the addresses to
/// connect to.
async fn check_url(
    url: &reqwest::Url,
    cfg: &UrlFetchConfig,
) -> Result<Vec<SocketAddr>, FetchProblem> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchProblem::Refused(format!(
            "uses {}:, only http and https are fetched",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchProblem::Refused(
            "carries credentials: give a link that needs none (e.g. a signed URL)".to_owned(),
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(FetchProblem::Refused("has no host".to_owned()));
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let allowed = cfg.allow_private
        || cfg
            .allowed_private_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(bare));
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| FetchProblem::Unreachable(format!("host {bare} does not resolve: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(FetchProblem::Unreachable(format!(
            "host {bare} has no address"
        )));
    }
    if !allowed && let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(FetchProblem::Refused(format!(
            "points to {} ({}), a loopback, private, link-local or metadata address Axle does not fetch from",
            bare,
            bad.ip()
        )));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(forbidden(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.114.1", "2400:3200::1", "101.6.6.6"] {
            assert!(!forbidden(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn content_types() {
        assert!(acceptable_type("image/jpeg"));
        assert!(acceptable_type("IMAGE/PNG; charset=binary"));
        assert!(acceptable_type("application/octet-stream"));
        assert!(!acceptable_type("text/html"));
        assert!(!acceptable_type("image/svg+xml"));
        assert!(!acceptable_type(""));
    }

    #[tokio::test]
    async fn urls_to_internal_addresses_and_other_schemes_are_refused() {
        let cfg = UrlFetchConfig::default();
        for url in [
            "http://127.0.0.1:1/x.png",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x.png",
            "http://localhost/x.png",
            "http://10.0.0.8/x.jpg",
            "file:///etc/passwd",
            "ftp://example.com/x.png",
            "gopher://127.0.0.1/",
            "http://user:pw@example.com/x.png",
            "not a url",
        ] {
            let err = fetch(url, &cfg, 1000, None).await.expect_err(url);
            assert!(matches!(err, FetchProblem::Refused(_)), "{url}: {err:?}");
        }
    }
}
