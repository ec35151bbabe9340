use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id. Ids are UUID version 7, so they sort in creation order.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id that `uuid` is (any UUID: ids made elsewhere are kept as they are).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id as a UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

public_id!(
    /// The public identifier of an organization.
    OrganizationId
);
public_id!(
    /// The public identifier of a user.
    UserId
);
public_id!(
    /// The public identifier of an API key (not the key itself).
    ApiKeyId
);
public_id!(
    /// The public identifier of a workspace.
    WorkspaceId
);
public_id!(
    /// The public identifier of an entry of the usage ledger.
    UsageEntryId
);
public_id!(
    /// The public identifier of an event.
    EventId
);
public_id!(
    /// The public identifier of a webhook endpoint.
    WebhookEndpointId
);
public_id!(
    /// The public identifier of one event's delivery to one webhook endpoint.
    WebhookDeliveryId
);
