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
/// The same characters the normalisers drop, so the two cannot drift apart.
pub fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if domain::text::is_control_or_invisible(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An error with its causes, "outermost: cause: root cause", as a terminal may show it.
/// A cause that only repeats the text of the one before is left out: tonic's
/// `ConnectError` displays its source's text and then reports that source as its cause,
/// which printed "tcp connect error: tcp connect error".
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
    }
    safe_lines(&parts.join(": "))
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
mod safe_tests {
    /// An error that shows its source's text and also reports it as its source, as
    /// tonic's `ConnectError` does.
    #[derive(Debug)]
    struct Echo(std::io::Error);

    impl std::fmt::Display for Echo {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl std::error::Error for Echo {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error");
        let e = anyhow::Error::new(Echo(refused))
            .context("cannot reach vin-service at http://127.0.0.1:1");
        assert_eq!(
            super::error_chain(&e),
            "cannot reach vin-service at http://127.0.0.1:1: tcp connect error"
        );
        // Different texts all stay, and the server's text is shown escaped.
        let e = anyhow::anyhow!("Unavailable: \u{1b}[2J").context("calling vin-service");
        assert_eq!(
            super::error_chain(&e),
            "calling vin-service: Unavailable: \\u{1b}[2J"
        );
    }

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
