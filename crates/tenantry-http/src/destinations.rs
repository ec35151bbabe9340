//! Where webhooks may go: by default only to public addresses, checked when an endpoint is
//! registered or changed (`check_destination`) and again as each connection is made
//! (`CheckedResolver`, the delivery client's resolver), since a name may resolve
//! differently later. `TENANTRY_WEBHOOK_ALLOW_PRIVATE` allows the rest.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tenantry_domain::{WebhookHost, WebhookUrl, is_public_address};

pub(crate) fn refused_address(address: IpAddr) -> String {
    format!(
        "{address} is a loopback, private, link-local or otherwise non-public address; set TENANTRY_WEBHOOK_ALLOW_PRIVATE=true to allow it"
    )
}

/// Resolves host names, keeping only the addresses webhooks may go to.
#[derive(Debug)]
pub(crate) struct CheckedResolver {
    pub(crate) allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses = resolve_checked(&host, 0, allow_private)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The addresses `host` resolves to that webhooks may go to; an error names the refusal.
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if all.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    let allowed: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| allow_private || is_public_address(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "{host} resolves only to loopback, private, link-local or otherwise non-public addresses ({}); set TENANTRY_WEBHOOK_ALLOW_PRIVATE=true to allow them",
            all[0].ip()
        ));
    }
    Ok(allowed)
}

/// Checks, as an endpoint is registered or changed, that its URL leads to an address
/// webhooks may go to.
pub(crate) async fn check_destination(url: &WebhookUrl, allow_private: bool) -> Result<(), String> {
    match url.host() {
        WebhookHost::Address(address) => {
            if allow_private || is_public_address(*address) {
                Ok(())
            } else {
                Err(refused_address(*address))
            }
        }
        WebhookHost::Name(name) => resolve_checked(name, url.port(), allow_private)
            .await
            .map(drop),
    }
}
