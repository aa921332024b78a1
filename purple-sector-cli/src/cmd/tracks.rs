//! `purple-sector tracks list|show|rebuild`: the track maps kept in the database — each
//! track's length and corners with their stable ids and names, the ones the coach, the
//! simulator and the dashboard speak of.

use anyhow::bail;
use clap::Subcommand;
use purple_sector_core::review::rebuild_track_map;
use purple_sector_core::store::Store;
use purple_sector_core::track::TrackMap;
use serde::Serialize;

use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Subcommand)]
pub enum TracksCommand {
    /// Every track map kept: track, layout, length, corners.
    List,
    /// One track's map, corner by corner.
    Show {
        /// The track (`imola`).
        track: String,
        /// Its layout (none when the track has one).
        #[arg(long, default_value = "")]
        config: String,
    },
    /// Builds a track's map again from its first clean laps now in the database, and keeps
    /// it (its corners may move: their ids follow the new map).
    Rebuild {
        /// The track (`imola`).
        track: String,
        /// Its layout (none when the track has one).
        #[arg(long, default_value = "")]
        config: String,
    },
}

/// `tracks list --json`: `{"type":"track_map","data":{…}}` without the corners;
/// `tracks show --json` and `tracks rebuild --json` add them.
#[derive(Serialize)]
struct MapLine<'a> {
    track: &'a str,
    config: &'a str,
    length_m: f64,
    corner_count: usize,
    /// The stored laps the map was built from; empty for a map of the simulator's lap.
    built_from: &'a [i64],
    centre_line_points: usize,
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    corners: Option<Vec<CornerLine<'a>>>,
}

#[derive(Serialize)]
struct CornerLine<'a> {
    id: &'a str,
    name: &'a str,
    start_m: f64,
    apex_m: f64,
    end_m: f64,
}

impl<'a> MapLine<'a> {
    fn new(map: &'a TrackMap, with_corners: bool) -> Self {
        Self {
            track: &map.track,
            config: &map.config,
            length_m: map.length_m,
            corner_count: map.corners.len(),
            built_from: &map.built_from,
            centre_line_points: map.centre_line_xz_m.len(),
            version: map.version,
            corners: with_corners.then(|| {
                map.corners
                    .iter()
                    .map(|c| CornerLine {
                        id: &c.id,
                        name: &c.name,
                        start_m: c.start_m,
                        apex_m: c.apex_m,
                        end_m: c.end_m,
                    })
                    .collect()
            }),
        }
    }
}

pub fn run(command: &TracksCommand, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(tracks(command, &*store, global.json))
}

fn name(track: &str, config: &str) -> String {
    if config.is_empty() {
        track.to_owned()
    } else {
        format!("{track} ({config})")
    }
}

fn built_from(map: &TrackMap) -> String {
    if map.built_from.is_empty() {
        "the simulator's ideal lap".to_owned()
    } else {
        let ids: Vec<String> = map.built_from.iter().map(i64::to_string).collect();
        format!("laps {}", ids.join(", "))
    }
}

fn show(out: &mut Output, map: &TrackMap, json: bool) -> std::io::Result<()> {
    if json {
        return out.json("track_map", &MapLine::new(map, true));
    }
    out.line(format_args!(
        "{}: {:.0} m, {} corners, built from {}",
        name(&map.track, &map.config),
        map.length_m,
        map.corners.len(),
        built_from(map)
    ))?;
    out.line(format_args!(
        "{:<4} {:<16} {:>8} {:>8} {:>8}",
        "id", "corner", "from m", "apex m", "to m"
    ))?;
    for c in &map.corners {
        out.line(format_args!(
            "{:<4} {:<16} {:>8.0} {:>8.0} {:>8.0}",
            c.id, c.name, c.start_m, c.apex_m, c.end_m
        ))?;
    }
    Ok(())
}

async fn tracks(command: &TracksCommand, store: &dyn Store, json: bool) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    let outcome = match command {
        TracksCommand::List => {
            let maps = store.list_track_maps().await?;
            if !json {
                out.line(format_args!(
                    "{:<24} {:>8} {:>8}  corners",
                    "track", "length m", "corners"
                ))?;
            }
            for map in &maps {
                if json {
                    out.json("track_map", &MapLine::new(map, false))?;
                } else {
                    out.line(format_args!(
                        "{:<24} {:>8.0} {:>8}  {}",
                        name(&map.track, &map.config),
                        map.length_m,
                        map.corners.len(),
                        map.describe_corners()
                    ))?;
                }
            }
            if maps.is_empty() {
                Outcome::Nothing
            } else {
                Outcome::Done
            }
        }
        TracksCommand::Show { track, config } => {
            let Some(map) = store.get_track_map(track, config).await? else {
                bail!(
                    "no map of track {} kept: it is built when a lap of it is first analysed (or run `tracks rebuild {track}`)",
                    name(track, config)
                );
            };
            show(&mut out, &map, json)?;
            Outcome::Done
        }
        TracksCommand::Rebuild { track, config } => {
            let Some(map) = rebuild_track_map(store, track, config).await? else {
                bail!(
                    "track {} has no clean lap (valid, flying, timed) to build a map from",
                    name(track, config)
                );
            };
            show(&mut out, &map, json)?;
            Outcome::Done
        }
    };
    out.flush()?;
    Ok(outcome)
}
