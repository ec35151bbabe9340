use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub event_type: String,
    pub organization_id: Option<Uuid>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    #[serde(with = "crate::transfer::wire::timestamp")]
    pub occurred_at: TimeDateTimeWithTimeZone,
    #[sea_orm(column_type = "Json")]
    #[serde(with = "crate::transfer::wire::json")]
    pub data: Json,
    #[sea_orm(column_type = "Json")]
    #[serde(with = "crate::transfer::wire::json")]
    pub changes: Json,
    pub dedupe: Option<String>,
    /// Whether its webhook deliveries were made.
    pub dispatched: bool,
    /// The W3C trace id of the request that made the change.
    pub trace_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
