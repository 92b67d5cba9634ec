//! `careaccess report --territory cls:thouarsais --out portrait.html`: the « Portrait de
//! territoire » of `careaccess::report`, the same document as
//! `GET /territories/{type}/{code}/report`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use careaccess::analysis::baseline::Baselines;
use careaccess::analysis::{Engine, territory};
use careaccess::report::{Inputs, Outline, render};
use careaccess::store::fgb::CellRef;
use careaccess::store::layout::{current_build, layer_file};
use careaccess::store::{LoadOptions, Table, load};

use super::{Output, profiles};
use crate::cli::ReportArgs;

pub fn report(data_dir: &Path, args: &ReportArgs) -> anyhow::Result<()> {
    let build = load(
        data_dir,
        LoadOptions {
            geometry: true,
            tables: false,
            kinds: None,
        },
    )
    .with_context(|| {
        format!(
            "loading the built data of {} (run `careaccess data build`?)",
            data_dir.display()
        )
    })?;
    let meta = build.meta;
    let engine = Engine::new(build.dataset);
    let territory = territory::resolve(&engine.data, &args.territory)?;
    let baselines = Baselines::new(&engine, &profiles(data_dir, None)?);
    // The départements' outlines for the locator map; a build without them gets a map
    // drawn from the communes.
    let path = current_build(data_dir)?.join(layer_file("departements"));
    let table = if path.exists() {
        Some(Table::read(&path, true)?)
    } else {
        None
    };
    let departements = table.as_ref().map(outlines).unwrap_or_default();
    let html = render(
        Inputs {
            engine: &engine,
            baselines: &baselines,
            meta: &meta,
            departements: &departements,
        },
        &territory,
    );
    let mut o = Output::to(args.out.as_deref())?;
    o.write_all(html.as_bytes())?;
    o.finish()
}

/// The outlines of a territory layer's rows, by their `code`.
fn outlines(table: &Table) -> Vec<Outline<'_>> {
    let Some(code) = table.info.columns.iter().position(|c| c.name == "code") else {
        return Vec::new();
    };
    (0..table.rows())
        .filter_map(|row| {
            let CellRef::Text(code) = table.cell(row, code) else {
                return None;
            };
            Some(Outline {
                code,
                geometry: table.geometries.get(row)?.as_ref()?,
            })
        })
        .collect()
}
