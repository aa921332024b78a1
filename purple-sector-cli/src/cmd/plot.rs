//! `purple-sector plot LAP -o FILE.svg`: the lap against its reference as one SVG.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use purple_sector_core::review::compare;
use purple_sector_core::store::LapId;

use crate::args::{AgainstArgs, review_error};
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The lap to plot.
    lap: LapId,
    #[command(flatten)]
    against: AgainstArgs,
    /// The SVG file to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &PlotArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async {
        let p = compare(&*store, args.lap, args.against.against)
            .await
            .map_err(review_error)?;
        let svg = crate::svg::lap_svg(&p.lap_trace, &p.reference_trace, &p.analysis);
        std::fs::write(&args.output, svg)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!("purple-sector: wrote {}", args.output.display());
        Ok(Outcome::Done)
    })
}
