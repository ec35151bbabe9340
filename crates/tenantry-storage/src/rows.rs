//! Organization rows decoded by position.
//!
//! The derived decoder looks each column up by a name it formats first (the prefix and the
//! column), and an organization has forty: on the hot paths that was the largest single
//! cost of turning a row into a value. Those paths select the organization's columns in the
//! entity's order — `Entity::find()` does, and so do [`returning`] and the statements that
//! read an `UPDATE`'s answer — so they read them by position instead. The list of fields
//! below is that order; a test holds it to the entity's.

use sea_orm::sea_query::{Query, ReturningClause};
use sea_orm::{DbErr, Iterable as _, QueryResult};

use crate::entities::organizations;

macro_rules! organization_by_position {
    ($($field:ident),* $(,)?) => {
        /// How many columns an organization row has.
        pub(crate) const ORGANIZATION_COLUMNS: usize = [$(stringify!($field)),*].len();

        /// The columns in the order [`organization_at`] reads them.
        #[cfg(test)]
        const ORDER: [&str; ORGANIZATION_COLUMNS] = [$(stringify!($field)),*];

        /// The organization whose columns begin at index `first` of `row`, in the entity's
        /// order.
        pub(crate) fn organization_at(
            row: &QueryResult,
            first: usize,
        ) -> Result<organizations::Model, DbErr> {
            let mut at = first;
            let mut next = || {
                at += 1;
                at - 1
            };
            // A struct's fields are evaluated in the order they are written: this one.
            Ok(organizations::Model {
                $($field: row.try_get_by_index(next())?,)*
            })
        }
    };
}

organization_by_position!(
    id,
    public_id,
    name,
    domain,
    logo_type,
    logo_data,
    logo_url,
    billing_email,
    notifications_email,
    account_type,
    plan,
    contract_end_date,
    salesforce_code,
    is_active,
    auto_billing_enabled,
    billing_cycle_start,
    credit_allocation,
    modules,
    user_quota,
    workspace_quota,
    analysis_quota,
    asset_evaluation_quota,
    search_credits,
    rate_limit_overrides,
    max_overages,
    metadata,
    default_llm_credentials,
    nsfw_check_enabled,
    nsfw_fail_closed,
    infrastructure,
    api_url,
    auth_provider_org_id,
    usage_cycle_start,
    credits_used,
    member_count,
    workspace_count,
    version,
    created_at,
    updated_at,
);

/// `RETURNING` every column of an organization, in the order [`organization_at`] reads.
pub(crate) fn returning() -> ReturningClause {
    Query::returning().columns(organizations::Column::iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::IdenStatic as _;

    #[test]
    fn the_fields_are_read_in_the_entitys_column_order() {
        let columns: Vec<&str> = organizations::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(columns, ORDER);
    }
}
