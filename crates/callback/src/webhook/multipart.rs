//! `multipart/form-data` fields (RFC 7578), read the way PHP fills `$_POST` from them:
//! every part with a `name` and no `filename` is a field; file parts (PHP's `$_FILES`)
//! are skipped. Line breaks may be CRLF (the standard) or bare LF (some hand-rolled
//! clients); a body without its closing boundary is refused, since it was cut short.

/// Parses `body` delimited by `boundary`; at most `max_fields` fields.
pub fn parse(
    body: &[u8],
    boundary: &str,
    max_fields: usize,
) -> Result<Vec<(String, String)>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter: at the very start or after a line break (a preamble before it
    // is ignored).
    let mut pos = if body.starts_with(delimiter) {
        delimiter.len()
    } else {
        let at = find_delimiter(body, 0, delimiter)
            .ok_or("multipart body has no part (its boundary never appears)")?;
        at.end
    };
    let mut fields = Vec::new();
    loop {
        // After a delimiter: `--` ends the body; otherwise optional padding, a line break,
        // then the part.
        if body[pos..].starts_with(b"--") {
            return Ok(fields);
        }
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        pos = skip_line_break(body, pos)
            .ok_or("multipart boundary is not followed by a line break")?;
        let (headers, body_start) = split_headers(body, pos)?;
        let next = find_delimiter(body, body_start, delimiter)
            .ok_or("multipart body ends without its closing boundary (cut short?)")?;
        let content = &body[body_start..next.start];
        pos = next.end;
        let Some(disposition) = header(&headers, "content-disposition") else {
            return Err("a multipart part has no Content-Disposition".to_owned());
        };
        let (kind, params) = disposition_params(disposition);
        if !kind.eq_ignore_ascii_case("form-data") {
            continue;
        }
        if params
            .iter()
            .any(|(k, _)| k == "filename" || k == "filename*")
        {
            // A file upload: not a field.
            continue;
        }
        let Some(name) = params
            .into_iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v)
        else {
            return Err("a multipart part has no field name".to_owned());
        };
        if fields.len() >= max_fields {
            return Err(format!("more than {max_fields} fields"));
        }
        let value = String::from_utf8(content.to_vec())
            .map_err(|_| format!("field {name:?} is not UTF-8"))?;
        fields.push((name, value));
    }
}

/// Where a delimiter line was found: the line break before it starts the match (it
/// belongs to the delimiter, not to the preceding content).
struct Found {
    start: usize,
    end: usize,
}

fn find_delimiter(body: &[u8], from: usize, delimiter: &[u8]) -> Option<Found> {
    // A delimiter line is the delimiter followed by `--` (the close), padding or a line
    // break: "--bb" is not the delimiter "--b".
    let is_delimiter_at = |at: usize| {
        body[at..].starts_with(delimiter)
            && matches!(
                body.get(at + delimiter.len()),
                None | Some(b'-' | b'\r' | b'\n' | b' ' | b'\t')
            )
    };
    // An empty part whose sender put no line break between the headers' blank line and
    // the next delimiter.
    if is_delimiter_at(from) {
        return Some(Found {
            start: from,
            end: from + delimiter.len(),
        });
    }
    let mut i = from;
    while i < body.len() {
        let nl = i + body[i..].iter().position(|&b| b == b'\n')?;
        if is_delimiter_at(nl + 1) {
            // The line break before the delimiter belongs to it, not to the content.
            let start = if nl > from && body[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            return Some(Found {
                start,
                end: nl + 1 + delimiter.len(),
            });
        }
        i = nl + 1;
    }
    None
}

fn skip_line_break(body: &[u8], pos: usize) -> Option<usize> {
    if body[pos..].starts_with(b"\r\n") {
        Some(pos + 2)
    } else if body[pos..].starts_with(b"\n") {
        Some(pos + 1)
    } else {
        None
    }
}

/// The part's header lines and where its content starts (after the blank line).
fn split_headers(body: &[u8], mut pos: usize) -> Result<(Vec<(String, String)>, usize), String> {
    let mut headers = Vec::new();
    loop {
        let line_end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| pos + p)
            .ok_or("a multipart part's headers never end")?;
        let line = &body[pos..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = line_end + 1;
        if line.is_empty() {
            return Ok((headers, pos));
        }
        if headers.len() >= 16 {
            return Err("a multipart part has too many headers".to_owned());
        }
        let line = std::str::from_utf8(line).map_err(|_| "a multipart part header is not UTF-8")?;
        let (name, value) = line
            .split_once(':')
            .ok_or("a multipart part header has no colon")?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `form-data; name="a"; filename="b.txt"` as its kind and lower-cased parameter names
/// with their values (quoted strings unescaped).
fn disposition_params(value: &str) -> (&str, Vec<(String, String)>) {
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            out.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            value = out;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        params.push((name, value));
    }
    (kind.trim(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str, boundary: &str) -> Result<Vec<(String, String)>, String> {
        parse(body.as_bytes(), boundary, 100)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn what_curl_and_php_send() {
        // curl -F time=1603872381 -F 'response={"c_vin":"X"}' (CRLF, a preamble-free body).
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"time\"\r\n\r\n1603872381\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"response\"\r\n\
                    Content-Type: application/json\r\n\r\n{\"c_vin\":\"X\"}\r\n--XyZ--\r\n";
        assert_eq!(
            fields(body, "XyZ"),
            Ok(pairs(&[
                ("time", "1603872381"),
                ("response", r#"{"c_vin":"X"}"#)
            ]))
        );
    }

    #[test]
    fn files_are_skipped_and_empty_values_kept() {
        let body = "preamble\r\n--b\r\ncontent-disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\r\n\
                    file bytes\r\n--b\r\nContent-Disposition: form-data; name=empty\r\n\r\n\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"中文\"\r\n\r\n闽DD22222\r\n--b--";
        assert_eq!(
            fields(body, "b"),
            Ok(pairs(&[("empty", ""), ("中文", "闽DD22222")]))
        );
    }

    #[test]
    fn bare_line_feeds_and_values_spanning_lines() {
        let body = "--b\nContent-Disposition: form-data; name=\"a\"\n\nline 1\r\nline 2\n--b--\n";
        assert_eq!(fields(body, "b"), Ok(pairs(&[("a", "line 1\r\nline 2")])));
    }

    #[test]
    fn quoted_names_with_escapes_and_semicolons() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"a;\\\"b\\\"\"\r\n\r\nv\r\n--b--";
        assert_eq!(fields(body, "b"), Ok(pairs(&[("a;\"b\"", "v")])));
    }

    #[test]
    fn broken_bodies_are_refused_with_a_reason() {
        for (body, why) in [
            ("no boundary here", "never appears"),
            (
                "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ncut sh",
                "closing boundary",
            ),
            ("--b\r\nX-Other: 1\r\n\r\nv\r\n--b--", "Content-Disposition"),
            (
                "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",
                "no field name",
            ),
            ("--bX\r\n", "line break"),
            (
                "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n",
                "never end",
            ),
        ] {
            let err = fields(body, "b").expect_err(body);
            assert!(err.contains(why), "{body:?}: {err}");
        }
        let bad = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\xfe\r\n--b--";
        assert!(
            parse(bad, "b", 10)
                .expect_err("not UTF-8")
                .contains("\"a\"")
        );
        let many =
            "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n".repeat(3) + "--b--";
        assert!(
            parse(many.as_bytes(), "b", 2)
                .expect_err("limit")
                .contains("more than 2")
        );
    }

    #[test]
    fn only_the_exact_delimiter_ends_a_part() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--bb\r\n-b\r\ny\r\n--b--";
        assert_eq!(
            fields(body, "b"),
            Ok(pairs(&[("a", "x\r\n--bb\r\n-b\r\ny")]))
        );
        // No line break between the blank line and the next delimiter: an empty value.
        let body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--b--";
        assert_eq!(fields(body, "b"), Ok(pairs(&[("a", "")])));
    }
}
