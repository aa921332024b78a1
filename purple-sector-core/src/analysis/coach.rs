//! The coaching chat about one lap: questions and answers kept in the store, answered by an
//! LLM when one is configured, else by [`OfflineCoach`] from the facts alone.
//!
//! # What is stored
//!
//! [`Coach::ask`] stores nothing until it has an answer; then it stores the question (role
//! `user`) and the answer (role `assistant`), in that order. A failed answer (the LLM server
//! down, a timeout, an empty reply) is returned as an error and *nothing* is stored, neither
//! the coach's words nor the question, so the history never holds a question without its
//! answer and never holds an error as if the coach had said it. (Should the store fail
//! between the two writes, the question alone remains; the store has no transaction across
//! two messages.)
//!
//! # The offline coach
//!
//! ```
//! use purple_sector_core::analysis::{
//!     Analysis, Corner, CornerMetrics, CornerReport, Intent, OfflineCoach, PhaseLosses,
//!     SegmentKind, SegmentLoss,
//! };
//!
//! let metrics = |brake: f64, speed: f64| CornerMetrics {
//!     brake_point_m: Some(brake), peak_brake: 1.0, trail_brake_m: 10.0, turn_in_m: Some(480.0),
//!     apex_m: 520.0, min_speed_kmh: speed, throttle_pickup_m: Some(540.0),
//!     full_throttle_m: Some(600.0), coasting_m: 0.0, exit_speed_kmh: 150.0, gear_at_apex: 3,
//!     lift_point_m: None, mid_corner_lift_m: 0.0, entry_speed_kmh: 200.0, slowest_from_m: 0.0,
//!     exit_throttle: 0.8,
//! };
//! let segment = |name: &str, kind, start_m, end_m, time_loss_s| SegmentLoss {
//!     name: name.into(), kind, start_m, end_m, time_loss_s, own_loss_s: time_loss_s,
//! };
//! let analysis = Analysis {
//!     track_length_m: 2000.0,
//!     lap_time_ms: 60_410,
//!     reference_lap_time_ms: 60_000,
//!     gap_s: 0.41,
//!     corners: vec![CornerReport {
//!         corner: Corner::numbered("T1", 400.0, 520.0, 650.0),
//!         time_loss_s: 0.41,
//!         attributed_loss_s: 0.41,
//!         phases: PhaseLosses { approach_s: 0.41, ..PhaseLosses::default() },
//!         slower_at: None,
//!         faster_at: None,
//!         lap: metrics(412.0, 87.4),
//!         reference: metrics(444.0, 91.0),
//!     }],
//!     segments: vec![
//!         segment("Start–T1", SegmentKind::Straight, 0.0, 400.0, 0.0),
//!         segment("T1", SegmentKind::Corner, 400.0, 650.0, 0.41),
//!         segment("T1–Finish", SegmentKind::Straight, 650.0, 2000.0, 0.0),
//!     ],
//!     start_speed_kmh: 200.0,
//!     reference_start_speed_kmh: 200.0,
//!     from_line_loss_s: 0.0,
//!     follows_previous_lap: false,
//!     lap_kind: None,
//!     reference_kind: None,
//! };
//! let coach = OfflineCoach;
//! assert_eq!(OfflineCoach::intent("How's my braking?"), Intent::Braking);
//! let answer = coach.answer(&analysis, &[], "What about T1?");
//! assert!(answer.contains("412 m") && answer.contains("32 m earlier"), "{answer}");
//! assert!(coach.answer(&analysis, &[], "Is it going to rain?").starts_with("I can only answer"));
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

#[cfg(feature = "openai")]
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
};

#[cfg(feature = "openai")]
use super::openai::{LlmClient, OpenAiConfig, compact_json};
use super::{
    Analysis, AnalyzerError, CornerMetrics, CornerReport, Habit, SegmentLoss, Strength, Suggestion,
    heuristic_strengths,
};
use crate::store::{ChatMessage, ChatRole, LapId, Store, StoreError};

/// How many earlier messages of the lap's chat the LLM is given (the most recent).
pub const HISTORY_LIMIT: usize = 20;

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    /// The configured LLM.
    Llm,
    /// [`OfflineCoach`], from the facts.
    Offline,
}

/// An answer, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAnswer {
    /// The answer's text.
    pub content: String,
    /// Who answered.
    pub source: AnswerSource,
    /// The question, as stored (role `user`).
    pub question: ChatMessage,
    /// The answer, as stored (role `assistant`).
    pub answer: ChatMessage,
}

/// Why the coach could not answer. Nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoachError {
    /// The question is blank.
    #[error("the question is empty")]
    EmptyQuestion,
    /// The store failed (the lap does not exist, say).
    #[error("cannot read or store the chat")]
    Store(#[from] StoreError),
    /// The LLM failed.
    #[error("the coach could not answer")]
    Llm(#[from] AnalyzerError),
}

/// The coaching chat: answers questions about a lap and keeps the history in the store.
#[derive(Debug, Clone)]
pub struct Coach {
    store: Arc<dyn Store>,
    #[cfg(feature = "openai")]
    llm: Option<LlmClient>,
}

impl Coach {
    /// A coach that asks the LLM of `config` when given, else answers offline.
    #[cfg(feature = "openai")]
    pub fn new(store: Arc<dyn Store>, config: Option<OpenAiConfig>) -> Self {
        Self {
            store,
            llm: config.map(LlmClient::new),
        }
    }

    /// A coach that answers offline only ([`OfflineCoach`]).
    pub fn offline(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            #[cfg(feature = "openai")]
            llm: None,
        }
    }

    /// Who will answer.
    pub fn source(&self) -> AnswerSource {
        #[cfg(feature = "openai")]
        if self.llm.is_some() {
            return AnswerSource::Llm;
        }
        AnswerSource::Offline
    }

    /// The lap's chat, oldest first.
    pub async fn history(&self, lap: LapId) -> Result<Vec<ChatMessage>, CoachError> {
        Ok(self.store.list_chat_messages(lap).await?)
    }

    /// Answers a question about `lap`, whose facts are `analysis` and advice `suggestions`
    /// (its strengths from [`heuristic_strengths`], no habits: see [`Coach::ask_about`]).
    /// The LLM (when configured) is given the facts, the suggestions and the lap's chat so
    /// far. On success the question and the answer are stored, in that order; on failure
    /// nothing is (see the [module docs](self)).
    pub async fn ask(
        &self,
        lap: LapId,
        analysis: &Analysis,
        suggestions: &[Suggestion],
        question: &str,
    ) -> Result<ChatAnswer, CoachError> {
        let strengths = heuristic_strengths(analysis);
        let briefing = Briefing {
            analysis,
            suggestions,
            strengths: &strengths,
            habits: &[],
        };
        self.ask_about(lap, &briefing, question).await
    }

    /// [`Coach::ask`] with everything the coach may talk about: the lap's facts, advice and
    /// strengths, and its session's habits.
    pub async fn ask_about(
        &self,
        lap: LapId,
        briefing: &Briefing<'_>,
        question: &str,
    ) -> Result<ChatAnswer, CoachError> {
        let question = question.trim();
        if question.is_empty() {
            return Err(CoachError::EmptyQuestion);
        }
        let (content, source) = self.answer(lap, briefing, question).await?;
        let question = self
            .store
            .add_chat_message(lap, ChatRole::User, question.to_owned())
            .await?;
        let answer = self
            .store
            .add_chat_message(lap, ChatRole::Assistant, content.clone())
            .await?;
        Ok(ChatAnswer {
            content,
            source,
            question,
            answer,
        })
    }
}

impl Coach {
    /// The answer and who gave it; nothing stored yet.
    async fn answer(
        &self,
        lap: LapId,
        briefing: &Briefing<'_>,
        question: &str,
    ) -> Result<(String, AnswerSource), CoachError> {
        #[cfg(feature = "openai")]
        if let Some(llm) = &self.llm {
            let history = self.store.list_chat_messages(lap).await?;
            let messages = chat_messages(briefing, &history, question);
            let content = llm.complete(messages, None).await?;
            return Ok((content.trim().to_owned(), AnswerSource::Llm));
        }
        // The lap must exist, whoever answers.
        self.store.get_lap(lap).await?;
        Ok((
            OfflineCoach.answer_about(briefing, question),
            AnswerSource::Offline,
        ))
    }
}

/// Everything the coach may talk about for one lap.
#[derive(Debug, Clone, Copy)]
pub struct Briefing<'a> {
    /// The fact table of the lap against its reference.
    pub analysis: &'a Analysis,
    /// Its suggestions, ranked.
    pub suggestions: &'a [Suggestion],
    /// Where it gained ([`heuristic_strengths`]).
    pub strengths: &'a [Strength],
    /// Its session's habits ([`super::habits`]); empty when not looked for.
    pub habits: &'a [Habit],
}

#[cfg(feature = "openai")]
const COACH_PROMPT: &str = "You are a motorsport driving coach talking with the driver about one \
lap. Answer from the measurements below only: the lap against a reference lap (the driver's \
best), distances in m from the line, speeds in km/h, brake 0..1, time_loss_s positive = time \
lost, corners by name or id (T4), the suggestions already given (each with its cause), the \
strengths (where the lap gained) and the session's habits (causes repeated at a corner over the \
recent laps). If the measurements do not answer the question, say so \
plainly. Never estimate or invent a number. Be brief: two to five sentences. Write seconds with \
2 or 3 decimals, metres as whole numbers, km/h with one decimal.";

/// System prompt with the facts, the recent history, the question.
#[cfg(feature = "openai")]
fn chat_messages(
    briefing: &Briefing<'_>,
    history: &[ChatMessage],
    question: &str,
) -> Vec<ChatCompletionRequestMessage> {
    let system = format!(
        "{COACH_PROMPT}\n\nMeasurements (JSON): {}\n\nSuggestions (JSON): {}\n\nStrengths \
         (JSON): {}\n\nHabits (JSON): {}",
        compact_json(briefing.analysis),
        compact_json(&briefing.suggestions),
        compact_json(&briefing.strengths),
        compact_json(&briefing.habits)
    );
    let mut messages = vec![ChatCompletionRequestSystemMessage::from(system).into()];
    let recent = history.len().saturating_sub(HISTORY_LIMIT);
    for message in &history[recent..] {
        messages.push(match message.role {
            ChatRole::User => {
                ChatCompletionRequestUserMessage::from(message.content.as_str()).into()
            }
            ChatRole::Assistant => {
                ChatCompletionRequestAssistantMessage::from(message.content.as_str()).into()
            }
        });
    }
    messages.push(ChatCompletionRequestUserMessage::from(question).into());
    messages
}

/// What a question asks, as [`OfflineCoach`] understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// "Where am I losing time?": the segments that lost most.
    TimeLoss,
    /// "What about T4?", "How do I brake into Tosa?": one corner, lap against reference (the
    /// corner as the question names it: a number `T4`, or a name).
    Corner(String),
    /// "Where am I good?": where the lap gained.
    Strengths,
    /// "What do I keep doing wrong?": the session's habits.
    Habits,
    /// "My braking": brake points compared across corners.
    Braking,
    /// "My throttle": pick-up points compared across corners.
    Throttle,
    /// "Versus my best": the gap and the segments that made it.
    VersusBest,
    /// Anything else.
    Unknown,
}

/// Answers the common questions from the facts alone: deterministic, no network.
///
/// Numbers are written one way everywhere: lap times `m:ss.sss`, the gap in s with three
/// decimals, segment and corner losses in s with two, metres as whole numbers, km/h with
/// one decimal, brake pedal in per cent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfflineCoach;

/// What the offline coach can talk about, for questions it does not understand.
const CAN_ANSWER: &str = "I can only answer from this lap's measurements: where you lose time, \
one corner (by name or number: ask \"what about T3?\"), where you gained, your habits over \
the session, your braking, your throttle, and this lap against your best.";

impl OfflineCoach {
    /// What `question` asks about `analysis`: a corner named by its name ("Tosa", "Acque
    /// Minerali", in any case) or number wins over everything, then as [`OfflineCoach::intent`].
    pub fn intent_in(question: &str, analysis: &Analysis) -> Intent {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let asked = squash(question);
        let named = analysis
            .corners
            .iter()
            .filter(|c| c.corner.name != c.corner.id)
            .map(|c| &c.corner.name)
            .filter(|name| {
                let name = squash(name);
                !name.is_empty() && asked.contains(&name)
            })
            .max_by_key(|name| name.len());
        match named {
            Some(name) => Intent::Corner(name.clone()),
            None => Self::intent(question),
        }
    }

    /// What `question` asks. A corner named by number (`T4`, `turn 4`, `corner 4`) wins over
    /// everything, then habits, strengths, braking, throttle, comparison with the best lap,
    /// and where time is lost.
    pub fn intent(question: &str) -> Intent {
        let lower = question.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let is_number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        for (i, word) in words.iter().enumerate() {
            let number = match word.strip_prefix('t') {
                Some(number) if is_number(number) => Some(number),
                _ if matches!(*word, "turn" | "corner") => {
                    words.get(i + 1).copied().filter(|next| is_number(next))
                }
                _ => None,
            };
            if let Some(number) = number {
                return Intent::Corner(format!("T{number}"));
            }
        }
        let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
        let word = |needles: &[&str]| words.iter().any(|w| needles.contains(w));
        if has(&["habit", "keep doing", "every lap", "pattern", "repeat"])
            || word(&["always", "usually", "often"])
        {
            Intent::Habits
        } else if has(&[
            "strength",
            "gain",
            "faster",
            "doing well",
            "do well",
            "going well",
        ]) || word(&["good", "better", "well"])
        {
            Intent::Strengths
        } else if has(&["brak", "brake"]) {
            Intent::Braking
        } else if has(&["throttle", "accelerat", "pick-up", "pickup", "pick up"])
            || word(&["gas", "power"])
        {
            Intent::Throttle
        } else if has(&["best", "reference", "versus", "compare", "gap"]) || word(&["vs"]) {
            Intent::VersusBest
        } else if has(&["losing", "lose", "lost", "loss", "slow"]) || word(&["time", "where"]) {
            Intent::TimeLoss
        } else {
            Intent::Unknown
        }
    }

    /// The answer to `question` from the facts (and the first suggestion, for where time
    /// is lost); strengths from [`heuristic_strengths`], no habits.
    pub fn answer(
        &self,
        analysis: &Analysis,
        suggestions: &[Suggestion],
        question: &str,
    ) -> String {
        let strengths = heuristic_strengths(analysis);
        self.answer_about(
            &Briefing {
                analysis,
                suggestions,
                strengths: &strengths,
                habits: &[],
            },
            question,
        )
    }

    /// The answer to `question` from everything in `briefing`.
    pub fn answer_about(&self, briefing: &Briefing<'_>, question: &str) -> String {
        let analysis = briefing.analysis;
        match Self::intent_in(question, analysis) {
            Intent::TimeLoss => time_loss(analysis, briefing.suggestions),
            Intent::Corner(name) => corner(briefing, &name),
            Intent::Strengths => strengths(briefing),
            Intent::Habits => habits(briefing),
            Intent::Braking => braking(analysis),
            Intent::Throttle => throttle(analysis),
            Intent::VersusBest => versus_best(analysis),
            Intent::Unknown => CAN_ANSWER.to_owned(),
        }
    }
}

/// `1:48.633`
fn lap_time(ms: i32) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    format!(
        "{sign}{}:{:02}.{:03}",
        ms / 60_000,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `412 m`
fn metres(m: f64) -> String {
    format!("{m:.0} m")
}

/// `87.4 km/h`
fn kmh(v: f64) -> String {
    format!("{v:.1} km/h")
}

/// `0.41 s`, sign dropped (the wording says lost or gained).
fn seconds(s: f64) -> String {
    format!("{:.2} s", s.abs())
}

/// Segments that lost (or gained) at least 0.01 s, largest first, at most `n`.
fn top_segments(analysis: &Analysis, n: usize, losses: bool) -> Vec<&SegmentLoss> {
    let mut segments: Vec<&SegmentLoss> = analysis
        .segments
        .iter()
        .filter(|s| {
            if losses {
                s.time_loss_s >= 0.005
            } else {
                s.time_loss_s <= -0.005
            }
        })
        .collect();
    segments.sort_by(|a, b| {
        b.time_loss_s
            .abs()
            .total_cmp(&a.time_loss_s.abs())
            .then_with(|| a.start_m.total_cmp(&b.start_m))
    });
    segments.truncate(n);
    segments
}

fn list_segments(segments: &[&SegmentLoss]) -> String {
    segments
        .iter()
        .map(|s| format!("{} {}", s.name, seconds(s.time_loss_s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "0.732 s slower than the reference (1:49.365 against 1:48.633)"
fn gap_sentence(analysis: &Analysis) -> String {
    let times = format!(
        "{} against {}",
        lap_time(analysis.lap_time_ms),
        lap_time(analysis.reference_lap_time_ms)
    );
    if analysis.gap_s >= 0.0005 {
        format!(
            "{:.3} s slower than the reference lap ({times})",
            analysis.gap_s
        )
    } else if analysis.gap_s <= -0.0005 {
        format!(
            "{:.3} s faster than the reference lap ({times})",
            -analysis.gap_s
        )
    } else {
        format!("level with the reference lap ({times})")
    }
}

fn time_loss(analysis: &Analysis, suggestions: &[Suggestion]) -> String {
    let mut out = format!("This lap was {}.", gap_sentence(analysis));
    let losses = top_segments(analysis, 5, true);
    if losses.is_empty() {
        out.push_str(" No segment lost time to the reference.");
    } else {
        let _ = write!(out, " Time lost: {}.", list_segments(&losses));
    }
    if let Some(first) = suggestions.first() {
        let _ = write!(out, " First thing to work on: {}", first.message.trim());
    }
    out
}

fn versus_best(analysis: &Analysis) -> String {
    let mut out = format!("This lap was {}.", gap_sentence(analysis));
    let losses = top_segments(analysis, 3, true);
    if losses.is_empty() {
        out.push_str(" It lost time in no segment.");
    } else {
        let _ = write!(out, " The biggest losses: {}.", list_segments(&losses));
    }
    let gains = top_segments(analysis, 3, false);
    if !gains.is_empty() {
        let _ = write!(out, " Gained: {}.", list_segments(&gains));
    }
    out
}

/// "32 m earlier" / "10 m later" / "the same place" for a place on the lap.
fn earlier_later(lap: f64, reference: f64) -> String {
    let d = lap - reference;
    if d.abs() < 0.5 {
        "the same place".to_owned()
    } else if d < 0.0 {
        format!("{} earlier", metres(-d))
    } else {
        format!("{} later", metres(d))
    }
}

fn place_pair(lap: Option<f64>, reference: Option<f64>, none: &str) -> String {
    match (lap, reference) {
        (Some(l), Some(r)) => format!(
            "{}, reference {} ({})",
            metres(l),
            metres(r),
            earlier_later(l, r)
        ),
        (Some(l), None) => format!("{}, reference {none}", metres(l)),
        (None, Some(r)) => format!("{none}, reference {}", metres(r)),
        (None, None) => format!("{none} on either lap"),
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.0} %", fraction * 100.0)
}

fn loss_clause(time_loss_s: f64) -> String {
    if time_loss_s >= 0.005 {
        format!("you lost {} to the reference lap", seconds(time_loss_s))
    } else if time_loss_s <= -0.005 {
        format!("you gained {} on the reference lap", seconds(time_loss_s))
    } else {
        "you were level with the reference lap".to_owned()
    }
}

fn corner_names(analysis: &Analysis) -> String {
    let label = |c: &CornerReport| {
        if c.corner.name == c.corner.id || c.corner.id.is_empty() {
            c.corner.name.clone()
        } else {
            format!("{} ({})", c.corner.name, c.corner.id)
        }
    };
    match analysis.corners.as_slice() {
        [] => "none were found".to_owned(),
        [one] => format!("there is only {}", label(one)),
        [first, .., last] => format!("they are {} to {}", label(first), label(last)),
    }
}

fn strengths(briefing: &Briefing<'_>) -> String {
    if briefing.strengths.is_empty() {
        return format!(
            "This lap gained no 0.05 s anywhere on the reference lap; it was {}.",
            gap_sentence(briefing.analysis)
        );
    }
    let mut out = String::from("Where this lap gained on the reference lap:");
    for s in briefing.strengths.iter().take(5) {
        let _ = write!(out, "\n- {}", s.message);
    }
    out
}

fn habits(briefing: &Briefing<'_>) -> String {
    if briefing.habits.is_empty() {
        return "No habit shows over your session's recent laps: no corner lost time the same \
                way in most of them."
            .to_owned();
    }
    let mut out = String::from("Over your session's recent laps:");
    for h in briefing.habits.iter().take(5) {
        let _ = write!(out, "\n- {}", h.message);
    }
    out
}

fn corner(briefing: &Briefing<'_>, name: &str) -> String {
    let analysis = briefing.analysis;
    let Some(report) = analysis.find_corner(name) else {
        return format!(
            "There is no {name} in this lap's measurements: {}.",
            corner_names(analysis)
        );
    };
    let CornerReport {
        corner,
        time_loss_s,
        lap,
        reference,
        ..
    } = report;
    let title = if corner.name == corner.id || corner.id.is_empty() {
        corner.name.clone()
    } else {
        format!("{} ({})", corner.name, corner.id)
    };
    let mut out = format!(
        "{title} (from {} to {}, apex at {}): {}.",
        metres(corner.start_m),
        metres(corner.end_m),
        metres(corner.apex_m),
        loss_clause(*time_loss_s)
    );
    let own = briefing
        .suggestions
        .iter()
        .find(|s| s.corner.as_deref() == Some(corner.name.as_str()));
    let kept = briefing
        .strengths
        .iter()
        .find(|s| s.corner.as_deref() == Some(corner.name.as_str()));
    if let Some(s) = own {
        let _ = write!(out, " The cause: {}. {}", s.cause, s.message.trim());
    } else if let Some(s) = kept {
        let _ = write!(out, " {}", s.message.trim());
    }
    for h in briefing.habits.iter().filter(|h| h.corner == corner.name) {
        let _ = write!(out, " {}", h.message);
    }
    let _ = write!(
        out,
        "\n- Braking: {}; peak {} against {}; trail braking {} against {}.",
        place_pair(lap.brake_point_m, reference.brake_point_m, "no braking"),
        percent(lap.peak_brake),
        percent(reference.peak_brake),
        metres(lap.trail_brake_m),
        metres(reference.trail_brake_m)
    );
    let _ = write!(
        out,
        "\n- Turn-in: {}.",
        place_pair(lap.turn_in_m, reference.turn_in_m, "not measured")
    );
    let speed_difference = lap.min_speed_kmh - reference.min_speed_kmh;
    let _ = write!(
        out,
        "\n- Minimum speed: {}, reference {} ({}), at {} against {}.",
        kmh(lap.min_speed_kmh),
        kmh(reference.min_speed_kmh),
        faster_slower(speed_difference),
        metres(lap.apex_m),
        metres(reference.apex_m)
    );
    let _ = write!(
        out,
        "\n- Throttle: back on at {}; full at {}.",
        place_pair(lap.throttle_pickup_m, reference.throttle_pickup_m, "never"),
        place_pair(lap.full_throttle_m, reference.full_throttle_m, "never")
    );
    let _ = write!(
        out,
        "\n- Coasting: {} against {}.",
        metres(lap.coasting_m),
        metres(reference.coasting_m)
    );
    let _ = write!(
        out,
        "\n- Exit speed: {}, reference {} ({}).",
        kmh(lap.exit_speed_kmh),
        kmh(reference.exit_speed_kmh),
        faster_slower(lap.exit_speed_kmh - reference.exit_speed_kmh)
    );
    let _ = write!(
        out,
        "\n- Gear at the apex: {} against {}.",
        lap.gear_at_apex, reference.gear_at_apex
    );
    out
}

fn faster_slower(difference_kmh: f64) -> String {
    if difference_kmh.abs() < 0.05 {
        "the same".to_owned()
    } else if difference_kmh < 0.0 {
        format!("{} slower", kmh(-difference_kmh))
    } else {
        format!("{} faster", kmh(difference_kmh))
    }
}

/// Per corner, one point of both laps compared; plus a summary of how many were earlier.
fn compare_points(
    analysis: &Analysis,
    title: &str,
    point: impl Fn(&CornerMetrics) -> Option<f64>,
    detail: impl Fn(&CornerReport) -> String,
    none: &str,
    summary: &str,
) -> String {
    if analysis.corners.is_empty() {
        return "No corners were found on this lap, so there is nothing to compare.".to_owned();
    }
    let mut out = String::new();
    let mut compared = 0;
    let mut earlier = 0;
    let mut later = 0;
    let mut biggest: Option<(&str, f64)> = None;
    for report in &analysis.corners {
        let (lap, reference) = (point(&report.lap), point(&report.reference));
        let _ = write!(
            out,
            "\n- {}: {}{}",
            report.corner.name,
            place_pair(lap, reference, none),
            detail(report)
        );
        if let (Some(l), Some(r)) = (lap, reference) {
            compared += 1;
            let d = l - r;
            if d <= -0.5 {
                earlier += 1;
            } else if d >= 0.5 {
                later += 1;
            }
            if biggest.is_none_or(|(_, b)| d.abs() > b.abs()) {
                biggest = Some((report.corner.name.as_str(), d));
            }
        }
    }
    let mut head = format!("{title}, this lap against the reference lap:");
    if compared > 0 {
        let _ = write!(
            head,
            " {summary} earlier in {earlier} and later in {later} of {compared} corners"
        );
        match biggest {
            Some((name, d)) if d.abs() >= 0.5 => {
                let _ = write!(
                    head,
                    "; the biggest difference: {name}, {}.",
                    earlier_later(d, 0.0)
                );
            }
            _ => head.push('.'),
        }
    }
    head + &out
}

fn braking(analysis: &Analysis) -> String {
    compare_points(
        analysis,
        "Brake points",
        |m| m.brake_point_m,
        |r| {
            if r.lap.brake_point_m.is_some() || r.reference.brake_point_m.is_some() {
                format!(
                    "; peak {} against {}",
                    percent(r.lap.peak_brake),
                    percent(r.reference.peak_brake)
                )
            } else {
                String::new()
            }
        },
        "no braking",
        "you braked",
    )
}

fn throttle(analysis: &Analysis) -> String {
    compare_points(
        analysis,
        "Throttle pick-up after the apex",
        |m| m.throttle_pickup_m,
        |r| {
            format!(
                "; full throttle at {}",
                place_pair(r.lap.full_throttle_m, r.reference.full_throttle_m, "never")
            )
        },
        "never",
        "you picked up the throttle",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents() {
        assert_eq!(
            OfflineCoach::intent("Where am I losing time?"),
            Intent::TimeLoss
        );
        assert_eq!(
            OfflineCoach::intent("what about t4"),
            Intent::Corner("T4".into())
        );
        assert_eq!(
            OfflineCoach::intent("Turn 12 braking?"),
            Intent::Corner("T12".into())
        );
        assert_eq!(OfflineCoach::intent("How is my braking"), Intent::Braking);
        assert_eq!(
            OfflineCoach::intent("When do I get on the gas?"),
            Intent::Throttle
        );
        assert_eq!(OfflineCoach::intent("Versus my best?"), Intent::VersusBest);
        assert_eq!(
            OfflineCoach::intent("Should I change tyres?"),
            Intent::Unknown
        );
        assert_eq!(
            OfflineCoach::intent("Timing of the turn-in"),
            Intent::Unknown
        );
    }

    #[test]
    fn formats() {
        assert_eq!(lap_time(108_633), "1:48.633");
        assert_eq!(lap_time(59_005), "0:59.005");
        assert_eq!(metres(411.6), "412 m");
        assert_eq!(kmh(87.44), "87.4 km/h");
        assert_eq!(seconds(-0.123), "0.12 s");
        assert_eq!(earlier_later(412.0, 444.0), "32 m earlier");
    }
}
