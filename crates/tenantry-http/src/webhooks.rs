//! Sending webhooks: the worker every `tenantry serve` runs. It makes the deliveries of new
//! events, claims the due ones, signs each as the Standard Webhooks specification says and
//! sends it, and records what the endpoint answered.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tenantry_domain::{WebhookHost, WebhookSecret, is_public_address, retry_after};
use tenantry_storage::{ClaimedDelivery, DeliveryOutcome, Store};
use time::OffsetDateTime;

use crate::destinations::{CheckedResolver, refused_address};
use crate::management::EventView;
pub use crate::state::WebhookOptions;
use crate::trace::TraceId;

/// Events a dispatch takes at most.
const DISPATCH_BATCH: u64 = 1_000;
/// Deliveries claimed at once.
const CLAIM_BATCH: u64 = 256;
/// How long a busy worker gathers finished deliveries before recording them and claiming
/// more, when fewer than half its slots are free.
const GATHER_FOR: Duration = Duration::from_millis(10);
/// How much of an endpoint's answer is read, at most.
const RESPONSE_READ_MAX: usize = 64 * 1024;
/// How much of it is kept, to show in the delivery.
const EXCERPT_CHARS: usize = 200;

/// One delivery sent, and how it went: recorded by the worker, with the others that
/// finished about the same time.
type Finished = (ClaimedDelivery, DeliveryOutcome);

/// Runs the worker for as long as the process does. Sending is pipelined: up to
/// `concurrency` deliveries are in flight, and the worker claims more as slots free, so a
/// slow endpoint holds one slot, not the others' deliveries. While more is due, it waits
/// (up to 10 ms, `GATHER_FOR`) for half the slots to free before claiming again, so that each
/// claim, and each record of what the endpoints answered, covers many deliveries rather
/// than one.
pub async fn run(store: Store, options: WebhookOptions) {
    let client = match client(&options) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make the webhook client; webhooks are not sent");
            return;
        }
    };
    let options = Arc::new(options);
    let mut in_flight = tokio::task::JoinSet::new();
    let mut finished: Vec<Finished> = Vec::new();
    let mut reported = false;
    loop {
        while let Some(done) = in_flight.try_join_next() {
            finished.extend(done.ok());
        }
        record(&store, &mut finished).await;
        let busy = match round(&store, &client, &options, &mut in_flight).await {
            Ok(busy) => {
                reported = false;
                busy
            }
            Err(error) => {
                if !reported {
                    tracing::warn!(%error, "webhook worker: the database failed; retrying");
                    reported = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if busy {
            // More is due: wait for a slot, then for enough of them to be worth a claim,
            // but not long, so a finished delivery is soon recorded (its organization's
            // next one waits for that).
            let refill_at = options.concurrency / 2;
            if in_flight.len() > refill_at
                && let Some(done) = in_flight.join_next().await
            {
                finished.extend(done.ok());
                let until = tokio::time::Instant::now() + GATHER_FOR;
                while in_flight.len() > refill_at {
                    match tokio::time::timeout_at(until, in_flight.join_next()).await {
                        Ok(Some(done)) => finished.extend(done.ok()),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            continue;
        }
        // Nothing more now: look again after the poll interval, or as soon as a delivery
        // finishes (its organization's next one may be due).
        tokio::select! {
            _ = tokio::time::sleep(options.idle_poll) => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                finished.extend(done.ok());
            }
        }
    }
}

/// Records what the endpoints answered to the deliveries that finished, and lets them go.
async fn record(store: &Store, finished: &mut Vec<Finished>) {
    if finished.is_empty() {
        return;
    }
    if let Err(error) = store
        .finish_deliveries(finished, crate::common::now())
        .await
    {
        // Their leases run out and they are sent again: at least once.
        tracing::warn!(%error, deliveries = finished.len(), "could not record webhook attempts");
    }
    finished.clear();
}

/// One round: dispatch new events, then claim what is due into the free slots and start
/// sending it. Answers whether there may be more to do at once (a full batch).
async fn round(
    store: &Store,
    client: &reqwest::Client,
    options: &Arc<WebhookOptions>,
    in_flight: &mut tokio::task::JoinSet<Finished>,
) -> Result<bool, tenantry_storage::StoreError> {
    let dispatched = store.dispatch_events(DISPATCH_BATCH).await?;
    let room = options.concurrency.saturating_sub(in_flight.len()) as u64;
    // A lease outlasts an attempt, so no other instance takes a delivery being sent.
    let lease = options.timeout * 3;
    let claimed = if room == 0 {
        Vec::new()
    } else {
        store
            .claim_deliveries(crate::common::now(), lease, room.min(CLAIM_BATCH))
            .await?
    };
    // Full batches mean more may be waiting; a trickle is taken by the next poll.
    let busy = dispatched >= DISPATCH_BATCH || claimed.len() as u64 >= room.min(CLAIM_BATCH);
    for delivery in claimed {
        let client = client.clone();
        let options = options.clone();
        in_flight.spawn(async move {
            let outcome = attempt(&client, &options, &delivery).await;
            crate::metrics::webhook(match &outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Gone => "gone",
                DeliveryOutcome::Failed {
                    retry_at: Some(_), ..
                } => "retry",
                DeliveryOutcome::Failed { retry_at: None, .. } => "failed",
            });
            (delivery, outcome)
        });
    }
    Ok(busy && room > 0)
}

/// Sends one delivery and says how it went.
async fn attempt(
    client: &reqwest::Client,
    options: &WebhookOptions,
    delivery: &ClaimedDelivery,
) -> DeliveryOutcome {
    let attempts = delivery.attempts + 1;
    let failed = |status: Option<u16>, error: String| {
        let jitter = f64::from(random_u32()) / f64::from(u32::MAX);
        DeliveryOutcome::Failed {
            status,
            error,
            retry_at: retry_after(attempts, jitter).map(|wait| crate::common::now() + wait),
        }
    };
    if let WebhookHost::Address(address) = delivery.url.host()
        && !options.allow_private
        && !is_public_address(*address)
    {
        return failed(None, refused_address(*address));
    }
    let body = match serde_json::to_string(&EventView::from(&delivery.event)) {
        Ok(body) => body,
        Err(error) => return failed(None, format!("the event could not be written: {error}")),
    };
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let id = delivery.event.id.to_string();
    let signature = signature_header(&delivery.secrets, &id, timestamp, &body);
    // The trace of the request that made the change continues here.
    let trace = delivery
        .trace_id
        .as_deref()
        .and_then(|id| TraceId::from_traceparent(&format!("00-{id}-0000000000000001-01")))
        .unwrap_or_else(TraceId::generate);
    let sent = client
        .post(delivery.url.as_str())
        .header("content-type", "application/json")
        .header("traceparent", trace.traceparent())
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return failed(None, describe_error(&error)),
    };
    let status = response.status().as_u16();
    // Read a bounded part of the answer, so the connection can be kept and a huge answer
    // costs nothing.
    let mut read = Vec::new();
    while read.len() < RESPONSE_READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if (200..300).contains(&status) {
        return DeliveryOutcome::Delivered { status };
    }
    if status == 410 {
        return DeliveryOutcome::Gone;
    }
    let excerpt: String = String::from_utf8_lossy(&read)
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT_CHARS)
        .collect();
    failed(Some(status), format!("answered {status}: {excerpt}"))
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under each secret, space-separated.
pub fn signature_header(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&secret.key()).expect("HMAC takes any key length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer within the time-out".into();
    }
    // The innermost cause says what went wrong (refused, no such host, refused address).
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if error.is_connect() {
        format!("could not connect: {text}")
    } else {
        format!("the request failed: {text}")
    }
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).ok();
    u32::from_le_bytes(bytes)
}

/// The client every delivery goes through: no redirects (a redirect could lead anywhere),
/// no proxy from the environment, and a resolver that refuses non-public addresses unless
/// they are allowed, checked when each connection is made (a name may resolve differently
/// than when the endpoint was registered).
fn client(options: &WebhookOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Tenantry-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(CheckedResolver {
            allow_private: options.allow_private,
        }))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_id_timestamp_and_body() {
        // The example of the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
