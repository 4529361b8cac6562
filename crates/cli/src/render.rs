//! `--json` output: the canonical proto3 JSON mapping (what grpcurl prints), produced from
//! the same descriptor set the servers publish through reflection, so the CLI's JSON and
//! every other gRPC tool's JSON are the same document.

use std::sync::LazyLock;

use anyhow::Context as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(contracts::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
});

/// Renders `msg` (of proto type `full_name`, e.g. `axle.vin.v1.ValidateVinResponse`) as
/// pretty proto3 JSON, leaving out fields at their default value.
pub fn to_json<M: prost::Message>(msg: &M, full_name: &str) -> anyhow::Result<String> {
    let pool = POOL
        .as_ref()
        .map_err(|e| anyhow::anyhow!("embedded descriptor set is unreadable: {e}"))?;
    let descriptor = pool
        .get_message_by_name(full_name)
        .with_context(|| format!("message type {full_name} is not in the descriptor set"))?;
    let dynamic = DynamicMessage::decode(descriptor, msg.encode_to_vec().as_slice())
        .context("re-decoding the response for JSON output")?;
    let mut out = serde_json::Serializer::pretty(Vec::new());
    dynamic
        .serialize_with_options(&mut out, &SerializeOptions::new().skip_default_fields(true))
        .context("serialising the response as JSON")?;
    String::from_utf8(out.into_inner()).context("JSON output is not UTF-8")
}

/// A whole readable answer as a terminal may show it: like [`safe`], keeping the line
/// breaks the layout is made of.
pub fn safe_lines(text: &str) -> String {
    text.split('\n').map(safe).collect::<Vec<_>>().join("\n")
}

/// Text from the server as a terminal may show it: control and invisible characters (an
/// escape sequence pasted into a VIN would otherwise act on the terminal) as `\u{..}`.
pub fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || domain_invisible(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn domain_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// An error and its causes on one line, `outer: cause: root cause`, as anyhow's `{:#}`
/// but without the repeats some wrappers produce: tonic's connect error prints its cause
/// and also returns it as its source, so the chain read "tcp connect error: tcp connect
/// error: Connection refused".
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous: Option<String> = None;
    for link in e.chain() {
        let text = link.to_string();
        if previous.as_deref() == Some(text.as_str()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        previous = Some(text);
    }
    out
}

/// Writes `text` to standard output. A reader that has gone away (`axle ... | head`) is
/// not an error: Rust ignores SIGPIPE, so `println!` would panic there instead.
pub fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod error_chain_tests {
    #[derive(Debug)]
    struct Repeats(std::io::Error);

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Display::fmt(&self.0, f)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_printed_by_its_wrapper_appears_once() {
        let e = anyhow::Error::new(Repeats(std::io::Error::other("tcp connect error")))
            .context("cannot reach vin-service");
        assert_eq!(
            super::error_chain(&e),
            "cannot reach vin-service: tcp connect error"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_says_tcp_connect_error_once() {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let e = crate::vin::channel(&format!("127.0.0.1:{port}"), "vin-service")
            .await
            .expect_err("refused");
        let text = super::error_chain(&e);
        assert_eq!(text.matches("tcp connect error").count(), 1, "{text}");
        assert!(text.starts_with("cannot reach vin-service"), "{text}");
    }
}

#[cfg(test)]
mod safe_tests {
    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(super::safe("\u{1b}]0;x\u{7}LSV"), "\\u{1b}]0;x\\u{7}LSV");
        assert_eq!(super::safe("粤B12345"), "粤B12345");
        assert_eq!(
            super::safe_lines("a\u{1b}\nb\u{202e}"),
            "a\\u{1b}\nb\\u{202e}"
        );
    }
}
