//! Holds the generated OpenAPI document against the documented APIs (`openapi/documented/`)
//! and against the house rules for operations.

use std::collections::BTreeSet;

use serde_json::Value;

/// One difference between what is documented and what is generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) operation: String,
    pub(crate) field: String,
    pub(crate) documented: String,
    pub(crate) generated: String,
}

impl Mismatch {
    fn new(
        operation: &str,
        field: &str,
        documented: impl Into<String>,
        generated: impl Into<String>,
    ) -> Self {
        Self {
            operation: operation.to_owned(),
            field: field.to_owned(),
            documented: documented.into(),
            generated: generated.into(),
        }
    }
}

/// Every documented operation, parameter and field that the generated document lacks or
/// describes differently.
pub(crate) fn check(documented: &Value, generated: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (path, item) in documented["paths"].as_object().into_iter().flatten() {
        for (method, doc_op) in item.as_object().into_iter().flatten() {
            let operation = format!("{} {path}", method.to_uppercase());
            let gen_op = &generated["paths"][path][method];
            if gen_op.is_null() {
                out.push(Mismatch::new(
                    &operation,
                    "(operation)",
                    "present",
                    "missing",
                ));
                continue;
            }
            let compare =
                |out: &mut Vec<Mismatch>, field: &str, doc: &Value, generated_schema: &Value| {
                    Schemas {
                        documented,
                        generated,
                        operation: &operation,
                    }
                    .compare(field, doc, generated_schema, out);
                };
            if doc_op.get("security").is_some()
                && gen_op["security"].as_array().is_none_or(Vec::is_empty)
            {
                out.push(Mismatch::new(
                    &operation,
                    "(security)",
                    "authenticated",
                    "none",
                ));
            }
            for doc_param in doc_op["parameters"].as_array().into_iter().flatten() {
                let name = doc_param["name"].as_str().unwrap_or_default();
                let location = doc_param["in"].as_str().unwrap_or_default();
                let field = format!("{location} {name}");
                let gen_param = gen_op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| {
                        p["in"] == location
                            && p["name"]
                                .as_str()
                                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    });
                let Some(gen_param) = gen_param else {
                    out.push(Mismatch::new(&operation, &field, "present", "missing"));
                    continue;
                };
                let doc_required = doc_param["required"].as_bool().unwrap_or(false);
                let gen_required = gen_param["required"].as_bool().unwrap_or(false);
                if doc_required != gen_required {
                    out.push(Mismatch::new(
                        &operation,
                        &field,
                        required(doc_required),
                        required(gen_required),
                    ));
                }
                compare(&mut out, &field, &doc_param["schema"], &gen_param["schema"]);
            }
            let doc_body = &doc_op["requestBody"]["content"]["application/json"]["schema"];
            if !doc_body.is_null() {
                let gen_body = &gen_op["requestBody"]["content"]["application/json"]["schema"];
                if gen_body.is_null() {
                    out.push(Mismatch::new(&operation, "body", "a JSON body", "none"));
                } else {
                    compare(&mut out, "body", doc_body, gen_body);
                }
            }
            for (status, doc_response) in doc_op["responses"].as_object().into_iter().flatten() {
                let field = format!("response {status}");
                let gen_response = &gen_op["responses"][status];
                if gen_response.is_null() {
                    out.push(Mismatch::new(&operation, &field, "present", "missing"));
                    continue;
                }
                let doc_schema = &doc_response["content"]["application/json"]["schema"];
                if !doc_schema.is_null() {
                    let gen_schema = &gen_response["content"]["application/json"]["schema"];
                    compare(&mut out, &field, doc_schema, gen_schema);
                }
            }
        }
    }
    out
}

fn required(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

/// Compares schemas of one operation, resolving `$ref`s in their own documents.
struct Schemas<'a> {
    documented: &'a Value,
    generated: &'a Value,
    operation: &'a str,
}

impl Schemas<'_> {
    fn compare(&self, field: &str, doc: &Value, generated_schema: &Value, out: &mut Vec<Mismatch>) {
        let doc = resolve(self.documented, doc);
        let generated_schema = flatten(self.generated, generated_schema);
        let mut mismatch = |what: &str, documented: String, generated: String| {
            let field = if what.is_empty() {
                field.to_owned()
            } else {
                format!("{field} ({what})")
            };
            out.push(Mismatch::new(self.operation, &field, documented, generated));
        };
        let doc_types = types(&doc);
        let gen_types = types(&generated_schema);
        if !doc_types.is_empty() {
            let strip = |types: &BTreeSet<String>| {
                types
                    .iter()
                    .filter(|t| *t != "null")
                    .cloned()
                    .collect::<BTreeSet<_>>()
            };
            if strip(&doc_types) != strip(&gen_types) {
                mismatch("type", show(&strip(&doc_types)), show(&strip(&gen_types)));
            }
            let (doc_null, gen_null) = (doc_types.contains("null"), gen_types.contains("null"));
            if doc_null != gen_null {
                mismatch("nullable", doc_null.to_string(), gen_null.to_string());
            }
        }
        if let Some(format) = doc.get("format")
            && generated_schema.get("format") != Some(format)
        {
            mismatch(
                "format",
                format.to_string(),
                generated_schema
                    .get("format")
                    .map_or("none".into(), Value::to_string),
            );
        }
        if let Some(values) = doc.get("enum") {
            let set = |v: &Value| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(Value::to_string)
                    .collect::<BTreeSet<_>>()
            };
            let gen_enum = generated_schema.get("enum").map(set).unwrap_or_default();
            if set(values) != gen_enum {
                mismatch("enum", show(&set(values)), show(&gen_enum));
            }
        }
        if let Some(default) = doc.get("default")
            && generated_schema.get("default") != Some(default)
        {
            mismatch(
                "default",
                default.to_string(),
                generated_schema
                    .get("default")
                    .map_or("none".into(), Value::to_string),
            );
        }
        for keyword in [
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
        ] {
            if let Some(limit) = doc.get(keyword).and_then(Value::as_f64) {
                let generated = generated_schema.get(keyword).and_then(Value::as_f64);
                if generated != Some(limit) {
                    mismatch(
                        keyword,
                        limit.to_string(),
                        generated.map_or("none".into(), |g| g.to_string()),
                    );
                }
            }
        }
        let doc_required = names(&doc["required"]);
        let gen_required = names(&generated_schema["required"]);
        for (name, doc_property) in doc["properties"].as_object().into_iter().flatten() {
            let path = format!("{field}.{name}");
            let Some(gen_property) = generated_schema["properties"].get(name) else {
                out.push(Mismatch::new(self.operation, &path, "present", "missing"));
                continue;
            };
            let (doc_req, gen_req) = (doc_required.contains(name), gen_required.contains(name));
            if doc_req != gen_req {
                out.push(Mismatch::new(
                    self.operation,
                    &path,
                    required(doc_req),
                    required(gen_req),
                ));
            }
            self.compare(&path, doc_property, gen_property, out);
        }
        if !doc["items"].is_null() {
            self.compare(
                &format!("{field}[]"),
                &doc["items"],
                &generated_schema["items"],
                out,
            );
        }
    }
}

fn show(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn names(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Follows `$ref`s within `root`.
fn resolve(root: &Value, schema: &Value) -> Value {
    let mut schema = schema.clone();
    for _ in 0..16 {
        let Some(reference) = schema["$ref"].as_str() else {
            break;
        };
        let pointer = reference.trim_start_matches('#').to_owned();
        let mut target = root.pointer(&pointer).cloned().unwrap_or(Value::Null);
        // Keywords next to a `$ref` (a description, say) stay.
        if let (Some(target), Some(here)) = (target.as_object_mut(), schema.as_object()) {
            for (key, value) in here {
                if key != "$ref" {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        schema = target;
    }
    schema
}

/// A generated schema as one object: `$ref`s resolved, `allOf` merged, and a
/// `oneOf`/`anyOf` of a schema and `null` read as that schema, nullable.
fn flatten(root: &Value, schema: &Value) -> Value {
    let mut schema = resolve(root, schema);
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array).cloned() {
        let mut merged = serde_json::Map::new();
        let mut required = Vec::new();
        let mut properties = serde_json::Map::new();
        for part in parts {
            let part = flatten(root, &part);
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
            properties.extend(part["properties"].as_object().cloned().unwrap_or_default());
            for (key, value) in part.as_object().into_iter().flatten() {
                merged.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        merged.insert("required".into(), Value::Array(required));
        merged.insert("properties".into(), Value::Object(properties));
        schema = Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array).cloned() {
            let (nulls, others): (Vec<_>, Vec<_>) =
                parts.into_iter().partition(|p| p["type"] == "null");
            if others.len() == 1 {
                let mut inner = flatten(root, &others[0]);
                if !nulls.is_empty() {
                    let mut types: Vec<Value> =
                        types(&inner).into_iter().map(Value::String).collect();
                    types.push(Value::String("null".into()));
                    inner["type"] = Value::Array(types);
                }
                schema = inner;
            }
        }
    }
    schema
}

fn types(schema: &Value) -> BTreeSet<String> {
    match &schema["type"] {
        Value::String(t) => [t.clone()].into(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// The house rules for every generated operation: an operation id `<verb>_<resource>`, a
/// summary, a description and a tag, and every 4xx answer a problem+json `Problem`.
pub(crate) fn lint(generated: &Value) -> Vec<Mismatch> {
    const VERBS: [&str; 8] = [
        "get", "list", "create", "update", "delete", "set", "add", "remove",
    ];
    let mut out = Vec::new();
    for (path, item) in generated["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let operation = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().unwrap_or_default();
            let (verb, resource) = id.split_once('_').unwrap_or((id, ""));
            let id_ok = VERBS.contains(&verb)
                && !resource.is_empty()
                && resource
                    .split('_')
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
            if !id_ok {
                out.push(Mismatch::new(
                    &operation,
                    "operationId",
                    "<verb>_<resource>",
                    id,
                ));
            }
            for key in ["summary", "description"] {
                if op[key].as_str().is_none_or(str::is_empty) {
                    out.push(Mismatch::new(&operation, key, "present", "missing"));
                }
            }
            if op["tags"].as_array().is_none_or(Vec::is_empty) {
                out.push(Mismatch::new(&operation, "tags", "a tag", "none"));
            }
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                if !status.starts_with('4') {
                    continue;
                }
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                if schema != "#/components/schemas/Problem" {
                    out.push(Mismatch::new(
                        &operation,
                        &format!("response {status}"),
                        "problem+json Problem",
                        schema.to_string(),
                    ));
                }
            }
        }
    }
    out
}

/// Every event type is documented under `webhooks`: a `POST` with a summary, a description
/// and a body whose `type` is that type and whose `data` names its fields.
pub(crate) fn lint_webhooks(generated: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for event_type in tenantry_domain::EventType::ALL {
        let name = event_type.as_str();
        let operation = format!("webhook {name}");
        let op = &generated["webhooks"][name]["post"];
        if !op.is_object() {
            out.push(Mismatch::new(
                &operation,
                "webhooks",
                "documented",
                "missing",
            ));
            continue;
        }
        for key in ["summary", "description"] {
            if op[key].as_str().is_none_or(str::is_empty) {
                out.push(Mismatch::new(&operation, key, "present", "missing"));
            }
        }
        let body =
            &op["requestBody"]["content"]["application/json"]["schema"]["allOf"][1]["properties"];
        if body["type"]["const"] != name {
            out.push(Mismatch::new(
                &operation,
                "type",
                name,
                body["type"]["const"].to_string(),
            ));
        }
        if body["data"]["properties"]
            .as_object()
            .is_none_or(|p| p.is_empty())
        {
            out.push(Mismatch::new(&operation, "data", "its fields", "none"));
        }
    }
    out
}

/// The mismatches as a table.
pub(crate) fn table(rows: &[Mismatch]) -> String {
    let headers = ["operation", "field", "documented", "generated"];
    let cells: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.operation.as_str(),
                r.field.as_str(),
                r.documented.as_str(),
                r.generated.as_str(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: [&str; 4]| {
        let padded: Vec<String> = c
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        padded.join(" | ").trim_end().to_owned()
    };
    let mut text = line(headers);
    text.push('\n');
    text.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    for c in cells {
        text.push('\n');
        text.push_str(&line(c));
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn documented() -> Value {
        json!({
            "paths": {"/things/{id}": {"patch": {
                "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "size": {"type": "integer", "minimum": 0, "maximum": 10},
                    "note": {"type": ["string", "null"]}
                }}}}},
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
            }}},
            "components": {"schemas": {"Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}
        })
    }

    fn generated() -> Value {
        json!({
            "paths": {"/things/{id}": {"patch": {
                "operationId": "update_thing", "summary": "s", "description": "d", "tags": ["things"],
                "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Patch"}}}},
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Thing"}]}}}},
                    "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
                }
            }}},
            "components": {"schemas": {
                "Patch": {"type": "object", "properties": {
                    "kind": {"oneOf": [{"$ref": "#/components/schemas/Kind"}]},
                    "size": {"type": "integer", "minimum": 0, "maximum": 10},
                    "note": {"type": ["string", "null"]}
                }},
                "Kind": {"type": "string", "enum": ["a", "b"]},
                "Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
            }}
        })
    }

    fn fields(rows: &[Mismatch]) -> Vec<&str> {
        rows.iter().map(|r| r.field.as_str()).collect()
    }

    #[test]
    fn a_matching_document_has_no_mismatch() {
        assert_eq!(check(&documented(), &generated()), []);
        assert_eq!(lint(&generated()), []);
    }

    #[test]
    fn a_missing_path_is_reported() {
        let mut generated = generated();
        generated["paths"] = json!({});
        assert_eq!(fields(&check(&documented(), &generated)), ["(operation)"]);
    }

    #[test]
    fn a_missing_field_is_reported() {
        let mut generated = generated();
        generated["components"]["schemas"]["Patch"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("note");
        assert_eq!(fields(&check(&documented(), &generated)), ["body.note"]);
    }

    #[test]
    fn a_wrong_type_and_a_lost_null_are_reported() {
        let mut generated = generated();
        generated["components"]["schemas"]["Patch"]["properties"]["note"] =
            json!({"type": "integer"});
        assert_eq!(
            fields(&check(&documented(), &generated)),
            ["body.note (type)", "body.note (nullable)"]
        );
    }

    #[test]
    fn a_changed_enum_is_reported() {
        let mut generated = generated();
        generated["components"]["schemas"]["Kind"]["enum"] = json!(["a", "c"]);
        let rows = check(&documented(), &generated);
        assert_eq!(fields(&rows), ["body.kind (enum)"]);
        assert_eq!(rows[0].documented, "\"a\", \"b\"");
    }

    #[test]
    fn a_loosened_limit_is_reported() {
        let mut generated = generated();
        generated["components"]["schemas"]["Patch"]["properties"]["size"]["maximum"] = json!(100);
        let rows = check(&documented(), &generated);
        assert_eq!(fields(&rows), ["body.size (maximum)"]);
        assert_eq!(
            (rows[0].documented.as_str(), rows[0].generated.as_str()),
            ("10", "100")
        );
    }

    #[test]
    fn required_ness_and_parameters_are_checked() {
        let mut generated = generated();
        generated["components"]["schemas"]["Thing"]["required"] = json!([]);
        generated["paths"]["/things/{id}"]["patch"]["parameters"] = json!([]);
        assert_eq!(
            fields(&check(&documented(), &generated)),
            ["path id", "response 200.id"]
        );
    }

    #[test]
    fn the_house_rules_are_linted() {
        let mut generated = generated();
        let op = &mut generated["paths"]["/things/{id}"]["patch"];
        op["operationId"] = json!("patchThing");
        op["summary"] = json!("");
        op["responses"]["404"] = json!({"content": {"application/json": {}}});
        assert_eq!(
            fields(&lint(&generated)),
            ["operationId", "summary", "response 404"]
        );
        assert!(table(&lint(&generated)).contains("patchThing"));
    }

    #[test]
    fn every_event_type_must_be_documented_as_a_webhook() {
        let mut document = tenantry_http::openapi_document();
        assert_eq!(lint_webhooks(&document), []);
        document["webhooks"]
            .as_object_mut()
            .unwrap()
            .remove("member.added");
        document["webhooks"]["user.created"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["allOf"][1]["properties"]["type"]["const"] = json!("user.made");
        let found = lint_webhooks(&document);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(table(&found).contains("webhook member.added"));
        assert!(table(&found).contains("user.made"));
    }
}
