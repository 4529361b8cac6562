//! The md5 signing schemes of the vendors' documents, byte for byte, named by scheme
//! (which vendor uses which is the connector's business):
//!
//! * [`md5_query_then_secret`]: md5 of a query string followed by the secret (seed 001).
//! * [`md5_sorted_pairs_then_secret`]: md5 of the non-empty parameters sorted by key, each
//!   key followed by its value, then the secret (seeds 003 and 004, MD5 mode).
//! * [`md5_time_appid_secret`]: md5 of time, appid and secret (seed 004's callbacks).

use md5::{Digest, Md5};

/// Lower-case hex md5, as every vendor compares it.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// PHP's `http_build_query` (PHP_QUERY_RFC1738), which seed 001's demo uses to build the
/// string it signs: pairs in the given order, `A-Z a-z 0-9 - _ .` kept, space as `+`,
/// every other byte of the UTF-8 form as `%XX` upper case.
pub fn php_http_build_query(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        php_urlencode_into(&mut out, k);
        out.push('=');
        php_urlencode_into(&mut out, v);
    }
    out
}

fn php_urlencode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// `md5(query_string + secret)`: seed 001 signs `http_build_query(params)` so and sends
/// it as header `sign`.
pub fn md5_query_then_secret(query_string: &str, secret: &str) -> String {
    let mut buf = Vec::with_capacity(query_string.len() + secret.len());
    buf.extend_from_slice(query_string.as_bytes());
    buf.extend_from_slice(secret.as_bytes());
    md5_hex(&buf)
}

/// `md5(k1v1k2v2...secret)` (seeds 003/004, MD5 mode): parameters sorted by key (byte order, like PHP's `ksort` on
/// ASCII keys), empty values left out, each as `key` immediately followed by `value`, the
/// secret appended without a key: `md5(k1v1k2v2...secret)`. `sign` itself never takes part.
pub fn md5_sorted_pairs_then_secret(params: &[(&str, &str)], secret: &str) -> String {
    let mut sorted: Vec<&(&str, &str)> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "sign")
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut buf = String::new();
    for (k, v) in sorted {
        buf.push_str(k);
        buf.push_str(v);
    }
    buf.push_str(secret);
    md5_hex(buf.as_bytes())
}

/// `md5(time + appid + secret)`: seed 004's callbacks are signed so; nothing else is.
pub fn md5_time_appid_secret(time: &str, appid: &str, secret: &str) -> String {
    md5_hex(format!("{time}{appid}{secret}").as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths, so a forged
/// signature cannot be found byte by byte from response timings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_known_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex("粤".as_bytes()), md5_hex(&[0xE7, 0xB2, 0xA4]));
    }

    #[test]
    fn http_build_query_matches_php() {
        // php -r 'echo http_build_query(["key"=>"a b","vin"=>"WP0AA2978BL012976","x"=>"粤A~*"]);'
        assert_eq!(
            php_http_build_query(&[("key", "a b"), ("vin", "WP0AA2978BL012976"), ("x", "粤A~*")]),
            "key=a+b&vin=WP0AA2978BL012976&x=%E7%B2%A4A%7E%2A"
        );
    }

    // The expected digests below were computed independently (Python's hashlib.md5 of the
    // strings the seeds describe), not with this module's md5_hex.

    #[test]
    fn query_then_secret_follows_seed_001() {
        // Seed 001's demo: `md5(http_build_query($get_post_data) . $sk)` with its SK
        // 56777ab62ff752fbd57ab7228fc2fc43.
        let q = php_http_build_query(&[("key", "k"), ("vin", "WP0AA2978BL012976")]);
        assert_eq!(q, "key=k&vin=WP0AA2978BL012976");
        assert_eq!(
            md5_query_then_secret(&q, "56777ab62ff752fbd57ab7228fc2fc43"),
            "c25a18efeba77e3eb634e138b7d07bfc"
        );
    }

    #[test]
    fn sorted_pairs_follow_seed_003() {
        // Seed 003 line 50: MD5(appid1car_no粤AJ44E6car_type02engine_numberAD50EG081600062
        // formatjsonframe_numberLNBSCC3H8GF308384 + 密钥), empty values dropped, keys
        // sorted, `sign` itself left out.
        let params = [
            ("format", "json"),
            ("car_no", "粤AJ44E6"),
            ("appid", "1"),
            ("engine_number", "AD50EG081600062"),
            ("frame_number", "LNBSCC3H8GF308384"),
            ("car_type", "02"),
            ("callback", ""),
            ("sign", "ignored"),
        ];
        assert_eq!(
            md5_sorted_pairs_then_secret(&params, "SECRET"),
            "f30b1fb35cf1222703bb77cd817a4a5e"
        );
    }

    #[test]
    fn time_appid_secret_follows_seed_004() {
        // Seed 004 lines 7, 17, 18: md5(time + appid + 密钥) with time 1603872381 and
        // appid 1365; line 69's placeholder secret.
        assert_eq!(
            md5_time_appid_secret("1603872381", "1365", "s"),
            "f30bec15879dc86d73b9fc9727080281"
        );
        assert_eq!(
            md5_time_appid_secret("1603872381", "1365", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            "13d93eda0905a6ebd7d39ae064186ea2"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
