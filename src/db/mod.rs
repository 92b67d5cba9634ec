//! The store of what users create — bearer tokens, saved scenarios, custom perimeters,
//! planners' structure lists (`layers`) —
//! the audit of every write, and the writes of each token per minute (the write limit
//! shared by the replicas). Not the data build (that is [`crate::store`]): this one
//! is written while the service runs.
//!
//! SQLite by default (`careaccess.db` in the data folder, WAL, `synchronous=FULL`,
//! created and migrated on open: nothing to set up), PostgreSQL when
//! `CAREACCESS_DATABASE_URL=postgres://…` is set. The same queries run on both (numbered
//! `$1` parameters, text and 64-bit integers only); the schema differs in one column type,
//! so each dialect has its own versioned migrations (`migrations/sqlite`,
//! `migrations/postgres`), embedded in the binary.
//!
//! Layer: names no other module of the crate. Requests and results are stored as JSON
//! values: what they mean is the business of the layer above (`api`). Every write runs
//! in one transaction with its audit row, so nothing is half-written.

mod layers;
mod objects;
mod tokens;
mod write_counts;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use layers::{Layer, LayerPatch, NewLayer};
pub use objects::{AuditEntry, NewPerimeter, NewScenario, Perimeter, SavedScenario, Summary};
pub use tokens::{Caller, CreatedToken, Role, TokenInfo};
pub use write_counts::{WRITE_WINDOW_SECS, WriteCount};

/// File of the SQLite store in the data folder.
pub const SQLITE_FILE: &str = "careaccess.db";
/// Environment variable naming another database (`postgres://…` or `sqlite://FILE`).
pub const DATABASE_URL_VAR: &str = "CAREACCESS_DATABASE_URL";

/// Longest wait for a connection of the pool (sqlx's default is 30 s): when the store is
/// down, a request needing it fails in this time with an answer saying so, instead of
/// holding its client (and a load balancer's connection) for half a minute.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?}: expected postgres://…, postgresql://… or sqlite://FILE")]
    BadUrl(String),
    #[error("cannot open the store {target}: {source}")]
    Open {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("no {0} with id {1:?}")]
    NotFound(&'static str, String),
    #[error("{0} {1:?} was created by another planner: only they or an admin may change it")]
    Forbidden(&'static str, String),
    #[error("stored {0} is not valid JSON: {1}")]
    Json(&'static str, serde_json::Error),
    #[error("backup: {0}")]
    Backup(String),
    /// A per-token limit of stored objects is reached.
    #[error("{0}")]
    Quota(String),
}

impl DbError {
    /// Whether the store could not be reached (down, restarting, network), rather than
    /// refusing the request: asking again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        let DbError::Sql(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL shutting down or starting (class 57P), connection lost (class 08).
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
            _ => false,
        }
    }
}

/// Which database a URL or the environment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// `CAREACCESS_DATABASE_URL` when set, else `careaccess.db` in the data folder.
    pub fn from_env(data_dir: &Path) -> Result<Target, DbError> {
        match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Target::from_url(url.trim()),
            _ => Ok(Target::Sqlite(data_dir.join(SQLITE_FILE))),
        }
    }

    pub fn from_url(url: &str) -> Result<Target, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_owned()))
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .filter(|p| !p.is_empty())
        {
            Ok(Target::Sqlite(PathBuf::from(path)))
        } else {
            Err(DbError::BadUrl(url.to_owned()))
        }
    }
}

/// The target as written in messages: a PostgreSQL password is hidden.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            Target::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let user = &url[s + 3..at];
                    let user = user.split(':').next().unwrap_or("");
                    write!(f, "{}{user}:***{}", &url[..s + 3], &url[at..])
                }
                _ => f.write_str(url),
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the pool, whichever the backend: the body is written
/// once and type-checked for each.
macro_rules! with_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The store: a connection pool to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    target: Target,
}

impl Db {
    /// Opens the store (creating a SQLite file if missing) and applies the migrations
    /// it lacks; running it again on a migrated store changes nothing.
    ///
    /// # Errors
    /// The database cannot be reached or created, or a migration fails.
    pub async fn open(target: &Target) -> Result<Db, DbError> {
        let open = |source| DbError::Open {
            target: target.to_string(),
            source,
        };
        let pool = match target {
            Target::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| open(sqlx::Error::Io(e)))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(10));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_with(options)
                        .await
                        .map_err(open)?,
                )
            }
            Target::Postgres(url) => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(open)?,
            ),
        };
        let db = Db {
            pool,
            target: target.clone(),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations the store lacks (idempotent).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Versions of the migrations applied, oldest first.
    pub async fn migrations(&self) -> Result<Vec<i64>, DbError> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let rows: Vec<(i64,)> = with_pool!(self, |p| sqlx::query_as(SQL).fetch_all(p).await?);
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// One round trip to the store (`SELECT 1`): is it reachable now?
    pub async fn ping(&self) -> Result<(), DbError> {
        with_pool!(self, |p| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        with_pool!(self, |p| p.close().await)
    }

    /// Writes a consistent copy of the store to `file`: SQLite with `VACUUM INTO` (a
    /// database file that opens as it is); PostgreSQL with `pg_dump` (a plain SQL file),
    /// which must be installed.
    ///
    /// # Errors
    /// `file` exists, or the copy fails.
    pub async fn backup(&self, file: &Path) -> Result<(), DbError> {
        if file.exists() {
            return Err(DbError::Backup(format!(
                "{} exists: give a new file name",
                file.display()
            )));
        }
        match (&self.pool, &self.target) {
            (Pool::Sqlite(p), _) => {
                let path = file.to_str().ok_or_else(|| {
                    DbError::Backup(format!("{} is not a UTF-8 path", file.display()))
                })?;
                sqlx::query("VACUUM INTO $1").bind(path).execute(p).await?;
                Ok(())
            }
            (Pool::Postgres(_), Target::Postgres(url)) => {
                let out = std::process::Command::new("pg_dump")
                    .arg("--no-owner")
                    .arg("--file")
                    .arg(file)
                    .arg(url)
                    .output()
                    .map_err(|e| {
                        DbError::Backup(format!(
                            "a PostgreSQL store is backed up by pg_dump, which could not be run ({e}): install the PostgreSQL client tools"
                        ))
                    })?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(DbError::Backup(format!(
                        "pg_dump failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )))
                }
            }
            (Pool::Postgres(_), Target::Sqlite(_)) => {
                Err(DbError::Backup("store and target disagree".to_owned()))
            }
        }
    }
}

/// Now, as RFC 3339 UTC to the second (`2026-12-02T04:20:00Z`): sorts as text.
pub(crate) fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since 1970 as RFC 3339 UTC (the civil-from-days algorithm of H. Hinnant).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A new random id: `bytes` random bytes in lowercase hex (unguessable, so an id is a
/// link that can be shared).
pub(crate) fn random_hex(bytes: usize) -> Result<String, DbError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| DbError::Sql(sqlx::Error::Protocol(format!("no randomness: {e}"))))?;
    Ok(hex::encode(buf))
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "planner" => Ok(Role::Planner),
            "admin" => Ok(Role::Admin),
            other => Err(format!("role {other:?}: expected planner or admin")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_185_230), "2026-12-02T04:20:30Z");
    }

    #[test]
    fn targets_from_urls_hide_passwords() {
        let t = Target::from_url("postgres://ca:secret@localhost:5432/ca").unwrap();
        assert_eq!(t.to_string(), "postgres://ca:***@localhost:5432/ca");
        assert_eq!(
            Target::from_url("sqlite:///tmp/x.db").unwrap(),
            Target::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert!(Target::from_url("mysql://x").is_err());
    }
}
