use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub url: String,
    #[sea_orm(column_type = "Json")]
    #[serde(with = "crate::transfer::wire::json")]
    pub event_types: Json,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    #[serde(with = "crate::transfer::wire::timestamp_option")]
    pub previous_secret_until: Option<TimeDateTimeWithTimeZone>,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub created_at: TimeDateTimeWithTimeZone,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
