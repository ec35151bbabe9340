use thiserror::Error;

/// Why a value could not be constructed. The message is a sentence fit to show a client; it
/// never repeats the rejected value, which may be large or secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    /// A refusal saying `message` (a sentence such as "must not be empty").
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The reason, as a sentence.
    ///
    /// ```
    /// use tenantry_domain::Quota;
    ///
    /// let refused = Quota::parse(-1).unwrap_err();
    /// assert!(!refused.message().is_empty());
    /// assert!(!refused.message().contains("-1"), "the value itself is never repeated");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A rule of the organization aggregate that a change would break.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleViolation {
    /// The change would leave the organization without an owner.
    #[error("an organization must keep at least one owner")]
    LastOwner,
    /// The organization has as many members as its user quota allows.
    #[error("the organization has reached its user quota of {quota}")]
    UserQuotaReached {
        /// The quota.
        quota: u32,
    },
    /// The organization has as many workspaces as its workspace quota allows.
    #[error("the organization has reached its workspace quota of {quota}")]
    WorkspaceQuotaReached {
        /// The quota.
        quota: u32,
    },
    /// Using the credits asked would go beyond the allocation and the overage allowed.
    #[error(
        "using {requested} credits would exceed the {left} credits left in this billing cycle and the overage allowed"
    )]
    CreditsExhausted {
        /// The credits asked for.
        requested: u64,
        /// The credits that may still be used this cycle.
        left: u64,
    },
    /// Only an owner grants, changes or removes the owner role.
    #[error("only an owner may grant, change or remove the owner role")]
    OnlyOwnersTouchOwners,
    /// An inactive organization records no usage and gains no members, workspaces or keys;
    /// only the platform admin changes it (and may activate it again).
    #[error(
        "the organization is inactive: it records no usage and gains no members, workspaces or keys, and only the platform admin may change it"
    )]
    OrganizationInactive,
    /// Another rule, in its own words.
    #[error("{0}")]
    Forbidden(String),
}
