//! `purple-sector laps list|show|delete|tag|comment`.

use clap::Subcommand;
use purple_sector_core::store::{LapId, LapUpdate, SessionId, Store};

use crate::output::Output;
use crate::tables::{self, LapLine};
use crate::{Global, Outcome};

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

pub fn run(command: &LapsCommand, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(laps(command, &*store, global.json))
}

async fn laps(command: &LapsCommand, store: &dyn Store, json: bool) -> anyhow::Result<Outcome> {
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
                tables::lap_table(&mut out, &laps, &tables::best_of_each_session(&laps))?;
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
        let session_laps = store.list_laps(Some(session.id)).await?;
        tables::session_header(&mut out, &session)?;
        tables::lap_table(
            &mut out,
            std::slice::from_ref(&lap),
            &tables::best_of_each_session(&session_laps),
        )?;
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
