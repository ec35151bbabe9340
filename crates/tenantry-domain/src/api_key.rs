//! API keys. A key is shown once, when it is made; only its SHA-256 hash is kept. Keys are
//! 256 random bits, so a fast hash is enough: there is nothing to brute-force.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::error::InvalidValue;
use crate::ids::{ApiKeyId, OrganizationId, UserId};
use crate::values::{TextLine, limits};

/// The text every key starts with, so leaked keys are easy to recognise.
const KEY_PREFIX: &str = "tnt_";
/// How many characters of a key are kept in clear to recognise it in a list.
const SHOWN_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;

/// An API key's display name.
pub type ApiKeyName = TextLine;

impl TextLine {
    /// An API key's display name.
    pub fn api_key_name(value: impl Into<String>) -> Result<ApiKeyName, InvalidValue> {
        TextLine::parse(value, limits::TEXT_LINE_MAX_CHARS)
    }
}

/// A key in clear. It exists only while the key is being made, to be shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.prefix())
    }
}

impl ApiKeySecret {
    /// A key made of 32 random bytes (from the operating system's generator).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The key in clear, to show its holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first characters of the key, kept in clear to recognise it.
    pub fn prefix(&self) -> String {
        self.0.chars().take(SHOWN_PREFIX_CHARS).collect()
    }

    /// Its hash, which is all that is stored.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

/// The SHA-256 hash of a key, as lower-case hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl KeyHash {
    /// The hash of a key as presented in a request.
    pub fn of(presented: &str) -> Self {
        Self::of_bytes(presented.as_bytes())
    }

    /// The SHA-256 of any bytes, in the same form.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        // As two 128-bit numbers, written in one go (a `format!` per byte cost more than
        // the hash itself).
        let [high, low] = [&digest[..16], &digest[16..]]
            .map(|half| u128::from_be_bytes(half.try_into().expect("16 bytes")));
        Self(format!("{high:032x}{low:032x}"))
    }

    /// The hash, as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so timing tells nothing of a stored hash.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// What a key may act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyScope {
    /// The platform administrator.
    PlatformAdmin,
    /// A user, in every organization they belong to.
    User(UserId),
    /// One organization only; with a user, as that user's role there, without one as an
    /// organization admin.
    Organization {
        /// The organization it acts in.
        organization_id: OrganizationId,
        /// The user it acts as, if any (a key made by a member acts as them too).
        user_id: Option<UserId>,
    },
}

/// A stored API key: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its public id.
    pub id: ApiKeyId,
    /// Its name, to tell keys apart.
    pub name: ApiKeyName,
    /// The first characters of the key, to recognise it by; never enough to use it.
    pub prefix: String,
    /// What it may act as.
    pub scope: ApiKeyScope,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// The user the key acts as, if any.
    pub fn user_id(&self) -> Option<UserId> {
        match self.scope {
            ApiKeyScope::PlatformAdmin => None,
            ApiKeyScope::User(user_id) => Some(user_id),
            ApiKeyScope::Organization { user_id, .. } => user_id,
        }
    }

    /// The organization the key is scoped to, if any.
    pub fn organization_id(&self) -> Option<OrganizationId> {
        match self.scope {
            ApiKeyScope::Organization {
                organization_id, ..
            } => Some(organization_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_and_hashed() {
        let key = ApiKeySecret::from_random_bytes([7; 32]);
        assert!(key.expose().starts_with("tnt_"));
        assert_eq!(key.expose().len(), 4 + 43);
        assert_eq!(key.prefix().len(), 12);
        assert!(key.hash().matches(&KeyHash::of(key.expose())));
        assert!(!key.hash().matches(&KeyHash::of("tnt_other")));
        assert_eq!(key.hash().as_str().len(), 64);
        // The stored form: SHA-256 as lower-case hex, leading zeros kept (FIPS 180-2's
        // vector, and one whose digest and second half both start with zero bytes).
        assert_eq!(
            KeyHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            KeyHash::of("3633").as_str(),
            "00039a15178b11924de22fd1a02f6efb00d8af33c171a6b67614871e8d6012da"
        );
        assert!(!format!("{key:?}").contains(key.expose()));
    }
}
