//! The JSON lines and text tables of sessions and laps.

use std::io;

use purple_sector_core::store::{LapId, LapRecord, Session, best_lap};
use serde::Serialize;

use crate::output::Output;

/// `m:ss.mmm`, or `—` when there is no time.
pub fn lap_time(ms: Option<i32>) -> String {
    match ms {
        Some(ms) if ms >= 0 => format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000),
        Some(ms) => format!("-{}", lap_time(Some(ms.saturating_neg()))),
        None => "—".to_owned(),
    }
}

/// `sessions list --json`: `{"type":"session","data":{…}}`.
#[derive(Serialize)]
pub struct SessionLine<'a> {
    id: i64,
    name: &'a str,
    source: &'a str,
    status: &'a str,
    car: &'a str,
    driver: &'a str,
    track: &'a str,
    track_config: &'a str,
    tags: &'a [String],
    laps: usize,
    created_ms: i64,
    updated_ms: i64,
}

impl<'a> SessionLine<'a> {
    pub fn new(session: &'a Session, laps: usize) -> Self {
        Self {
            id: session.id.0,
            name: &session.name,
            source: session.source.as_str(),
            status: session.status.as_str(),
            car: &session.car,
            driver: &session.driver,
            track: &session.track,
            track_config: &session.track_config,
            tags: &session.tags,
            laps,
            created_ms: session.created_ms,
            updated_ms: session.updated_ms,
        }
    }
}

/// `laps list --json`: `{"type":"lap","data":{"id","session_id","number","kind","valid",
/// "invalid_reason","lap_time_ms","lap_time_source","frames","car","track"}}` — a public
/// contract (`lap_time_source`: `official`, `telemetry` or null).
#[derive(Serialize)]
pub struct LapLine<'a> {
    id: i64,
    session_id: i64,
    number: i32,
    kind: &'a str,
    valid: bool,
    invalid_reason: Option<String>,
    lap_time_ms: Option<i32>,
    lap_time_source: Option<&'static str>,
    frames: u32,
    car: &'a str,
    track: &'a str,
}

impl<'a> LapLine<'a> {
    pub fn new(lap: &'a LapRecord, session: Option<&'a Session>) -> Self {
        Self {
            id: lap.id.0,
            session_id: lap.session.0,
            number: lap.number,
            kind: lap.kind.as_str(),
            valid: lap.valid,
            invalid_reason: lap.invalid_reason.map(|r| r.to_string()),
            lap_time_ms: lap.time_ms(),
            lap_time_source: lap.time.map(|t| t.source.as_str()),
            frames: lap.frame_count,
            car: session.map_or("", |s| s.car.as_str()),
            track: session.map_or("", |s| s.track.as_str()),
        }
    }
}

/// `session 3 "Imola" — live — Scott Deakin at imola — ks_corvette_c7r — active`: what is
/// not known is left out, never printed as `?`.
pub fn session_header(out: &mut Output, session: &Session) -> io::Result<()> {
    let track = if session.track_config.is_empty() {
        session.track.clone()
    } else {
        format!("{} ({})", session.track, session.track_config)
    };
    let who_where = match (session.driver.is_empty(), track.is_empty()) {
        (false, false) => format!("{} at {track}", session.driver),
        (false, true) => session.driver.clone(),
        (true, false) => track,
        (true, true) => String::new(),
    };
    let mut parts = vec![
        format!("session {} \"{}\"", session.id, session.name),
        session.source.as_str().to_owned(),
    ];
    parts.extend(
        [who_where, session.car.clone()]
            .into_iter()
            .filter(|p| !p.is_empty()),
    );
    parts.push(session.status.as_str().to_owned());
    out.line(format_args!("{}", parts.join(" — ")))
}

/// The best lap of each session among `laps` (the one best-lap rule).
pub fn best_of_each_session(laps: &[LapRecord]) -> Vec<LapId> {
    let mut sessions: Vec<_> = laps.iter().map(|l| l.session).collect();
    sessions.dedup();
    sessions
        .into_iter()
        .filter_map(|s| best_lap(laps.iter().filter(|l| l.session == s)).map(|l| l.id))
        .collect()
}

/// The lap table; the laps in `best` are marked `(best)`.
pub fn lap_table(out: &mut Output, laps: &[LapRecord], best: &[LapId]) -> io::Result<()> {
    out.line(format_args!(
        "{:>6} {:>7} {:>4} {:<8} {:>10} {:>7}  validity",
        "id", "session", "lap", "kind", "time", "frames"
    ))?;
    for lap in laps {
        let validity = match &lap.invalid_reason {
            None => "valid".to_owned(),
            Some(reason) => format!("invalid: {reason}"),
        };
        let marker = if best.contains(&lap.id) {
            " (best)"
        } else if lap.in_progress {
            " (in progress)"
        } else {
            ""
        };
        out.line(format_args!(
            "{:>6} {:>7} {:>4} {:<8} {:>10} {:>7}  {validity}{marker}",
            lap.id,
            lap.session,
            lap.number,
            lap.kind.as_str(),
            lap_time(lap.time_ms()),
            lap.frame_count,
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lap_time;

    #[test]
    fn lap_times_read_like_a_timing_screen() {
        assert_eq!(lap_time(Some(108_633)), "1:48.633");
        assert_eq!(lap_time(Some(59_005)), "0:59.005");
        assert_eq!(lap_time(None), "—");
    }
}
