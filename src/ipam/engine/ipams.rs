//! IPAMs (created with their two default scopes) and scopes.

use serde_json::json;

use super::port::Transaction;
use super::rules::{found, normalize_regions};
use super::{Backend, Engine, Tx};
use crate::ipam::{
    Error, Ipam, IpamUpdate, NewIpam, NewScope, ObjectKind, Result, Scope, ScopeKind, ScopeUpdate,
    Tags,
};

impl<T: Transaction> Tx<'_, T> {
    pub(super) fn ipam(&self, id: &str) -> Result<Ipam> {
        found(self.port.ipam(id)?, ObjectKind::Ipam, id)
    }

    pub(super) fn scope(&self, id: &str) -> Result<Scope> {
        found(self.port.scope(id)?, ObjectKind::Scope, id)
    }

    fn create_ipam(&self, new: &NewIpam) -> Result<Ipam> {
        let ipam = Ipam {
            id: self.port.mint_id("ipam"),
            description: new.description.clone(),
            operating_regions: normalize_regions(&new.operating_regions),
            tags: new.tags.clone(),
            private_default_scope_id: String::new(),
            public_default_scope_id: String::new(),
            scope_count: 0,
            created_at: self.now.text.clone(),
            updated_at: self.now.text.clone(),
        };
        self.port.insert_ipam(&ipam)?;
        self.audit(
            "create_ipam",
            &ipam.id,
            None,
            json!({ "description": new.description }),
        )?;
        for kind in [ScopeKind::Private, ScopeKind::Public] {
            let description = format!("default {kind} scope");
            self.insert_scope(&ipam.id, kind, &description, &Tags::new(), true)?;
        }
        self.ipam(&ipam.id)
    }

    /// Refuses to drop operating regions that pools of the IPAM use as their locale.
    fn check_regions_kept(&self, ipam: &Ipam, regions: &[String]) -> Result<()> {
        let dropped: Vec<&String> = ipam
            .operating_regions
            .iter()
            .filter(|region| !regions.contains(region))
            .collect();
        if dropped.is_empty() {
            return Ok(());
        }
        let mut in_use = Vec::new();
        let mut pools = Vec::new();
        for scope in self.port.scopes_of(&ipam.id)? {
            for pool in self.port.pools_in_scope(&scope.id)? {
                if let Some(locale) = pool.locale.filter(|l| dropped.contains(&l)) {
                    pools.push(format!("{} ({locale})", pool.id));
                    if !in_use.contains(&locale) {
                        in_use.push(locale);
                    }
                }
            }
        }
        if pools.is_empty() {
            return Ok(());
        }
        in_use.sort();
        Err(Error::RegionInUse {
            ipam_id: ipam.id.clone(),
            regions: in_use,
            pools,
        })
    }

    fn update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<Ipam> {
        let mut ipam = self.ipam(id)?;
        if let Some(description) = &update.description {
            ipam.description = description.clone();
        }
        if let Some(regions) = &update.operating_regions {
            let regions = normalize_regions(regions);
            self.check_regions_kept(&ipam, &regions)?;
            ipam.operating_regions = regions;
        }
        if let Some(tags) = &update.tags {
            ipam.tags = tags.clone();
        }
        ipam.updated_at = self.now.text.clone();
        self.port.update_ipam(&ipam)?;
        self.audit(
            "update_ipam",
            id,
            None,
            json!({ "description": ipam.description, "operating_regions": ipam.operating_regions, "tags": ipam.tags }),
        )?;
        self.ipam(id)
    }

    fn insert_scope(
        &self,
        ipam_id: &str,
        kind: ScopeKind,
        description: &str,
        tags: &Tags,
        is_default: bool,
    ) -> Result<String> {
        let scope = Scope {
            id: self.port.mint_id("ipam-scope"),
            ipam_id: ipam_id.to_string(),
            kind,
            description: description.to_string(),
            tags: tags.clone(),
            is_default,
            pool_count: 0,
            created_at: self.now.text.clone(),
            updated_at: self.now.text.clone(),
        };
        self.port.insert_scope(&scope)?;
        self.audit(
            "create_scope",
            &scope.id,
            None,
            json!({ "ipam_id": ipam_id, "kind": kind.as_str(), "is_default": is_default }),
        )?;
        Ok(scope.id)
    }

    fn update_scope(&self, id: &str, update: &ScopeUpdate) -> Result<Scope> {
        let mut scope = self.scope(id)?;
        if let Some(description) = &update.description {
            scope.description = description.clone();
        }
        if let Some(tags) = &update.tags {
            scope.tags = tags.clone();
        }
        scope.updated_at = self.now.text.clone();
        self.port.update_scope(&scope)?;
        self.audit(
            "update_scope",
            id,
            None,
            json!({ "description": scope.description, "tags": scope.tags }),
        )?;
        self.scope(id)
    }
}

impl<B: Backend> Engine<B> {
    /// Creates an IPAM with its two default scopes (private, public).
    pub(crate) fn create_ipam(&self, new: &NewIpam) -> Result<Ipam> {
        self.write(|tx| tx.create_ipam(new))
    }

    /// Reads an IPAM.
    pub(crate) fn get_ipam(&self, id: &str) -> Result<Ipam> {
        self.read(|tx| tx.ipam(id))
    }

    /// Changes description, operating regions or tags.
    pub(crate) fn update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<Ipam> {
        self.write(|tx| tx.update_ipam(id, update))
    }

    /// Runs the checks of [`Engine::update_ipam`] in a read transaction; writes nothing.
    pub(crate) fn preview_update_ipam(&self, id: &str, update: &IpamUpdate) -> Result<()> {
        self.read(|tx| {
            let ipam = tx.ipam(id)?;
            match &update.operating_regions {
                Some(regions) => tx.check_regions_kept(&ipam, &normalize_regions(regions)),
                None => Ok(()),
            }
        })
    }

    /// All IPAMs, ordered by id.
    pub(crate) fn list_ipams(&self) -> Result<Vec<Ipam>> {
        self.read(|tx| tx.port.ipams())
    }

    /// Creates a custom (private) scope.
    pub(crate) fn create_scope(&self, new: &NewScope) -> Result<Scope> {
        self.write(|tx| {
            tx.ipam(&new.ipam_id)?;
            let id = tx.insert_scope(
                &new.ipam_id,
                ScopeKind::Private,
                &new.description,
                &new.tags,
                false,
            )?;
            tx.scope(&id)
        })
    }

    /// Reads a scope.
    pub(crate) fn get_scope(&self, id: &str) -> Result<Scope> {
        self.read(|tx| tx.scope(id))
    }

    /// Changes description or tags.
    pub(crate) fn update_scope(&self, id: &str, update: &ScopeUpdate) -> Result<Scope> {
        self.write(|tx| tx.update_scope(id, update))
    }

    /// The scopes of an IPAM: defaults first.
    pub(crate) fn list_scopes(&self, ipam_id: &str) -> Result<Vec<Scope>> {
        self.read(|tx| {
            tx.ipam(ipam_id)?;
            tx.port.scopes_of(ipam_id)
        })
    }
}
