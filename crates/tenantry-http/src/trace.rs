//! W3C Trace Context: a request's `traceparent` names the trace it belongs to; its trace id
//! goes on every log line of the request (the root span's `trace_id`) and on the webhooks
//! the request's changes cause. A request without one (or with one that is malformed)
//! starts a new trace.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// A trace id: 16 bytes, written as 32 lower-case hex digits, never all zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    /// A new random trace id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok();
        bytes[0] |= 1; // never all zeros, even if the generator failed
        Self(hex(&bytes))
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

    /// A `traceparent` for a call made in this trace: a new span id, sampled.
    pub fn traceparent(&self) -> String {
        let mut span = [0u8; 8];
        getrandom::fill(&mut span).ok();
        span[0] |= 1;
        format!("00-{}-{}-01", self.0, hex(&span))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The root span of every request, with its `trace_id`; the id is also left in the
/// request's extensions for the changes the request makes.
#[derive(Debug)]
pub struct TracedRootSpan;

impl RootSpanBuilder for TracedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let trace_id = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceId::from_traceparent)
            .unwrap_or_else(TraceId::generate);
        let span = tracing_actix_web::root_span!(request);
        span.record("trace_id", trace_id.0.as_str());
        request.extensions_mut().insert(trace_id);
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

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
