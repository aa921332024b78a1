//! Copying one store into another with every id kept: what `purple-sector migrate` runs.
//!
//! The copy goes table by table — users, sessions, then per lap its row and telemetry in one
//! write, its chat, then each session's malformed datagrams, then the track maps — through
//! the `put_*` methods of
//! [`Store`], which insert a row that is missing, leave alone one that is there and equal,
//! and refuse ([`StoreError::Conflict`]) one that differs. So a copy can be run again, or
//! resumed after it was stopped, and copies only what is missing; telemetry goes through the
//! codec both ways, bit for bit.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! use purple_sector_core::store::{MemoryStore, NewSession, SessionSource, Store, copy_store};
//!
//! let from = MemoryStore::new();
//! from.create_session(NewSession::new("Imola", SessionSource::Live)).await?;
//! let to = MemoryStore::new();
//! let first = copy_store(&from, &to, |_| {}).await?;
//! assert_eq!(first.sessions.inserted, 1);
//! let again = copy_store(&from, &to, |_| {}).await?;
//! assert_eq!((again.sessions.inserted, again.sessions.already_there), (0, 1));
//! # Ok::<(), purple_sector_core::store::StoreError>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{Put, Result, Store, StoreError};

/// How many rows of one kind a copy inserted and found already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Rows the target did not have.
    pub inserted: u64,
    /// Rows the target had, equal.
    pub already_there: u64,
}

impl Copied {
    fn count(&mut self, put: Put) {
        match put {
            Put::Inserted => self.inserted += 1,
            Put::AlreadyThere => self.already_there += 1,
        }
    }

    /// Rows seen.
    pub fn total(&self) -> u64 {
        self.inserted + self.already_there
    }
}

/// What a [`copy_store`] did, per kind of row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopySummary {
    /// Accounts.
    pub users: Copied,
    /// Sessions.
    pub sessions: Copied,
    /// Laps with their telemetry.
    pub laps: Copied,
    /// Frames of the laps inserted.
    pub frames: u64,
    /// Chat messages.
    pub chat_messages: Copied,
    /// Malformed datagrams.
    pub malformed_datagrams: Copied,
    /// Track maps.
    pub track_maps: Copied,
}

/// Where a copy is, for a progress bar: laps done out of laps in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    /// Laps copied or found already there.
    pub laps_done: u64,
    /// Laps in the source.
    pub laps_total: u64,
}

/// Copies every row of `from` missing in `to`, ids kept (see the module docs); calls
/// `progress` after each lap. Fails on the first row that `to` has with other contents
/// ([`StoreError::Conflict`]) — the stores have diverged, and nothing is overwritten.
pub async fn copy_store(
    from: &dyn Store,
    to: &dyn Store,
    mut progress: impl FnMut(CopyProgress),
) -> Result<CopySummary> {
    let mut summary = CopySummary::default();
    for user in from.list_users().await? {
        summary.users.count(to.put_user(&user).await?);
    }
    let sessions = from.list_sessions().await?;
    for session in &sessions {
        summary.sessions.count(to.put_session(session).await?);
    }
    let laps = from.list_laps(None).await?;
    let laps_total = laps.len() as u64;
    for (done, lap) in laps.iter().enumerate() {
        // A lap already there is not loaded again: that is what makes a resumed copy quick.
        let put = match to.get_lap(lap.id).await {
            Ok(there) if there == *lap => Put::AlreadyThere,
            Ok(_) => {
                return Err(StoreError::Conflict {
                    table: "laps",
                    id: lap.id.0,
                });
            }
            Err(StoreError::LapNotFound { .. }) => {
                let frames = from.lap_frames(lap.id).await?;
                let put = to.put_lap(lap, &frames).await?;
                if put == Put::Inserted {
                    summary.frames += frames.len() as u64;
                }
                put
            }
            Err(e) => return Err(e),
        };
        summary.laps.count(put);
        for message in from.list_chat_messages(lap.id).await? {
            summary
                .chat_messages
                .count(to.put_chat_message(&message).await?);
        }
        progress(CopyProgress {
            laps_done: done as u64 + 1,
            laps_total,
        });
    }
    for session in &sessions {
        // Malformed datagrams have no ids: the target keeps a prefix of the source's, in
        // order, and gets the rest.
        let source = from.list_malformed(session.id).await?;
        let there = to.count_malformed(session.id).await? as usize;
        summary.malformed_datagrams.already_there += there.min(source.len()) as u64;
        for datagram in source.iter().skip(there) {
            to.save_malformed(session.id, datagram.time_ns, &datagram.bytes)
                .await?;
            summary.malformed_datagrams.inserted += 1;
        }
    }
    // Track maps are keyed by track and layout: one the target lacks is put, one it has
    // with other corners is a conflict, like any row.
    for map in from.list_track_maps().await? {
        match to.get_track_map(&map.track, &map.config).await? {
            Some(there) if there == map => summary.track_maps.already_there += 1,
            Some(_) => {
                return Err(StoreError::TrackMapConflict {
                    track: map.track.clone(),
                    config: map.config.clone(),
                });
            }
            None => {
                to.save_track_map(&map).await?;
                summary.track_maps.inserted += 1;
            }
        }
    }
    Ok(summary)
}
