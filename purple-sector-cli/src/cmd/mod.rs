//! The subcommands, one file each.

mod analyze;
mod chat;
mod compare;
mod demo;
mod export;
mod import;
mod inspect;
mod laps;
mod migrate;
mod plot;
mod record;
mod replay;
mod serve;
mod sessions;
mod simulate;
mod tracks;
mod users;

use clap::Subcommand;

use crate::{Global, Outcome};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job with nothing to set up: the built-in game drives laps, the recorder keeps
    /// them in the database, and a report follows.
    Demo(demo::DemoArgs),
    /// Be the game: serve the built-in simulator on a UDP port to any AC client.
    Simulate(simulate::SimulateArgs),
    /// Record laps from a running game into the database.
    Record(record::RecordArgs),
    /// Import captures, logger TSV laps or the original app's demo JSON into a new session.
    Import(import::ImportArgs),
    /// Serve a recorded capture to any AC client as if it were the game.
    Replay(replay::ReplayArgs),
    /// Decode every AC datagram of a capture (pcap or pcapng), one per line.
    Inspect(inspect::InspectArgs),
    /// List, show, rename, tag, archive or delete sessions.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// List, show, delete, tag or comment laps.
    #[command(subcommand)]
    Laps(laps::LapsCommand),
    /// Write a lap or a session as CSV, JSON or a pcap capture.
    Export(export::ExportArgs),
    /// The web app: REST API, live WebSocket stream and dashboard, recording inside.
    Serve(serve::ServeArgs),
    /// Where a lap loses time against a reference, corner by corner, and what to change.
    Analyze(analyze::AnalyzeArgs),
    /// Time lost per segment (corners and straights) of one lap against another.
    Compare(compare::CompareArgs),
    /// Ask the coach about a lap: one question, or a conversation.
    Chat(chat::ChatArgs),
    /// Speed, pedals, steering, gear and delta against distance, and a track map, as SVG.
    Plot(plot::PlotArgs),
    /// The track maps: each track's corners, with the ids and names the coach uses.
    #[command(subcommand)]
    Tracks(tracks::TracksCommand),
    /// Add, list or revoke the accounts of a shared server.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Copy a database into another (SQLite file or PostgreSQL URL, either way), ids and
    /// telemetry exact; resumable.
    Migrate(migrate::MigrateArgs),
}

impl Command {
    /// Runs the command.
    pub fn run(&self, global: Global<'_>) -> anyhow::Result<Outcome> {
        match self {
            Self::Demo(args) => demo::run(args, global),
            Self::Simulate(args) => simulate::run(args, global),
            Self::Record(args) => record::run(args, global),
            Self::Import(args) => import::run(args, global),
            Self::Replay(args) => replay::run(args, global),
            // `--db` is accepted everywhere so scripts can pass it uniformly; `inspect` reads
            // files.
            Self::Inspect(args) => inspect::run(args, global),
            Self::Sessions(command) => sessions::run(command, global),
            Self::Laps(command) => laps::run(command, global),
            Self::Export(args) => export::run(args, global),
            Self::Serve(args) => serve::run(args, global),
            Self::Analyze(args) => analyze::run(args, global),
            Self::Compare(args) => compare::run(args, global),
            Self::Chat(args) => chat::run(args, global),
            Self::Plot(args) => plot::run(args, global),
            Self::Tracks(command) => tracks::run(command, global),
            Self::Users(command) => users::run(command, global),
            Self::Migrate(args) => migrate::run(args, global),
        }
    }
}
