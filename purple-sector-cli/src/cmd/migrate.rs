//! `purple-sector migrate --from PATH|URL --to URL|PATH`: copies one database into another.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use purple_sector_core::store::copy_store;

use crate::db::Location;
use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database to copy: a SQLite file or a PostgreSQL URL.
    #[arg(long, value_name = "PATH|URL")]
    from: PathBuf,
    /// The database to copy into (created and migrated if needed): a SQLite file or a
    /// PostgreSQL URL. Rows it has already are kept; run again to resume.
    #[arg(long, value_name = "PATH|URL")]
    to: PathBuf,
}

pub fn run(args: &MigrateArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let from = Location::of(Some(&args.from));
    let to = Location::of(Some(&args.to));
    if from == to {
        anyhow::bail!("--from and --to are the same database ({})", from.display());
    }
    if let Location::File(path) = &from {
        // Opening would create an empty database: a typo must not copy nothing, successfully.
        if !path.exists() {
            anyhow::bail!("cannot open database {}: no such file", path.display());
        }
    }
    let source = from.open()?;
    let target = to.open()?;
    let bar = (!global.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} laps {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let summary = crate::runtime()?
        .block_on(copy_store(&*source, &*target, |progress| {
            if let Some(bar) = &bar {
                bar.set_length(progress.laps_total);
                bar.set_position(progress.laps_done);
            }
        }))
        .with_context(|| format!("cannot copy {} into {}", from.display(), to.display()))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut out = Output::stdout();
    if global.json {
        out.json("migrated", &summary)?;
    } else {
        for (what, copied) in [
            ("users", summary.users),
            ("sessions", summary.sessions),
            ("laps", summary.laps),
            ("chat messages", summary.chat_messages),
            ("malformed datagrams", summary.malformed_datagrams),
            ("track maps", summary.track_maps),
        ] {
            out.line(format_args!(
                "{what:<20} {:>7} copied {:>7} already there",
                copied.inserted, copied.already_there
            ))?;
        }
        out.line(format_args!(
            "{} frames copied from {} to {}",
            summary.frames,
            from.display(),
            to.display()
        ))?;
    }
    out.flush()?;
    Ok(Outcome::Done)
}
