//! `purple-sector serve`: the web app over the database, recording inside the server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use purple_sector_core::analysis::OpenAiConfig;
use purple_sector_core::net::ClientConfig;
use purple_sector_core::record::{RecordOptions, Source};
use purple_sector_server::{AppState, DemoSettings, serve_with, tls_config};

use crate::args::{HubArgs, game_address};
use crate::hub::HubBridge;
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --token or users (`users add`).
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Access token for REST and WebSocket (bearer header), and for the page via /login?token=….
    #[arg(long, env = "PURPLE_SECTOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Record from a game at start: HOST or HOST:PORT.
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "demo")]
    ac: Option<String>,
    /// Start the built-in game at start (clients can also send `start_demo`).
    #[arg(long)]
    demo: bool,
    /// Track of the built-in game.
    #[arg(long, default_value = "imola")]
    demo_track: String,
    /// Flying laps of the built-in game.
    #[arg(long, default_value_t = 3)]
    demo_laps: u32,
    /// Time scale of the built-in game.
    #[arg(long, default_value_t = 1.0)]
    demo_speed: f64,
    /// Allow this browser origin (e.g. `https://league.example`) to call the API and open
    /// the stream (CORS); may be given more than once.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Answer for this host name too (besides localhost, 127.0.0.1, `[::1]` and the bind
    /// address): a LAN name, or the name a reverse proxy forwards; may be given more than
    /// once.
    #[arg(long, value_name = "HOST")]
    allowed_host: Vec<String>,
    /// Serve HTTPS and wss:// with this certificate chain (PEM, leaf first).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    #[command(flatten)]
    hub: HubArgs,
}

pub fn run(args: &ServeArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(async move {
        let mut state = AppState::new(Arc::clone(&store));
        state.token = args.token.clone().filter(|t| !t.is_empty()).map(Into::into);
        state.openai = OpenAiConfig::from_env();
        for origin in &args.cors_origin {
            state.allow_origin(origin).context("bad --cors-origin")?;
        }
        for host in &args.allowed_host {
            state.allow_host(host);
        }
        state.demo = DemoSettings {
            track: args.demo_track.clone(),
            laps: args.demo_laps,
            speed: args.demo_speed,
        };
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
            _ => None,
        };
        let bridge = HubBridge::connect(&args.hub, &state.hub, global.json).await?;
        bridge.install(&mut state);
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        eprintln!(
            "purple-sector: serving {}://{} (Ctrl-C to stop)",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?
        );
        if let Some(ac) = &args.ac {
            let source = Source::Game(ClientConfig::new(game_address(ac)?));
            state
                .recorder
                .start(&state, source, RecordOptions::default())
                .await?;
        } else if args.demo {
            state.recorder.start_demo(&state, None, None).await?;
        }
        serve_with(listener, state, crate::signals::stopped(), tls).await?;
        Ok(Outcome::Done)
    })
}
