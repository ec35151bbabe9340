//! W3C Trace Context: a request's `traceparent` names the trace it belongs to; its trace id
//! goes on every log line of the request (the root span's `trace_id`) and on the webhooks
//! the request's changes cause. A request without one (or with one that is malformed)
//! starts a new trace.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// A trace id: 16 bytes, written as 32 lower-case hex digits, never all zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    /// A new random trace id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok();
        bytes[0] |= 1; // never all zeros, even if the generator failed
        Self(format!("{:032x}", u128::from_be_bytes(bytes)))
    }

    /// The trace id of a `traceparent` header, if it is well formed: `version-traceid-
    /// parentid-flags`, version `00` exactly so, a later version at least so (its extra
    /// fields ignored), ids not all zeros, version `ff` refused.
    pub fn from_traceparent(value: &str) -> Option<Self> {
        let fields: Vec<&str> = value.trim().split('-').collect();
        let [version, trace_id, parent_id, flags, rest @ ..] = fields.as_slice() else {
            return None;
        };
        let is_hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let valid = is_hex(version, 2)
            && *version != "ff"
            && (rest.is_empty() || *version != "00")
            && is_hex(trace_id, 32)
            && trace_id.bytes().any(|b| b != b'0')
            && is_hex(parent_id, 16)
            && parent_id.bytes().any(|b| b != b'0')
            && is_hex(flags, 2);
        valid.then(|| Self((*trace_id).to_owned()))
    }

    /// The trace id of a request that names none: its request id's bytes (a random UUID,
    /// version 4, so never all zeros), the same hex digits without the dashes.
    pub fn from_request_id(id: &RequestId) -> Self {
        Self(id.simple().to_string())
    }

    /// A `traceparent` for a call made in this trace: a new span id, sampled.
    pub fn traceparent(&self) -> String {
        let mut span = [0u8; 8];
        getrandom::fill(&mut span).ok();
        span[0] |= 1;
        format!("00-{}-{:016x}-01", self.0, u64::from_be_bytes(span))
    }
}

/// What is logged of each request. Whatever the choice, a request answered 5xx is logged
/// as an error, one slower than [`SLOW_REQUEST`] as a warning, and one refused with 4xx at
/// info, each as one short line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLog {
    /// One short line per request: method, route template, status, duration, request and
    /// trace ids (about 190 bytes).
    #[default]
    Compact,
    /// The request's span as it closes, with every field (about 500 bytes).
    Full,
    /// Only the refused, failed and slow requests.
    Off,
}

/// The target of the access line. Its message is made of a method (token characters, as
/// the HTTP parser admits them), a route template (one of ours, or `unmatched`), numbers
/// and hex ids: nothing a terminal would take as a control sequence, which lets the text
/// log write it as it is (see the binary's `telemetry.rs`).
pub const ACCESS_TARGET: &str = "tenantry::access";

/// A request that takes longer is logged as a warning, whatever the access log.
pub const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

static ACCESS_LOG: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Chooses the access log, for the whole process (set once, at start).
pub fn set_access_log(access: AccessLog) {
    let value = match access {
        AccessLog::Compact => 0,
        AccessLog::Full => 1,
        AccessLog::Off => 2,
    };
    ACCESS_LOG.store(value, std::sync::atomic::Ordering::Relaxed);
}

fn access_log() -> AccessLog {
    match ACCESS_LOG.load(std::sync::atomic::Ordering::Relaxed) {
        1 => AccessLog::Full,
        2 => AccessLog::Off,
        _ => AccessLog::Compact,
    }
}

/// When the request began, for its access line.
#[derive(Debug, Clone, Copy)]
struct Started(std::time::Instant);

/// Writes a request's access line, as [`AccessLog`] says.
fn access_line<B>(response: &ServiceResponse<B>) {
    let access = access_log();
    let status = response.status().as_u16();
    let request = response.request();
    let elapsed = request
        .extensions()
        .get::<Started>()
        .map(|started| started.0.elapsed())
        .unwrap_or_default();
    let slow = elapsed >= SLOW_REQUEST;
    let noteworthy = status >= 400 || slow;
    if access == AccessLog::Full || (access == AccessLog::Off && !noteworthy) {
        return;
    }
    let method = request.method().as_str();
    let route = route_of(request);
    let extensions = request.extensions();
    let id = extensions
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let trace = extensions.get::<TraceId>().map_or("", |t| t.0.as_str());
    let ms = elapsed.as_secs_f64() * 1_000.0;
    // Without a parent, so that the line is this and not the request span's every field.
    if status >= 500 {
        tracing::error!(target: ACCESS_TARGET, parent: None, "{method} {route} {status} {ms:.1}ms request_id={id} trace_id={trace}");
    } else if slow {
        tracing::warn!(target: ACCESS_TARGET, parent: None, "{method} {route} {status} {ms:.1}ms request_id={id} trace_id={trace} (slow)");
    } else {
        tracing::info!(target: ACCESS_TARGET, parent: None, "{method} {route} {status} {ms:.1}ms request_id={id} trace_id={trace}");
    }
}

/// The root span of every request, with its `trace_id`; the id is also left in the
/// request's extensions for the changes the request makes.
#[derive(Debug)]
pub struct TracedRootSpan;

impl RootSpanBuilder for TracedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        // A request that names no trace starts one, named by its request id's random bits
        // (which saves drawing sixteen more).
        let trace_id = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceId::from_traceparent)
            .or_else(|| request_id.map(|id| TraceId::from_request_id(&id)))
            .unwrap_or_else(TraceId::generate);
        let span = if access_log() == AccessLog::Full {
            // Every field, for the line the span writes as it closes.
            let span = tracing_actix_web::root_span!(request);
            span.record("trace_id", trace_id.0.as_str());
            span
        } else {
            // The fields every event of the request carries; the access line says the rest.
            // Recorded as displayed, unquoted as the access line writes them (a quoted
            // string is escaped one character at a time; hex digits and dashes need none).
            let request_id = request_id.map(|id| id.to_string()).unwrap_or_default();
            tracing::info_span!(
                "request",
                request_id = %request_id,
                trace_id = %trace_id.0
            )
        };
        request.extensions_mut().insert(trace_id);
        request
            .extensions_mut()
            .insert(Started(std::time::Instant::now()));
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        if let Ok(response) = outcome {
            access_line(response);
        }
        // The status and error fields are for the span's own line, which only the full
        // access log writes.
        if access_log() == AccessLog::Full {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}

/// The route template a request matched (`/organization/{organization_id}`), found once per
/// request and kept in its extensions; `unmatched` if none did. Never the path: no id
/// becomes a label or a log field.
pub(crate) fn route_of(request: &actix_web::HttpRequest) -> std::rc::Rc<str> {
    if let Some(route) = request.extensions().get::<MatchedRoute>() {
        return route.0.clone();
    }
    let route: std::rc::Rc<str> = request
        .match_pattern()
        .map_or_else(|| "unmatched".into(), Into::into);
    request.extensions_mut().insert(MatchedRoute(route.clone()));
    route
}

#[derive(Debug, Clone)]
struct MatchedRoute(std::rc::Rc<str>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_read_as_the_specification_says() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            TraceId::from_traceparent(&format!("00-{id}-00f067aa0ba902b7-01")),
            Some(TraceId(id.into()))
        );
        // A later version may carry more.
        assert!(TraceId::from_traceparent(&format!("01-{id}-00f067aa0ba902b7-01-extra")).is_some());
        for bad in [
            format!("00-{id}-00f067aa0ba902b7-01-extra"),
            format!("ff-{id}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{id}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
            "00-abc-def-01".into(),
            String::new(),
        ] {
            assert_eq!(TraceId::from_traceparent(&bad), None, "{bad}");
        }
        let made = TraceId::generate();
        let header = made.traceparent();
        assert_eq!(TraceId::from_traceparent(&header), Some(made));
    }
}
