//! Planners' own structure lists ("layers"): the list with its scope and import report,
//! and its kept rows. A list and all its rows are written in one transaction with the
//! audit row, so a list is never stored half; a planner changes only their own lists.
//!
//! What a row holds (name, kind, position…) is the business of the layer above: rows
//! are stored as JSON objects, in the order of the file.

use serde::Serialize;
use serde_json::Value;

use super::objects::AUDIT_SQL;
use super::{Caller, Db, DbError, Role, now_utc, random_hex, with_pool};

/// Rows inserted per statement (3 parameters each: far below both dialects' limits).
const ROWS_PER_INSERT: usize = 300;

/// A list to save.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub name: String,
    pub description: String,
    /// `public` or `private`.
    pub visibility: String,
    /// The territory the list is complete for, as given (`cls:thouarsais`, `dep:79`…).
    pub scope: String,
    /// The INSEE codes that territory stood for when the list was saved.
    pub scope_communes: Vec<String>,
    /// Kept rows by kind.
    pub kinds: Value,
    /// The import report (rows read, kept, skipped with reasons).
    pub report: Value,
    /// The kept rows, normalised.
    pub items: Vec<Value>,
}

/// A saved list, without its rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    pub id: String,
    pub name: String,
    pub description: String,
    pub visibility: String,
    pub owner: String,
    pub owner_name: String,
    pub scope: String,
    pub scope_communes: Vec<String>,
    pub kinds: Value,
    pub report: Value,
    pub items: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Layer {
    /// Whether `caller` (if any) may see this list: public, or theirs, or an admin's view.
    pub fn visible_to(&self, caller: Option<&Caller>) -> bool {
        self.visibility == "public" || caller.is_some_and(|c| c.may_change(&self.owner))
    }
}

/// What a PATCH changes (`None` keeps the field).
#[derive(Debug, Clone, Default)]
pub struct LayerPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
}

type LayerRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

const SELECT: &str = "SELECT l.id, l.name, l.description, l.visibility, l.owner, t.name, l.scope, l.scope_communes, l.kinds, l.report, l.created_at, l.updated_at, (SELECT COUNT(*) FROM layer_items i WHERE i.layer_id = l.id) FROM layers l JOIN tokens t ON t.id = l.owner";

fn json(what: &'static str, text: &str) -> Result<Value, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Json(what, e))
}

fn layer(row: LayerRow) -> Result<Layer, DbError> {
    let (id, name, description, visibility, owner, owner_name, scope, sc, kinds, report, c, u, n) =
        row;
    Ok(Layer {
        id,
        name,
        description,
        visibility,
        owner,
        owner_name,
        scope,
        scope_communes: serde_json::from_str(&sc).map_err(|e| DbError::Json("scope", e))?,
        kinds: json("layer kinds", &kinds)?,
        report: json("layer report", &report)?,
        items: n,
        created_at: c,
        updated_at: u,
    })
}

impl Db {
    /// Saves a list and its rows, unless the caller already has `max_per_token` lists.
    pub async fn save_layer(
        &self,
        caller: &Caller,
        new: &NewLayer,
        max_per_token: i64,
    ) -> Result<Layer, DbError> {
        let id = random_hex(8)?;
        let now = now_utc();
        let scope_communes =
            serde_json::to_string(&new.scope_communes).map_err(|e| DbError::Json("scope", e))?;
        let kinds = new.kinds.to_string();
        let report = new.report.to_string();
        let items: Vec<String> = new.items.iter().map(Value::to_string).collect();
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let (owned,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM layers WHERE owner = $1")
                .bind(&caller.token_id)
                .fetch_one(&mut *tx)
                .await?;
            if owned >= max_per_token {
                return Err(DbError::Quota(format!(
                    "this token already has {owned} lists, the most one token may keep ({max_per_token}): delete one first"
                )));
            }
            sqlx::query(
                "INSERT INTO layers (id, owner, name, description, visibility, scope, scope_communes, kinds, report, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&id)
            .bind(&caller.token_id)
            .bind(&new.name)
            .bind(&new.description)
            .bind(&new.visibility)
            .bind(&new.scope)
            .bind(&scope_communes)
            .bind(&kinds)
            .bind(&report)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            for (chunk_no, chunk) in items.chunks(ROWS_PER_INSERT).enumerate() {
                let mut q =
                    sqlx::QueryBuilder::new("INSERT INTO layer_items (layer_id, position, item) ");
                q.push_values(chunk.iter().enumerate(), |mut b, (i, item)| {
                    b.push_bind(&id)
                        .push_bind((chunk_no * ROWS_PER_INSERT + i) as i64)
                        .push_bind(item);
                });
                q.build().execute(&mut *tx).await?;
            }
            let detail = format!("{} ({} rows, scope {})", new.name, items.len(), new.scope);
            sqlx::query(AUDIT_SQL)
                .bind(&now)
                .bind(&caller.token_id)
                .bind(&caller.name)
                .bind("create")
                .bind("layer")
                .bind(&id)
                .bind(&detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(Layer {
            id,
            name: new.name.clone(),
            description: new.description.clone(),
            visibility: new.visibility.clone(),
            owner: caller.token_id.clone(),
            owner_name: caller.name.clone(),
            scope: new.scope.clone(),
            scope_communes: new.scope_communes.clone(),
            kinds: new.kinds.clone(),
            report: new.report.clone(),
            items: items.len() as i64,
            created_at: now.clone(),
            updated_at: now,
        })
    }

    /// A list by id, whoever may see it (the caller checks [`Layer::visible_to`]).
    pub async fn layer(&self, id: &str) -> Result<Option<Layer>, DbError> {
        let sql = format!("{SELECT} WHERE l.id = $1");
        let row: Option<LayerRow> = with_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.map(layer).transpose()
    }

    /// The public lists and the caller's own (an admin's: all), newest first.
    pub async fn layers(&self, caller: Option<&Caller>) -> Result<Vec<Layer>, DbError> {
        let all = caller.is_some_and(|c| c.role == Role::Admin);
        let sql = if all {
            format!("{SELECT} ORDER BY l.created_at DESC, l.id")
        } else {
            format!(
                "{SELECT} WHERE l.visibility = 'public' OR l.owner = $1 ORDER BY l.created_at DESC, l.id"
            )
        };
        let owner = caller.map_or("", |c| c.token_id.as_str());
        let rows: Vec<LayerRow> = with_pool!(self, |p| {
            let q = sqlx::query_as(&sql);
            let q = if all { q } else { q.bind(owner) };
            q.fetch_all(p).await?
        });
        rows.into_iter().map(layer).collect()
    }

    /// Rows `offset..offset + limit` of a list, in the order of its file.
    pub async fn layer_items(
        &self,
        id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Value>, DbError> {
        const SQL: &str =
            "SELECT item FROM layer_items WHERE layer_id = $1 ORDER BY position LIMIT $2 OFFSET $3";
        let rows: Vec<(String,)> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(id)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?);
        rows.iter().map(|(t,)| json("layer item", t)).collect()
    }

    /// Changes a list's name, description or visibility (its author or an admin).
    pub async fn update_layer(
        &self,
        caller: &Caller,
        id: &str,
        patch: &LayerPatch,
    ) -> Result<(), DbError> {
        let now = now_utc();
        let detail = [
            patch.name.as_ref().map(|n| format!("name: {n}")),
            patch.description.as_ref().map(|_| "description".to_owned()),
            patch
                .visibility
                .as_ref()
                .map(|v| format!("visibility: {v}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let owner: Option<(String,)> = sqlx::query_as("SELECT owner FROM layers WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            check_owner(caller, id, owner)?;
            sqlx::query(
                "UPDATE layers SET name = COALESCE($1, name), description = COALESCE($2, description), visibility = COALESCE($3, visibility), updated_at = $4 WHERE id = $5",
            )
            .bind(&patch.name)
            .bind(&patch.description)
            .bind(&patch.visibility)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(AUDIT_SQL)
                .bind(&now)
                .bind(&caller.token_id)
                .bind(&caller.name)
                .bind("update")
                .bind("layer")
                .bind(id)
                .bind(&detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes a list and its rows (its author or an admin).
    pub async fn delete_layer(&self, caller: &Caller, id: &str) -> Result<(), DbError> {
        let now = now_utc();
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let owner: Option<(String,)> = sqlx::query_as("SELECT owner FROM layers WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            check_owner(caller, id, owner)?;
            sqlx::query("DELETE FROM layer_items WHERE layer_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM layers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(AUDIT_SQL)
                .bind(&now)
                .bind(&caller.token_id)
                .bind(&caller.name)
                .bind("delete")
                .bind("layer")
                .bind(id)
                .bind("")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

fn check_owner(caller: &Caller, id: &str, owner: Option<(String,)>) -> Result<(), DbError> {
    match owner {
        None => Err(DbError::NotFound("list", id.to_owned())),
        Some((owner,)) if !caller.may_change(&owner) => {
            Err(DbError::Forbidden("list", id.to_owned()))
        }
        Some(_) => Ok(()),
    }
}
