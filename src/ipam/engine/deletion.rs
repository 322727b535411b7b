//! Deleting pools, scopes and IPAMs: refused while they hold anything, unless `cascade`, which
//! deletes what is inside first (deepest first; pool CIDRs are deprovisioned, so their space
//! returns to the source pools).

use serde_json::json;

use super::port::Transaction;
use super::rules::refuse_unless_empty;
use super::{Backend, Engine, Tx};
use crate::ipam::{Error, ObjectKind, Result};

impl<T: Transaction> Tx<'_, T> {
    fn delete_pool(&self, id: &str, cascade: bool) -> Result<()> {
        let pool = self.pool_for_update(id)?;
        let children = self.port.child_pool_ids(id)?;
        let allocations: Vec<String> = self
            .port
            .allocations_of(pool.key)?
            .into_iter()
            .filter(|row| row.allocation.child_pool_cidr_id.is_none())
            .map(|row| row.allocation.id)
            .collect();
        refuse_unless_empty(
            ObjectKind::Pool,
            id,
            cascade,
            &[
                ("child pool(s)", children.clone()),
                ("allocation(s)", allocations),
            ],
        )?;
        for child in children {
            self.delete_pool(&child, true)?;
        }
        for pool_cidr in self.port.pool_cidrs_of(pool.key)? {
            self.deprovision(&pool_cidr.pool_cidr.id, true)?;
        }
        self.port.delete_pool(id)?;
        self.audit(
            "delete_pool",
            id,
            None,
            json!({ "scope_id": pool.pool.scope_id }),
        )
    }

    /// Deletes a scope; a default scope only together with its IPAM (`with_ipam`).
    fn delete_scope(&self, id: &str, cascade: bool, with_ipam: bool) -> Result<()> {
        let scope = self.scope(id)?;
        if scope.is_default && !with_ipam {
            return Err(Error::DefaultScope {
                id: id.to_string(),
                ipam_id: scope.ipam_id,
            });
        }
        let pools = self.port.pools_in_scope(id)?;
        let ids = pools.iter().map(|p| p.id.clone()).collect();
        refuse_unless_empty(ObjectKind::Scope, id, cascade, &[("pool(s)", ids)])?;
        for top in pools.iter().filter(|p| p.source_pool_id.is_none()) {
            self.delete_pool(&top.id, true)?;
        }
        self.port.delete_scope(id)?;
        self.audit(
            "delete_scope",
            id,
            None,
            json!({ "ipam_id": scope.ipam_id }),
        )
    }

    fn delete_ipam(&self, id: &str, cascade: bool) -> Result<()> {
        self.ipam(id)?;
        let mut scopes = self.port.scopes_of(id)?;
        // custom scopes first, each kind by id
        scopes.sort_by(|a, b| (a.is_default, &a.id).cmp(&(b.is_default, &b.id)));
        let custom = scopes
            .iter()
            .filter(|s| !s.is_default)
            .map(|s| s.id.clone())
            .collect();
        let mut pools = Vec::new();
        for scope in &scopes {
            pools.extend(
                self.port
                    .pools_in_scope(&scope.id)?
                    .into_iter()
                    .map(|p| p.id),
            );
        }
        pools.sort();
        refuse_unless_empty(
            ObjectKind::Ipam,
            id,
            cascade,
            &[("custom scope(s)", custom), ("pool(s)", pools)],
        )?;
        for scope in scopes {
            self.delete_scope(&scope.id, true, true)?;
        }
        self.port.delete_ipam(id)?;
        self.audit("delete_ipam", id, None, json!({}))
    }
}

impl<B: Backend> Engine<B> {
    /// Deletes an IPAM; refused while it has pools or custom scopes, unless `cascade`.
    pub(crate) fn delete_ipam(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_ipam(id, cascade))
    }

    /// Deletes a custom scope; refused while it has pools, unless `cascade`.
    pub(crate) fn delete_scope(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_scope(id, cascade, false))
    }

    /// Deletes a pool and deprovisions its CIDRs; refused while it holds allocations or child
    /// pools, unless `cascade`.
    pub(crate) fn delete_pool(&self, id: &str, cascade: bool) -> Result<()> {
        self.write(|tx| tx.delete_pool(id, cascade))
    }
}
