//! The OpenAPI document, built from the same registration as the routes.

use std::collections::BTreeSet;

use actix_web::App;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenantry",
        description = "A self-hostable organization service: organizations, their members, plans, quotas and limits.\n\nAuthenticate with `Authorization: Bearer <key>` (or the bare key). Errors are RFC 9457 `application/problem+json`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
    tags(
        (name = "organizations", description = "Organizations: create, list, read, update, delete, overage caps."),
        (name = "members", description = "The members of an organization and their roles."),
        (name = "users", description = "The people who belong to organizations."),
        (name = "api-keys", description = "API keys: made once, shown once, revocable."),
        (name = "usage", description = "Credits consumed against the billing cycle, the usage ledger and refunds."),
        (name = "entitlements", description = "What an organization may use now, in one read."),
        (name = "workspaces", description = "Workspaces of an organization, within its quota."),
        (name = "webhooks", description = "Webhook endpoints: events delivered, signed, at least once and in order per organization."),
        (name = "events", description = "The audit log: every change, who made it and, for updates, each field from and to."),
        (name = "health", description = "Liveness and readiness."),
    ),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key, as `Authorization: Bearer <key>` or as the bare key `Authorization: <key>`. In Swagger UI's Authorize dialog, paste the key alone: the dialog adds `Bearer `.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the whole API, without starting a server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// The OpenAPI document as served and committed: [`openapi`] with the rules utoipa's
/// attributes cannot state (the private `refine`).
pub fn openapi_document() -> Value {
    let mut document = serde_json::to_value(openapi()).expect("the document serializes");
    refine(&mut document);
    document
}

/// The OpenAPI document as committed in `openapi/openapi.json`: pretty JSON ending in a
/// newline.
pub fn openapi_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&openapi_document()).expect("the document serializes");
    text.push('\n');
    text
}

/// Schema rules that the derive attributes cannot express, added to the generated document
/// so that it tells clients (and fuzzers) exactly what the server accepts:
///
/// - every request body object is closed (`additionalProperties: false`): unknown fields are
///   rejected, not ignored;
/// - the keywords of [`rules`], each at a JSON pointer into the document.
fn refine(document: &mut Value) {
    let mut request_schemas = BTreeSet::new();
    if let Some(paths) = document["paths"].as_object() {
        for item in paths.values() {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                let content = &operation["requestBody"]["content"]["application/json"]["schema"];
                collect_refs(content, document, &mut request_schemas);
            }
        }
    }
    for name in request_schemas {
        let schema = &mut document["components"]["schemas"][name.as_str()];
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema["additionalProperties"] = Value::Bool(false);
        }
    }
    for (name, schema) in extra_schemas() {
        document["components"]["schemas"][name] = schema;
    }
    document["webhooks"] = crate::webhook_docs::webhooks();
    error_examples(document);
    links(document);
    request_examples(document);
    for (pointer, keywords) in rules() {
        let target = document
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("no schema at {pointer}"));
        for (key, value) in keywords.as_object().expect("rules are objects") {
            target[key.as_str()] = value.clone();
        }
    }
}

/// A link's target operation and its parameters' runtime expressions.
type LinkTarget = (&'static str, Vec<(&'static str, &'static str)>);

/// OpenAPI links from each create to the operations that use what it made, so that a
/// client generator, a reader and a stateful fuzzer can chain them: (the create's
/// operationId, its success status, and per target operation, each parameter's runtime
/// expression).
fn link_table() -> Vec<(&'static str, &'static str, Vec<LinkTarget>)> {
    const ORG: &str = "$response.body#/id";
    const SAME_ORG: &str = "$request.path.organization_id";
    let organization = |param: &'static str| vec![(param, ORG)];
    let in_org = |param: &'static str, value: &'static str| {
        vec![("organization_id", SAME_ORG), (param, value)]
    };
    let endpoint = || vec![("endpoint_id", "$response.body#/id")];
    vec![
        (
            "create_organization",
            "201",
            vec![
                ("get_organization", organization("organization_id")),
                ("update_organization", organization("organization_id")),
                ("delete_organization", organization("organization_id")),
                ("get_entitlements", organization("organization_id")),
                ("list_organization_events", organization("organization_id")),
                ("get_organization_logo", organization("organization_id")),
                ("set_max_overages", organization("organization_id")),
                ("add_member", organization("organization_id")),
                ("list_members", organization("organization_id")),
                ("get_usage", organization("organization_id")),
                ("create_usage", organization("organization_id")),
                ("list_usage_entries", organization("organization_id")),
                ("create_workspace", organization("organization_id")),
                ("list_workspaces", organization("organization_id")),
                ("get_organization_by_id", organization("id")),
                ("update_organization_by_id", organization("id")),
            ],
        ),
        (
            "add_member",
            "201",
            vec![
                ("update_member", in_org("user_id", "$response.body#/userId")),
                ("remove_member", in_org("user_id", "$response.body#/userId")),
            ],
        ),
        (
            "create_usage",
            "200",
            vec![(
                "create_usage_refund",
                in_org("entry_id", "$response.body#/entryId"),
            )],
        ),
        (
            "create_user",
            "201",
            vec![
                ("add_member", vec![]),
                ("create_api_key", vec![]),
                ("create_organization", vec![]),
            ],
        ),
        (
            "create_workspace",
            "201",
            vec![(
                "delete_workspace",
                in_org("workspace_id", "$response.body#/id"),
            )],
        ),
        (
            "create_api_key",
            "201",
            vec![("delete_api_key", vec![("key_id", "$response.body#/id")])],
        ),
        (
            "create_webhook_endpoint",
            "201",
            vec![
                ("get_webhook_endpoint", endpoint()),
                ("update_webhook_endpoint", endpoint()),
                ("delete_webhook_endpoint", endpoint()),
                ("list_webhook_deliveries", endpoint()),
                ("create_webhook_endpoint_secret", endpoint()),
            ],
        ),
    ]
}

fn links(document: &mut Value) {
    let mut operations = std::collections::BTreeMap::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                    operations.insert(id.to_owned(), (path.clone(), method.clone()));
                }
            }
        }
    }
    for (source, status, targets) in link_table() {
        let (path, method) = operations
            .get(source)
            .unwrap_or_else(|| panic!("no operation {source}"))
            .clone();
        let mut links = serde_json::Map::new();
        for (target, parameters) in targets {
            assert!(operations.contains_key(target), "no operation {target}");
            let name = target
                .split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_uppercase().chain(chars).collect()
                    })
                })
                .collect::<String>();
            let parameters: serde_json::Map<String, Value> = parameters
                .into_iter()
                .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
                .collect();
            let mut link = json!({"operationId": target});
            if !parameters.is_empty() {
                link["parameters"] = Value::Object(parameters);
            }
            // A new user is named in the body of what uses them: a member to add, the user
            // a new key acts as, the owner the platform admin makes an organization for.
            match (source, target) {
                ("create_user", "add_member") => {
                    link["requestBody"] = json!({"userId": "$response.body#/id", "role": "member"});
                }
                ("create_user", "create_organization") => {
                    link["requestBody"] =
                        json!({"organizationName": "Initech", "ownerUserId": "$response.body#/id"});
                }
                ("create_user", "create_api_key") => {
                    link["requestBody"] = json!({"name": "laptop", "userId": "$response.body#/id"});
                }
                _ => {}
            }
            links.insert(name, link);
        }
        let response = document
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(path.as_str()))
            .and_then(|item| item.get_mut(method.as_str()))
            .and_then(|operation| operation.get_mut("responses"))
            .and_then(|responses| responses.get_mut(status))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no {status} answer of {source}"));
        response.insert("links".into(), Value::Object(links));
    }
}

/// The example body of each operation that takes one, written to succeed as it is in
/// Swagger UI on a server the README's walk has run on (fresh names and emails; ids to
/// paste are named in the parameters' descriptions). `example` on the media type wins over
/// what Swagger UI would generate from the schema (random strings, every optional field,
/// placeholder ids that answer 404).
fn request_example_table() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "post",
            "/user",
            json!({"email": "grace@example.com", "name": "Grace Hopper"}),
        ),
        ("post", "/api-key", json!({"name": "CI runner"})),
        (
            "post",
            "/organization",
            json!({"organizationName": "Globex"}),
        ),
        (
            "put",
            "/organization/{organization_id}",
            json!({"organizationName": "Acme Corporation"}),
        ),
        (
            "patch",
            "/organization/{organization_id}/max-overages",
            json!({"maxOverages": 500}),
        ),
        (
            "post",
            "/organization/{organization_id}/member",
            json!({"userId": PASTE_USER, "role": "member"}),
        ),
        (
            "patch",
            "/organization/{organization_id}/member/{user_id}",
            json!({"role": "admin"}),
        ),
        (
            "post",
            "/organization/{organization_id}/usage",
            json!({"credits": 25, "category": "search"}),
        ),
        (
            "post",
            "/organization/{organization_id}/usage/{entry_id}/refund",
            json!({"credits": 5}),
        ),
        (
            "post",
            "/organization/{organization_id}/workspace",
            json!({"name": "Research"}),
        ),
        (
            "patch",
            "/v1/organizations",
            json!({"organization_name": "Acme Corporation"}),
        ),
        (
            "patch",
            "/v1/organizations/{id}",
            // A one-pixel PNG, in indigo.
            json!({"name": "Acme Inc.", "logo": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGPwd3v6HwAE3AJ6zM4FjgAAAABJRU5ErkJggg=="}),
        ),
        (
            "post",
            "/webhook-endpoint",
            json!({
                "url": "http://127.0.0.1:8000/tenantry",
                "eventTypes": ["organization.updated", "member.added"],
                "description": "the README's receiver"
            }),
        ),
        (
            "patch",
            "/webhook-endpoint/{endpoint_id}",
            json!({"description": "billing"}),
        ),
    ]
}

/// The user id in the example of adding a member: a placeholder the parameter's description
/// says to replace.
const PASTE_USER: &str = "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e10";

fn request_examples(document: &mut Value) {
    for (method, path, example) in request_example_table() {
        let pointer = format!(
            "/paths/{}/{method}/requestBody/content/application~1json",
            path.replace('~', "~0").replace('/', "~1")
        );
        let media = document
            .pointer_mut(&pointer)
            .unwrap_or_else(|| panic!("no JSON request body at {method} {path}"));
        media["example"] = example;
    }
    let notes = [
        (
            "/paths/~1organization~1{organization_id}~1member/post/description",
            "In the example, replace `userId` with the `id` of a user who is not a member yet (such as the one the example of `POST /user` makes).",
        ),
        (
            "/paths/~1webhook-endpoint/post/description",
            "The example registers the README's receiver on this machine, which a server started with `TENANTRY_WEBHOOK_ALLOW_PRIVATE=true` accepts; otherwise name a receiver on the internet.",
        ),
    ];
    for (pointer, note) in notes {
        let Some(Value::String(description)) = document.pointer_mut(pointer) else {
            panic!("no description at {pointer}");
        };
        description.push_str("\n\n");
        description.push_str(note);
    }
}

/// Every operation object of the document, to change. (Walked with `get_mut`, never by
/// indexing, which would add a missing key as `null`.)
fn operations_mut(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
}

/// Gives every documented error status its own example (Swagger UI would otherwise show the
/// problem schema's one example under every status): the examples of [`ApiError::examples`]
/// whose status it is, named when there are several.
fn error_examples(document: &mut Value) {
    let examples: Vec<(&str, u16, Value)> = crate::error::ApiError::examples()
        .into_iter()
        .map(|(name, error)| {
            let problem = error.problem();
            let status = problem.status;
            (
                name,
                status,
                serde_json::to_value(problem).expect("a problem serializes"),
            )
        })
        .collect();
    for operation in operations_mut(document) {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let Some(media) = response
                .pointer_mut("/content/application~1problem+json")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let mine: Vec<_> = examples
                .iter()
                .filter(|(_, s, _)| s.to_string() == *status)
                .collect();
            match mine.as_slice() {
                [] => {}
                [(_, _, only)] => {
                    media.insert("example".into(), only.clone());
                }
                several => {
                    let named = several
                        .iter()
                        .map(|(name, _, value)| ((*name).to_owned(), json!({"value": value})))
                        .collect();
                    media.insert("examples".into(), Value::Object(named));
                }
            }
        }
    }
}

/// The component schemas `schema` refers to, through properties and items, recursively.
fn collect_refs(schema: &Value, document: &Value, found: &mut BTreeSet<String>) {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        if found.insert(name.to_owned()) {
            collect_refs(&document["components"]["schemas"][name], document, found);
        }
        return;
    }
    for key in ["properties"] {
        if let Some(properties) = schema[key].as_object() {
            for property in properties.values() {
                collect_refs(property, document, found);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            collect_refs(&schema[key], document, found);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            collect_refs(part, document, found);
        }
    }
}

/// A JSON Schema character class body of `ranges`, as `\uXXXX-\uXXXX` (all in the Basic
/// Multilingual Plane, so the same pattern reads alike with and without Unicode mode).
fn class(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|&(low, high)| {
            if low == high {
                format!("\\u{:04X}", low as u32)
            } else {
                format!("\\u{:04X}-\\u{:04X}", low as u32, high as u32)
            }
        })
        .collect()
}

/// What no single-line text holds: controls (Rust's `char::is_control`: C0, DEL and C1)
/// and the bidirectional controls.
fn never_in_a_line() -> String {
    format!(
        "\\u0000-\\u001F\\u007F-\\u009F{}",
        class(tenantry_domain::values::BIDI_CONTROLS)
    )
}

/// A name: one line with a visible character (`tenantry_domain::values::is_visible`).
fn name_pattern() -> String {
    let never = never_in_a_line();
    let invisible = class(tenantry_domain::values::INVISIBLE);
    format!("^[^{never}]*[^\\s{never}{invisible}][^{never}]*$")
}

/// One line of text, possibly empty.
fn line_pattern() -> String {
    format!("^[^{}]*$", never_in_a_line())
}

/// A host name whose last label starts with a letter (`tenantry_domain::DomainName`).
const HOST: &str =
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/// A host name of a webhook endpoint: labels of letters, digits and hyphens (an IPv4
/// address is one of them).
const WEBHOOK_HOST: &str =
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";
/// A port from 0 to 65535.
const PORT: &str =
    r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})";
/// The characters of an email's local part (RFC 5322 atext).
const ATEXT: &str = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
/// Canonical base64, as the decoder accepts it.
const BASE64: &str =
    r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?";

/// Keywords to add at a JSON pointer, for rules the derive attributes cannot state.
fn rules() -> Vec<(&'static str, Value)> {
    let domain = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$";
    let url = format!(r"^https?://{HOST}(:{PORT})?([/?#][!-~]*)?$");
    let email = format!(
        r"^{ATEXT}+(\.{ATEXT}+)*@([A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?$"
    );
    // A logo's data URL: its declared type, and base64 that decodes to that type's
    // signature (PNG, JPEG, GIF87a/89a, RIFF....WEBP).
    let logo = format!(
        r"^data:image/(png;base64,iVBORw0K(Ggo=|Gg[o-r][A-Za-z0-9+/]{BASE64})|(jpeg;base64,/9j/|gif;base64,R0lGOD[dl]h|webp;base64,UklGR[g-v][A-Za-z0-9+/]{{4}}[BFJNRVZdhlptx159]XRUJQ){BASE64})$"
    );
    // A webhook endpoint's URL (`tenantry_domain::WebhookUrl`): a host name or an IPv4
    // address, a port from 1 without a leading zero, no credentials and no fragment.
    let webhook_url = format!(
        r#"^https?://{WEBHOOK_HOST}(:([1-9][0-9]{{0,3}}|[1-5][0-9]{{4}}|6[0-4][0-9]{{3}}|65[0-4][0-9]{{2}}|655[0-2][0-9]|6553[0-5]))?([/?][!-"$-~]*)?$"#
    );
    let s = |pattern: &str| json!({"pattern": pattern});
    let name = name_pattern();
    let line = line_pattern();
    vec![
        (
            "/components/schemas/CreateWorkspaceRequest/properties/name",
            s(&name),
        ),
        (
            "/components/schemas/CreateOrganizationRequest/properties/organizationName",
            s(&name),
        ),
        (
            "/components/schemas/CreateOrganizationRequest/properties/domain",
            s(domain),
        ),
        (
            "/components/schemas/UpdateOrganizationRequest/properties/name",
            s(&name),
        ),
        (
            "/components/schemas/UpdateOrganizationRequest/properties/organizationName",
            s(&name),
        ),
        (
            "/components/schemas/UpdateOrganizationRequest/properties/domain",
            s(domain),
        ),
        (
            "/components/schemas/UpdateOrganizationRequest/properties/logoUrl",
            s(&url),
        ),
        // The name, as `name` or as the create body's `organizationName`: one of them.
        (
            "/components/schemas/UpdateOrganizationRequest",
            json!({"not": {"required": ["name", "organizationName"]}}),
        ),
        (
            "/components/schemas/CreateUserRequest/properties/name",
            s(&name),
        ),
        (
            "/components/schemas/CreateUserRequest/properties/email",
            s(&email),
        ),
        (
            "/components/schemas/CreateApiKeyRequest/properties/name",
            s(&name),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/organization_name",
            s(&name),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/logo_url",
            s(&url),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/billing_email",
            s(&email),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/notifications_email",
            s(&email),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/default_llm_credentials",
            json!({
                "maxProperties": 32,
                "propertyNames": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
                "additionalProperties": {"type": "string", "pattern": "^[A-Za-z0-9_./:-]{1,255}$"}
            }),
        ),
        (
            "/components/schemas/OrganizationUpdate/properties/metadata",
            json!({
                "maxProperties": 64,
                "propertyNames": {"type": "string", "pattern": r"^[^\u0000]*$"},
                "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}
            }),
        ),
        (
            "/components/schemas/PatchedOrganizationRequest/properties/name",
            s(&name),
        ),
        (
            "/components/schemas/PatchedOrganizationRequest/properties/salesforce_code",
            s(&line),
        ),
        (
            "/components/schemas/PatchedOrganizationRequest/properties/logo",
            s(&logo),
        ),
        (
            "/components/schemas/CreateWebhookEndpointRequest/properties/url",
            s(&webhook_url),
        ),
        (
            "/components/schemas/UpdateWebhookEndpointRequest/properties/url",
            s(&webhook_url),
        ),
        (
            "/components/schemas/CreateWebhookEndpointRequest/properties/description",
            s(&name),
        ),
        (
            "/components/schemas/UpdateWebhookEndpointRequest/properties/description",
            s(&name),
        ),
        (
            "/components/schemas/CreateWebhookEndpointRequest/properties/eventTypes",
            json!({"uniqueItems": true}),
        ),
        // Answers: what a free-form value holds, so that no generated type is left unknown.
        (
            "/components/schemas/OrganizationModel/properties/metadata",
            json!({"additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}}),
        ),
        (
            "/components/schemas/EventView/properties/data",
            json!({"additionalProperties": {"$ref": "#/components/schemas/JsonValue"}}),
        ),
        (
            "/components/schemas/ChangeView/properties/from",
            json!({"$ref": "#/components/schemas/JsonValue"}),
        ),
        (
            "/components/schemas/ChangeView/properties/to",
            json!({"$ref": "#/components/schemas/JsonValue"}),
        ),
        (
            "/components/schemas/UpdateWebhookEndpointRequest/properties/eventTypes",
            json!({"uniqueItems": true}),
        ),
    ]
}

/// Schemas that only the rules above refer to.
fn extra_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "JsonValue",
            json!({
                "description": "Any JSON value: a field's value as an event records it.",
                "anyOf": [
                    {"type": ["string", "number", "boolean", "null"]},
                    {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
                    {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}}
                ]
            }),
        ),
        (
            "MetadataValue",
            json!({
                "description": "A metadata value: any JSON value without NUL characters.",
                "anyOf": [
                    {"type": "string", "pattern": r"^[^\u0000]*$"},
                    {"type": ["number", "boolean", "null"]},
                    {"type": "array", "items": {"$ref": "#/components/schemas/MetadataValue"}},
                    {
                        "type": "object",
                        "propertyNames": {"pattern": r"^[^\u0000]*$"},
                        "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}
                    }
                ]
            }),
        ),
    ]
}
