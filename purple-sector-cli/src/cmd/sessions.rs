//! `purple-sector sessions list|show|rename|tag|archive|delete`.

use clap::Subcommand;
use purple_sector_core::store::{SessionId, SessionStatus, SessionUpdate, Store};

use crate::output::Output;
use crate::tables::{self, LapLine, SessionLine};
use crate::{Global, Outcome};

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

pub fn run(command: &SessionsCommand, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(sessions(command, &*store, global.json))
}

async fn sessions(
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
        tables::lap_table(&mut out, &laps, &tables::best_of_each_session(&laps))?;
    }
    out.flush()?;
    Ok(Outcome::Done)
}
