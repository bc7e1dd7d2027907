//! The interpreter's vocabulary with the call layer: events in, actions out, ticket records.
//!
//! Kept apart from the state machine because `call/` and `tickets/` read these types without
//! caring how the interpreter decides. Speech (`ask`) has its own variants: the call layer
//! listens between `Listen` and `StopListening` and reports `SpeechStarted` and `Heard`.
//! Agent queues too: `Queue` puts the caller in one, the call layer reports `QueuePosition`,
//! `QueueFull`, `AgentAnswered` and `AgentHungUp` for that wait's [`QueueId`].

use std::path::PathBuf;
use std::time::Duration;

use super::http::{HttpOutcome, HttpRecord, HttpRequest, RequestId};
use super::model::Disposition;
use super::queue::{QueueExit, QueueId};
use crate::bot::understand::FaqMatch;
use crate::bot::{Entities, IntentScore, Sentiment};

/// Names one prompt so its end can be matched to the step that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PromptId(pub u64);

/// Something that happened on the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The prompt played to its end.
    PromptFinished(PromptId),
    /// The prompt was cut short (after `StopPrompt`, or by the media layer).
    PromptStopped(PromptId),
    /// A DTMF key (`0-9`, `*`, `#`); anything else is ignored.
    Dtmf(char),
    /// The call layer could not transfer the call.
    TransferFailed {
        /// For the ticket, e.g. "REFER rejected: 403".
        reason: String,
    },
    /// The caller started speaking (while listening): barge-in, and no no-input timeout
    /// until the utterance is recognised.
    SpeechStarted,
    /// What the caller said, as recognised; empty text means noise, not words.
    Heard {
        /// Transcript.
        text: String,
        /// Recogniser confidence, 0..=1.
        confidence: f32,
    },
    /// Speech recognition cannot take this call's speech (overloaded or not configured): ask
    /// steps fall back to keys.
    SpeechUnavailable,
    /// An `http` step's request ended (answered or given up).
    HttpDone {
        /// From the matching [`Action::Http`]; a stale id is ignored.
        id: RequestId,
        /// What came back.
        outcome: HttpOutcome,
    },
    /// The caller's place in the queue changed (1 = next to be answered).
    QueuePosition {
        /// From the matching [`Action::Queue`]; a stale id is ignored.
        id: QueueId,
        /// New position.
        position: u32,
    },
    /// The queue turned the caller away: full, unknown, or no agent logged in.
    QueueFull {
        /// From the matching [`Action::Queue`]; a stale id is ignored.
        id: QueueId,
    },
    /// An agent answered: the call is theirs (bridged) until [`Event::AgentHungUp`].
    AgentAnswered {
        /// From the matching [`Action::Queue`]; a stale id is ignored.
        id: QueueId,
        /// Who, for the ticket and the `agent` variable.
        agent: String,
    },
    /// The agent hung up; the caller is still on the line.
    AgentHungUp {
        /// From the matching [`Action::Queue`]; a stale id is ignored.
        id: QueueId,
    },
}

/// What the call layer should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Synthesize and play `text`; report its end with `id`.
    Say {
        /// Prompt id.
        id: PromptId,
        /// Rendered text.
        text: String,
        /// espeak-ng voice.
        voice: String,
        /// Whether a key stops it (the interpreter sends `StopPrompt`).
        barge_in: bool,
    },
    /// Play a WAV file; report its end with `id`.
    Play {
        /// Prompt id.
        id: PromptId,
        /// Absolute or cwd-relative path.
        path: PathBuf,
        /// Whether a key stops it.
        barge_in: bool,
    },
    /// Stop the prompt now (barge-in); answer with `PromptStopped` or `PromptFinished`.
    StopPrompt {
        /// The prompt to stop.
        id: PromptId,
    },
    /// Blind-transfer the call; report failure with `Event::TransferFailed`.
    Transfer {
        /// `sip:`, `sips:` or `tel:` URI.
        target: String,
    },
    /// End the call.
    Hangup {
        /// For the ticket.
        disposition: Disposition,
    },
    /// Start (or restart) listening for speech; any utterance in progress is dropped.
    Listen {
        /// Words the recogniser should expect.
        hints: String,
    },
    /// Stop listening; results of speech already heard are dropped.
    StopListening,
    /// Send a backend request; report its end with `Event::HttpDone`, within
    /// `request.budget()`.
    Http {
        /// Request id.
        id: RequestId,
        /// What to send.
        request: HttpRequest,
    },
    /// Put the caller in an agent queue (and loop the hold music, if any, pausing it under
    /// prompts); report with `QueuePosition`, `QueueFull`, `AgentAnswered`, `AgentHungUp`.
    Queue {
        /// This wait's id.
        id: QueueId,
        /// Queue name.
        name: String,
        /// Caller priority, `0..=9` (9 first).
        priority: u8,
        /// Wanted agent skill, if any.
        skill: Option<String>,
        /// The only agent to ring, if any.
        agent: Option<String>,
        /// WAV file to loop while the caller waits.
        hold_music: Option<PathBuf>,
    },
    /// Take the caller out of the queue (they waited too long); no more events for `id`.
    LeaveQueue {
        /// The wait to end.
        id: QueueId,
    },
    /// Something for the call's ticket.
    Record(TurnRecord),
}

/// One line of a call's IVR history.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnRecord {
    /// A step started.
    StepEntered {
        /// Step index.
        step: usize,
        /// Its label.
        label: Option<String>,
        /// Its kind, e.g. `"menu"`.
        kind: &'static str,
    },
    /// A TTS prompt started.
    Prompt {
        /// Prompt id.
        id: PromptId,
        /// What is said.
        text: String,
    },
    /// A file prompt started.
    PromptFile {
        /// Prompt id.
        id: PromptId,
        /// What is played.
        path: PathBuf,
    },
    /// A barge-in-able prompt was not played because the caller had already typed ahead.
    PromptSkipped {
        /// Step index.
        step: usize,
    },
    /// A key cut a prompt short.
    BargeIn {
        /// The prompt.
        id: PromptId,
    },
    /// A key was pressed.
    Dtmf {
        /// The key.
        digit: char,
    },
    /// A menu choice was made.
    MenuChoice {
        /// Menu step index.
        step: usize,
        /// The key.
        digit: char,
        /// The branch label.
        target: String,
    },
    /// A key not in the menu, or too few digits for a collect.
    InvalidInput {
        /// Step index.
        step: usize,
        /// What was entered.
        input: String,
        /// 1-based failed attempt.
        attempt: u32,
    },
    /// The caller said nothing before the timeout.
    NoInput {
        /// Step index.
        step: usize,
        /// 1-based failed attempt.
        attempt: u32,
    },
    /// A collect step stored its digits.
    Collected {
        /// Variable.
        var: String,
        /// Digits.
        value: String,
    },
    /// A set step assigned a variable.
    VarSet {
        /// Variable.
        var: String,
        /// Value.
        value: String,
    },
    /// A `ticket` step set the ticket's fields (the call layer stores them).
    Ticket {
        /// New priority, if set.
        priority: Option<crate::tickets::Priority>,
        /// New subject, rendered, if set.
        subject: Option<String>,
    },
    /// A transfer was requested.
    Transfer {
        /// Target URI.
        target: String,
    },
    /// The call layer reported the transfer failed.
    TransferFailed {
        /// Why.
        reason: String,
    },
    /// What the caller said and what the ask step made of it.
    Understood(Box<Understanding>),
    /// Speech recognition became unavailable; asks use keys from now on.
    SpeechUnavailable {
        /// Step index.
        step: usize,
    },
    /// An `http` step finished.
    Http(Box<HttpRecord>),
    /// The caller joined an agent queue.
    Queued {
        /// Queue step index.
        step: usize,
        /// Queue name.
        name: String,
        /// Rendered priority.
        priority: u8,
        /// Rendered skill, if any.
        skill: Option<String>,
    },
    /// The caller left a queue without an agent.
    QueueLeft {
        /// Queue name.
        name: String,
        /// Why.
        exit: QueueExit,
        /// Time spent in the queue.
        waited: Duration,
    },
    /// An agent answered a queued caller.
    AgentAnswered {
        /// Who.
        agent: String,
        /// Time the caller spent in the queue.
        waited: Duration,
    },
    /// The agent hung up; the dialplan goes on (or hangs up).
    AgentHungUp {
        /// Who.
        agent: String,
        /// Time the agent had the call.
        talked: Duration,
    },
    /// The caller gave a satisfaction score.
    Csat {
        /// 1..=5.
        score: u8,
    },
    /// The interpreter ended the call.
    Hangup {
        /// Disposition.
        disposition: Disposition,
        /// Why, in words.
        reason: String,
    },
}

/// One recognised utterance and its interpretation, for the ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// Ask step index.
    pub step: usize,
    /// Transcript (empty: noise).
    pub text: String,
    /// Recogniser confidence.
    pub asr_confidence: f32,
    /// Matched intent (including built-in `yes`/`no`), if any reached the threshold.
    pub intent: Option<String>,
    /// Confidence of the best intent of the step, matched or not.
    pub intent_confidence: f32,
    /// Entities found in the text.
    pub entities: Entities,
    /// Polarity and emotion of the turn (not for noise).
    pub sentiment: Option<Sentiment>,
    /// The bot's best intents over the whole dialplan, best first: reply candidates.
    pub candidates: Vec<IntentScore>,
    /// The closest knowledge article, if the dialplan has a knowledge file.
    pub article: Option<String>,
    /// What the step did: `intent`, `capture`, `faq` (the article was spoken and the
    /// question asked again), `no-match`, `angry`, `noise` or `ignored`.
    pub outcome: &'static str,
    /// What the bot would say for each of `candidates` (same order; `None`: nothing), read
    /// from the dialplan: the agent's suggested replies.
    pub replies: Vec<Option<String>>,
    /// The closest knowledge article, when close enough to be suggested to an agent.
    pub faq_answer: Option<FaqMatch>,
}
