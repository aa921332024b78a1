//! `purple-sector serve`: the web app over the database, recording inside the server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use purple_sector_core::net::ClientConfig;
use purple_sector_core::record::{RecordOptions, record_live};
use purple_sector_server::{AppState, DemoSettings, serve};
use tokio::sync::watch;

use crate::Outcome;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --token.
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
    /// Allow this browser origin (e.g. `https://league.example`) to call the API (CORS).
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Option<String>,
}

pub fn run(args: &ServeArgs, db: Option<&Path>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(db)?;
    crate::runtime()?.block_on(async move {
        let mut state = AppState::new(Arc::clone(&store));
        state.token = args.token.clone().filter(|t| !t.is_empty()).map(Into::into);
        state.openai = purple_sector_core::analysis::OpenAiConfig::from_env();
        if let Some(origin) = &args.cors_origin {
            state.allow_origin(origin).context("bad --cors-origin")?;
        }
        state.demo = DemoSettings {
            track: args.demo_track.clone(),
            laps: args.demo_laps,
            speed: args.demo_speed,
        };
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        eprintln!(
            "purple-sector: serving http://{} (Ctrl-C to stop)",
            listener.local_addr()?
        );
        let (stop, shutdown) = watch::channel(false);
        let live = if let Some(ac) = &args.ac {
            let game = crate::record::game_address(ac)?;
            let options = RecordOptions {
                hub: Some(state.hub.clone()),
                ..RecordOptions::default()
            };
            let store = Arc::clone(&store);
            let shutdown = shutdown.clone();
            Some(tokio::spawn(async move {
                record_live(store, ClientConfig::new(game), options, shutdown, None).await
            }))
        } else {
            if args.demo {
                state
                    .recorder
                    .start_demo(&state)
                    .await
                    .map_err(anyhow::Error::msg)?;
            }
            None
        };
        serve(listener, state, async move {
            crate::signals::stopped().await;
            let _ = stop.send(true);
        })
        .await?;
        if let Some(live) = live {
            live.await??;
        }
        Ok(Outcome::Done)
    })
}
