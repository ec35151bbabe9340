//! An organization's effective rate limits and the credits it has left: the tier's
//! defaults, its own overrides and allocation, and what it used this billing cycle.
//!
//! Run with `cargo run -p tenantry-domain --example credits_and_limits`.

#![allow(
    clippy::print_stdout,
    reason = "an example shows its results on the terminal"
)]

use tenantry_domain::{
    AccountType, NewOrganization, Organization, OrganizationName, RateLimitCategory, TierTable,
};
use time::macros::datetime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = datetime!(2026-11-25 12:00 UTC);
    let today = now.date();
    let mut acme = Organization::new(
        NewOrganization {
            name: OrganizationName::parse("Acme")?,
            domain: None,
        },
        now,
    );
    // A pro organization that searches more than its tier allows, and has used some
    // credits this cycle.
    acme.account_type = AccountType::Pro;
    acme.rate_limit_overrides.search = Some(600);
    acme.usage.credits_used = 99_500;

    // The tiers' defaults; a server reads them from its configuration.
    let tiers = TierTable::default();

    let limits = acme.rate_limits(&tiers);
    println!("requests per minute:");
    for category in RateLimitCategory::ALL {
        println!("  {:<8} {}", category.as_str(), limits.get(category));
    }
    println!(
        "credits: {} a month, {} used, {} left",
        acme.monthly_allocation(&tiers),
        acme.current_month_usage(today),
        acme.credit_count(&tiers, today)
    );
    for credits in [400, 1_000] {
        match acme.check_usage(credits, &tiers, today) {
            Ok(()) => println!("{credits} more credits: allowed"),
            Err(refused) => println!("{credits} more credits: refused ({refused})"),
        }
    }
    // With auto billing on and no overage cap, usage goes on beyond the allocation.
    acme.auto_billing_enabled = true;
    acme.max_overages = None;
    acme.check_usage(1_000, &tiers, today)?;
    println!("1000 more credits with auto billing: allowed");
    Ok(())
}
