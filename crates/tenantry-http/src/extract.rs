//! Request extractors that answer every malformed input with a problem naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use uuid::Uuid;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use tenantry_domain::KeyHash;

use crate::error::{ApiError, FieldError};

/// The largest request body most operations take: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How a surface spells its field names: validator reports Rust names, which the
/// camelCase surface turns into its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldCase {
    Snake,
    Camel,
}

impl FieldCase {
    pub fn name(self, rust_name: &str) -> String {
        match self {
            Self::Snake => rust_name.to_owned(),
            Self::Camel => tenantry_domain::values::camel_case(rust_name),
        }
    }
}

/// A request body DTO: deserialized from a JSON object, then validated.
pub trait RequestBody: DeserializeOwned + Validate {
    const CASE: FieldCase;
}

/// A JSON object body of at most `LIMIT` bytes, deserialized into `T` and validated.
/// Malformed JSON or a non-object is a 400; unknown fields, wrong types, forbidden nulls and
/// invalid values are a 422 naming each field.
#[derive(Debug)]
pub struct JsonBody<T, const LIMIT: usize = DEFAULT_BODY_LIMIT>(pub T);

impl<T: RequestBody + 'static, const LIMIT: usize> FromRequest for JsonBody<T, LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if let Err(error) = single_header(req, "Content-Type") {
            return Box::pin(std::future::ready(Err(error)));
        }
        let content_type_ok = match req.mime_type() {
            Ok(None) => true,
            Ok(Some(mime)) => {
                mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")
            }
            Err(_) => false,
        };
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let req = req.clone();
        let timeout = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map_or(crate::state::DEFAULT_BODY_TIMEOUT, |state| {
                state.body_timeout
            });
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType(
                    "the request body must be JSON (Content-Type: application/json)".into(),
                ));
            }
            if declared_length.is_some_and(|len| len > LIMIT) {
                return Err(ApiError::PayloadTooLarge(LIMIT));
            }
            let mut body = Vec::with_capacity(declared_length.unwrap_or(0).min(LIMIT));
            // The whole body must arrive within the timeout, however it is trickled.
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let next = tokio::time::timeout_at(deadline, payload.next())
                    .await
                    .map_err(|_| ApiError::RequestTimeout(timeout.as_secs().max(1)))?;
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| {
                    ApiError::BadRequest(format!("could not read the request body: {e}"))
                })?;
                if body.len() + chunk.len() > LIMIT {
                    return Err(ApiError::PayloadTooLarge(LIMIT));
                }
                body.extend_from_slice(&chunk);
            }
            // Only a request that may be retried under its key needs its body's hash.
            if req.headers().contains_key("idempotency-key") {
                req.extensions_mut()
                    .insert(BodyHash(KeyHash::of_bytes(&body)));
            }
            parse_body::<T>(&body).map(JsonBody)
        })
    }
}

/// The hash of the body a [`JsonBody`] read, kept in the request's extensions when the
/// request sends an `Idempotency-Key` (to tell whether a retry under that key is the same
/// request); other requests are not hashed.
#[derive(Debug, Clone)]
pub struct BodyHash(pub KeyHash);

/// Parses a body as [`JsonBody`] does.
pub fn parse_body<T: RequestBody>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "a JSON object body is required".into(),
        ));
    }
    crate::json_text::check(body)?;
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    integers_as_integers(&mut value);
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    // serde_ignored writes `?` for the inside of an Option: the client never sees one.
    let mut on_unknown = |path: serde_ignored::Path<'_>| {
        let path = path.to_string();
        unknown.push(
            path.split('.')
                .filter(|segment| *segment != "?")
                .collect::<Vec<_>>()
                .join("."),
        );
    };
    let ignoring = serde_ignored::Deserializer::new(value, &mut on_unknown);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(ignoring);
    for field in unknown {
        errors.push(FieldError::new(field, "unknown field"));
    }
    let parsed = match parsed {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            errors.push(serde_error(&error));
            None
        }
    };
    match parsed {
        Some(parsed) if errors.is_empty() => {
            parsed
                .validate()
                .map_err(|e| ApiError::Validation(validation_errors(&e, T::CASE)))?;
            Ok(parsed)
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Writes every number with no fractional part (`10.0`) as the integer it is: JSON Schema
/// counts it as an integer, and so do we.
fn integers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if number.is_f64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float.abs() < 9_007_199_254_740_992.0
            {
                // Exact: a float below 2^53 with no fraction is a whole number.
                *number = serde_json::Number::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integers_as_integers),
        _ => {}
    }
}

/// Names the field of a deserialization error and says what it expected, without
/// repeating the value.
fn serde_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // "missing field `x`" is reported at the parent: name the missing field itself.
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "is required");
    }
    let message = if let Some(idx) = message.find(", expected ") {
        // "invalid type: string \"…\", expected u32": keep what was expected.
        let expected = &message[idx + ", expected ".len()..];
        format!("must be {}", humanize_expected(expected))
    } else if message.starts_with("unknown variant") {
        let expected = message.split("expected ").nth(1).unwrap_or_default();
        format!("must be {}", expected.replace('`', "'"))
    } else {
        message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    FieldError::new(if path == "." { String::new() } else { path }, message)
}

fn humanize_expected(expected: &str) -> String {
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    match expected {
        "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "usize" => "a whole number".to_owned(),
        "a boolean" | "a string" | "a sequence" | "a map" => expected.to_owned(),
        "struct" => "an object".to_owned(),
        other => other.replace('`', "'"),
    }
}

/// Flattens validator's errors into field errors, naming nested fields `a.b` and list
/// items `a[0]`.
pub fn validation_errors(errors: &ValidationErrors, case: FieldCase) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", case, &mut out);
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, case: FieldCase, out: &mut Vec<FieldError>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (name, kind) in fields {
        let name = if name == "__all__" {
            String::new()
        } else {
            case.name(name)
        };
        let path = match (prefix.is_empty(), name.is_empty()) {
            (true, _) => name,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{name}"),
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| describe_code(error));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, case, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), case, out);
                }
            }
        }
    }
}

fn describe_code(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(ToString::to_string);
    match error.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            _ => "has an invalid length".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be from {min} to {max}"),
            (None, Some(max)) => format!("must be at most {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            _ => "is out of range".to_owned(),
        },
        "email" => "must be an email address such as name@example.com".to_owned(),
        "url" => "must be an absolute http or https URL".to_owned(),
        code => format!("is invalid ({code})"),
    }
}

/// The value of a header that must be sent at most once: a second copy makes the request
/// ambiguous (which credentials, which organization?), so it is a 400 naming the header.
pub fn single_header<'a>(
    req: &'a HttpRequest,
    name: &'static str,
) -> Result<Option<&'a header::HeaderValue>, ApiError> {
    let mut values = req.headers().get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::MalformedField {
            detail: format!("the {name} header was sent more than once"),
            fields: vec![FieldError::new(name, "must be sent at most once")],
        });
    }
    Ok(first)
}

/// The longest `Idempotency-Key` taken.
const IDEMPOTENCY_KEY_MAX: usize = 255;

/// The request's `Idempotency-Key`, if it sent one: 1 to 255 visible ASCII characters (a
/// 422 naming the header otherwise; a 400 when sent twice).
pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = single_header(req, "Idempotency-Key")? else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::validation(
            "Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        )
    };
    let key = value.to_str().map_err(|_| invalid())?.trim();
    if key.is_empty()
        || key.len() > IDEMPOTENCY_KEY_MAX
        || !key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(invalid());
    }
    Ok(Some(key.to_owned()))
}

/// What identifies a request for idempotency: its method, path and body.
pub(crate) fn request_fingerprint(req: &HttpRequest) -> String {
    use actix_web::HttpMessage as _;
    let body = req
        .extensions()
        .get::<BodyHash>()
        .map(|h| h.0.as_str().to_owned())
        .unwrap_or_default();
    KeyHash::of(&format!("{} {} {body}", req.method(), req.path()))
        .as_str()
        .to_owned()
}

/// The answer to a retry of an idempotent request: the first answer whole (status, headers,
/// body) when the retry is the same request, else a 409.
pub(crate) fn replay_response(
    replay: tenantry_storage::Replay,
    request_hash: &str,
) -> Result<actix_web::HttpResponse, ApiError> {
    if replay.request_hash != request_hash {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was already used for a different request".into(),
        ));
    }
    let mut response = actix_web::HttpResponse::build(
        actix_web::http::StatusCode::from_u16(replay.response.status)
            .map_err(ApiError::internal)?,
    );
    for header in replay.response.headers {
        response.insert_header(header);
    }
    Ok(response
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type("application/json")
        .body(replay.response.body))
}

/// Keyset paging parameters of every `/list` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// How many items a page holds at most: 1 to 1000, 100 if not given.
    #[param(minimum = 1, maximum = 1000, default = 100, value_type = Option<u32>)]
    pub limit: u64,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    #[param(value_type = Option<String>, format = Uuid)]
    pub cursor: Option<Uuid>,
}

impl Paging {
    pub const DEFAULT_LIMIT: u64 = 100;
    pub const MAX_LIMIT: u64 = 1000;

    fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))?;
        let mut paging = Self {
            limit: Self::DEFAULT_LIMIT,
            cursor: None,
        };
        let mut errors = Vec::new();
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => match value.parse::<u64>() {
                    Ok(limit) if (1..=Self::MAX_LIMIT).contains(&limit) => paging.limit = limit,
                    _ => errors.push(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {}", Self::MAX_LIMIT),
                    )),
                },
                "cursor" => match value.parse::<Uuid>() {
                    Ok(cursor) => paging.cursor = Some(cursor),
                    Err(_) => errors.push(FieldError::new(
                        "cursor",
                        "must be the cursor of a Link rel=\"next\" header",
                    )),
                },
                other => errors.push(FieldError::new(other, "unknown query parameter")),
            }
        }
        if errors.is_empty() {
            Ok(paging)
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    pub fn page(&self) -> tenantry_storage::PageRequest {
        tenantry_storage::PageRequest {
            after: self.cursor,
            limit: self.limit,
        }
    }

    /// A page of `items` of the list at `path`, with a `Link` header announcing the next
    /// page when there is one.
    pub fn respond(
        &self,
        path: &str,
        next: Option<Uuid>,
        items: impl serde::Serialize,
    ) -> actix_web::HttpResponse {
        let mut response = actix_web::HttpResponse::Ok();
        if let Some(cursor) = next {
            let link = format!(
                "<{path}?limit={}&cursor={cursor}>; rel=\"next\"",
                self.limit
            );
            response.insert_header((header::LINK, link));
        }
        response.json(items)
    }
}

impl FromRequest for Paging {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::parse(req.query_string()))
    }
}

/// Rejects any query parameter: for operations that take none.
#[derive(Debug, Clone, Copy)]
pub struct NoQuery;

impl FromRequest for NoQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))
            .and_then(|pairs| {
                if pairs.is_empty() {
                    Ok(NoQuery)
                } else {
                    Err(ApiError::Validation(
                        pairs
                            .into_iter()
                            .map(|(name, _)| FieldError::new(name, "unknown query parameter"))
                            .collect(),
                    ))
                }
            });
        std::future::ready(result)
    }
}

/// The `If-Match` precondition of a write (RFC 9110 §13.1.1): absent or `*` (no
/// condition), or a list of entity tags of which the current one must be one. Our tags are
/// strong (`"3"`); a bare version (`3`) is taken as its tag. A weak tag (`W/"3"`) never
/// matches under the strong comparison a write uses, nor does a tag this API never gives,
/// so a list of only those fails with 412. A header that is not a list of tags is a 422
/// naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(Option<Vec<u64>>);

impl IfMatch {
    /// No condition.
    pub const ANY: Self = Self(None);

    fn malformed() -> ApiError {
        ApiError::validation(
            "If-Match",
            "must be *, or a comma-separated list of ETags such as \"3\"",
        )
    }

    /// A condition on exactly `version`.
    pub fn single_version(version: u64) -> Self {
        Self(Some(vec![version]))
    }

    /// Whether the request names versions at all (`*` and no header do not).
    pub fn is_conditional(&self) -> bool {
        self.0.is_some()
    }

    /// The one version the header names, if it names exactly one (the usual case: the
    /// conditional write itself then checks it).
    pub fn single(&self) -> Option<u64> {
        match self.0.as_deref() {
            Some([version]) => Some(*version),
            _ => None,
        }
    }

    /// The version a write must find, given the current one: `None` without a condition,
    /// the current version when the header names it, else 412.
    pub fn version_for(&self, current: u64) -> Result<Option<u64>, ApiError> {
        match &self.0 {
            None => Ok(None),
            Some(versions) if versions.contains(&current) => Ok(Some(current)),
            Some(_) => Err(ApiError::PreconditionFailed),
        }
    }

    fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Result<Self, ApiError> {
        let mut versions = Vec::new();
        let mut any = false;
        let mut seen = false;
        for value in values {
            for item in value.split(',').map(str::trim) {
                seen = true;
                if item == "*" {
                    any = true;
                    continue;
                }
                if let Some(weak) = item.strip_prefix("W/") {
                    // Well formed, but a weak tag fails the strong comparison.
                    if !is_quoted_tag(weak) {
                        return Err(Self::malformed());
                    }
                    continue;
                }
                if is_quoted_tag(item) {
                    let inner = &item[1..item.len() - 1];
                    if let Some(version) = parse_version(inner) {
                        versions.push(version);
                    }
                    continue;
                }
                match parse_version(item) {
                    Some(version) => versions.push(version),
                    None => return Err(Self::malformed()),
                }
            }
        }
        if !seen {
            return Err(Self::malformed());
        }
        if any {
            // `*` matches any current representation, alone or in a list.
            return Ok(Self::ANY);
        }
        Ok(Self(Some(versions)))
    }
}

/// `"…"` with only the characters RFC 9110 allows inside an entity tag.
fn is_quoted_tag(value: &str) -> bool {
    value.len() >= 2
        && value.starts_with('"')
        && value.ends_with('"')
        && value[1..value.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
}

fn parse_version(value: &str) -> Option<u64> {
    (!value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut headers = req.headers().get_all(header::IF_MATCH).peekable();
        if headers.peek().is_none() {
            return std::future::ready(Ok(Self::ANY));
        }
        let values: Result<Vec<&str>, _> = headers.map(|v| v.to_str()).collect();
        std::future::ready(match values {
            Ok(values) => Self::parse(values.into_iter()),
            Err(_) => Err(Self::malformed()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_names_follow_the_surface() {
        assert_eq!(
            FieldCase::Camel.name("organization_name"),
            "organizationName"
        );
        assert_eq!(FieldCase::Camel.name("id"), "id");
        assert_eq!(FieldCase::Snake.name("user_quota"), "user_quota");
    }

    #[test]
    fn whole_floats_are_integers() {
        let mut value = serde_json::json!({"a": 10.0, "b": [2.5, -3.0], "c": 1e300});
        integers_as_integers(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"a": 10, "b": [2.5, -3], "c": 1e300})
        );
    }

    #[test]
    fn if_match_follows_the_strong_comparison() {
        let parse = |v: &str| IfMatch::parse(std::iter::once(v));
        assert_eq!(parse("*").unwrap(), IfMatch::ANY);
        assert_eq!(parse("\"3\"").unwrap().single(), Some(3));
        assert_eq!(parse("3").unwrap().single(), Some(3));
        let list = parse("\"2\", \"5\"").unwrap();
        assert_eq!(list.version_for(5).unwrap(), Some(5));
        assert!(list.version_for(4).is_err());
        let weak = parse("W/\"3\"").unwrap();
        assert!(weak.is_conditional());
        assert!(matches!(
            weak.version_for(3),
            Err(ApiError::PreconditionFailed)
        ));
        assert!(matches!(
            parse("\"abc\"").unwrap().version_for(3),
            Err(ApiError::PreconditionFailed)
        ));
        assert_eq!(parse("\"1\", *").unwrap(), IfMatch::ANY);
        for malformed in ["", "three", "\"3", "W/3", "\"a b\""] {
            assert!(
                matches!(parse(malformed), Err(ApiError::Validation(_))),
                "{malformed}"
            );
        }
    }

    #[test]
    fn paging_defaults_and_limits() {
        assert_eq!(Paging::parse("").unwrap().limit, 100);
        assert_eq!(Paging::parse("limit=1000").unwrap().limit, 1000);
        assert!(Paging::parse("limit=0").is_err());
        assert!(Paging::parse("limit=1001").is_err());
        assert!(Paging::parse("cursor=nope").is_err());
        assert!(Paging::parse("limt=5").is_err());
    }
}
