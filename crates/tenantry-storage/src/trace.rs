//! The trace a change belongs to: the W3C trace id of the request that makes it, kept with
//! its event so that the event's webhooks continue the trace.

use std::future::Future;

tokio::task_local! {
    static TRACE_ID: Option<String>;
}

/// Runs `work` with `trace_id` as the trace of the changes it makes.
pub async fn scope<F: Future>(trace_id: Option<String>, work: F) -> F::Output {
    TRACE_ID.scope(trace_id, work).await
}

/// The trace of the change being made, if the work runs in a [`scope`] with one.
pub(crate) fn current() -> Option<String> {
    TRACE_ID.try_with(Clone::clone).ok().flatten()
}
