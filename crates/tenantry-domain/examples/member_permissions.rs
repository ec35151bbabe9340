//! May this caller change these fields of an organization? For each kind of caller, the
//! fields of a change it may not write: what a server answers with 403 naming them.
//!
//! Run with `cargo run -p tenantry-domain --example member_permissions`.

#![allow(
    clippy::print_stdout,
    reason = "an example shows its results on the terminal"
)]

use tenantry_domain::{Access, OrganizationField, Role};

fn main() {
    // The fields a request would change, as the documented APIs spell them.
    let requested = ["name", "logo_url", "billing_email", "plan", "user_quota"];
    let fields: Vec<OrganizationField> = requested
        .iter()
        .map(|name| {
            OrganizationField::ALL
                .iter()
                .copied()
                .find(|field| field.snake_name() == *name)
                .unwrap_or_else(|| panic!("{name} is not a field of an organization"))
        })
        .collect();

    for (caller, access) in [
        ("a member", Access::Member(Role::Member)),
        ("an admin", Access::Member(Role::Admin)),
        ("an owner", Access::Member(Role::Owner)),
        ("the platform admin", Access::PlatformAdmin),
    ] {
        let forbidden = access.forbidden_fields(fields.iter().copied());
        if forbidden.is_empty() {
            println!("{caller} may make this change");
        } else {
            let names: Vec<&str> = forbidden.iter().map(|f| f.snake_name()).collect();
            println!("{caller} may not change: {}", names.join(", "));
        }
    }
}
