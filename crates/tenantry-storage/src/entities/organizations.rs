use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub logo_type: Option<String>,
    #[serde(with = "crate::transfer::wire::bytes_option")]
    pub logo_data: Option<Vec<u8>>,
    pub logo_url: Option<String>,
    pub billing_email: Option<String>,
    pub notifications_email: Option<String>,
    pub account_type: String,
    pub plan: String,
    #[serde(with = "crate::transfer::wire::date_option")]
    pub contract_end_date: Option<TimeDate>,
    pub salesforce_code: Option<String>,
    pub is_active: bool,
    pub auto_billing_enabled: bool,
    pub billing_cycle_start: i32,
    pub credit_allocation: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    #[serde(with = "crate::transfer::wire::json")]
    pub modules: Json,
    pub user_quota: i32,
    pub workspace_quota: i32,
    pub analysis_quota: i32,
    pub asset_evaluation_quota: i32,
    pub search_credits: i32,
    #[sea_orm(column_type = "JsonBinary")]
    #[serde(with = "crate::transfer::wire::json")]
    pub rate_limit_overrides: Json,
    pub max_overages: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    #[serde(with = "crate::transfer::wire::json")]
    pub metadata: Json,
    #[sea_orm(column_type = "JsonBinary")]
    #[serde(with = "crate::transfer::wire::json")]
    pub default_llm_credentials: Json,
    pub nsfw_check_enabled: bool,
    pub nsfw_fail_closed: bool,
    pub infrastructure: Option<String>,
    pub api_url: Option<String>,
    pub auth_provider_org_id: Option<String>,
    #[serde(with = "crate::transfer::wire::date")]
    pub usage_cycle_start: TimeDate,
    pub credits_used: i64,
    pub member_count: i64,
    pub workspace_count: i64,
    pub version: i64,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub created_at: TimeDateTimeWithTimeZone,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::memberships::Entity")]
    Memberships,
}

impl Related<super::memberships::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
