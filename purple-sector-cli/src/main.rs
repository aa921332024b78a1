//! `purple-sector`: the command line over the Purple Sector library.
//!
//! Results go to stdout (a readable table, or JSON Lines `{"type": …, "data": {…}}` with
//! `--json`); errors go to stderr as one line. Exit codes: 0 ok, 1 nothing to report, 2 error.
//! Each subcommand is one file under `cmd/`: flags → a call into the library or the server.

mod args;
mod cmd;
mod db;
mod hub;
mod output;
mod report;
mod signals;
mod svg;
mod tables;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Assetto Corsa telemetry: record laps, keep them, and coach the driver.
#[derive(Debug, Parser)]
#[command(name = "purple-sector", version, about, propagate_version = true)]
struct Cli {
    /// The database: a SQLite file (default: in the platform's data directory) or a
    /// PostgreSQL URL (`postgres://user:pass@host:port/db`).
    #[arg(
        long,
        global = true,
        env = "PURPLE_SECTOR_DB",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    db: Option<PathBuf>,

    /// Print JSON Lines, one `{"type": …, "data": {…}}` object per line.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: cmd::Command,
}

/// What a command reports back to `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Something was reported.
    Done,
    /// The command ran but found nothing to report.
    Nothing,
}

/// The options every command sees.
#[derive(Debug, Clone, Copy)]
struct Global<'a> {
    /// `--db`.
    db: Option<&'a std::path::Path>,
    /// `--json`.
    json: bool,
}

/// The async runtime for the commands that need one: one per process, so a database pool
/// opened on it serves the whole command.
fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = Global {
        db: cli.db.as_deref(),
        json: cli.json,
    };
    match cli.command.run(global) {
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
