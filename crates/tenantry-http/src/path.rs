//! The ids a path names, as typed extractors: each parses its segment into its domain id
//! (a bad one is a 422 naming the parameter) and documents itself as an OpenAPI path
//! parameter, so an operation says `params(OrganizationIdPath)` and its handler takes
//! `OrganizationIdPath(id): OrganizationIdPath`: the name, type, description, example and
//! what to paste in Swagger UI are declared once, here.

use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Required, SchemaFormat, Type};

use tenantry_domain::{
    ApiKeyId, OrganizationId, UsageEntryId, UserId, WebhookDeliveryId, WebhookEndpointId,
    WorkspaceId,
};

use crate::error::ApiError;

/// The segment `name` of the matched path, parsed.
fn segment<T: FromStr>(request: &HttpRequest, name: &str) -> Result<T, ApiError> {
    request
        .match_info()
        .get(name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| ApiError::validation(name, "must be a UUID"))
}

/// The OpenAPI parameter: a required UUID in the path.
fn parameter(name: &str, description: &str, note: &str, example: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!(
            "{}. {note}",
            description.trim_end_matches('.')
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        ))
        .example(Some(serde_json::Value::String(example.to_owned())))
        .build()
}

macro_rules! path_ids {
    ($(
        $(#[$doc:meta])*
        $extractor:ident($id:ty) = $name:literal,
            description: $description:literal,
            note: $note:expr,
            example: $example:literal;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $extractor(pub $id);

        impl FromRequest for $extractor {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(segment(request, $name).map(Self))
            }
        }

        impl IntoParams for $extractor {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                vec![parameter($name, $description, $note, $example)]
            }
        }
    )*};
}

const ORGANIZATION_NOTE: &str =
    "Paste the `id` of an organization you belong to (the README walk's `$ORG`).";

path_ids! {
    /// `{organization_id}` of the management API.
    OrganizationIdPath(OrganizationId) = "organization_id",
        description: "Organization ID",
        note: ORGANIZATION_NOTE,
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f";
    /// `{id}` of the organization-by-id API.
    IdPath(OrganizationId) = "id",
        description: "A UUID string identifying this organization.",
        note: ORGANIZATION_NOTE,
        example: "3c90c3cc-0d44-4b50-8888-8dd25736052a";
    /// `{user_id}`: a member of the organization the path names.
    UserIdPath(UserId) = "user_id",
        description: "User ID of the member",
        note: "Paste the `id` of a member (the README walk's `$BOB`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e10";
    /// `{key_id}`: an API key.
    KeyIdPath(ApiKeyId) = "key_id",
        description: "API key ID",
        note: "Paste the `id` of a key (from `GET /api-key/list`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e11";
    /// `{entry_id}`: an entry of the usage ledger.
    EntryIdPath(UsageEntryId) = "entry_id",
        description: "The usage entry to refund (`entryId` of the usage call)",
        note: "Paste the `entryId` a usage call answered (the README walk's `$ENTRY`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e31";
    /// `{workspace_id}`: a workspace of the organization the path names.
    WorkspaceIdPath(WorkspaceId) = "workspace_id",
        description: "Workspace ID",
        note: "Paste the `id` of a workspace (from its `…/workspace/list`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e12";
    /// `{endpoint_id}`: a webhook endpoint.
    EndpointIdPath(WebhookEndpointId) = "endpoint_id",
        description: "Webhook endpoint ID",
        note: "Paste the `id` of a webhook endpoint (from `GET /webhook-endpoint/list`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e51";
    /// `{delivery_id}`: a delivery of the endpoint the path names.
    DeliveryIdPath(WebhookDeliveryId) = "delivery_id",
        description: "Delivery ID",
        note: "Paste the `id` of a delivery (from the endpoint's `…/deliveries`).",
        example: "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e52";
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    /// A request to `/organization/{segment}`, matched.
    fn request(segment: &str) -> HttpRequest {
        TestRequest::default()
            .uri(&format!("/organization/{segment}"))
            .param("organization_id", segment.to_owned())
            .to_http_request()
    }

    #[actix_web::test]
    async fn an_id_in_the_path_is_parsed_and_a_bad_one_names_its_parameter() {
        let id = "0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f";
        let OrganizationIdPath(parsed) = OrganizationIdPath::extract(&request(id)).await.unwrap();
        assert_eq!(parsed.to_string(), id);
        let error = OrganizationIdPath::extract(&request("not-a-uuid"))
            .await
            .unwrap_err();
        let problem = serde_json::to_value(error.problem()).unwrap();
        assert_eq!(problem["status"], 422, "{problem}");
        assert_eq!(
            problem["errors"][0]["field"], "organization_id",
            "{problem}"
        );
    }

    #[test]
    fn each_documents_itself_with_what_to_paste() {
        let parameters = <UserIdPath as IntoParams>::into_params(|| None);
        assert_eq!(parameters.len(), 1);
        let json = serde_json::to_value(&parameters[0]).unwrap();
        assert_eq!(json["name"], "user_id");
        assert_eq!(json["in"], "path");
        assert_eq!(json["required"], true);
        assert_eq!(json["schema"]["format"], "uuid");
        assert_eq!(
            json["description"],
            "User ID of the member. Paste the `id` of a member (the README walk's `$BOB`)."
        );
    }
}
