//! Saved scenarios, perimeters and the audit: one transaction per write, with its audit
//! row; a planner changes only the objects their token created.

use serde::Serialize;
use serde_json::Value;

use super::{Caller, Db, DbError, Role, now_utc, random_hex, with_pool};

/// Records a write in the transaction that makes it:
/// `audit!(tx, at, caller, action, object_type, object_id, detail)`.
macro_rules! audit {
    ($tx:expr, $at:expr, $caller:expr, $action:expr, $type:expr, $id:expr, $detail:expr) => {
        sqlx::query(AUDIT_SQL)
            .bind($at)
            .bind(&$caller.token_id)
            .bind(&$caller.name)
            .bind($action)
            .bind($type)
            .bind($id)
            .bind($detail)
            .execute(&mut *$tx)
            .await?
    };
}

/// Insert of one audit row: at, token id, token name, action, object type, object id,
/// detail.
pub(super) const AUDIT_SQL: &str = "INSERT INTO audit (at, token_id, token_name, action, object_type, object_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A scenario to save: the request as posted and its result on the build served.
#[derive(Debug, Clone)]
pub struct NewScenario {
    pub name: String,
    pub description: String,
    pub request: Value,
    pub result: Value,
    pub build: String,
    /// The client's `Idempotency-Key`: a second write with the same key (and owner) gives
    /// back the first scenario instead of saving another.
    pub idempotency_key: Option<String>,
}

/// A saved scenario as stored: the result is the one computed on `build`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedScenario {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub owner_name: String,
    pub build: String,
    pub created_at: String,
    pub updated_at: String,
    pub request: Value,
    pub result: Value,
}

/// One line of a list of saved objects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A perimeter to save: its communes (INSEE codes, checked by the caller) and the
/// polygon it was drawn from, if any (GeoJSON).
#[derive(Debug, Clone)]
pub struct NewPerimeter {
    pub name: String,
    pub description: String,
    pub communes: Vec<String>,
    pub geometry: Option<Value>,
    /// Listed for everyone (else only for its author and admins).
    pub public: bool,
}

/// A saved perimeter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Perimeter {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub owner_name: String,
    pub created_at: String,
    pub updated_at: String,
    pub communes: Vec<String>,
    pub geometry: Option<Value>,
    pub public: bool,
}

/// One write, as the audit shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub token_id: String,
    pub token_name: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: String,
}

/// The two kinds of object, by table.
#[derive(Debug, Clone, Copy)]
enum Table {
    Scenarios,
    Perimeters,
}

impl Table {
    fn object(self) -> &'static str {
        match self {
            Table::Scenarios => "saved scenario",
            Table::Perimeters => "perimeter",
        }
    }
    fn audit_type(self) -> &'static str {
        match self {
            Table::Scenarios => "saved_scenario",
            Table::Perimeters => "perimeter",
        }
    }
    fn owner_sql(self) -> &'static str {
        match self {
            Table::Scenarios => "SELECT owner FROM saved_scenarios WHERE id = $1",
            Table::Perimeters => "SELECT owner FROM perimeters WHERE id = $1",
        }
    }
    fn update_sql(self) -> &'static str {
        match self {
            Table::Scenarios => {
                "UPDATE saved_scenarios SET name = COALESCE($1, name), description = COALESCE($2, description), updated_at = $3 WHERE id = $4"
            }
            Table::Perimeters => {
                "UPDATE perimeters SET name = COALESCE($1, name), description = COALESCE($2, description), updated_at = $3, public = COALESCE($5, public) WHERE id = $4"
            }
        }
    }
    fn delete_sql(self) -> &'static str {
        match self {
            Table::Scenarios => "DELETE FROM saved_scenarios WHERE id = $1",
            Table::Perimeters => "DELETE FROM perimeters WHERE id = $1",
        }
    }
    fn list_sql(self, all: bool) -> &'static str {
        match (self, all) {
            (Table::Scenarios, true) => {
                "SELECT s.id, s.name, s.description, t.name, s.created_at, s.updated_at FROM saved_scenarios s JOIN tokens t ON t.id = s.owner ORDER BY s.created_at DESC, s.id"
            }
            (Table::Scenarios, false) => {
                "SELECT s.id, s.name, s.description, t.name, s.created_at, s.updated_at FROM saved_scenarios s JOIN tokens t ON t.id = s.owner WHERE s.owner = $1 ORDER BY s.created_at DESC, s.id"
            }
            (Table::Perimeters, true) => {
                "SELECT s.id, s.name, s.description, t.name, s.created_at, s.updated_at FROM perimeters s JOIN tokens t ON t.id = s.owner ORDER BY s.created_at DESC, s.id"
            }
            (Table::Perimeters, false) => {
                "SELECT s.id, s.name, s.description, t.name, s.created_at, s.updated_at FROM perimeters s JOIN tokens t ON t.id = s.owner WHERE s.owner = $1 ORDER BY s.created_at DESC, s.id"
            }
        }
    }
}

fn json(what: &'static str, text: &str) -> Result<Value, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Json(what, e))
}

type SummaryRow = (String, String, String, String, String, String);

/// The columns of a perimeter, its author's name joined.
const PERIMETER_SELECT: &str = "SELECT s.id, s.name, s.description, s.owner, t.name, s.created_at, s.updated_at, s.communes, s.geometry, s.public FROM perimeters s JOIN tokens t ON t.id = s.owner";

type PerimeterRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
);

fn perimeter_of_row(row: PerimeterRow) -> Result<Perimeter, DbError> {
    let (id, name, description, owner, owner_name, created_at, updated_at, c, g, public) = row;
    Ok(Perimeter {
        id,
        name,
        description,
        owner,
        owner_name,
        created_at,
        updated_at,
        communes: serde_json::from_str(&c).map_err(|e| DbError::Json("communes", e))?,
        geometry: g.map(|g| json("perimeter geometry", &g)).transpose()?,
        public: public != 0,
    })
}

impl Db {
    /// Saves a scenario; its id (unguessable) is the share link's.
    pub async fn save_scenario(
        &self,
        caller: &Caller,
        s: &NewScenario,
    ) -> Result<SavedScenario, DbError> {
        let id = random_hex(12)?;
        let now = now_utc();
        let request = s.request.to_string();
        let result = s.result.to_string();
        // With a key already used by this owner, nothing is written (ON CONFLICT): the
        // first copy is the answer, even when both copies ran at once.
        let inserted = with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "INSERT INTO saved_scenarios (id, owner, name, description, request, result, build, created_at, updated_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (owner, idempotency_key) DO NOTHING",
            )
            .bind(&id)
            .bind(&caller.token_id)
            .bind(&s.name)
            .bind(&s.description)
            .bind(&request)
            .bind(&result)
            .bind(&s.build)
            .bind(&now)
            .bind(&now)
            .bind(&s.idempotency_key)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                audit!(tx, &now, caller, "create", "saved_scenario", &id, &s.name);
                tx.commit().await?;
                true
            } else {
                tx.rollback().await?;
                false
            }
        });
        if !inserted {
            if let Some(key) = &s.idempotency_key {
                if let Some(first) = self.scenario_by_key(caller, key).await? {
                    return Ok(first);
                }
            }
            // The first copy was deleted between the two writes.
            return Err(DbError::NotFound(
                "saved scenario",
                s.idempotency_key.clone().unwrap_or_default(),
            ));
        }
        Ok(SavedScenario {
            id,
            name: s.name.clone(),
            description: s.description.clone(),
            owner: caller.token_id.clone(),
            owner_name: caller.name.clone(),
            build: s.build.clone(),
            created_at: now.clone(),
            updated_at: now,
            request: s.request.clone(),
            result: s.result.clone(),
        })
    }

    /// A saved scenario by id (anyone with the id may read it).
    pub async fn scenario(&self, id: &str) -> Result<Option<SavedScenario>, DbError> {
        const SQL: &str = "SELECT s.id, s.name, s.description, s.owner, t.name, s.build, s.created_at, s.updated_at, s.request, s.result FROM saved_scenarios s JOIN tokens t ON t.id = s.owner WHERE s.id = $1";
        type Row = (
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
        );
        let row: Option<Row> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let Some((id, name, description, owner, owner_name, build, created_at, updated_at, rq, rs)) =
            row
        else {
            return Ok(None);
        };
        Ok(Some(SavedScenario {
            id,
            name,
            description,
            owner,
            owner_name,
            build,
            created_at,
            updated_at,
            request: json("scenario request", &rq)?,
            result: json("scenario result", &rs)?,
        }))
    }

    /// The caller's scenario saved with `Idempotency-Key` `key`, if any.
    pub async fn scenario_by_key(
        &self,
        caller: &Caller,
        key: &str,
    ) -> Result<Option<SavedScenario>, DbError> {
        const SQL: &str =
            "SELECT id FROM saved_scenarios WHERE owner = $1 AND idempotency_key = $2";
        let id: Option<(String,)> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(&caller.token_id)
            .bind(key)
            .fetch_optional(p)
            .await?);
        match id {
            Some((id,)) => self.scenario(&id).await,
            None => Ok(None),
        }
    }

    /// The caller's saved scenarios (an admin's: everyone's), newest first.
    pub async fn scenarios(&self, caller: &Caller) -> Result<Vec<Summary>, DbError> {
        self.list(Table::Scenarios, caller).await
    }

    /// Renames or re-describes a saved scenario (`None` keeps the field).
    pub async fn update_scenario(
        &self,
        caller: &Caller,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<(), DbError> {
        self.update(Table::Scenarios, caller, id, (name, description), None)
            .await
    }

    pub async fn delete_scenario(&self, caller: &Caller, id: &str) -> Result<(), DbError> {
        self.delete(Table::Scenarios, caller, id).await
    }

    /// Saves a perimeter.
    pub async fn save_perimeter(
        &self,
        caller: &Caller,
        new: &NewPerimeter,
    ) -> Result<Perimeter, DbError> {
        let id = random_hex(8)?;
        let now = now_utc();
        let communes =
            serde_json::to_string(&new.communes).map_err(|e| DbError::Json("communes", e))?;
        let geometry = new.geometry.as_ref().map(Value::to_string);
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO perimeters (id, owner, name, description, communes, geometry, created_at, updated_at, public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&caller.token_id)
            .bind(&new.name)
            .bind(&new.description)
            .bind(&communes)
            .bind(&geometry)
            .bind(&now)
            .bind(&now)
            .bind(i64::from(new.public))
            .execute(&mut *tx)
            .await?;
            let detail = format!("{} ({} communes)", new.name, new.communes.len());
            audit!(tx, &now, caller, "create", "perimeter", &id, &detail);
            tx.commit().await?;
        });
        Ok(Perimeter {
            id,
            name: new.name.clone(),
            description: new.description.clone(),
            owner: caller.token_id.clone(),
            owner_name: caller.name.clone(),
            created_at: now.clone(),
            updated_at: now,
            communes: new.communes.clone(),
            geometry: new.geometry.clone(),
            public: new.public,
        })
    }

    /// A perimeter by id (anyone may use it as a territory).
    pub async fn perimeter(&self, id: &str) -> Result<Option<Perimeter>, DbError> {
        let sql = format!("{PERIMETER_SELECT} WHERE s.id = $1");
        let row: Option<PerimeterRow> = with_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.map(perimeter_of_row).transpose()
    }

    /// The perimeters a caller may list, newest first: the public ones, and the caller's
    /// own (an admin's: all); without a caller, the public ones only.
    pub async fn visible_perimeters(
        &self,
        caller: Option<&Caller>,
    ) -> Result<Vec<Perimeter>, DbError> {
        const ORDER: &str = "ORDER BY s.created_at DESC, s.id";
        let rows: Vec<PerimeterRow> = match caller {
            Some(c) if c.role == Role::Admin => {
                let sql = format!("{PERIMETER_SELECT} {ORDER}");
                with_pool!(self, |p| sqlx::query_as(&sql).fetch_all(p).await?)
            }
            Some(c) => {
                let sql = format!("{PERIMETER_SELECT} WHERE s.public = 1 OR s.owner = $1 {ORDER}");
                with_pool!(self, |p| sqlx::query_as(&sql)
                    .bind(&c.token_id)
                    .fetch_all(p)
                    .await?)
            }
            None => {
                let sql = format!("{PERIMETER_SELECT} WHERE s.public = 1 {ORDER}");
                with_pool!(self, |p| sqlx::query_as(&sql).fetch_all(p).await?)
            }
        };
        rows.into_iter().map(perimeter_of_row).collect()
    }

    /// How many perimeters [`Db::visible_perimeters`] lists for `caller`, counted by the
    /// store (none is read).
    pub async fn visible_perimeter_count(&self, caller: Option<&Caller>) -> Result<i64, DbError> {
        const ALL: &str = "SELECT COUNT(*) FROM perimeters";
        let (n,): (i64,) = match caller {
            Some(c) if c.role == Role::Admin => {
                with_pool!(self, |p| sqlx::query_as(ALL).fetch_one(p).await?)
            }
            Some(c) => {
                let sql = format!("{ALL} WHERE public = 1 OR owner = $1");
                with_pool!(self, |p| sqlx::query_as(&sql)
                    .bind(&c.token_id)
                    .fetch_one(p)
                    .await?)
            }
            None => {
                let sql = format!("{ALL} WHERE public = 1");
                with_pool!(self, |p| sqlx::query_as(&sql).fetch_one(p).await?)
            }
        };
        Ok(n)
    }

    pub async fn perimeters(&self, caller: &Caller) -> Result<Vec<Summary>, DbError> {
        self.list(Table::Perimeters, caller).await
    }

    /// Renames, re-describes or publishes a perimeter (`None` keeps the field).
    pub async fn update_perimeter(
        &self,
        caller: &Caller,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
        public: Option<bool>,
    ) -> Result<(), DbError> {
        self.update(Table::Perimeters, caller, id, (name, description), public)
            .await
    }

    pub async fn delete_perimeter(&self, caller: &Caller, id: &str) -> Result<(), DbError> {
        self.delete(Table::Perimeters, caller, id).await
    }

    /// The latest writes, newest first.
    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        const SQL: &str = "SELECT id, at, token_id, token_name, action, object_type, object_id, detail FROM audit ORDER BY id DESC LIMIT $1";
        type Row = (i64, String, String, String, String, String, String, String);
        let rows: Vec<Row> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(limit)
            .fetch_all(p)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, at, token_id, token_name, action, object_type, object_id, detail)| {
                    AuditEntry {
                        id,
                        at,
                        token_id,
                        token_name,
                        action,
                        object_type,
                        object_id,
                        detail,
                    }
                },
            )
            .collect())
    }

    async fn list(&self, table: Table, caller: &Caller) -> Result<Vec<Summary>, DbError> {
        let all = caller.role == Role::Admin;
        let sql = table.list_sql(all);
        let rows: Vec<SummaryRow> = with_pool!(self, |p| {
            let q = sqlx::query_as(sql);
            let q = if all { q } else { q.bind(&caller.token_id) };
            q.fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, name, description, owner_name, created_at, updated_at)| Summary {
                    id,
                    name,
                    description,
                    owner_name,
                    created_at,
                    updated_at,
                },
            )
            .collect())
    }

    /// `public` is bound for perimeters only (scenarios have no such column).
    async fn update(
        &self,
        table: Table,
        caller: &Caller,
        id: &str,
        (name, description): (Option<&str>, Option<&str>),
        public: Option<bool>,
    ) -> Result<(), DbError> {
        let now = now_utc();
        let detail = [
            name.map(|n| format!("name: {n}")),
            description.map(|_| "description".to_owned()),
            public.map(|p| format!("public: {p}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let owner: Option<(String,)> = sqlx::query_as(table.owner_sql())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            check_owner(table, caller, id, owner)?;
            let q = sqlx::query(table.update_sql())
                .bind(name)
                .bind(description)
                .bind(&now)
                .bind(id);
            let q = match table {
                Table::Perimeters => q.bind(public.map(i64::from)),
                Table::Scenarios => q,
            };
            q.execute(&mut *tx).await?;
            audit!(tx, &now, caller, "update", table.audit_type(), id, &detail);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn delete(&self, table: Table, caller: &Caller, id: &str) -> Result<(), DbError> {
        let now = now_utc();
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let owner: Option<(String,)> = sqlx::query_as(table.owner_sql())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            check_owner(table, caller, id, owner)?;
            sqlx::query(table.delete_sql())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(tx, &now, caller, "delete", table.audit_type(), id, "");
            tx.commit().await?;
        });
        Ok(())
    }
}

fn check_owner(
    table: Table,
    caller: &Caller,
    id: &str,
    owner: Option<(String,)>,
) -> Result<(), DbError> {
    match owner {
        None => Err(DbError::NotFound(table.object(), id.to_owned())),
        Some((owner,)) if !caller.may_change(&owner) => {
            Err(DbError::Forbidden(table.object(), id.to_owned()))
        }
        Some(_) => Ok(()),
    }
}
