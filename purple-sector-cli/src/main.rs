//! `purple-sector`: the command line over the Purple Sector library.
//!
//! Results go to stdout (a readable table, or JSON Lines `{"type": …, "data": {…}}` with
//! `--json`); errors go to stderr as one line. Exit codes: 0 ok, 1 nothing to report, 2 error.

mod inspect;
mod output;

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
    /// Decode every AC datagram of a capture (pcap or pcapng), one per line.
    Inspect(inspect::InspectArgs),
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
    // `--db` is accepted everywhere so scripts can pass it uniformly; `inspect` reads files only.
    let _ = &cli.db;
    match cli.command {
        Command::Inspect(args) => inspect::run(&args, cli.json),
    }
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
