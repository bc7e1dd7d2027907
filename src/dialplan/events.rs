//! The interpreter's vocabulary with the call layer: events in, actions out, ticket records.
//!
//! Kept apart from the state machine because `call/` and `tickets/` read these types without
//! caring how the interpreter decides. A speech `ask` step adds variants here (a recognition
//! result event, a start-listening action) rather than reshaping the DTMF ones.

use std::path::PathBuf;

use super::model::Disposition;

/// Names one prompt so its end can be matched to the step that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PromptId(pub u64);

/// Something that happened on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// What the call layer should do.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Something for the call's ticket.
    Record(TurnRecord),
}

/// One line of a call's IVR history.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The interpreter ended the call.
    Hangup {
        /// Disposition.
        disposition: Disposition,
        /// Why, in words.
        reason: String,
    },
}
