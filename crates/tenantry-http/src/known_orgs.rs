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

    /// Remembers `org` as it is now, and `user`'s role there. An organization with a logo
    /// is not kept (its image may be large): it is read for each change, as before.
    pub fn remember(&self, org: &Organization, user: Option<UserId>, role: Option<Role>) {
        let key = (org.id, user);
        if org.logo.is_some() || self.most == 0 {
            self.lock().remove(&key);
            return;
        }
        // Copied before the map is taken: every server thread takes it.
        let organization = Arc::new(org.clone());
        let mut known = self.lock();
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
}
