//! The sandbox's own implementation of the vendors' md5 signature schemes, written from
//! the seeds and deliberately not shared with the connectors: if both sides used one
//! implementation, a bug in it would sign and verify alike and pass every test. Each
//! scheme is tested below against its seed's worked example, with expected digests
//! computed outside Rust.

use md5::{Digest, Md5};

/// Lower-case hex md5, the form the vendors' PHP `md5()` returns.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(bytes);
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// PHP's `http_build_query` on a flat array with its default encoding (`urlencode`,
/// PHP_QUERY_RFC1738): pairs in order, `A-Z a-z 0-9 - _ .` kept, space as `+`, every
/// other byte of the UTF-8 text as upper-case `%XX` (`~` and `*` included, unlike
/// `rawurlencode` or the WHATWG form encoder). The platform's callbacks are built with it.
pub(crate) fn http_build_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        php_urlencode(&mut out, k.as_ref());
        out.push('=');
        php_urlencode(&mut out, v.as_ref());
    }
    out
}

fn php_urlencode(out: &mut String, s: &str) {
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

/// Seed 001 (connapi): `md5($get_post_data . $sk)`, where `$get_post_data` is the
/// `http_build_query` text the client sends, so the signed text is the raw query (GET)
/// or raw body (POST) exactly as it arrived.
pub(crate) fn query_then_secret(sent_text: &str, secret: &str) -> String {
    md5_hex(format!("{sent_text}{secret}").as_bytes())
}

/// Seed 003's text to sign: the parameters as PHP's `$_REQUEST` holds them (a later
/// duplicate replaces an earlier one), `sign` itself left out, sorted by name (`ksort`;
/// byte order, which is PHP's order for the platform's non-numeric names), empty values
/// left out (空值不参与加密), each name immediately followed by its value.
pub(crate) fn sorted_pairs_text(pairs: &[(&str, &str)]) -> String {
    let mut latest: std::collections::BTreeMap<&[u8], (&str, &str)> =
        std::collections::BTreeMap::new();
    for &(k, v) in pairs {
        if k != "sign" {
            latest.insert(k.as_bytes(), (k, v));
        }
    }
    let mut text = String::new();
    for (k, v) in latest.into_values().filter(|(_, v)| !v.is_empty()) {
        text.push_str(k);
        text.push_str(v);
    }
    text
}

/// Seed 003 (MD5 mode): `md5(k1v1k2v2… . secret)`, the secret appended without a name.
pub(crate) fn sorted_pairs_then_secret(pairs: &[(&str, &str)], secret: &str) -> String {
    md5_hex(format!("{}{secret}", sorted_pairs_text(pairs)).as_bytes())
}

/// Seed 004 (callbacks): `md5($_POST['time'] . $_POST['appid'] . $secret)`; nothing else
/// is signed.
pub(crate) fn time_appid_secret(time: &str, appid: &str, secret: &str) -> String {
    md5_hex(format!("{time}{appid}{secret}").as_bytes())
}

/// Whether a client's hex signature equals the expected lower-case one. Hex case is
/// ignored (the same digest either way), surrounding whitespace too.
pub(crate) fn sign_matches(given: &str, expected: &str) -> bool {
    same_bytes(
        given.trim().to_ascii_lowercase().as_bytes(),
        expected.as_bytes(),
    )
}

/// Seed 003's Hash mode (使用Hash验证方式,直接跟上密钥即可): the `sign` parameter is the
/// secret itself. Compared exactly: a secret is not hex, so case matters.
pub(crate) fn secret_matches(given: &str, secret: &str) -> bool {
    same_bytes(given.as_bytes(), secret.as_bytes())
}

/// Equality in time that depends only on the lengths, so a forger learns nothing byte by
/// byte.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_hex_matches_known_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        // md5 of the UTF-8 bytes, as PHP hashes its (UTF-8) strings.
        assert_eq!(md5_hex("粤".as_bytes()), "e8394793135bc69dceda57c457bd0dad");
    }

    #[test]
    fn http_build_query_encodes_like_php_urlencode() {
        assert_eq!(
            http_build_query(&[("key", "a b"), ("vin", "WP0AA2978BL012976"), ("x", "粤A~*")]),
            "key=a+b&vin=WP0AA2978BL012976&x=%E7%B2%A4A%7E%2A"
        );
        assert_eq!(http_build_query::<&str, &str>(&[]), "");
        assert_eq!(http_build_query(&[("a", "")]), "a=");
    }

    /// Seed 001, lines 477-513: the PHP demo signs `http_build_query(['key' => $API_KEY,
    /// '参数名' => '参数值'])` with `$sk = '56777ab62ff752fbd57ab7228fc2fc43'` as
    /// `md5($get_post_data . $sk)`. Digest computed with Python's urlencode + hashlib.
    #[test]
    fn seed_001_demo_signature() {
        let query = http_build_query(&[
            ("key", "你的接口密钥,登录控制台后在密钥管理页面申请"),
            ("参数名", "参数值"),
        ]);
        assert_eq!(
            query,
            "key=%E4%BD%A0%E7%9A%84%E6%8E%A5%E5%8F%A3%E5%AF%86%E9%92%A5%2C%E7%99%BB%E5%BD%95\
             %E6%8E%A7%E5%88%B6%E5%8F%B0%E5%90%8E%E5%9C%A8%E5%AF%86%E9%92%A5%E7%AE%A1%E7%90%86\
             %E9%A1%B5%E9%9D%A2%E7%94%B3%E8%AF%B7&%E5%8F%82%E6%95%B0%E5%90%8D=%E5%8F%82%E6%95%B0%E5%80%BC"
        );
        assert_eq!(
            query_then_secret(&query, "56777ab62ff752fbd57ab7228fc2fc43"),
            "96f071dd52fd066234a52d35588ad67d"
        );
    }

    /// Seed 003, line 50: `sign = MD5( appid1car_no粤AJ44E6car_type02engine_number
    /// AD50EG081600062formatjsonframe_numberLNBSCC3H8GF308384密钥)`, line 52: empty values
    /// take no part. The parameters are given shuffled, with an empty one, a duplicate
    /// and the `sign` itself.
    #[test]
    fn seed_003_worked_order() {
        let params = [
            ("format", "json"),
            ("car_no", "粤AJ44E6"),
            ("appid", "9"),
            ("engine_number", "AD50EG081600062"),
            ("frame_number", "LNBSCC3H8GF308384"),
            ("callback", ""),
            ("car_type", "02"),
            ("sign", "52a32be274a5c537bbf7a53e2d66c09f"),
            ("appid", "1"),
        ];
        assert_eq!(
            sorted_pairs_text(&params),
            "appid1car_no粤AJ44E6car_type02engine_numberAD50EG081600062formatjsonframe_numberLNBSCC3H8GF308384"
        );
        assert_eq!(
            sorted_pairs_then_secret(&params, "sandbox-platecb-secret"),
            "99885a227735cc5f7d52ad49fb5adcfa"
        );
    }

    /// Seed 003's MD5 mode with the sandbox's default apistore secret: the worked
    /// example as written, with the `time` the PHP demo adds, and with an empty engine
    /// number (left out) and a last-six frame number. Digests from `md5sum` over the
    /// text the seed describes.
    #[test]
    fn seed_003_md5_mode_vectors() {
        const SECRET: &str = "sandbox-apistore-secret";
        let example = [
            ("appid", "1"),
            ("car_no", "粤AJ44E6"),
            ("car_type", "02"),
            ("engine_number", "AD50EG081600062"),
            ("format", "json"),
            ("frame_number", "LNBSCC3H8GF308384"),
        ];
        assert_eq!(
            sorted_pairs_then_secret(&example, SECRET),
            "cc83d4b82d29d6c8947c0e04c522b95d"
        );
        let mut timed = example.to_vec();
        timed.push(("time", "1557294956"));
        assert_eq!(
            sorted_pairs_then_secret(&timed, SECRET),
            "05edfbb59c9fe3a365a320c8ffe6f034"
        );
        let short = [
            ("time", "1557294956"),
            ("frame_number", "308384"),
            ("engine_number", ""),
            ("format", "json"),
            ("car_type", "02"),
            ("car_no", "粤AJ44E6"),
            ("appid", "1"),
        ];
        assert_eq!(
            sorted_pairs_then_secret(&short, SECRET),
            "591a85caedb2384b1409c96cc9c95201"
        );
    }

    /// Seed 003's Hash mode: the sign is the secret, byte for byte.
    #[test]
    fn seed_003_hash_mode() {
        assert!(secret_matches(
            "sandbox-apistore-hash-secret",
            "sandbox-apistore-hash-secret"
        ));
        assert!(!secret_matches(
            "SANDBOX-APISTORE-HASH-SECRET",
            "sandbox-apistore-hash-secret"
        ));
        assert!(!secret_matches(
            "sandbox-apistore-hash-secret ",
            "sandbox-apistore-hash-secret"
        ));
        assert!(!secret_matches("", "sandbox-apistore-hash-secret"));
        assert!(!secret_matches(
            &md5_hex(b"sandbox-apistore-hash-secret"),
            "sandbox-apistore-hash-secret"
        ));
    }

    /// Seed 004, line 7 `md5(time+appid+密钥)` and line 71 `md5($_POST['time'].
    /// $_POST['appid'].$secret)`, with the document's own values: time 1603872381 (line
    /// 17), appid 1365 (line 18) and the PHP demo's `$secret` (line 69).
    #[test]
    fn seed_004_callback_signature() {
        assert_eq!(
            time_appid_secret("1603872381", "1365", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            "13d93eda0905a6ebd7d39ae064186ea2"
        );
    }

    #[test]
    fn sign_comparison_ignores_hex_case_only() {
        let good = md5_hex(b"abc");
        assert!(sign_matches(&good, &good));
        assert!(sign_matches(&good.to_ascii_uppercase(), &good));
        assert!(sign_matches(&format!(" {good}\t"), &good));
        assert!(!sign_matches(&good[..31], &good));
        assert!(!sign_matches(&format!("{good}0"), &good));
        assert!(!sign_matches(&md5_hex(b"abd"), &good));
        assert!(!sign_matches("", &good));
    }
}
