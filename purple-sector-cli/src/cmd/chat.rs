//! `purple-sector chat LAP`: ask the coach about a lap, once or as a conversation.

use std::io::{BufRead, Write};
use std::sync::Arc;

use clap::Args;
use purple_sector_core::analysis::{Briefing, Coach, OpenAiConfig, analyzer_for};
use purple_sector_core::review::{Against, review_cached, review_session};
use purple_sector_core::store::LapId;

use crate::args::{AgainstArgs, review_error};
use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The lap to talk about.
    lap: LapId,
    #[command(flatten)]
    against: AgainstArgs,
    /// One question; without it, a conversation on standard input.
    #[arg(long)]
    message: Option<String>,
    /// Model, when an OpenAI-compatible server is configured.
    #[arg(long, default_value = OpenAiConfig::DEFAULT_MODEL)]
    model: String,
}

pub fn run(args: &ChatArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    let config = OpenAiConfig::from_env().map(|c| c.with_model(args.model.as_str()));
    crate::runtime()?.block_on(async {
        // The lap's stored advice; an offline analysis when it has none yet.
        let reviewed = review_cached(
            &*store,
            args.lap,
            args.against.against,
            &*analyzer_for(None),
        )
        .await
        .map_err(review_error)?;
        let analysis = &reviewed.comparison.analysis;
        // The session's habits, each lap against its best other lap.
        let habits = review_session(&*store, reviewed.comparison.lap.session, Against::Best)
            .await
            .map_err(review_error)?
            .habits;
        let briefing = Briefing {
            analysis,
            suggestions: &reviewed.suggestions,
            strengths: &reviewed.strengths,
            habits: &habits,
        };
        let coach = Coach::new(Arc::clone(&store), config);
        let mut out = Output::stdout();
        let ask = async |question: &str, out: &mut Output| -> anyhow::Result<()> {
            let answer = coach.ask_about(args.lap, &briefing, question).await?;
            if global.json {
                out.json("chat", &answer.answer)?;
            } else {
                out.line(format_args!("{}", answer.content))?;
            }
            out.flush()?;
            Ok(())
        };
        if let Some(message) = &args.message {
            ask(message, &mut out).await?;
            return Ok(Outcome::Done);
        }
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            if !global.json {
                eprint!("you> ");
                std::io::stderr().flush()?;
            }
            line.clear();
            if stdin.lock().read_line(&mut line)? == 0 {
                break;
            }
            let question = line.trim();
            if question.is_empty() {
                continue;
            }
            if matches!(question, "quit" | "exit") {
                break;
            }
            // An error is shown, never stored; the conversation goes on.
            if let Err(e) = ask(question, &mut out).await {
                eprintln!("purple-sector: {e:#}");
            }
        }
        Ok(Outcome::Done)
    })
}
