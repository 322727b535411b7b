//! The free-block index of the allocator as the `free_blocks` table: one b-tree keyed
//! `(pool_num, prefix_len DESC, start)`, so best fit is one ordered look-up.

use rusqlite::{params, OptionalExtension};

use super::rows::{blob, block_row};
use super::statements::*;
use super::transaction::SqliteTx;
use crate::ipam::engine::PoolKey;
use crate::ipam::{Block, FreeBlockIndex, Result};

/// The free blocks of one pool, inside one transaction.
pub struct SqlFreeIndex<'a> {
    pub(super) tx: &'a SqliteTx<'a>,
    pub(super) pool: PoolKey,
}

impl SqlFreeIndex<'_> {
    fn one(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Block>> {
        self.tx.sql(|conn| {
            conn.prepare_cached(sql)?
                .query_row(params, block_row)
                .optional()
        })
    }

    fn execute(&self, sql: &str, block: Block) -> Result<()> {
        self.tx.sql(|conn| {
            conn.prepare_cached(sql)?
                .execute(params![self.pool, block.prefix_len, &blob(block.start)[..]])
                .map(drop)
        })
    }
}

impl FreeBlockIndex for SqlFreeIndex<'_> {
    fn insert(&mut self, block: Block) -> Result<()> {
        self.execute(FREE_INSERT, block)
    }

    fn remove(&mut self, block: Block) -> Result<()> {
        self.execute(FREE_DELETE, block)
    }

    fn contains(&mut self, block: Block) -> Result<bool> {
        self.tx.sql(|conn| {
            conn.prepare_cached(FREE_EXISTS)?.exists(params![
                self.pool,
                block.prefix_len,
                &blob(block.start)[..]
            ])
        })
    }

    fn next_best_fit(&mut self, max_len: u8, after: Option<Block>) -> Result<Option<Block>> {
        match after {
            None => self.one(FREE_BEST_FIT, params![self.pool, max_len]),
            Some(after) => {
                let same = self.one(
                    FREE_BEST_FIT_SAME_LEN_AFTER,
                    params![self.pool, after.prefix_len, &blob(after.start)[..]],
                )?;
                match same {
                    Some(block) => Ok(Some(block)),
                    None => self.one(FREE_BEST_FIT_SHORTER, params![self.pool, after.prefix_len]),
                }
            }
        }
    }

    fn next_first_fit(&mut self, max_len: u8, after: Option<u128>) -> Result<Option<Block>> {
        // the empty blob sorts before every address
        let after = after.map(|a| blob(a).to_vec()).unwrap_or_default();
        self.one(FREE_FIRST_FIT, params![self.pool, max_len, after])
    }

    fn largest(&mut self) -> Result<Option<Block>> {
        let len: Option<u8> = self.tx.sql(|conn| {
            conn.prepare_cached(FREE_SHORTEST_LEN)?
                .query_row(params![self.pool], |row| row.get(0))
        })?;
        match len {
            None => Ok(None),
            Some(len) => self.one(FREE_LOWEST_OF_LEN, params![self.pool, len]),
        }
    }
}
