use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub order_key: String,
    pub status: String,
    pub attempts: i32,
    #[serde(with = "crate::transfer::wire::timestamp_option")]
    pub next_attempt_at: Option<TimeDateTimeWithTimeZone>,
    #[serde(with = "crate::transfer::wire::timestamp_option")]
    pub lease_until: Option<TimeDateTimeWithTimeZone>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    #[serde(with = "crate::transfer::wire::timestamp_option")]
    pub last_attempt_at: Option<TimeDateTimeWithTimeZone>,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub created_at: TimeDateTimeWithTimeZone,
    #[serde(with = "crate::transfer::wire::timestamp_option")]
    pub delivered_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
