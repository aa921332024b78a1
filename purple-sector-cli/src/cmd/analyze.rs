//! `purple-sector analyze LAP`: where a lap loses time against a reference, corner by
//! corner, and what to change; the suggestions are kept on the lap.

use anyhow::Context;
use clap::{Args, ValueEnum};
use purple_sector_core::analysis::{OpenAiConfig, analyzer_for};
use purple_sector_core::review::{Against, review};
use purple_sector_core::store::LapId;

use crate::args::{AgainstArgs, review_error};
use crate::output::Output;
use crate::{Global, Outcome, report, tables};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// Offline, deterministic.
    Heuristic,
    /// Any OpenAI-compatible server (OPENAI_API_KEY, OPENAI_BASE_URL), checked against the
    /// facts, falling back to the heuristic.
    Openai,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The lap to analyse.
    lap: LapId,
    #[command(flatten)]
    against: AgainstArgs,
    /// Who writes the suggestions.
    #[arg(long, value_enum, default_value_t = Engine::Heuristic)]
    engine: Engine,
    /// Model for `--engine openai`.
    #[arg(long, default_value = OpenAiConfig::DEFAULT_MODEL)]
    model: String,
}

pub fn run(args: &AnalyzeArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let openai = match args.engine {
        Engine::Heuristic => None,
        Engine::Openai => Some(
            OpenAiConfig::from_env()
                .context("--engine openai needs OPENAI_API_KEY or OPENAI_BASE_URL")?
                .with_model(args.model.as_str()),
        ),
    };
    let analyzer = analyzer_for(openai);
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async {
        let reviewed = review(&*store, args.lap, args.against.against, &*analyzer)
            .await
            .map_err(review_error)?;
        if let Some(note) = &reviewed.note {
            eprintln!("purple-sector: {note}");
        }
        let mut out = Output::stdout();
        let p = &reviewed.comparison;
        if global.json {
            report::analysis_json(&mut out, p, &reviewed.suggestions)?;
        } else {
            let a = &p.analysis;
            let against = match (&args.against.against, p.reference_id) {
                (Against::Ideal, _) => "the ideal lap".to_owned(),
                (_, Some(r)) => format!("lap {r}"),
                (_, None) => "the reference".to_owned(),
            };
            out.line(format_args!(
                "lap {} {} against {against} {}: {:+.3} s over {:.0} m",
                p.lap.id,
                tables::lap_time(Some(a.lap_time_ms)),
                tables::lap_time(Some(a.reference_lap_time_ms)),
                a.gap_s,
                a.track_length_m
            ))?;
            out.line(format_args!(
                "{:<6} {:>8} {:>10} {:>10} {:>9} {:>9}",
                "corner", "lost s", "min km/h", "ref km/h", "brake m", "ref m"
            ))?;
            for c in &a.corners {
                let m = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
                out.line(format_args!(
                    "{:<6} {:>+8.3} {:>10.1} {:>10.1} {:>9} {:>9}",
                    c.corner.name,
                    c.time_loss_s,
                    c.lap.min_speed_kmh,
                    c.reference.min_speed_kmh,
                    m(c.lap.brake_point_m),
                    m(c.reference.brake_point_m)
                ))?;
            }
            out.line(format_args!("suggestions:"))?;
            for s in &reviewed.suggestions {
                out.line(format_args!("  [{:?}] {}", s.severity, s.message))?;
            }
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}
