//! Webhook endpoints: where events are delivered, signed, and how often a failed delivery
//! is tried again.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use crate::error::InvalidValue;
use crate::event::EventType;
use crate::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::values::{TextLine, limits};

/// Where a webhook endpoint's URL points: a host name, or an address written in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookHost {
    /// A host name, resolved (and checked) at each connection.
    Name(String),
    /// An IPv4 address.
    Address(IpAddr),
}

/// An endpoint's URL: `http` or `https`, a host name or an IPv4 address, an optional port
/// (1 to 65535, no leading zero) and path, no credentials (`user:password@`) and no
/// fragment, at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: String,
    host: WebhookHost,
    port: u16,
}

impl WebhookUrl {
    /// Reads an endpoint URL: `http` or `https`, a host name or IPv4 address, no credentials
    /// or fragment.
    ///
    /// ```
    /// use tenantry_domain::WebhookUrl;
    ///
    /// assert!(WebhookUrl::parse("https://hooks.example.com/tenantry").is_ok());
    /// assert!(WebhookUrl::parse("https://user:pw@hooks.example.com/").is_err());
    /// assert!(WebhookUrl::parse("ftp://hooks.example.com/").is_err());
    /// ```
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let url = value.into();
        let invalid = || {
            InvalidValue::new(
                "must be an absolute http or https URL such as https://hooks.example.com/tenantry",
            )
        };
        if url.chars().count() > limits::URL_MAX_CHARS {
            return Err(invalid());
        }
        let (rest, default_port) = if let Some(rest) = url.strip_prefix("https://") {
            (rest, 443)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (rest, 80)
        } else {
            return Err(invalid());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(InvalidValue::new(
                "must not hold credentials (user:password@); Tenantry signs each delivery instead",
            ));
        }
        if tail.contains('#') || !tail.chars().all(|c| ('!'..='~').contains(&c)) {
            return Err(invalid());
        }
        // A host name or an IPv4 address; an IPv6 endpoint is reached through its name.
        let (host, port) = match authority.find(':') {
            Some(at) => authority.split_at(at),
            None => (authority, ""),
        };
        let host = host.to_ascii_lowercase();
        let host = match host.parse::<Ipv4Addr>() {
            Ok(address) => WebhookHost::Address(IpAddr::V4(address)),
            Err(_) if is_host_name(&host) => WebhookHost::Name(host),
            Err(_) => return Err(invalid()),
        };
        let port = match port {
            "" => default_port,
            port => port
                .strip_prefix(':')
                .filter(|p| {
                    (1..=5).contains(&p.len())
                        && p.bytes().all(|b| b.is_ascii_digit())
                        && !p.starts_with('0')
                })
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p > 0)
                .ok_or_else(invalid)?,
        };
        Ok(Self { url, host, port })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Its host.
    pub fn host(&self) -> &WebhookHost {
        &self.host
    }

    /// Its port, explicit or the scheme's.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether a webhook may be sent to `address` by default: not loopback, private,
/// link-local, unique-local, unspecified, multicast, broadcast, shared (carrier-grade NAT),
/// documentation or benchmarking space, nor an IPv4 address mapped into IPv6 that is one.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                // 2001:db8::/32 documentation; 64:ff9b::/96 may translate to anything.
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        // 100.64.0.0/10 shared address space; 198.18.0.0/15 benchmarking; 240.0.0.0/4.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
        // 192.0.0.0/24 protocol assignments.
        || (a == 192 && b == 0 && c == 0))
}

/// A webhook endpoint's signing secret, `whsec_` and the base64 of 32 random bytes, as the
/// Standard Webhooks specification writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// A secret made of 32 random bytes (from the operating system's generator).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// A stored secret.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        let key = value
            .strip_prefix(SECRET_PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|key| (24..=64).contains(&key.len()));
        match key {
            Some(_) => Ok(Self(value)),
            None => Err(InvalidValue::new("is not a webhook secret")),
        }
    }

    /// The secret in clear (`whsec_` and base64), to sign with and to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The bytes an HMAC is keyed with.
    pub fn key(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.0[SECRET_PREFIX.len()..])
            .expect("checked when made")
    }
}

/// Where events are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its public id.
    pub id: WebhookEndpointId,
    /// Where events are sent.
    pub url: WebhookUrl,
    /// The types it receives; empty: every type.
    pub event_types: Vec<EventType>,
    /// What it is for, as its registrant said.
    pub description: Option<TextLine>,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Why it was disabled, when Tenantry disabled it (a `410 Gone`).
    pub disabled_reason: Option<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it was last changed.
    pub updated_at: OffsetDateTime,
}

impl WebhookEndpoint {
    /// Whether it receives events of `event_type`.
    pub fn receives(&self, event_type: EventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&event_type)
    }
}

/// Checks a list of event types: no repeats (the order is kept).
pub fn parse_event_types<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<EventType>, InvalidValue> {
    let mut types = Vec::new();
    for value in values {
        let t = EventType::parse(value)?;
        if types.contains(&t) {
            return Err(InvalidValue::new(format!("names {value} twice")));
        }
        types.push(t);
    }
    Ok(types)
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its first attempt, or for its next.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed, or the endpoint answered `410 Gone`.
    Failed,
}

impl DeliveryStatus {
    /// The status's name: `pending`, `delivered` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Reads a status's name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be pending, delivered or failed"))
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its public id.
    pub id: WebhookDeliveryId,
    /// The event delivered.
    pub event_id: crate::ids::EventId,
    /// The event's type.
    pub event_type: EventType,
    /// Where the delivery stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The status the endpoint last answered, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed: the status's excerpt, a time-out, a refused connection.
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the delivery was made (the event was dispatched).
    pub created_at: OffsetDateTime,
    /// When the receiver accepted it.
    pub delivered_at: Option<OffsetDateTime>,
}

/// How long after a failed attempt the next one is due: 5 s, 30 s, 2 min, 10 min, 1 h, 6 h,
/// 24 h, then none (the delivery has failed, a little over 31 hours after the first).
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(24 * 60 * 60),
];

/// The wait before the attempt after `attempts` failed ones, spread by `jitter` (0.0 to
/// 1.0, up to a fifth more) so that endpoints that failed together are not retried in a
/// herd; `None` once the schedule is spent.
pub fn retry_after(attempts: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let base = *RETRY_SCHEDULE.get(index)?;
    Some(base.mul_f64(1.0 + jitter.clamp(0.0, 1.0) / 5.0))
}

/// How long a signing secret that was rotated out keeps signing beside its successor.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_without_credentials() {
        let url = WebhookUrl::parse("https://hooks.example.com/tenantry?x=1").unwrap();
        assert_eq!(url.host(), &WebhookHost::Name("hooks.example.com".into()));
        assert_eq!(url.port(), 443);
        let url = WebhookUrl::parse("http://127.0.0.1:9000/in").unwrap();
        assert_eq!(
            url.host(),
            &WebhookHost::Address(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(url.port(), 9000);
        for bad in [
            "http://[::1]:8080/",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com:0/",
            "https://example.com:080/",
            "https://example.com:99999/",
            "https:///path",
            "https://exa mple.com/",
            "https://example.com/#fragment",
            "example.com",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn secrets_are_32_random_bytes_in_base64() {
        let secret = WebhookSecret::from_random_bytes([7; 32]);
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key(), [7; 32]);
        assert_eq!(WebhookSecret::parse(secret.expose()), Ok(secret.clone()));
        assert!(WebhookSecret::parse("whsec_short").is_err());
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn retries_follow_the_schedule_with_a_little_jitter_then_stop() {
        assert_eq!(retry_after(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(1, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_after(7, 0.0), Some(Duration::from_secs(86_400)));
        assert_eq!(retry_after(8, 0.0), None);
        assert_eq!(retry_after(0, 0.0), None);
    }
}
