//! The document refuses what the server refuses: every string field of every request body,
//! sent with a sample of awkward values to the real server, and each value the server
//! answers with a 422 naming that field must break the field's schema too (its enum,
//! length, pattern or format). Otherwise a client that checks its input against the
//! document would still be refused, as a fuzzer trusting the document was.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, TestApp};

/// Values that parsers tend to refuse: empty, blank, padded, too long, control and
/// invisible characters, odd Unicode, and near-misses of each format in use.
fn samples() -> Vec<String> {
    let mut samples: Vec<String> = [
        "",
        " ",
        "x",
        "  padded  ",
        "tab\there",
        "line\nbreak",
        "nul\u{0}",
        "del\u{7f}",
        "c1\u{85}",
        "\u{a0}",
        "zero\u{200b}width",
        "\u{feff}bom",
        "bidi\u{202e}txt",
        "\u{2066}isolate",
        "\u{3164}",
        "日本語",
        "emoji 😀",
        "Ünïcödé",
        "a@b",
        "a@b.c",
        "ada@example.com",
        "ada@@example.com",
        "http://localhost",
        "https://example.com/path",
        "https://exa mple.com",
        "ftp://example.com",
        "https://user:pw@example.com",
        "acme.example",
        "-acme.example",
        "acme..example",
        "2030-01-31",
        "2030-02-30",
        "31/01/2030",
        "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f",
        "0192f8a4-1b2c-7d3e-8f40",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/webp;base64,UklGRtZ/YBvXRUJQSn2JOPc=",
        "data:image/png;base64,not base64",
        "pilot",
        "member",
        "search",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    samples.push("a".repeat(51));
    samples.push("a".repeat(256));
    samples.push(format!("https://example.com/{}", "a".repeat(2100)));
    samples.push(format!("{}@example.com", "a".repeat(250)));
    samples
}

/// Whether `value` satisfies the string schema `schema` (enum, lengths in code points,
/// pattern, and the formats the document uses); `None` when it cannot tell.
fn accepts(schema: &Value, value: &str) -> Option<bool> {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return Some(options.iter().any(|o| o == value));
    }
    let length = value.chars().count() as u64;
    if schema["minLength"].as_u64().is_some_and(|min| length < min)
        || schema["maxLength"].as_u64().is_some_and(|max| length > max)
    {
        return Some(false);
    }
    if let Some(pattern) = schema["pattern"].as_str()
        && !regex::Regex::new(pattern).unwrap().is_match(value)
    {
        return Some(false);
    }
    match schema["format"].as_str() {
        None => Some(true),
        Some("uuid") => Some(uuid::Uuid::parse_str(value).is_ok() && value.len() == 36),
        Some("date") => Some(
            time::Date::parse(
                value,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .is_ok(),
        ),
        // Email: the pattern above holds the format's rules that the server applies.
        Some("email") if schema.get("pattern").is_some() => Some(true),
        Some(_) => None,
    }
}

/// The schema of a property: its own, or the non-null branch of a nullable one.
fn string_schema<'a>(document: &'a Value, property: &'a Value) -> Option<&'a Value> {
    let resolve = |schema: &'a Value| match schema["$ref"].as_str() {
        Some(reference) => document.pointer(&reference[1..]),
        None => Some(schema),
    };
    let schema = resolve(property)?;
    for branch in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[branch].as_array() {
            return alternatives
                .iter()
                .filter_map(resolve)
                .find(|a| a["type"] != "null")
                .filter(|a| is_string(a));
        }
    }
    is_string(schema).then_some(schema)
}

fn is_string(schema: &Value) -> bool {
    schema["type"] == "string"
        || schema["type"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == "string"))
}

#[tokio::test]
async fn every_string_field_the_server_refuses_the_document_refuses_too() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("Ada").await;
    let bob = app.new_user("Bob").await;
    let carol = app.new_user("Carol").await;
    let org = app.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_member(&org, &carol.id, "member").await;
    let (_, used) = app
        .post(
            &format!("/organization/{org}/usage"),
            &ada.key,
            json!({"credits": 1}),
        )
        .await;
    let entry = used["entryId"].as_str().unwrap().to_owned();
    let (_, endpoint) = app
        .post(
            "/webhook-endpoint",
            ADMIN_TOKEN,
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let path_value = |name: &str| -> String {
        match name {
            "organization_id" | "id" => org.clone(),
            "user_id" => carol.id.clone(),
            "entry_id" => entry.clone(),
            "endpoint_id" => endpoint.clone(),
            other => panic!("no value for the path parameter {other}"),
        }
    };

    let document = tenantry_http::openapi_document();
    let samples = samples();
    let mut mismatches = Vec::new();
    let mut fields = 0;
    let mut refusals = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(media) = operation.pointer("/requestBody/content/application~1json") else {
                continue;
            };
            let Some(schema) = string_schema(&document, &media["schema"]) else {
                // The body's schema is an object: resolve it and walk its properties.
                let body_schema = match media["schema"]["$ref"].as_str() {
                    Some(reference) => document.pointer(&reference[1..]).unwrap(),
                    None => &media["schema"],
                };
                let mut example = media["example"].clone();
                if operation["operationId"] == "create_organization" {
                    example["ownerUserId"] = json!(ada.id);
                }
                if operation["operationId"] == "add_member" {
                    example["userId"] = json!(bob.id);
                }
                let mut url = path.clone();
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if parameter["in"] == "path" {
                        let name = parameter["name"].as_str().unwrap();
                        url = url.replace(&format!("{{{name}}}"), &path_value(name));
                    }
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                for (field, property) in body_schema["properties"].as_object().unwrap() {
                    let Some(field_schema) = string_schema(&document, property) else {
                        continue;
                    };
                    fields += 1;
                    for sample in &samples {
                        let mut body = example.clone();
                        body[field] = json!(sample);
                        let response = app
                            .request(method.clone(), &url, ADMIN_TOKEN)
                            .header("X-Organization-Id", &org)
                            .json(&body)
                            .send()
                            .await
                            .unwrap();
                        if response.status() != 422 {
                            continue;
                        }
                        let problem: Value = response.json().await.unwrap();
                        let named = problem["errors"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|e| e["field"] == *field);
                        if named {
                            refusals += 1;
                        }
                        // Where a webhook URL's host points is a fact about the world, not
                        // the text: the schema cannot say it (the field's description does).
                        let about_the_world = problem["errors"].to_string().contains("resolve");
                        if named && !about_the_world && accepts(field_schema, sample) == Some(true)
                        {
                            mismatches.push(format!(
                                "{method} {path} {field} = {sample:?}: refused ({}), yet the document accepts it",
                                problem["errors"]
                            ));
                        }
                    }
                }
                continue;
            };
            panic!("{method} {path}: a body that is a bare string ({schema})");
        }
    }
    assert!(fields >= 25, "only {fields} string fields walked");
    assert!(refusals >= 300, "only {refusals} refusals compared");
    assert!(
        mismatches.is_empty(),
        "{} values the server refuses and the document accepts:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The three requests a fuzzer running as the platform admin found the document calling
/// valid and the server refusing: each now breaks the document, or the document says
/// when it is refused.
#[tokio::test]
async fn the_three_requests_found_as_the_platform_admin_stay_fixed() {
    let document = tenantry_http::openapi_document();
    let schema = |pointer: &str| document.pointer(pointer).unwrap().clone();
    let logo = schema("/components/schemas/PatchedOrganizationRequest/properties/logo");
    assert_eq!(
        accepts(&logo, "data:image/webp;base64,UklGRtZ/YBvXRUJQSn2JOPc="),
        Some(false)
    );
    let workspace = schema("/components/schemas/CreateWorkspaceRequest/properties/name");
    assert_eq!(accepts(&workspace, "Lab\u{7}\u{1b}[2J"), Some(false));
    let owner = schema("/components/schemas/CreateOrganizationRequest/properties/ownerUserId");
    assert!(
        owner["description"]
            .as_str()
            .is_some_and(|d| d.contains("Only the platform admin names one (and must)")),
        "{owner}"
    );
    // And the server agrees with each.
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .post(
            "/organization",
            ADMIN_TOKEN,
            json!({"organizationName": "Acme"}),
        )
        .await;
    assert_eq!(status, 422);
    tenantry_tests::assert_problem_names(&problem, status, "ownerUserId");
}
