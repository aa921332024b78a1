//! `purple-sector compare LAP REFERENCE`: time lost per segment, summing to the gap.

use clap::Args;
use purple_sector_core::review::{Against, compare};
use purple_sector_core::store::LapId;
use serde::Serialize;

use crate::output::Output;
use crate::report::{SegmentLine, segment_lines, segment_table};
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The lap.
    lap: LapId,
    /// The reference lap.
    reference: LapId,
}

/// `compare --json`.
#[derive(Serialize)]
struct Comparison<'a> {
    lap_id: i64,
    reference_lap_id: i64,
    gap_s: f64,
    segments: Vec<SegmentLine<'a>>,
}

pub fn run(args: &CompareArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async {
        let p = compare(&*store, args.lap, Against::Lap(args.reference)).await?;
        let mut out = Output::stdout();
        if global.json {
            out.json(
                "comparison",
                &Comparison {
                    lap_id: args.lap.0,
                    reference_lap_id: args.reference.0,
                    gap_s: p.analysis.gap_s,
                    segments: segment_lines(&p.analysis),
                },
            )?;
        } else {
            out.line(format_args!(
                "lap {} against lap {}: {:+.3} s",
                args.lap, args.reference, p.analysis.gap_s
            ))?;
            segment_table(&mut out, &p.analysis)?;
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}
