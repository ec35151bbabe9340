//! The OpenAPI document's `webhooks`: what each event type's request to an endpoint holds.
//! One entry per [`EventType`], and one `data` schema per type and per organization field,
//! each from an exhaustive match, so a new type or field does not compile until it is
//! documented here.

use serde_json::{Map, Value, json};
use tenantry_domain::{EventType, OrganizationField};

/// The `webhooks` object: a `POST` per event type.
pub(crate) fn webhooks() -> Value {
    let mut webhooks = Map::new();
    for event_type in EventType::ALL {
        let (summary, data) = payload(event_type);
        let schema = json!({
            "allOf": [
                {"$ref": "#/components/schemas/EventView"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type.as_str()},
                        "data": data,
                    }
                }
            ]
        });
        webhooks.insert(
            event_type.as_str().to_owned(),
            json!({
                "post": {
                    "summary": summary,
                    "description": format!(
                        "{summary}. Sent to the endpoints that receive `{}`, with the headers `webhook-id` (the event's id), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `{{id}}.{{timestamp}}.{{body}}`, keyed with the bytes of the endpoint's secret; two signatures, space-separated, during a secret rotation). The body is the event as `GET /events` shows it.",
                        event_type.as_str()
                    ),
                    "tags": ["webhooks"],
                    "parameters": [
                        header("webhook-id", "The event's id: the same on every attempt, for deduplication."),
                        header("webhook-timestamp", "When this attempt was signed, in Unix seconds."),
                        header("webhook-signature", "`v1,<base64>` per signing secret, space-separated."),
                    ],
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": schema}}
                    },
                    "responses": {
                        "2XX": {"description": "Delivered."},
                        "410": {"description": "Gone: the delivery fails and the endpoint is disabled."},
                        "default": {"description": "Not delivered: tried again after 5 s, 30 s, 2 min, 10 min, 1 h, 6 h and 24 h, then given up."}
                    }
                }
            }),
        );
    }
    Value::Object(webhooks)
}

fn header(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "header",
        "required": true,
        "description": description,
        "schema": {"type": "string"}
    })
}

fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required})
}

const UUID: &str = "uuid";

fn id() -> Value {
    json!({"type": "string", "format": UUID})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn role() -> Value {
    component("RoleValue")
}

/// A schema of the document's components, by name.
fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A type's summary and the schema of its `data`.
fn payload(event_type: EventType) -> (&'static str, Value) {
    let member = || {
        object(json!({
            "userId": id(),
            "role": role(),
            "email": text(),
            "name": text(),
        }))
    };
    let key = || {
        object(json!({
            "id": id(),
            "name": text(),
            "prefix": {"type": "string", "description": "The key's first characters, to recognise it; never the key."},
            "scope": {"type": "string", "enum": ["admin", "user", "organization"]},
            "userId": {"type": ["string", "null"], "format": UUID},
            "organizationId": {"type": ["string", "null"], "format": UUID},
        }))
    };
    match event_type {
        EventType::OrganizationCreated => {
            let mut properties = Map::new();
            properties.insert("id".into(), id());
            for field in OrganizationField::ALL {
                properties.insert(field.api_name(), field_schema(*field));
            }
            (
                "An organization was created: every field of it",
                object(Value::Object(properties)),
            )
        }
        EventType::OrganizationUpdated => (
            "An organization was changed: `changes` lists each changed field, from and to",
            object(json!({"id": id(), "version": {"type": "integer", "minimum": 1}})),
        ),
        EventType::OrganizationDeleted => (
            "An organization was deleted, with its members, keys and workspaces",
            object(json!({"id": id(), "name": text()})),
        ),
        EventType::MemberAdded => ("A user joined an organization", member()),
        EventType::MemberRoleChanged => (
            "A member's role changed: `changes` holds the role, from and to",
            member(),
        ),
        EventType::MemberRemoved => (
            "A member left an organization, with the keys they held for it",
            object(json!({
                "userId": id(),
                "role": role(),
                "keysRevoked": {"type": "integer", "minimum": 0},
            })),
        ),
        EventType::ApiKeyCreated => ("An API key was made", key()),
        EventType::ApiKeyRevoked => ("An API key was revoked", key()),
        EventType::WorkspaceCreated => (
            "A workspace was created",
            object(json!({"id": id(), "name": text()})),
        ),
        EventType::WorkspaceDeleted => ("A workspace was deleted", object(json!({"id": id()}))),
        EventType::UserCreated => (
            "A user was created",
            object(json!({"id": id(), "email": text(), "name": text()})),
        ),
        EventType::UsageThresholdReached => (
            "A billing cycle's usage reached 80% or 100% of the allocation, or the overage cap (once each per cycle)",
            object(json!({
                "threshold": {"type": "string", "enum": ["allocation_80", "allocation_100", "overage_cap"]},
                "cycleStart": {"type": "string", "format": "date"},
                "allocation": {"type": "integer", "minimum": 0},
                "used": {"type": "integer", "minimum": 0},
                "maxOverages": {"type": ["integer", "null"], "minimum": 0},
            })),
        ),
    }
}

/// How an event writes a field's value (`FieldChange::to_json`).
fn field_schema(field: OrganizationField) -> Value {
    use OrganizationField as F;
    let nullable_text = || json!({"type": ["string", "null"]});
    let count = || json!({"type": "integer", "minimum": 0});
    match field {
        F::Name => text(),
        F::Domain
        | F::LogoUrl
        | F::BillingEmail
        | F::NotificationsEmail
        | F::SalesforceCode
        | F::Infrastructure
        | F::ApiUrl
        | F::AuthProviderOrgId => nullable_text(),
        F::Logo => json!({
            "description": "The logo's type and size; never its bytes.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["image/png", "image/jpeg", "image/gif", "image/webp"]},
                        "size": count()
                    },
                    "required": ["type", "size"]
                }
            ]
        }),
        F::AccountType => component("AccountTypeValue"),
        F::Plan => component("PlanValue"),
        F::ContractEndDate => json!({"type": ["string", "null"], "format": "date"}),
        F::IsActive | F::AutoBillingEnabled | F::NsfwCheckEnabled | F::NsfwFailClosed => {
            json!({"type": "boolean"})
        }
        F::BillingCycleStart => json!({"type": "integer", "minimum": 1, "maximum": 28}),
        F::CreditAllocation | F::MaxOverages => json!({"type": ["integer", "null"], "minimum": 0}),
        F::Modules => json!({"type": "array", "items": component("ModuleValue")}),
        F::UserQuota
        | F::WorkspaceQuota
        | F::AnalysisQuota
        | F::AssetEvaluationQuota
        | F::SearchCredits => count(),
        F::RateLimitOverrides => {
            let categories: Map<String, Value> = tenantry_domain::RateLimitCategory::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), count()))
                .collect();
            json!({
                "type": "object",
                "description": "The categories overridden, in requests per minute; the others are the tier's.",
                "properties": categories,
                "additionalProperties": false
            })
        }
        F::Metadata => json!({
            "type": "object",
            "additionalProperties": component("MetadataValue")
        }),
        F::DefaultLlmCredentials => json!({
            "type": "array",
            "items": text(),
            "description": "The providers credentials are named for; never the names of the secrets."
        }),
    }
}
