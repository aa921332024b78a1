//! `analyze`, `compare`, `chat` and `plot`: the coach on the command line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use purple_sector_core::analysis::{
    Analysis, Coach, HeuristicAnalyzer, OpenAiAnalyzer, OpenAiConfig, SegmentKind, Suggestion,
    heuristic_suggestions,
};
use purple_sector_core::review::{Against, Review, ReviewError, review};
use purple_sector_core::store::{LapId, LapRecord, LapUpdate, Store};
use serde::Serialize;

use crate::Outcome;
use crate::output::Output;
use crate::tables;

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
    /// Reference: a lap id, `best` (the session's best valid lap but this one) or `ideal`.
    #[arg(long, default_value = "best")]
    against: Against,
    /// Who writes the suggestions.
    #[arg(long, value_enum, default_value_t = Engine::Heuristic)]
    engine: Engine,
    /// Model for `--engine openai`.
    #[arg(long, default_value = OpenAiConfig::DEFAULT_MODEL)]
    model: String,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The lap.
    lap: LapId,
    /// The reference lap.
    reference: LapId,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The lap to talk about (compared with the session's best).
    lap: LapId,
    /// One question; without it, a conversation on standard input.
    #[arg(long)]
    message: Option<String>,
    /// Model, when an OpenAI-compatible server is configured.
    #[arg(long, default_value = OpenAiConfig::DEFAULT_MODEL)]
    model: String,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The lap to plot.
    lap: LapId,
    /// Reference: a lap id, `best` or `ideal`.
    #[arg(long, default_value = "best")]
    against: Against,
    /// The SVG file to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub(crate) type Prepared = Review;

/// [`review`] with the CLI's error wording.
pub(crate) async fn prepare(
    store: &dyn Store,
    id: LapId,
    against: &Against,
) -> anyhow::Result<Prepared> {
    review(store, id, *against).await.map_err(|e| match e {
        ReviewError::NoReference { .. } => anyhow::anyhow!("{e}; give --against LAP"),
        other => other.into(),
    })
}

/// `analyze --json`: the public contract.
#[derive(Serialize)]
struct AnalysisLine<'a> {
    lap_id: i64,
    reference_lap_id: Option<i64>,
    lap_time_ms: i32,
    reference_lap_time_ms: i32,
    gap_s: f64,
    track_length_m: f64,
    corners: Vec<CornerLine<'a>>,
    segments: Vec<SegmentLine<'a>>,
    suggestions: Vec<SuggestionLine<'a>>,
}

#[derive(Serialize)]
struct CornerLine<'a> {
    name: &'a str,
    start_pos: f64,
    apex_pos: f64,
    end_pos: f64,
    time_loss_s: f64,
    min_speed_kmh: f64,
    reference_min_speed_kmh: f64,
    brake_point_m: Option<f64>,
    reference_brake_point_m: Option<f64>,
    throttle_pickup_m: Option<f64>,
    reference_throttle_pickup_m: Option<f64>,
    coasting_m: f64,
}

#[derive(Serialize)]
struct SegmentLine<'a> {
    name: &'a str,
    start_pos: f64,
    end_pos: f64,
    time_loss_s: f64,
}

#[derive(Serialize)]
struct SuggestionLine<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    corner: Option<&'a str>,
    position: f64,
    distance_m: f64,
    time_loss_s: f64,
    severity: purple_sector_core::analysis::Severity,
    message: &'a str,
}

fn analysis_line<'a>(p: &'a Prepared, suggestions: &'a [Suggestion]) -> AnalysisLine<'a> {
    let a = &p.analysis;
    AnalysisLine {
        lap_id: p.lap.id.0,
        reference_lap_id: p.reference_id.map(|r| r.0),
        lap_time_ms: a.lap_time_ms,
        reference_lap_time_ms: a.reference_lap_time_ms,
        gap_s: a.gap_s,
        track_length_m: a.track_length_m,
        corners: a
            .corners
            .iter()
            .map(|c| CornerLine {
                name: &c.corner.name,
                start_pos: a.position(c.corner.start_m),
                apex_pos: a.position(c.corner.apex_m),
                end_pos: a.position(c.corner.end_m),
                time_loss_s: c.time_loss_s,
                min_speed_kmh: c.lap.min_speed_kmh,
                reference_min_speed_kmh: c.reference.min_speed_kmh,
                brake_point_m: c.lap.brake_point_m,
                reference_brake_point_m: c.reference.brake_point_m,
                throttle_pickup_m: c.lap.throttle_pickup_m,
                reference_throttle_pickup_m: c.reference.throttle_pickup_m,
                coasting_m: c.lap.coasting_m,
            })
            .collect(),
        segments: segment_lines(a),
        suggestions: suggestions
            .iter()
            .map(|s| SuggestionLine {
                id: &s.id,
                kind: s.kind.as_str(),
                corner: s.corner.as_deref(),
                position: s.position,
                distance_m: s.distance_m,
                time_loss_s: s.time_loss_s,
                severity: s.severity,
                message: &s.message,
            })
            .collect(),
    }
}

fn segment_lines(a: &Analysis) -> Vec<SegmentLine<'_>> {
    a.segments
        .iter()
        .map(|s| SegmentLine {
            name: &s.name,
            start_pos: a.position(s.start_m),
            end_pos: a.position(s.end_m),
            time_loss_s: s.time_loss_s,
        })
        .collect()
}

fn segment_table(out: &mut Output, a: &Analysis) -> std::io::Result<()> {
    out.line(format_args!(
        "{:<12} {:>8} {:>8} {:>9}",
        "segment", "from m", "to m", "lost s"
    ))?;
    for s in &a.segments {
        let marker = if s.kind == SegmentKind::Corner {
            ""
        } else {
            " (straight)"
        };
        out.line(format_args!(
            "{:<12} {:>8.0} {:>8.0} {:>+9.3}{marker}",
            s.name, s.start_m, s.end_m, s.time_loss_s
        ))?;
    }
    let sum: f64 = a.segments.iter().map(|s| s.time_loss_s).sum();
    out.line(format_args!(
        "{:<12} {:>8} {:>8} {:>+9.3}",
        "total", "", "", sum
    ))
}

async fn suggestions_for(
    analysis: &Analysis,
    engine: Engine,
    model: &str,
) -> anyhow::Result<Vec<Suggestion>> {
    match engine {
        Engine::Heuristic => Ok(heuristic_suggestions(analysis)),
        Engine::Openai => {
            let config = OpenAiConfig::from_env()
                .context("--engine openai needs OPENAI_API_KEY or OPENAI_BASE_URL")?
                .with_model(model);
            let analyzer = OpenAiAnalyzer::new(config, Arc::new(HeuristicAnalyzer));
            let (suggestions, outcome) = analyzer.suggest_with_report(analysis).await?;
            eprintln!("purple-sector: {outcome}");
            Ok(suggestions)
        }
    }
}

pub fn analyze(args: &AnalyzeArgs, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(async {
        let p = prepare(&*store, args.lap, &args.against).await?;
        let suggestions = suggestions_for(&p.analysis, args.engine, &args.model).await?;
        let update = LapUpdate {
            analyzed: Some(true),
            suggestions: Some(Some(serde_json::to_value(&suggestions)?)),
            ..LapUpdate::default()
        };
        store.update_lap(p.lap.id, update).await?;
        let mut out = Output::stdout();
        if json {
            out.json("analysis", &analysis_line(&p, &suggestions))?;
        } else {
            let a = &p.analysis;
            let against = match (&args.against, p.reference_id) {
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
            for s in &suggestions {
                out.line(format_args!("  [{:?}] {}", s.severity, s.message))?;
            }
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}

/// The demo's coaching part: the worst valid lap against the best, corner by corner, and the
/// top three suggestions.
pub(crate) async fn demo_report(
    store: &dyn Store,
    laps: &[LapRecord],
    out: &mut Output,
    json: bool,
) -> anyhow::Result<()> {
    let mut timed: Vec<&LapRecord> = laps
        .iter()
        .filter(|l| l.valid && l.official_time_ms.is_some())
        .collect();
    timed.sort_by_key(|l| l.official_time_ms);
    let (Some(best), Some(worst)) = (timed.first(), timed.last()) else {
        return Ok(());
    };
    if best.id == worst.id {
        return Ok(());
    }
    let p = prepare(store, worst.id, &Against::Lap(best.id)).await?;
    let suggestions = heuristic_suggestions(&p.analysis);
    if json {
        out.json("analysis", &analysis_line(&p, &suggestions))?;
        return Ok(());
    }
    out.line(format_args!(
        "worst lap {} against best lap {}: {:+.3} s; where it went:",
        worst.number, best.number, p.analysis.gap_s
    ))?;
    let mut rows: Vec<_> = p.analysis.segments.iter().collect();
    rows.sort_by(|a, b| b.time_loss_s.total_cmp(&a.time_loss_s));
    for s in rows.iter().take(5) {
        out.line(format_args!("  {:<10} {:+.3} s", s.name, s.time_loss_s))?;
    }
    out.line(format_args!("top suggestions:"))?;
    for s in suggestions.iter().take(3) {
        out.line(format_args!("  {}", s.message))?;
    }
    Ok(())
}

pub fn compare(args: &CompareArgs, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(async {
        let p = prepare(&*store, args.lap, &Against::Lap(args.reference)).await?;
        let mut out = Output::stdout();
        if json {
            #[derive(Serialize)]
            struct Comparison<'a> {
                lap_id: i64,
                reference_lap_id: i64,
                gap_s: f64,
                segments: Vec<SegmentLine<'a>>,
            }
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

pub fn chat(args: &ChatArgs, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(async {
        let p = prepare(&*store, args.lap, &Against::Best).await?;
        let stored: Option<Vec<Suggestion>> = p
            .lap
            .suggestions
            .clone()
            .and_then(|v| serde_json::from_value(v).ok());
        let suggestions = stored.unwrap_or_else(|| heuristic_suggestions(&p.analysis));
        let config = OpenAiConfig::from_env().map(|c| c.with_model(args.model.as_str()));
        let coach = Coach::new(Arc::clone(&store), config);
        let mut out = Output::stdout();
        let ask = async |question: &str, out: &mut Output| -> anyhow::Result<()> {
            let answer = coach
                .ask(p.lap.id, &p.analysis, &suggestions, question)
                .await
                .context("the coach could not answer")?;
            if json {
                out.json("chat", &answer.answer)?;
            } else {
                out.line(format_args!("{}", answer.content))?;
            }
            out.flush()?;
            Ok(())
        };
        if let Some(message) = &args.message {
            ask(message, &mut out).await?;
            return Ok(Outcome::Done);
        }
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            if !json {
                eprint!("you> ");
                std::io::stderr().flush()?;
            }
            line.clear();
            if stdin.lock().read_line(&mut line)? == 0 {
                break;
            }
            let question = line.trim();
            if question.is_empty() {
                continue;
            }
            if matches!(question, "quit" | "exit") {
                break;
            }
            // An error is shown, never stored; the conversation goes on.
            if let Err(e) = ask(question, &mut out).await {
                eprintln!("purple-sector: {e:#}");
            }
        }
        Ok(Outcome::Done)
    })
}

pub fn plot(args: &PlotArgs, db: Option<&Path>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(async {
        let p = prepare(&*store, args.lap, &args.against).await?;
        let svg = crate::plot::lap_svg(&p.lap_trace, &p.reference_trace, &p.analysis);
        std::fs::write(&args.output, svg)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!("purple-sector: wrote {}", args.output.display());
        Ok(Outcome::Done)
    })
}
