//! serde support, with the `serde` feature: each value serializes as its JSON form (a name as
//! its text, a quota as its number, an id as its UUID, metadata as its object) and
//! deserializes only through its parser, so an invalid value cannot be deserialized.
//!
//! ```
//! use tenantry_domain::{Email, Quota};
//!
//! let email: Email = serde_json::from_str(r#""ada@example.com""#).unwrap();
//! assert_eq!(serde_json::to_string(&email).unwrap(), r#""ada@example.com""#);
//! // What the parser refuses, deserializing refuses, with the parser's reason.
//! let refused = serde_json::from_str::<Email>(r#""not an email""#).unwrap_err();
//! assert!(refused.to_string().contains("email"));
//! assert!(serde_json::from_str::<Quota>("-1").is_err());
//! ```

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    AccountType, ApiKeyId, BillingCycleDay, DomainName, Email, EventId, EventType, HttpUrl,
    Metadata, Module, OrganizationId, OrganizationName, Plan, Quota, Role, SalesforceCode,
    UsageCategory, UsageEntryId, UserId, WebhookDeliveryId, WebhookEndpointId, WorkspaceId,
};

/// Values written as their text: serialized with `as_str`, deserialized with `parse`.
macro_rules! as_text {
    ($($value:ty),* $(,)?) => {$(
        impl Serialize for $value {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $value {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$value>::parse(&*text).map_err(D::Error::custom)
            }
        }
    )*};
}

as_text!(
    OrganizationName,
    Email,
    DomainName,
    HttpUrl,
    SalesforceCode,
    Module,
    Role,
    AccountType,
    Plan,
    UsageCategory,
    EventType,
);

/// Whole numbers with a range: serialized as the number, deserialized with `parse`.
macro_rules! as_number {
    ($($value:ty),* $(,)?) => {$(
        impl Serialize for $value {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u64(u64::from(self.get()))
            }
        }

        impl<'de> Deserialize<'de> for $value {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let number = i64::deserialize(deserializer)?;
                <$value>::parse(number).map_err(D::Error::custom)
            }
        }
    )*};
}

as_number!(Quota, BillingCycleDay);

/// Public ids: serialized as their UUID, any UUID accepted.
macro_rules! as_uuid {
    ($($value:ty),* $(,)?) => {$(
        impl Serialize for $value {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.as_uuid().serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $value {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                uuid::Uuid::deserialize(deserializer).map(<$value>::from_uuid)
            }
        }
    )*};
}

as_uuid!(
    OrganizationId,
    UserId,
    ApiKeyId,
    WorkspaceId,
    UsageEntryId,
    EventId,
    WebhookEndpointId,
    WebhookDeliveryId,
);

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Metadata::parse(value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(json: &str)
    where
        T: Serialize + for<'de> Deserialize<'de> + std::fmt::Debug,
    {
        let value: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(serde_json::to_string(&value).unwrap(), json);
    }

    #[test]
    fn valid_values_read_and_write_their_json_form() {
        round_trip::<OrganizationName>(r#""Acme""#);
        round_trip::<Email>(r#""ada@example.com""#);
        round_trip::<DomainName>(r#""acme.example""#);
        round_trip::<HttpUrl>(r#""https://acme.example/logo.png""#);
        round_trip::<Role>(r#""owner""#);
        round_trip::<AccountType>(r#""pro""#);
        round_trip::<Plan>(r#""suite""#);
        round_trip::<UsageCategory>(r#""search""#);
        round_trip::<EventType>(r#""organization.updated""#);
        round_trip::<Quota>("25");
        round_trip::<BillingCycleDay>("9");
        round_trip::<OrganizationId>(r#""0192f8a4-1b2c-7d3e-8f40-5a6b7c8d9e0f""#);
        round_trip::<Metadata>(r#"{"crm":"hubspot"}"#);
    }

    #[test]
    fn invalid_values_cannot_be_deserialized() {
        for (json, why) in [
            (r#""""#, "an empty name"),
            (r#""a\u0000b""#, "a control character"),
        ] {
            assert!(
                serde_json::from_str::<OrganizationName>(json).is_err(),
                "{why}"
            );
        }
        assert!(serde_json::from_str::<Email>(r#""ada@@example.com""#).is_err());
        assert!(serde_json::from_str::<DomainName>(r#""-acme.example""#).is_err());
        assert!(serde_json::from_str::<HttpUrl>(r#""ftp://acme.example""#).is_err());
        assert!(serde_json::from_str::<Role>(r#""superuser""#).is_err());
        assert!(serde_json::from_str::<Quota>("-1").is_err());
        assert!(serde_json::from_str::<BillingCycleDay>("31").is_err());
        assert!(serde_json::from_str::<OrganizationId>(r#""not-a-uuid""#).is_err());
        assert!(serde_json::from_str::<Metadata>("[1, 2]").is_err());
    }
}
