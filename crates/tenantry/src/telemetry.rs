//! Logs: a tracing filter and a format (one readable line, or JSON, per event). Every event
//! of a request carries its request id, from the request's span.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::settings::LogFormat;

/// Where log lines go: the server logs to standard output; the other commands log to
/// standard error, keeping standard output for what they print (an export, a report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    Stdout,
    Stderr,
}

pub fn init(
    filter: &str,
    format: LogFormat,
    to: LogTo,
    access: tenantry_http::trace::AccessLog,
) -> Result<(), String> {
    tenantry_http::trace::set_access_log(access);
    // The full access log is the request's span, written as it closes; otherwise spans
    // write nothing of their own, and the access line is an event.
    let spans = match access {
        tenantry_http::trace::AccessLog::Full => FmtSpan::CLOSE,
        _ => FmtSpan::NONE,
    };
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("TENANTRY_LOG is not a valid tracing filter: {e}"))?;
    let (writer, terminal) = match to {
        LogTo::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
        LogTo::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(writer)
        .with_ansi(terminal);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|e| format!("could not set up logging: {e}"))
}
