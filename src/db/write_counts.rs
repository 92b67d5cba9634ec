//! The writes of each token per minute, counted in the store: every replica sharing it
//! counts the same writes, so a limit holds for the whole service (a count per replica
//! would let N replicas take N times the limit).

use super::{Db, DbError, with_pool};

/// Length of a counting window, seconds: the limit is per calendar minute.
pub const WRITE_WINDOW_SECS: u64 = 60;

/// A token's writes in the running minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteCount {
    /// Writes counted in this minute, the one just counted included.
    pub writes: i64,
    /// Seconds until the next minute starts (1 to 60): when the count starts again.
    pub resets_in_secs: u64,
}

impl Db {
    /// Counts one write of `token_id` at `now` (seconds since 1970) in its minute, and
    /// returns the minute's count: one upsert, atomic on both backends, so writes made at
    /// once on several replicas are each counted. The first write of a token in a minute
    /// also deletes the counts older than the previous minute (kept: a replica whose clock
    /// runs a little late still counts into it), so the table stays about one row per
    /// token writing now.
    pub async fn count_write(&self, token_id: &str, now: u64) -> Result<WriteCount, DbError> {
        const UPSERT: &str = "INSERT INTO write_counts (token_id, window_start, n) VALUES ($1, $2, 1) \
             ON CONFLICT (token_id, window_start) DO UPDATE SET n = write_counts.n + 1 RETURNING n";
        const CLEAN: &str = "DELETE FROM write_counts WHERE window_start < $1";
        let start = now - now % WRITE_WINDOW_SECS;
        let window = i64::try_from(start).map_err(|_| {
            DbError::Sql(sqlx::Error::Protocol(format!("clock out of range: {now}")))
        })?;
        let (writes,): (i64,) = with_pool!(self, |p| sqlx::query_as(UPSERT)
            .bind(token_id)
            .bind(window)
            .fetch_one(p)
            .await?);
        if writes == 1 {
            let previous = window - WRITE_WINDOW_SECS as i64;
            with_pool!(self, |p| {
                sqlx::query(CLEAN).bind(previous).execute(p).await?;
            });
        }
        Ok(WriteCount {
            writes,
            resets_in_secs: start + WRITE_WINDOW_SECS - now,
        })
    }
}
