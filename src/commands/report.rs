//! `careaccess report --territory cls:thouarsais --out portrait.html`: the « Portrait de
//! territoire » of `careaccess::report`, the same document as
//! `GET /territories/{type}/{code}/report`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use careaccess::analysis::baseline::Baselines;
use careaccess::analysis::{Engine, territory};
use careaccess::report::{Inputs, render};
use careaccess::store::{LoadOptions, load};

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
    let html = render(
        Inputs {
            engine: &engine,
            baselines: &baselines,
            meta: &meta,
        },
        &territory,
    );
    let mut o = Output::to(args.out.as_deref())?;
    o.write_all(html.as_bytes())?;
    o.finish()
}
