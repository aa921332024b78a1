//! `sessions …` and `laps …`: look at and tidy what is stored.

use std::path::Path;

use clap::Subcommand;
use purple_sector_core::store::{LapId, LapUpdate, SessionId, SessionStatus, SessionUpdate, Store};

use crate::Outcome;
use crate::output::Output;
use crate::tables::{self, LapLine, SessionLine};

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Every session, oldest first.
    List,
    /// One session and its laps.
    Show {
        /// Session id.
        id: SessionId,
    },
    /// Renames a session.
    Rename {
        /// Session id.
        id: SessionId,
        /// The new name.
        name: String,
    },
    /// Replaces a session's tags.
    Tag {
        /// Session id.
        id: SessionId,
        /// Tags (none clears them).
        tags: Vec<String>,
    },
    /// Archives a session.
    Archive {
        /// Session id.
        id: SessionId,
    },
    /// Deletes a session with its laps.
    Delete {
        /// Session id.
        id: SessionId,
    },
}

#[derive(Debug, Subcommand)]
pub enum LapsCommand {
    /// Laps of every session, or of one.
    List {
        /// Only this session's laps.
        #[arg(long)]
        session: Option<SessionId>,
    },
    /// One lap.
    Show {
        /// Lap id.
        id: LapId,
    },
    /// Deletes a lap.
    Delete {
        /// Lap id.
        id: LapId,
    },
    /// Replaces a lap's tags.
    Tag {
        /// Lap id.
        id: LapId,
        /// Tags (none clears them).
        tags: Vec<String>,
    },
    /// Sets the driver's comment on a lap.
    Comment {
        /// Lap id.
        id: LapId,
        /// The comment.
        text: String,
    },
}

pub fn sessions(
    command: &SessionsCommand,
    db: Option<&Path>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(sessions_async(command, &*store, json))
}

async fn sessions_async(
    command: &SessionsCommand,
    store: &dyn Store,
    json: bool,
) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    let update = |update: SessionUpdate, id: SessionId| async move {
        store.update_session(id, update).await
    };
    let session = match command {
        SessionsCommand::List => {
            let sessions = store.list_sessions().await?;
            let laps = store.list_laps(None).await?;
            let count = |id: SessionId| laps.iter().filter(|l| l.session == id).count();
            if !json {
                out.line(format_args!(
                    "{:>6} {:<24} {:<7} {:<9} {:<18} {:<22} {:>5}",
                    "id", "name", "source", "status", "track", "car", "laps"
                ))?;
            }
            for s in &sessions {
                if json {
                    out.json("session", &SessionLine::new(s, count(s.id)))?;
                } else {
                    out.line(format_args!(
                        "{:>6} {:<24} {:<7} {:<9} {:<18} {:<22} {:>5}",
                        s.id,
                        s.name,
                        s.source.as_str(),
                        s.status.as_str(),
                        s.track,
                        s.car,
                        count(s.id)
                    ))?;
                }
            }
            out.flush()?;
            return Ok(if sessions.is_empty() {
                Outcome::Nothing
            } else {
                Outcome::Done
            });
        }
        SessionsCommand::Show { id } => store.get_session(*id).await?,
        SessionsCommand::Rename { id, name } => {
            update(
                SessionUpdate {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                *id,
            )
            .await?
        }
        SessionsCommand::Tag { id, tags } => {
            update(
                SessionUpdate {
                    tags: Some(tags.clone()),
                    ..Default::default()
                },
                *id,
            )
            .await?
        }
        SessionsCommand::Archive { id } => {
            update(
                SessionUpdate {
                    status: Some(SessionStatus::Archived),
                    ..Default::default()
                },
                *id,
            )
            .await?
        }
        SessionsCommand::Delete { id } => {
            store.delete_session(*id).await?;
            if json {
                out.json("deleted", &serde_json::json!({ "session_id": id.0 }))?;
            } else {
                out.line(format_args!("deleted session {id}"))?;
            }
            out.flush()?;
            return Ok(Outcome::Done);
        }
    };
    let laps = store.list_laps(Some(session.id)).await?;
    if json {
        out.json("session", &SessionLine::new(&session, laps.len()))?;
        for lap in &laps {
            out.json("lap", &LapLine::new(lap, Some(&session)))?;
        }
    } else {
        tables::session_header(&mut out, &session)?;
        if !session.tags.is_empty() {
            out.line(format_args!("tags: {}", session.tags.join(", ")))?;
        }
        tables::lap_table(&mut out, &laps)?;
    }
    out.flush()?;
    Ok(Outcome::Done)
}

pub fn laps(command: &LapsCommand, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(laps_async(command, &*store, json))
}

async fn laps_async(
    command: &LapsCommand,
    store: &dyn Store,
    json: bool,
) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    let lap = match command {
        LapsCommand::List { session } => {
            if let Some(id) = session {
                store.get_session(*id).await?;
            }
            let laps = store.list_laps(*session).await?;
            let sessions = store.list_sessions().await?;
            if json {
                for lap in &laps {
                    let session = sessions.iter().find(|s| s.id == lap.session);
                    out.json("lap", &LapLine::new(lap, session))?;
                }
            } else {
                tables::lap_table(&mut out, &laps)?;
            }
            out.flush()?;
            return Ok(if laps.is_empty() {
                Outcome::Nothing
            } else {
                Outcome::Done
            });
        }
        LapsCommand::Show { id } => store.get_lap(*id).await?,
        LapsCommand::Delete { id } => {
            store.delete_lap(*id).await?;
            if json {
                out.json("deleted", &serde_json::json!({ "lap_id": id.0 }))?;
            } else {
                out.line(format_args!("deleted lap {id}"))?;
            }
            out.flush()?;
            return Ok(Outcome::Done);
        }
        LapsCommand::Tag { id, tags } => {
            store
                .update_lap(
                    *id,
                    LapUpdate {
                        tags: Some(tags.clone()),
                        ..Default::default()
                    },
                )
                .await?
        }
        LapsCommand::Comment { id, text } => {
            store
                .update_lap(
                    *id,
                    LapUpdate {
                        comments: Some(text.clone()),
                        ..Default::default()
                    },
                )
                .await?
        }
    };
    let session = store.get_session(lap.session).await?;
    if json {
        out.json("lap", &LapLine::new(&lap, Some(&session)))?;
    } else {
        tables::session_header(&mut out, &session)?;
        tables::lap_table(&mut out, std::slice::from_ref(&lap))?;
        if !lap.tags.is_empty() {
            out.line(format_args!("tags: {}", lap.tags.join(", ")))?;
        }
        if !lap.comments.is_empty() {
            out.line(format_args!("comments: {}", lap.comments))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Done)
}
