//! Pools: creation checks (guardrails, family, source pool in the same scope and family),
//! updates under the same rules, reads.

use serde_json::json;

use super::port::Transaction;
use super::rules::{check_publicly_advertisable, check_threshold, found};
use super::{Backend, Engine, Tx};
use crate::ipam::{Error, NewPool, ObjectKind, Pool, PoolFilter, PoolUpdate, Result};

impl<T: Transaction> Tx<'_, T> {
    /// Every check of a new pool; its depth. Writes nothing.
    fn plan_pool(&self, new: &NewPool) -> Result<u32> {
        let scope = found(
            self.port.scope(&new.scope_id)?,
            ObjectKind::Scope,
            &new.scope_id,
        )?;
        new.netmask.validate(new.address_family)?;
        check_threshold(new.utilization_warning_threshold)?;
        check_publicly_advertisable(new.address_family, new.publicly_advertisable)?;
        let depth = match &new.source_pool_id {
            None => 0,
            Some(source_id) => {
                let source = self
                    .port
                    .pool(source_id)?
                    .ok_or_else(|| Error::InvalidArgument {
                        input: "source_pool_id",
                        message: format!("source pool {source_id} does not exist"),
                    })?;
                if source.pool.scope_id != scope.id {
                    return Err(Error::SourcePoolScope {
                        source_pool_id: source_id.clone(),
                        source_scope_id: source.pool.scope_id,
                        scope_id: scope.id,
                    });
                }
                if source.family() != new.address_family {
                    return Err(Error::SourcePoolFamily {
                        family: new.address_family,
                        source_pool_id: source_id.clone(),
                        source_family: source.family(),
                    });
                }
                if let Some(source_locale) = &source.pool.locale {
                    if new.locale.as_ref() != Some(source_locale) {
                        return Err(Error::SourcePoolLocale {
                            locale: new.locale.clone(),
                            source_pool_id: source_id.clone(),
                            source_locale: source_locale.clone(),
                        });
                    }
                }
                source.pool.depth + 1
            }
        };
        if let Some(locale) = &new.locale {
            let ipam = self.ipam(&scope.ipam_id)?;
            if !ipam.operating_regions.is_empty() && !ipam.operating_regions.contains(locale) {
                return Err(Error::LocaleNotOperatingRegion {
                    locale: locale.clone(),
                    ipam_id: ipam.id,
                    allowed: ipam.operating_regions,
                });
            }
        }
        Ok(depth)
    }

    fn create_pool(&self, new: &NewPool) -> Result<Pool> {
        let depth = self.plan_pool(new)?;
        let pool = Pool {
            id: self.port.mint_id("ipam-pool"),
            scope_id: new.scope_id.clone(),
            source_pool_id: new.source_pool_id.clone(),
            address_family: new.address_family,
            locale: new.locale.clone(),
            description: new.description.clone(),
            netmask: new.netmask,
            allocation_resource_tags: new.allocation_resource_tags.clone(),
            auto_import: new.auto_import,
            publicly_advertisable: new.publicly_advertisable,
            tags: new.tags.clone(),
            utilization_warning_threshold: new.utilization_warning_threshold,
            release_cooldown: new.release_cooldown,
            depth,
            created_at: self.now.text.clone(),
            updated_at: self.now.text.clone(),
        };
        self.port.insert_pool(&pool)?;
        self.audit(
            "create_pool",
            &pool.id,
            None,
            json!({ "scope_id": new.scope_id, "source_pool_id": new.source_pool_id, "address_family": new.address_family.as_str() }),
        )?;
        Ok(self.pool(&pool.id)?.pool)
    }

    fn update_pool(&self, id: &str, update: &PoolUpdate) -> Result<Pool> {
        let mut pool = self.pool(id)?.pool;
        if let Some(description) = &update.description {
            pool.description = description.clone();
        }
        if let Some(netmask) = update.netmask {
            netmask.validate(pool.address_family)?;
            pool.netmask = netmask;
        }
        if let Some(tags) = &update.allocation_resource_tags {
            pool.allocation_resource_tags = tags.clone();
        }
        if let Some(auto_import) = update.auto_import {
            pool.auto_import = auto_import;
        }
        if let Some(advertisable) = update.publicly_advertisable {
            check_publicly_advertisable(pool.address_family, advertisable)?;
            pool.publicly_advertisable = advertisable;
        }
        if let Some(tags) = &update.tags {
            pool.tags = tags.clone();
        }
        if let Some(threshold) = update.utilization_warning_threshold {
            check_threshold(threshold)?;
            pool.utilization_warning_threshold = threshold;
        }
        if let Some(cooldown) = update.release_cooldown {
            pool.release_cooldown = cooldown;
        }
        pool.updated_at = self.now.text.clone();
        self.port.update_pool(&pool)?;
        self.audit(
            "update_pool",
            id,
            None,
            json!({ "description": pool.description, "tags": pool.tags }),
        )?;
        Ok(self.pool(id)?.pool)
    }
}

impl<B: Backend> Engine<B> {
    /// Creates a pool (top-level, or nested in a source pool of the same scope and family).
    pub(crate) fn create_pool(&self, new: &NewPool) -> Result<Pool> {
        self.write(|tx| tx.create_pool(new))
    }

    /// Runs every check of [`Engine::create_pool`] in a read transaction; writes nothing.
    pub(crate) fn preview_pool(&self, new: &NewPool) -> Result<()> {
        self.read(|tx| tx.plan_pool(new).map(|_| ()))
    }

    /// Reads a pool.
    pub(crate) fn get_pool(&self, id: &str) -> Result<Pool> {
        self.read(|tx| Ok(tx.pool(id)?.pool))
    }

    /// Changes the updatable fields of a pool, under the rules of its creation.
    pub(crate) fn update_pool(&self, id: &str, update: &PoolUpdate) -> Result<Pool> {
        self.write(|tx| tx.update_pool(id, update))
    }

    /// Pools matching every given filter, ordered by id.
    pub(crate) fn find_pools(&self, filter: &PoolFilter) -> Result<Vec<Pool>> {
        self.read(|tx| {
            Ok(tx
                .port
                .pools()?
                .into_iter()
                .map(|row| row.pool)
                .filter(|pool| filter.matches(pool))
                .collect())
        })
    }
}
