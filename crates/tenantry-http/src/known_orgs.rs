//! Organizations as this process last changed them, for the next change to apply to without
//! reading them first.
//!
//! A change made from a remembered organization applies only at its version (`WHERE
//! version = …`), and every write of an organization bumps its version: its fields, its
//! usage, and each membership of it (a member added, removed or given another role). So
//! while the version stands, the organization is as remembered, and so is the role of the
//! member a key acts as. A change whose version no longer stands writes nothing; the
//! request then reads the organization and the caller's role afresh, decides its access
//! again and applies the change to what it read, as if nothing had been remembered.
//!
//! The request is counted against the organization's rate limit from the remembered tier
//! and overrides: a limit another process changed meanwhile counts one request more under
//! the old limit here, the one whose version no longer stands.
//!
//! Requests about one organization run concurrently, so what is remembered only moves
//! forward: an organization is not replaced by an older version of itself, and a request
//! that found its version gone forgets it only if no other request has remembered a newer
//! one meanwhile. Otherwise each such race would cost the requests after it a read each,
//! until one of them happened to be the only write since its read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tenantry_domain::{Organization, OrganizationId, Role, UserId};

/// How many organizations (each as one caller's user saw it) are remembered, at most: a
/// full map forgets one to take another.
pub const DEFAULT_MOST: usize = 10_000;

/// An organization as this process last changed it, with the role there of the user the
/// change was made as (`None`: no user).
#[derive(Debug, Clone)]
pub struct Known {
    pub organization: Arc<Organization>,
    pub role: Option<Role>,
}

type Map = HashMap<(OrganizationId, Option<UserId>), Known>;

/// Organizations as this process last changed them (see the module's docs).
#[derive(Debug)]
pub struct KnownOrganizations {
    most: usize,
    known: Mutex<Map>,
}

impl Default for KnownOrganizations {
    fn default() -> Self {
        Self::new(DEFAULT_MOST)
    }
}

impl KnownOrganizations {
    pub fn new(most: usize) -> Self {
        Self {
            most,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The organization as this process last changed it as `user`, if it remembers it.
    pub fn get(&self, id: OrganizationId, user: Option<UserId>) -> Option<Known> {
        self.lock().get(&(id, user)).cloned()
    }

    /// Remembers `org` as it is now, and `user`'s role there, unless a newer version of it
    /// is remembered already. An organization with a logo is not kept (its image may be
    /// large): it is read for each change, as before.
    pub fn remember(&self, org: &Organization, user: Option<UserId>, role: Option<Role>) {
        if org.logo.is_some() || self.most == 0 {
            self.forget_before(org.id, user, org.version.saturating_add(1));
            return;
        }
        let key = (org.id, user);
        // Copied before the map is taken: every server thread takes it.
        let organization = Arc::new(org.clone());
        let mut known = self.lock();
        if known
            .get(&key)
            .is_some_and(|kept| kept.organization.version >= org.version)
        {
            return;
        }
        if known.len() >= self.most
            && !known.contains_key(&key)
            && let Some(other) = known.keys().next().copied()
        {
            known.remove(&other);
        }
        known.insert(key, Known { organization, role });
    }

    /// Forgets the organization as `user` saw it.
    pub fn forget(&self, id: OrganizationId, user: Option<UserId>) {
        self.lock().remove(&(id, user));
    }

    /// Forgets the organization as `user` saw it if what is remembered is older than
    /// `version`: known to be stale, where a newer version remembered meanwhile by another
    /// request is kept.
    pub fn forget_before(&self, id: OrganizationId, user: Option<UserId>, version: u64) {
        let mut known = self.lock();
        if known
            .get(&(id, user))
            .is_some_and(|kept| kept.organization.version < version)
        {
            known.remove(&(id, user));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // Each call leaves the map whole, even one that panicked.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use tenantry_domain::{NewOrganization, OrganizationName};

    use super::*;

    fn org(name: &str) -> Organization {
        let name = OrganizationName::parse(name).unwrap();
        let new = NewOrganization { name, domain: None };
        Organization::new(new, time::OffsetDateTime::now_utc())
    }

    #[test]
    fn each_user_has_their_own_and_a_full_map_forgets_one_for_each_it_takes() {
        let known = KnownOrganizations::new(2);
        let (acme, globex, initech) = (org("Acme"), org("Globex"), org("Initech"));
        let ada = Some(UserId::generate());
        known.remember(&acme, ada, Some(Role::Owner));
        known.remember(&acme, None, None);
        assert_eq!(known.get(acme.id, ada).unwrap().role, Some(Role::Owner));
        assert!(known.get(acme.id, None).unwrap().role.is_none());
        assert!(known.get(acme.id, Some(UserId::generate())).is_none());

        // Taken again, an organization replaces itself; a third one replaces another.
        let mut renamed = acme.clone();
        renamed.version += 1;
        known.remember(&renamed, ada, Some(Role::Admin));
        assert_eq!(
            known.get(acme.id, ada).unwrap().organization.version,
            acme.version + 1
        );
        known.remember(&globex, ada, Some(Role::Member));
        known.remember(&initech, ada, Some(Role::Member));
        assert_eq!(known.lock().len(), 2);
        assert!(known.get(initech.id, ada).is_some());

        known.forget(initech.id, ada);
        assert!(known.get(initech.id, ada).is_none());
    }

    /// Requests about one organization race: what they remember only moves forward.
    #[test]
    fn an_older_version_neither_replaces_nor_forgets_a_newer_one() {
        let known = KnownOrganizations::new(10);
        let ada = Some(UserId::generate());
        let acme = org("Acme");
        let mut newer = acme.clone();
        newer.version += 2;
        known.remember(&newer, ada, Some(Role::Owner));

        // A request that wrote version + 1 answers after one that wrote version + 2.
        let mut older = acme.clone();
        older.version += 1;
        known.remember(&older, ada, Some(Role::Member));
        let kept = known.get(acme.id, ada).unwrap();
        assert_eq!(
            (kept.organization.version, kept.role),
            (newer.version, Some(Role::Owner))
        );

        // A request whose write at version + 1 found it gone forgets only what is older
        // than what it found.
        known.forget_before(acme.id, ada, older.version + 1);
        assert_eq!(
            known.get(acme.id, ada).unwrap().organization.version,
            newer.version
        );
        known.forget_before(acme.id, ada, newer.version + 1);
        assert!(known.get(acme.id, ada).is_none());

        // Nothing remembered: nothing to forget, and the older one is taken.
        known.forget_before(acme.id, ada, newer.version + 1);
        known.remember(&older, ada, Some(Role::Member));
        assert_eq!(
            known.get(acme.id, ada).unwrap().organization.version,
            older.version
        );

        // A logo is never kept: a newer version with one forgets the older without it.
        let mut with_logo = newer.clone();
        with_logo.logo = Some(tenantry_domain::Logo::parse_data_url(LOGO).unwrap());
        known.remember(&with_logo, ada, Some(Role::Owner));
        assert!(known.get(acme.id, ada).is_none());
    }

    /// A one-pixel PNG.
    const LOGO: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGPwd3v6HwAE3AJ6zM4FjgAAAABJRU5ErkJggg==";
}
