//! `purple-sector`: the command line over the Purple Sector library.
//!
//! Results go to stdout (a readable table, or JSON Lines `{"type": …, "data": {…}}` with
//! `--json`); errors go to stderr as one line. Exit codes: 0 ok, 1 nothing to report, 2 error.

mod coach;
mod db;
mod export;
mod import;
mod inspect;
mod manage;
mod output;
mod plot;
mod record;
mod replay;
mod serve_cmd;
mod signals;
mod simulate;
mod tables;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Assetto Corsa telemetry: record laps, keep them, and coach the driver.
#[derive(Debug, Parser)]
#[command(name = "purple-sector", version, about, propagate_version = true)]
struct Cli {
    /// The database file (default: in the platform's data directory).
    #[arg(long, global = true, env = "PURPLE_SECTOR_DB", value_name = "PATH")]
    db: Option<PathBuf>,

    /// Print JSON Lines, one `{"type": …, "data": {…}}` object per line.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job with nothing to set up: the built-in game drives laps, the recorder keeps
    /// them in the database, and a report follows.
    Demo(simulate::DemoArgs),
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
    Sessions(manage::SessionsCommand),
    /// List, show, delete, tag or comment laps.
    #[command(subcommand)]
    Laps(manage::LapsCommand),
    /// Write a lap or a session as CSV, JSON or a pcap capture.
    Export(export::ExportArgs),
    /// The web app: REST API, live WebSocket stream and dashboard, recording inside.
    Serve(serve_cmd::ServeArgs),
    /// Where a lap loses time against a reference, corner by corner, and what to change.
    Analyze(coach::AnalyzeArgs),
    /// Time lost per segment (corners and straights) of one lap against another.
    Compare(coach::CompareArgs),
    /// Ask the coach about a lap: one question, or a conversation.
    Chat(coach::ChatArgs),
    /// Speed, pedals, steering, gear and delta against distance, and a track map, as SVG.
    Plot(coach::PlotArgs),
}

/// What a command reports back to `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Something was reported.
    Done,
    /// The command ran but found nothing to report.
    Nothing,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let db = cli.db.as_deref();
    match &cli.command {
        Command::Demo(args) => simulate::demo(args, db, cli.json),
        Command::Simulate(args) => simulate::simulate(args, cli.json),
        Command::Record(args) => record::run(args, db, cli.json),
        Command::Import(args) => import::run(args, db, cli.json),
        Command::Replay(args) => replay::run(args, db, cli.json),
        // `--db` is accepted everywhere so scripts can pass it uniformly; `inspect` reads files.
        Command::Inspect(args) => inspect::run(args, cli.json),
        Command::Sessions(command) => manage::sessions(command, db, cli.json),
        Command::Laps(command) => manage::laps(command, db, cli.json),
        Command::Export(args) => export::run(args, db),
        Command::Serve(args) => serve_cmd::run(args, db),
        Command::Analyze(args) => coach::analyze(args, db, cli.json),
        Command::Compare(args) => coach::compare(args, db, cli.json),
        Command::Chat(args) => coach::chat(args, db, cli.json),
        Command::Plot(args) => coach::plot(args, db),
    }
}

/// The async runtime for the commands that need one.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Nothing) => ExitCode::from(1),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("purple-sector: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `purple-sector inspect x.pcap | head` closes our stdout early: that is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
