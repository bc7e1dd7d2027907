//! The validated, typed dialplan the interpreter runs. Every label is already resolved to a
//! step index, every template parsed, every number in range: running cannot hit a bad file.

use std::path::PathBuf;
use std::time::Duration;

use super::error::DialplanError;
use super::template::Template;

/// A loaded dialplan: an ordered list of steps; unlabelled steps fall through to the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialplan {
    /// Human name (`name:`), for logs and tickets.
    pub name: String,
    /// espeak-ng voice for `say` prompts.
    pub voice: String,
    /// The file it came from, as given to the loader.
    pub file: String,
    pub(crate) start: usize,
    pub(crate) steps: Vec<Step>,
    pub(crate) warnings: Vec<DialplanError>,
}

impl Dialplan {
    /// The steps, in file order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Index of the first step to run.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Non-fatal findings (e.g. a variable read but never set).
    pub fn warnings(&self) -> &[DialplanError] {
        &self.warnings
    }

    /// Step index of `label`.
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.label.as_deref() == Some(label))
    }
}

/// One step and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Line of the step in the file.
    pub line: usize,
    /// Optional label other steps branch to.
    pub label: Option<String>,
    /// What it does.
    pub kind: StepKind,
}

/// What a step does. A speech `ask` step slots in as one more variant with its own struct.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Speak a template with TTS.
    Say(Say),
    /// Play a WAV file.
    Play(Play),
    /// Prompt, then branch on one DTMF key.
    Menu(Menu),
    /// Prompt, then read several DTMF digits into a variable.
    Collect(Collect),
    /// Assign variables from templates, in order.
    Set(Vec<Assignment>),
    /// Jump.
    Goto(Target),
    /// Blind transfer; the call layer picks REFER (answered) or 302 (not yet answered).
    Transfer(Transfer),
    /// End the call.
    Hangup(Disposition),
}

impl StepKind {
    /// The YAML key of this kind, e.g. `"menu"`.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Say(_) => "say",
            StepKind::Play(_) => "play",
            StepKind::Menu(_) => "menu",
            StepKind::Collect(_) => "collect",
            StepKind::Set(_) => "set",
            StepKind::Goto(_) => "goto",
            StepKind::Transfer(_) => "transfer",
            StepKind::Hangup(_) => "hangup",
        }
    }
}

/// A resolved branch target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As written, for records.
    pub label: String,
    /// Step index.
    pub index: usize,
}

/// `say`.
#[derive(Debug, Clone, PartialEq)]
pub struct Say {
    /// Text with `{variables}`.
    pub text: Template,
    /// A DTMF key stops the prompt (the key is kept as type-ahead).
    pub barge_in: bool,
}

/// `play`.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    /// Resolved against the dialplan file's directory; existed at load time.
    pub path: PathBuf,
    /// A DTMF key stops the prompt.
    pub barge_in: bool,
}

/// How a prompt-then-input step retries; shared by `menu` and `collect` (and later `ask`).
#[derive(Debug, Clone, PartialEq)]
pub struct InputRules {
    /// Prompt played at each attempt; `None` for a silent collect.
    pub prompt: Option<Template>,
    /// A key stops the prompt.
    pub barge_in: bool,
    /// No-input time after the prompt ends (for collect: between digits too).
    pub timeout: Duration,
    /// Extra attempts after the first, shared by timeouts and invalid input.
    pub retries: u32,
    /// Said after invalid input, before the prompt is replayed.
    pub invalid: Option<Template>,
    /// Where to go when retries run out on a timeout; `None` = hang up (no-input).
    pub on_timeout: Option<Target>,
    /// Where to go when retries run out on invalid input; `None` = `on_timeout`, else hang up
    /// (failed).
    pub on_invalid: Option<Target>,
}

/// `menu`.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    /// Prompt, timeout and retry rules.
    pub input: InputRules,
    /// Key → branch, in file order.
    pub options: Vec<(char, Target)>,
}

/// `collect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Collect {
    /// Prompt, timeout and retry rules.
    pub input: InputRules,
    /// Variable receiving the digits.
    pub var: String,
    /// Fewer digits (on terminator or timeout) are invalid input.
    pub min_digits: usize,
    /// Input completes at this many digits.
    pub max_digits: usize,
    /// `#` or `*`; ends input early and is not part of the value.
    pub terminator: Option<char>,
}

/// One `var: template` of a `set` step.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Variable name.
    pub var: String,
    /// Value template.
    pub value: Template,
}

/// `transfer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `sip:`, `sips:` or `tel:` URI.
    pub target: String,
    /// Where to continue if the call layer reports the transfer failed; `None` = hang up.
    pub on_failure: Option<Target>,
}

/// How the call ended, for the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// The caller was served.
    Completed,
    /// The caller never answered a menu or collect.
    NoInput,
    /// Something went wrong (invalid input exhausted, transfer failed, runaway loop).
    Failed,
}

impl Disposition {
    /// The spelling used in dialplan files and tickets.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Completed => "completed",
            Disposition::NoInput => "no-input",
            Disposition::Failed => "failed",
        }
    }

    /// Parses the file spelling.
    pub fn parse(s: &str) -> Option<Disposition> {
        [
            Disposition::Completed,
            Disposition::NoInput,
            Disposition::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}
