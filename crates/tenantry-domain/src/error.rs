use thiserror::Error;

/// Why a value could not be constructed. The message is a sentence fit to show a client; it
/// never repeats the rejected value, which may be large or secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A rule of the organization aggregate that a change would break.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleViolation {
    #[error("an organization must keep at least one owner")]
    LastOwner,
    #[error("the organization has reached its user quota of {quota}")]
    UserQuotaReached { quota: u32 },
    #[error("the organization has reached its workspace quota of {quota}")]
    WorkspaceQuotaReached { quota: u32 },
    #[error(
        "using {requested} credits would exceed the {left} credits left in this billing cycle and the overage allowed"
    )]
    CreditsExhausted { requested: u64, left: u64 },
    #[error("only an owner may grant, change or remove the owner role")]
    OnlyOwnersTouchOwners,
    /// An inactive organization records no usage and gains no members, workspaces or keys;
    /// only the platform admin changes it (and may activate it again).
    #[error(
        "the organization is inactive: it records no usage and gains no members, workspaces or keys, and only the platform admin may change it"
    )]
    OrganizationInactive,
    #[error("{0}")]
    Forbidden(String),
}
