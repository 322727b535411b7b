//! The free-block index of the allocator as the `free_blocks` table, with the index
//! `(pool_num, prefix_len DESC, start)`, so best fit is one ordered look-up.

use super::rows::{block_row, bytes};
use super::statements::*;
use super::transaction::{Ahead, PgTx};
use crate::ipam::engine::PoolKey;
use crate::ipam::{Block, FreeBlockIndex, Result};

/// The free blocks of one pool, inside one transaction.
pub struct PgFreeIndex<'a, 'c> {
    pub(super) tx: &'a PgTx<'c>,
    pub(super) pool: PoolKey,
}

impl PgFreeIndex<'_, '_> {
    fn one(
        &self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Block>> {
        Ok(self
            .tx
            .pool_rows(sql, params, block_row)?
            .into_iter()
            .next())
    }

    fn execute(&self, sql: &'static str, block: Block) -> Result<()> {
        self.tx.execute(
            sql,
            &[
                &self.pool,
                &i32::from(block.prefix_len),
                &bytes(block.start),
            ],
        )
    }
}

impl FreeBlockIndex for PgFreeIndex<'_, '_> {
    fn insert(&mut self, block: Block) -> Result<()> {
        self.execute(FREE_INSERT, block)
    }

    fn remove(&mut self, block: Block) -> Result<()> {
        self.execute(FREE_DELETE, block)
    }

    fn contains(&mut self, block: Block) -> Result<bool> {
        let found = self.tx.pool_rows(
            FREE_EXISTS,
            &[
                &self.pool,
                &i32::from(block.prefix_len),
                &bytes(block.start),
            ],
            |_| Ok(()),
        )?;
        Ok(!found.is_empty())
    }

    fn next_best_fit(&mut self, max_len: u8, after: Option<Block>) -> Result<Option<Block>> {
        match after {
            None => self
                .tx
                .ahead_row(&Ahead::BestFit(self.pool, max_len), block_row)
                .unwrap_or_else(|| self.one(FREE_BEST_FIT, &[&self.pool, &i32::from(max_len)])),
            Some(after) => {
                let same = self.one(
                    FREE_BEST_FIT_SAME_LEN_AFTER,
                    &[
                        &self.pool,
                        &i32::from(after.prefix_len),
                        &bytes(after.start),
                    ],
                )?;
                match same {
                    Some(block) => Ok(Some(block)),
                    None => self.one(
                        FREE_BEST_FIT_SHORTER,
                        &[&self.pool, &i32::from(after.prefix_len)],
                    ),
                }
            }
        }
    }

    fn next_first_fit(&mut self, max_len: u8, after: Option<u128>) -> Result<Option<Block>> {
        // the empty bytea sorts before every address
        let after = after.map(bytes).unwrap_or_default();
        self.one(FREE_FIRST_FIT, &[&self.pool, &i32::from(max_len), &after])
    }

    fn largest(&mut self) -> Result<Option<Block>> {
        let len: Option<i32> = self
            .tx
            .pool_rows(FREE_SHORTEST_LEN, &[&self.pool], |row| {
                row.try_get(0).map_err(|e| e.to_string())
            })?
            .into_iter()
            .next()
            .flatten();
        match len {
            None => Ok(None),
            Some(len) => self.one(FREE_LOWEST_OF_LEN, &[&self.pool, &len]),
        }
    }
}
