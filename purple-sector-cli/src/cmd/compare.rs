//! `purple-sector compare LAP REFERENCE`: time lost per segment, summing to the gap.

use clap::Args;
use purple_sector_core::review::{Against, compare};
use purple_sector_core::store::LapId;
use serde::Serialize;

use crate::args::review_error;
use crate::output::Output;
use crate::report::{SegmentLine, segment_lines, segment_table};
use crate::{Global, Outcome, report};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The lap.
    lap: LapId,
    /// The reference lap (the same as `--against LAP`).
    #[arg(conflicts_with = "against")]
    reference: Option<LapId>,
    /// Reference: a lap id, `best` (the best other valid flying lap of the same track and
    /// car, any session) or `ideal`.
    #[arg(long, value_name = "LAP|best|ideal")]
    against: Option<Against>,
}

/// `compare --json`.
#[derive(Serialize)]
struct Comparison<'a> {
    lap_id: i64,
    /// `out`, `flying`, `in` or `partial`.
    lap_kind: &'static str,
    reference_lap_id: Option<i64>,
    /// The reference's kind; `null` against the ideal lap.
    reference_lap_kind: Option<&'static str>,
    gap_s: f64,
    segments: Vec<SegmentLine<'a>>,
}

pub fn run(args: &CompareArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async {
        let against = match (args.reference, args.against) {
            (Some(r), _) => Against::Lap(r),
            (None, Some(against)) => against,
            (None, None) => Against::Best,
        };
        let p = compare(&*store, args.lap, against)
            .await
            .map_err(review_error)?;
        let reference = p.reference_id.map_or_else(
            || "the ideal lap".to_owned(),
            |_| report::lap_label(&p.reference),
        );
        let mut out = Output::stdout();
        if global.json {
            out.json(
                "comparison",
                &Comparison {
                    lap_id: args.lap.0,
                    lap_kind: p.lap.kind.as_str(),
                    reference_lap_id: p.reference_id.map(|r| r.0),
                    reference_lap_kind: p.reference_id.map(|_| p.reference.kind.as_str()),
                    gap_s: p.analysis.gap_s,
                    segments: segment_lines(&p.analysis),
                },
            )?;
        } else {
            out.line(format_args!(
                "{} against {reference}: {:+.3} s",
                report::lap_label(&p.lap),
                p.analysis.gap_s
            ))?;
            if let Some(note) = report::kinds_note(&p) {
                out.line(format_args!("{note}"))?;
            }
            segment_table(&mut out, &p.analysis)?;
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}
