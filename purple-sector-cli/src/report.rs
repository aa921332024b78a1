//! What several commands print: a recording's session and laps, the simulator's account of
//! its laps, and an analysis (JSON Lines contracts included).

use std::sync::Arc;

use purple_sector_core::analysis::{
    Analysis, HeuristicAnalyzer, SegmentKind, Severity, Strength, Suggestion,
};
use purple_sector_core::lap::LapKind;
use purple_sector_core::record::RecordSummary;
use purple_sector_core::review::{Against, Comparison, review};
use purple_sector_core::sim::LapReport;
use purple_sector_core::store::{LapRecord, Store, best_lap};
use purple_sector_core::track::TrackMap;
use serde::Serialize;

use crate::Outcome;
use crate::output::Output;
use crate::tables;

/// The session and its laps, as a table or JSON Lines.
pub fn recording(summary: &RecordSummary, json: bool) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    let Some(session) = &summary.session else {
        if json {
            out.json("summary", summary)?;
        } else {
            out.line(format_args!("nothing recorded: the game never answered"))?;
        }
        out.flush()?;
        return Ok(Outcome::Nothing);
    };
    if json {
        out.json(
            "session",
            &tables::SessionLine::new(session, summary.laps.len()),
        )?;
        for lap in &summary.laps {
            out.json("lap", &tables::LapLine::new(lap, Some(session)))?;
        }
        out.json("summary", summary)?;
    } else {
        tables::session_header(&mut out, session)?;
        tables::lap_table(
            &mut out,
            &summary.laps,
            &tables::best_of_each_session(&summary.laps),
        )?;
        out.line(format_args!(
            "{} frames, {} laps, {} malformed, {} dropped",
            summary.pipeline.frames,
            summary.laps.len(),
            summary.pipeline.malformed,
            summary.client.dropped
        ))?;
    }
    out.flush()?;
    Ok(Outcome::Done)
}

#[derive(Serialize)]
struct SimLapLine<'a> {
    lap: u32,
    out_lap: bool,
    time_ms: f64,
    reported_ms: i32,
    clean_time_ms: f64,
    mistakes: Vec<MistakeLine<'a>>,
}

#[derive(Serialize)]
struct MistakeLine<'a> {
    spec: String,
    corner: &'a str,
    /// The map's id of the corner (`T3`), when the map has it.
    corner_id: Option<&'a str>,
    kind: &'a str,
    amount: f64,
    applied: bool,
    cost_ms: f64,
}

fn sim_lap_line<'a>(report: &'a LapReport, map: &'a TrackMap) -> SimLapLine<'a> {
    SimLapLine {
        lap: report.lap,
        out_lap: report.out_lap,
        time_ms: report.time_ms,
        reported_ms: report.reported_ms,
        clean_time_ms: report.clean_time_ms,
        mistakes: report
            .mistakes
            .iter()
            .map(|m| MistakeLine {
                spec: m.mistake.to_string(),
                corner: &m.mistake.corner,
                corner_id: map.corner(&m.mistake.corner).map(|c| c.id.as_str()),
                kind: m.mistake.kind.as_str(),
                amount: m.mistake.amount,
                applied: m.applied,
                cost_ms: m.cost_ms,
            })
            .collect(),
    }
}

/// The simulator's own account of its laps: times, and what each mistake cost, at the
/// corners of the track's map (the coach's).
pub fn sim_laps(
    out: &mut Output,
    reports: &[LapReport],
    map: &TrackMap,
    json: bool,
) -> std::io::Result<()> {
    for report in reports {
        if json {
            out.json("sim_lap", &sim_lap_line(report, map))?;
            continue;
        }
        let kind = if report.out_lap { "out" } else { "flying" };
        out.line(format_args!(
            "  lap {:>2} {:<6} {:>10}",
            report.lap,
            kind,
            tables::lap_time(Some(report.reported_ms))
        ))?;
        for m in &report.mistakes {
            if m.applied {
                let id = map
                    .corner(&m.mistake.corner)
                    .filter(|c| c.id != c.name)
                    .map_or(String::new(), |c| format!(" ({})", c.id));
                out.line(format_args!(
                    "         injected: {}{id} — cost {:.3} s",
                    m.mistake.describe(),
                    m.cost_ms / 1000.0
                ))?;
            }
        }
    }
    Ok(())
}

/// `analyze --json`: the public contract.
#[derive(Serialize)]
struct AnalysisLine<'a> {
    lap_id: i64,
    /// `out`, `flying`, `in` or `partial`: only a flying lap is a lap to compare like with
    /// like.
    lap_kind: &'static str,
    reference_lap_id: Option<i64>,
    /// The reference's kind; `null` against the ideal lap.
    reference_lap_kind: Option<&'static str>,
    lap_time_ms: i32,
    reference_lap_time_ms: i32,
    gap_s: f64,
    track_length_m: f64,
    corners: Vec<CornerLine<'a>>,
    segments: Vec<SegmentLine<'a>>,
    suggestions: Vec<SuggestionLine<'a>>,
    strengths: Vec<StrengthLine<'a>>,
}

#[derive(Serialize)]
struct CornerLine<'a> {
    /// The track map's stable id (`T3`).
    id: &'a str,
    /// Its name (`Tosa`; the id where the track's corners have no names).
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
    gear_at_apex: i32,
    reference_gear_at_apex: i32,
    exit_speed_kmh: f64,
    reference_exit_speed_kmh: f64,
}

/// Where the lap gained (`analyze --json`'s `strengths`).
#[derive(Serialize)]
struct StrengthLine<'a> {
    corner: Option<&'a str>,
    position: f64,
    distance_m: f64,
    time_gained_s: f64,
    message: &'a str,
}

/// One segment's loss (`analyze --json` and `compare --json`).
#[derive(Serialize)]
pub struct SegmentLine<'a> {
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
    /// Why: `early_braking`, `late_braking_overslowed`, `low_apex_speed`, `late_throttle`,
    /// `coasting`, `mid_corner_lift`, `lower_gear`, `slow_exit`, `line` or `general`.
    cause: &'a str,
    corner: Option<&'a str>,
    position: f64,
    distance_m: f64,
    time_loss_s: f64,
    severity: Severity,
    message: &'a str,
}

/// The `analysis` JSON line.
pub fn analysis_json(
    out: &mut Output,
    comparison: &Comparison,
    suggestions: &[Suggestion],
    strengths: &[Strength],
) -> std::io::Result<()> {
    let a = &comparison.analysis;
    let line = AnalysisLine {
        lap_id: comparison.lap.id.0,
        lap_kind: comparison.lap.kind.as_str(),
        reference_lap_id: comparison.reference_id.map(|r| r.0),
        reference_lap_kind: comparison
            .reference_id
            .map(|_| comparison.reference.kind.as_str()),
        lap_time_ms: a.lap_time_ms,
        reference_lap_time_ms: a.reference_lap_time_ms,
        gap_s: a.gap_s,
        track_length_m: a.track_length_m,
        corners: a
            .corners
            .iter()
            .map(|c| CornerLine {
                id: &c.corner.id,
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
                gear_at_apex: c.lap.gear_at_apex,
                reference_gear_at_apex: c.reference.gear_at_apex,
                exit_speed_kmh: c.lap.exit_speed_kmh,
                reference_exit_speed_kmh: c.reference.exit_speed_kmh,
            })
            .collect(),
        segments: segment_lines(a),
        suggestions: suggestions
            .iter()
            .map(|s| SuggestionLine {
                id: &s.id,
                kind: s.kind.as_str(),
                cause: s.cause.as_str(),
                corner: s.corner.as_deref(),
                position: s.position,
                distance_m: s.distance_m,
                time_loss_s: s.time_loss_s,
                severity: s.severity,
                message: &s.message,
            })
            .collect(),
        strengths: strengths
            .iter()
            .map(|s| StrengthLine {
                corner: s.corner.as_deref(),
                position: s.position,
                distance_m: s.distance_m,
                time_gained_s: s.time_gained_s,
                message: &s.message,
            })
            .collect(),
    };
    out.json("analysis", &line)
}

/// "lap 4 (out lap)": a lap by its id, saying what it is unless it is a flying lap.
pub fn lap_label(lap: &LapRecord) -> String {
    match lap.kind {
        LapKind::Flying => format!("lap {}", lap.id),
        kind => format!("lap {} ({} lap)", lap.id, kind.as_str()),
    }
}

/// What the laps compared are, when either is not a flying lap: a line of warning for the
/// text outputs.
pub fn kinds_note(comparison: &Comparison) -> Option<String> {
    let lap = comparison.lap.kind;
    let reference = comparison.reference_id.map(|_| comparison.reference.kind);
    let what = |k: LapKind| match k {
        LapKind::Out => "an out lap (from the pits)",
        LapKind::In => "an in lap (into the pits)",
        LapKind::Partial => "a partial lap",
        LapKind::Flying => "a flying lap",
    };
    if lap != LapKind::Flying {
        Some(format!(
            "note: lap {} is {}, not a flying lap: it is not like for like at the line",
            comparison.lap.id,
            what(lap)
        ))
    } else {
        reference
            .filter(|&k| k != LapKind::Flying)
            .map(|k| format!("note: the reference is {}, not a flying lap", what(k)))
    }
}

/// Every segment's loss, in track order.
pub fn segment_lines(a: &Analysis) -> Vec<SegmentLine<'_>> {
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

/// The segment table, with its total (the gap).
pub fn segment_table(out: &mut Output, a: &Analysis) -> std::io::Result<()> {
    let width = a
        .segments
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    out.line(format_args!(
        "{:<width$} {:>8} {:>8} {:>9}",
        "segment", "from m", "to m", "lost s"
    ))?;
    for s in &a.segments {
        let marker = if s.kind == SegmentKind::Corner {
            ""
        } else {
            " (straight)"
        };
        let pad = width.saturating_sub(s.name.chars().count());
        out.line(format_args!(
            "{}{:pad$} {:>8.0} {:>8.0} {:>+9.3}{marker}",
            s.name, "", s.start_m, s.end_m, s.time_loss_s
        ))?;
    }
    let sum: f64 = a.segments.iter().map(|s| s.time_loss_s).sum();
    out.line(format_args!(
        "{:<width$} {:>8} {:>8} {:>+9.3}",
        "total", "", "", sum
    ))
}

/// The demo's coaching part: the worst lap that ranks against the best, corner by corner,
/// and the top three suggestions (kept on the worst lap, as `analyze` would).
pub async fn demo_coaching(
    store: &Arc<dyn Store>,
    laps: &[LapRecord],
    out: &mut Output,
    json: bool,
) -> anyhow::Result<()> {
    let (Some(best), Some(worst)) = (
        best_lap(laps),
        laps.iter()
            .filter(|l| l.ranking_time_ms().is_some())
            .max_by_key(|l| (l.ranking_time_ms(), std::cmp::Reverse(l.id))),
    ) else {
        return Ok(());
    };
    if best.id == worst.id {
        return Ok(());
    }
    let reviewed = review(
        &**store,
        worst.id,
        Against::Lap(best.id),
        &HeuristicAnalyzer,
    )
    .await?;
    if json {
        analysis_json(
            out,
            &reviewed.comparison,
            &reviewed.suggestions,
            &reviewed.strengths,
        )?;
        return Ok(());
    }
    let analysis = &reviewed.comparison.analysis;
    out.line(format_args!(
        "worst lap {} against best lap {}: {:+.3} s; where it went:",
        worst.number, best.number, analysis.gap_s
    ))?;
    let mut rows: Vec<_> = analysis.segments.iter().collect();
    rows.sort_by(|a, b| b.time_loss_s.total_cmp(&a.time_loss_s));
    for s in rows.iter().take(5) {
        out.line(format_args!("  {:<10} {:+.3} s", s.name, s.time_loss_s))?;
    }
    out.line(format_args!("top suggestions:"))?;
    for s in reviewed.suggestions.iter().take(3) {
        out.line(format_args!("  {}", s.message))?;
    }
    if let Some(s) = reviewed.strengths.first() {
        out.line(format_args!("best gain: {}", s.message))?;
    }
    Ok(())
}
