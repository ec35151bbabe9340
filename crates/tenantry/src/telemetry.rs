//! Logs: a tracing filter and a format (one readable line, or JSON, per event). Every event
//! of a request carries its request id, from the request's span.
//!
//! Lines are written by a thread of their own (`log_writer.rs`): a request appends
//! its line to a buffer and goes on, and the thread writes whatever lines are waiting in
//! one `write` every few milliseconds. Nothing is dropped: when the buffer is full, the
//! request waits for room. The buffer is written out when the [`LogGuard`] is dropped, at
//! the end of `main`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::format::{Format, FormatEvent, FormatFields, Full, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::registry::LookupSpan;

use crate::log_writer::{Flusher, batched};
use crate::settings::LogFormat;

/// Where log lines go: the server logs to standard output; the other commands log to
/// standard error, keeping standard output for what they print (an export, a report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    Stdout,
    Stderr,
}

/// Keeps the writing thread; dropping it writes what is buffered and stops the thread.
#[derive(Debug)]
#[must_use = "lines still buffered are lost when the guard is dropped early"]
pub struct LogGuard(#[allow(dead_code, reason = "held for its Drop")] Flusher);

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
    let thread = "tenantry-log";
    let (batch, terminal) = match to {
        LogTo::Stdout => (
            batched(std::io::stdout(), thread),
            std::io::stdout().is_terminal(),
        ),
        LogTo::Stderr => (
            batched(std::io::stderr(), thread),
            std::io::stderr().is_terminal(),
        ),
    };
    let (writer, guard) = batch.map_err(|e| format!("could not start the log's thread: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_timer(Timestamp)
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(writer)
        .with_ansi(terminal);
    let result = match format {
        LogFormat::Pretty => builder.event_format(TextFormat::new(Timestamp)).try_init(),
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

/// When a line was written, exactly as tracing-subscriber's `SystemTime` spells it (UTC,
/// microseconds: `2026-12-04T23:49:18.851549Z`), with the date and time of day written once
/// per second and thread rather than formatted field by field on every line.
#[derive(Debug, Clone, Copy, Default)]
struct Timestamp;

/// `YYYY-MM-DDTHH:MM:SS` of a second since the Unix epoch, if its year has four digits.
/// Made once a second per thread, so its cost does not matter.
fn second_text(seconds: u64) -> Option<[u8; 19]> {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    if !(0..=9999).contains(&at.year()) {
        return None;
    }
    let text = at
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .ok()?;
    text.as_bytes().try_into().ok()
}

/// Writes `seconds` and `micros` since the Unix epoch as [`Timestamp`] does; `None` for a
/// year of more than four digits, which this does not write.
fn write_time(w: &mut impl std::fmt::Write, seconds: u64, micros: u32) -> Option<std::fmt::Result> {
    thread_local! {
        static LAST: std::cell::Cell<Option<(u64, [u8; 19])>> = const { std::cell::Cell::new(None) };
    }
    let text = match LAST.get() {
        Some((second, text)) if second == seconds => text,
        _ => {
            let text = second_text(seconds)?;
            LAST.set(Some((seconds, text)));
            text
        }
    };
    let mut fraction = [b'.', 0, 0, 0, 0, 0, 0, b'Z'];
    let mut micros = micros.min(999_999);
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    // Both are ASCII digits and separators.
    let (text, fraction) = (
        std::str::from_utf8(&text).unwrap_or_default(),
        std::str::from_utf8(&fraction).unwrap_or_default(),
    );
    Some(w.write_str(text).and_then(|()| w.write_str(fraction)))
}

impl FormatTime for Timestamp {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = std::time::SystemTime::now();
        let written = now
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|since| write_time(w, since.as_secs(), since.subsec_micros()));
        // A clock before 1970 or past 9999: as tracing-subscriber writes it.
        written.unwrap_or_else(|| tracing_subscriber::fmt::time::SystemTime.format_time(w))
    }
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
    fn times_are_written_as_tracing_subscriber_writes_them() {
        let description = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        for (seconds, micros) in [
            (0, 0),
            (951_782_400, 5),           // 2000-02-29, a leap day
            (1_796_428_800, 999_999),   // 2026-12-05T00:00:00, its last microsecond
            (1_796_428_800, 1_000),     // the same second again, from this thread's copy
            (1_796_428_861, 120_000),   // a minute and a second later
            (253_402_300_799, 999_999), // 9999-12-31T23:59:59
        ] {
            let mut ours = String::new();
            write_time(&mut ours, seconds, micros).unwrap().unwrap();
            let at = time::OffsetDateTime::from_unix_timestamp(seconds as i64).unwrap()
                + time::Duration::microseconds(i64::from(micros));
            assert_eq!(
                ours,
                at.format(&description).unwrap(),
                "{seconds}.{micros:06}"
            );
        }
        // Past 9999, tracing-subscriber's clock writes it.
        assert!(write_time(&mut String::new(), 253_402_300_800, 7).is_none());
        // And now, against tracing-subscriber's own clock (again if a second passed between).
        let second = |line: &str| line.get(..19).map(str::to_owned);
        let matched = (0..3).any(|_| {
            let ours = written(TextFormat::new(Timestamp), || tracing::info!("now"));
            let theirs = written(
                Format::default().with_timer(tracing_subscriber::fmt::time::SystemTime),
                || tracing::info!("now"),
            );
            ours.len() == theirs.len() && second(&ours) == second(&theirs)
        });
        assert!(matched);
    }

    #[test]
    fn other_events_are_still_escaped() {
        let line = written(TextFormat::new(Fixed), || {
            tracing::warn!(target: "tenantry::other", "a value: {}", "\u{1b}[2J");
        });
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
}
