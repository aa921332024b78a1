//! `purple-sector analyze LAP`: where a lap loses time against a reference, corner by
//! corner, why, and where it gained; the suggestions are kept on the lap.
//! `purple-sector analyze --session ID`: the session's habits and its ideal lap.

use anyhow::Context;
use clap::{Args, ValueEnum};
use purple_sector_core::analysis::{OpenAiConfig, analyzer_for};
use purple_sector_core::review::{Against, SessionReview, review, review_session};
use purple_sector_core::store::{LapId, SessionId};
use serde::Serialize;

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
    #[arg(required_unless_present = "session", conflicts_with = "session")]
    lap: Option<LapId>,
    /// A whole session instead: each flying lap against its reference (the offline coach,
    /// nothing kept), the causes repeated at a corner over the recent laps (habits), and the
    /// session's ideal lap.
    #[arg(long, value_name = "ID")]
    session: Option<SessionId>,
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
    if let Some(session) = args.session {
        return run_session(session, args.against.against, global);
    }
    let lap = args.lap.context("give a lap or --session")?;
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
        let reviewed = review(&*store, lap, args.against.against, &*analyzer)
            .await
            .map_err(review_error)?;
        if let Some(note) = &reviewed.note {
            eprintln!("purple-sector: {note}");
        }
        let mut out = Output::stdout();
        let p = &reviewed.comparison;
        if global.json {
            report::analysis_json(&mut out, p, &reviewed.suggestions, &reviewed.strengths)?;
            out.flush()?;
            return Ok(Outcome::Done);
        }
        let a = &p.analysis;
        let against = match (&args.against.against, p.reference_id) {
            (Against::Ideal, _) => "the ideal lap".to_owned(),
            (_, Some(_)) => report::lap_label(&p.reference),
            (_, None) => "the reference".to_owned(),
        };
        out.line(format_args!(
            "{} {} against {against} {}: {:+.3} s over {:.0} m",
            report::lap_label(&p.lap),
            tables::lap_time(Some(a.lap_time_ms)),
            tables::lap_time(Some(a.reference_lap_time_ms)),
            a.gap_s,
            a.track_length_m
        ))?;
        if let Some(note) = report::kinds_note(p) {
            out.line(format_args!("{note}"))?;
        }
        out.line(format_args!(
            "{:<3} {:<15} {:>8} {:>11} {:>13} {:>11} {:>5} {:>13}",
            "id", "corner", "lost s", "brake m", "min km/h", "pick-up m", "gear", "exit km/h"
        ))?;
        let m = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
        for c in &a.corners {
            out.line(format_args!(
                "{:<3} {:<15} {:>+8.3} {:>5}/{:<5} {:>6.1}/{:<6.1} {:>5}/{:<5} {:>2}/{:<2} {:>6.1}/{:<6.1}",
                c.corner.id,
                c.corner.name,
                c.attributed_loss_s,
                m(c.lap.brake_point_m),
                m(c.reference.brake_point_m),
                c.lap.min_speed_kmh,
                c.reference.min_speed_kmh,
                m(c.lap.throttle_pickup_m),
                m(c.reference.throttle_pickup_m),
                c.lap.gear_at_apex,
                c.reference.gear_at_apex,
                c.lap.exit_speed_kmh,
                c.reference.exit_speed_kmh
            ))?;
        }
        out.line(format_args!(
            "(lost s: what the corner explains, down the straight after it too; lap/reference)"
        ))?;
        out.line(format_args!("suggestions:"))?;
        for s in &reviewed.suggestions {
            out.line(format_args!("  [{:?}, {}] {}", s.severity, s.cause, s.message))?;
        }
        if !reviewed.strengths.is_empty() {
            out.line(format_args!("strengths:"))?;
            for s in &reviewed.strengths {
                out.line(format_args!("  {}", s.message))?;
            }
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}

/// `analyze --session --json`: one line per lap reviewed.
#[derive(Serialize)]
struct SessionLapLine<'a> {
    lap_id: i64,
    number: i32,
    lap_time_ms: Option<i32>,
    reference_lap_id: Option<i64>,
    gap_s: f64,
    /// The largest loss's cause and corner, when the lap lost anywhere.
    top_cause: Option<&'a str>,
    top_corner: Option<&'a str>,
    top_time_loss_s: Option<f64>,
}

/// `analyze --session --json`: a habit.
#[derive(Serialize)]
struct HabitLine<'a> {
    corner: &'a str,
    cause: &'a str,
    laps: usize,
    of_laps: usize,
    average_loss_s: f64,
    message: &'a str,
}

/// `analyze --session --json`: the ideal lap.
#[derive(Serialize)]
struct IdealLine<'a> {
    session_id: i64,
    time_ms: f64,
    best_lap_ms: Option<i32>,
    segments: Vec<IdealSegmentLine<'a>>,
}

#[derive(Serialize)]
struct IdealSegmentLine<'a> {
    name: &'a str,
    lap_id: Option<i64>,
    time_s: f64,
}

fn run_session(
    session: SessionId,
    against: Against,
    global: Global<'_>,
) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async {
        let r = review_session(&*store, session, against)
            .await
            .map_err(review_error)?;
        let mut out = Output::stdout();
        if r.laps.is_empty() {
            if global.json {
                out.flush()?;
            } else {
                out.line(format_args!(
                    "session {session}: no flying lap with a reference to review"
                ))?;
                out.flush()?;
            }
            return Ok(Outcome::Nothing);
        }
        if global.json {
            session_json(&mut out, &r)?;
        } else {
            session_text(&mut out, &r)?;
        }
        out.flush()?;
        Ok(Outcome::Done)
    })
}

fn session_json(out: &mut Output, r: &SessionReview) -> std::io::Result<()> {
    for l in &r.laps {
        let top = l.suggestions.first();
        out.json(
            "session_lap",
            &SessionLapLine {
                lap_id: l.lap.id.0,
                number: l.lap.number,
                lap_time_ms: l.lap.time_ms(),
                reference_lap_id: l.reference_id.map(|id| id.0),
                gap_s: l.gap_s,
                top_cause: top.map(|s| s.cause.as_str()),
                top_corner: top.and_then(|s| s.corner.as_deref()),
                top_time_loss_s: top.map(|s| s.time_loss_s),
            },
        )?;
    }
    for h in &r.habits {
        out.json(
            "habit",
            &HabitLine {
                corner: &h.corner,
                cause: h.cause.as_str(),
                laps: h.laps,
                of_laps: h.of_laps,
                average_loss_s: h.average_loss_s,
                message: &h.message,
            },
        )?;
    }
    if let Some(ideal) = &r.ideal {
        out.json(
            "ideal_lap",
            &IdealLine {
                session_id: r.session.id.0,
                time_ms: ideal.time_ms,
                best_lap_ms: r.laps.iter().filter_map(|l| l.lap.ranking_time_ms()).min(),
                segments: ideal
                    .segments
                    .iter()
                    .zip(r.ideal_laps.iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(s, lap)| IdealSegmentLine {
                        name: &s.name,
                        lap_id: lap.map(|l| l.0),
                        time_s: s.time_s,
                    })
                    .collect(),
            },
        )?;
    }
    Ok(())
}

fn session_text(out: &mut Output, r: &SessionReview) -> std::io::Result<()> {
    tables::session_header(out, &r.session)?;
    out.line(format_args!(
        "{:>6} {:>4} {:>10} {:>7} {:>8}  biggest loss",
        "lap", "no.", "time", "against", "gap s"
    ))?;
    for l in &r.laps {
        let top = l
            .suggestions
            .first()
            .map_or_else(String::new, |s| s.message.clone());
        out.line(format_args!(
            "{:>6} {:>4} {:>10} {:>7} {:>+8.3}  {top}",
            l.lap.id,
            l.lap.number,
            tables::lap_time(l.lap.time_ms()),
            l.reference_id
                .map_or("ideal".to_owned(), |id| id.to_string()),
            l.gap_s
        ))?;
    }
    if r.habits.is_empty() {
        out.line(format_args!(
            "habits: none — no corner lost time the same way in most of the recent laps"
        ))?;
    } else {
        out.line(format_args!("habits:"))?;
        for h in &r.habits {
            out.line(format_args!("  {}", h.message))?;
        }
    }
    if let Some(ideal) = &r.ideal {
        let best = r.laps.iter().filter_map(|l| l.lap.ranking_time_ms()).min();
        out.line(format_args!(
            "ideal lap: {} (best lap {}), the best of each segment:",
            tables::lap_time(Some(ideal.time_ms.round() as i32)),
            tables::lap_time(best)
        ))?;
        let mut from: Vec<String> = Vec::new();
        for (s, lap) in ideal.segments.iter().zip(&r.ideal_laps) {
            from.push(format!("{} lap {lap}", s.name));
        }
        out.line(format_args!("  {}", from.join(", ")))?;
    }
    Ok(())
}
