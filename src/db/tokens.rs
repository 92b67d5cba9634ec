//! Bearer tokens: created on the command line, shown once, kept as their sha256 only.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Db, DbError, now_utc, random_hex, with_pool};

/// What a token may do: a planner changes what they created, an admin everything (and
/// reads the audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Planner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

/// Who sends a request: the token's id, name and role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Whether the caller may change an object created by the token `owner`.
    pub fn may_change(&self, owner: &str) -> bool {
        self.role == Role::Admin || self.token_id == owner
    }
}

/// A token just created: the secret is in no table and is shown this once.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub caller: Caller,
    pub secret: String,
}

/// A token as listed: never its secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// sha256 of a secret, in hex: what the store keeps.
fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Db {
    /// Creates a token (`ca_` and 64 hex digits) and records its creation.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<CreatedToken, DbError> {
        let id = random_hex(8)?;
        let secret = format!("ca_{}", random_hex(32)?);
        let now = now_utc();
        let caller = Caller {
            token_id: id.clone(),
            name: name.to_owned(),
            role,
        };
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(name)
            .bind(role.as_str())
            .bind(hash(&secret))
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(super::objects::AUDIT_SQL)
                .bind(&now)
                .bind(&id)
                .bind(name)
                .bind("create")
                .bind("token")
                .bind(&id)
                .bind(format!("role {}", role.as_str()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(CreatedToken { caller, secret })
    }

    /// The caller a secret stands for, or `None` for an unknown or revoked token. The
    /// row is found by the hash's index, and the hash compared again in constant time.
    pub async fn caller(&self, secret: &str) -> Result<Option<Caller>, DbError> {
        const SQL: &str =
            "SELECT id, name, role, hash FROM tokens WHERE hash = $1 AND revoked_at IS NULL";
        let h = hash(secret);
        let row: Option<(String, String, String, String)> =
            with_pool!(self, |p| sqlx::query_as(SQL)
                .bind(&h)
                .fetch_optional(p)
                .await?);
        Ok(row.and_then(|(token_id, name, role, stored)| {
            let role = role.parse().ok()?;
            constant_time_eq(stored.as_bytes(), h.as_bytes()).then_some(Caller {
                token_id,
                name,
                role,
            })
        }))
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, DbError> {
        const SQL: &str =
            "SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY created_at, id";
        let rows: Vec<(String, String, String, String, Option<String>)> =
            with_pool!(self, |p| sqlx::query_as(SQL).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, role, created_at, revoked_at)| TokenInfo {
                id,
                name,
                role,
                created_at,
                revoked_at,
            })
            .collect())
    }

    /// Revokes a token by id: it no longer writes; what it created stays.
    pub async fn revoke_token(&self, id: &str) -> Result<(), DbError> {
        const SQL: &str = "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let now = now_utc();
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let name: Option<(String,)> = sqlx::query_as("SELECT name FROM tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((name,)) = name else {
                return Err(DbError::NotFound("token", id.to_owned()));
            };
            sqlx::query(SQL)
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(super::objects::AUDIT_SQL)
                .bind(&now)
                .bind(id)
                .bind(&name)
                .bind("revoke")
                .bind("token")
                .bind(id)
                .bind("")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
