//! `careaccess db …` and `careaccess tokens …`: the store of saved work.

use std::path::Path;

use anyhow::Context;

use careaccess::db::{Db, Role, Target};

use crate::cli::{DbCommand, TokensCommand};

fn open(data_dir: &Path) -> anyhow::Result<(tokio::runtime::Runtime, Db)> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let target = Target::from_env(data_dir)?;
    let db = runtime.block_on(Db::open(&target))?;
    Ok((runtime, db))
}

pub fn db(data_dir: &Path, cmd: &DbCommand) -> anyhow::Result<()> {
    let (runtime, db) = open(data_dir)?;
    match cmd {
        DbCommand::Migrate => {
            let versions = runtime.block_on(db.migrations())?;
            println!(
                "{}: migrated (versions {})",
                db.target(),
                versions
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        DbCommand::Backup { file } => {
            runtime.block_on(db.backup(file))?;
            println!("{} → {}", db.target(), file.display());
        }
    }
    runtime.block_on(db.close());
    Ok(())
}

pub fn tokens(data_dir: &Path, cmd: &TokensCommand) -> anyhow::Result<()> {
    let (runtime, db) = open(data_dir)?;
    match cmd {
        TokensCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let t = runtime.block_on(db.create_token(name, role))?;
            eprintln!(
                "token {} for {} ({}): shown once, keep it — the store keeps only its hash",
                t.caller.token_id,
                t.caller.name,
                t.caller.role.as_str()
            );
            println!("{}", t.secret);
        }
        TokensCommand::List => {
            for t in runtime.block_on(db.tokens())? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.name,
                    t.created_at,
                    t.revoked_at
                        .map(|at| format!("revoked {at}"))
                        .unwrap_or_default()
                );
            }
        }
        TokensCommand::Revoke { id } => {
            runtime.block_on(db.revoke_token(id))?;
            println!("token {id} revoked");
        }
    }
    runtime.block_on(db.close());
    Ok(())
}
