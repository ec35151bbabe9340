//! Logs: a tracing filter and a format (one readable line, or JSON, per event). Every event
//! of a request carries its request id, from the request's span.
//!
//! Lines are written by a thread of their own: a request hands its line over and goes on,
//! and the thread writes whatever lines are waiting in one `write`, as soon as it can (so
//! a line reaches the log within moments, and a busy server writes many lines a call rather
//! than one). Nothing is dropped: when the queue is full, the request waits for room. The
//! queue is flushed when the [`LogGuard`] is dropped, at the end of `main`.

use std::io::IsTerminal as _;

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
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

/// How many lines may wait for the writing thread before a request waits for room.
const QUEUED_LINES: usize = 64 * 1024;

/// Keeps the writing thread; dropping it writes what is queued and stops the thread.
#[derive(Debug)]
#[must_use = "lines still queued are lost when the guard is dropped early"]
pub struct LogGuard(#[allow(dead_code, reason = "held for its Drop")] WorkerGuard);

pub fn init(
    filter: &str,
    format: LogFormat,
    to: LogTo,
    access: tenantry_http::trace::AccessLog,
) -> Result<LogGuard, String> {
    tenantry_http::trace::set_access_log(access);
    // The full access log is the request's span, written as it closes; otherwise spans
    // write nothing of their own, and the access line is an event.
    let spans = match access {
        tenantry_http::trace::AccessLog::Full => FmtSpan::CLOSE,
        _ => FmtSpan::NONE,
    };
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("TENANTRY_LOG is not a valid tracing filter: {e}"))?;
    let lossless = |builder: NonBlockingBuilder| {
        builder
            .lossy(false)
            .buffered_lines_limit(QUEUED_LINES)
            .thread_name("tenantry-log")
    };
    let ((writer, guard), terminal) = match to {
        LogTo::Stdout => (
            lossless(NonBlockingBuilder::default()).finish(BufWriter::new(std::io::stdout())),
            std::io::stdout().is_terminal(),
        ),
        LogTo::Stderr => (
            lossless(NonBlockingBuilder::default()).finish(BufWriter::new(std::io::stderr())),
            std::io::stderr().is_terminal(),
        ),
    };
    let writer = BoxMakeWriter::new(writer);
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
    result
        .map(|()| LogGuard(guard))
        .map_err(|e| format!("could not set up logging: {e}"))
}
