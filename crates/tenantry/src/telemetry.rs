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
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::format::{Format, FormatEvent, FormatFields, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::registry::LookupSpan;

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
        LogFormat::Pretty => builder.event_format(TextFormat::new(SystemTime)).try_init(),
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

/// The readable format, with one shortcut: the access line is written as it is.
///
/// The default format escapes every message character by character (so that a value from
/// a request cannot smuggle a terminal control sequence into the log), which was most of
/// the cost of the line every request writes. The access line holds nothing that needs it
/// ([`tenantry_http::trace::ACCESS_TARGET`] says why), so it is written directly, in exactly
/// the form the default format gives it (a test compares the two). Every other event, and
/// every event when colours are on, is the default format's.
struct TextFormat<T> {
    timer: T,
    default: Format<Full, T>,
}

impl<T: FormatTime + Clone> TextFormat<T> {
    fn new(timer: T) -> Self {
        Self {
            default: Format::default().with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for TextFormat<T>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        // Written without a parent, so no span of the request prefixes it.
        if meta.target() != tenantry_http::trace::ACCESS_TARGET
            || !event.is_root()
            || writer.has_ansi_escapes()
        {
            return self.default.format_event(ctx, writer, event);
        }
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        let level = match *meta.level() {
            tracing::Level::ERROR => "ERROR",
            tracing::Level::WARN => " WARN",
            tracing::Level::INFO => " INFO",
            tracing::Level::DEBUG => "DEBUG",
            tracing::Level::TRACE => "TRACE",
        };
        write!(writer, " {level} {}: ", meta.target())?;
        let mut message = Message {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut message);
        message.result?;
        writeln!(writer)
    }
}

/// Writes an event's message as it is.
struct Message<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: std::fmt::Result,
}

impl tracing::field::Visit for Message<'_, '_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && self.result.is_ok() {
            // A message's `Arguments` write as their `Display`.
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// The same time on every line.
    #[derive(Clone)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            w.write_str("2026-12-04T12:00:00.000000Z")
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// What `log` writes through a subscriber with the given event format.
    fn written<F>(format: F, log: fn()) -> String
    where
        F: FormatEvent<
                tracing_subscriber::Registry,
                tracing_subscriber::fmt::format::DefaultFields,
            > + Send
            + Sync
            + 'static,
    {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_access_line_reads_as_the_default_format_writes_it() {
        let logs: [fn(); 4] = [
            || {
                let (method, route, status, ms) = ("GET", "/v1/organizations/{id}", 200, 0.25);
                tracing::info!(target: tenantry_http::trace::ACCESS_TARGET, parent: None, "{method} {route} {status} {ms:.1}ms request_id=0193 trace_id=4bf9");
            },
            || tracing::warn!(target: tenantry_http::trace::ACCESS_TARGET, parent: None, "PATCH /organization/{{organization_id}} 200 1500.0ms request_id= trace_id= (slow)"),
            || tracing::error!(target: tenantry_http::trace::ACCESS_TARGET, parent: None, "POST unmatched 500 3.1ms"),
            // Inside a request's span, as every other event of a request is: the default's.
            || {
                let span = tracing::info_span!("request", request_id = "0193", trace_id = "4bf9");
                let _entered = span.enter();
                tracing::info!(target: tenantry_http::trace::ACCESS_TARGET, "GET /healthz 200 0.1ms");
                tracing::warn!(user = "\u{1b}[31m", "not an access line: {}", "\u{1b}[2J");
            },
        ];
        for log in logs {
            let ours = written(TextFormat::new(Fixed), log);
            let default = written(Format::default().with_timer(Fixed), log);
            assert!(!ours.is_empty());
            assert_eq!(ours, default);
        }
    }

    #[test]
    fn the_access_line_takes_the_shortcut() {
        // Nothing the server writes there needs escaping; this shows the line skips it.
        let log =
            || tracing::info!(target: tenantry_http::trace::ACCESS_TARGET, parent: None, "\u{1b}");
        assert!(written(TextFormat::new(Fixed), log).contains('\u{1b}'));
        assert!(!written(Format::default().with_timer(Fixed), log).contains('\u{1b}'));
    }

    #[test]
    fn other_events_are_still_escaped() {
        let line = written(TextFormat::new(Fixed), || {
            tracing::warn!(target: "tenantry::other", "a value: {}", "\u{1b}[2J");
        });
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
}
