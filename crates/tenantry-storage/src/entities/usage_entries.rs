use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[sea_orm(table_name = "usage_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub organization_id: i64,
    pub credits: i64,
    pub category: String,
    #[serde(with = "crate::transfer::wire::date")]
    pub cycle_start: TimeDate,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub refund_of: Option<i64>,
    pub refunded: i64,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
