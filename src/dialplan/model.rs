//! The validated, typed dialplan the interpreter runs. Every label is already resolved to a
//! step index, every template parsed, every number in range: running cannot hit a bad file.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::csat::CsatStep;
use super::error::DialplanError;
use super::http::HttpStep;
use super::queue::QueueStep;
use super::template::Template;
use crate::bot::{Bot, Faq, IntentSet};
use crate::tickets::Priority;

/// A loaded dialplan: an ordered list of steps; unlabelled steps fall through to the next one.
#[derive(Debug, Clone)]
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
    pub(crate) intents: Intents,
    /// Phrases no intent covers (`out_of_scope:`): an utterance nearer one of them than to
    /// every intent example matches no intent.
    pub(crate) out_of_scope: Vec<String>,
    /// The knowledge file named by `faq:`.
    pub(crate) faq: Option<Arc<Faq>>,
    /// Where angry callers go (`on_angry:`).
    pub(crate) on_angry: Option<Escalation>,
    /// Reads callers' turns: keyword matching from the loader, semantic once the server
    /// attaches an embedding model ([`Dialplan::set_bot`]).
    pub(crate) bot: Arc<Bot>,
}

// The bot is derived from the intents and the knowledge file, which are compared.
impl PartialEq for Dialplan {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.voice == other.voice
            && self.file == other.file
            && self.start == other.start
            && self.steps == other.steps
            && self.warnings == other.warnings
            && self.intents == other.intents
            && self.out_of_scope == other.out_of_scope
            && self.faq == other.faq
            && self.on_angry == other.on_angry
    }
}

/// `on_angry:` — after `turns` angry caller turns, the next answer goes to `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// Turns (negative, with anger or disgust) that trigger it.
    pub turns: u32,
    /// Where the call goes.
    pub target: Target,
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

    /// The intents declared at the top of the file.
    pub fn intents(&self) -> &Intents {
        &self.intents
    }

    /// The bot that reads callers' turns.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Replaces the bot, e.g. with a semantic one built from [`Dialplan::intents`] and
    /// [`Dialplan::faq`].
    pub fn set_bot(&mut self, bot: Bot) {
        self.bot = Arc::new(bot);
    }

    /// `on_angry:`, if set.
    pub fn on_angry(&self) -> Option<&Escalation> {
        self.on_angry.as_ref()
    }

    /// The `out_of_scope:` phrases (empty when the file has none).
    pub fn out_of_scope(&self) -> &[String] {
        &self.out_of_scope
    }

    /// The knowledge base attached with `faq:`, if any.
    pub fn faq(&self) -> Option<&Faq> {
        self.faq.as_deref()
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
    /// Prompt, then branch on what the caller says (intent, entity) or keys in.
    Ask(Ask),
    /// Ask a backend over HTTP; fields of its JSON answer become variables.
    Http(HttpStep),
    /// Sets the call ticket's priority and subject.
    Ticket(TicketFields),
    /// Waits in an agent queue, then stays out of the way while the agent talks.
    Queue(QueueStep),
    /// Asks for a satisfaction score from 1 to 5, keyed or spoken.
    Csat(CsatStep),
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
            StepKind::Ask(_) => "ask",
            StepKind::Http(_) => "http",
            StepKind::Ticket(_) => "ticket",
            StepKind::Queue(_) => "queue",
            StepKind::Csat(_) => "csat",
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

/// How a prompt-then-input step retries; shared by `menu`, `collect`, `ask` and `csat`.
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

/// The top-level `intents:` of a dialplan: names with example phrases, and the matcher built
/// from them once at load.
#[derive(Clone)]
pub struct Intents {
    pub(crate) declared: Vec<(String, Vec<String>)>,
    /// `label:` of intents that have one.
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) matcher: Arc<IntentSet>,
}

impl Intents {
    /// Builds the matcher for `declared` (name, example phrases).
    pub fn new(declared: Vec<(String, Vec<String>)>) -> Self {
        let matcher = Arc::new(IntentSet::new(&declared));
        Self {
            declared,
            labels: Vec::new(),
            matcher,
        }
    }

    /// Adds the names callers hear for intents ("did you mean returns or the status of an
    /// order?").
    pub fn with_labels(mut self, labels: Vec<(String, String)>) -> Self {
        self.labels = labels;
        self
    }

    /// What to call `name` when speaking to the caller: its `label`, else its name with
    /// spaces ("order_status" → "order status").
    pub fn label(&self, name: &str) -> String {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.replace('_', " "), |(_, label)| label.clone())
    }

    /// Declared names with their examples, in file order.
    pub fn declared(&self) -> &[(String, Vec<String>)] {
        &self.declared
    }

    /// The matcher.
    pub fn matcher(&self) -> &IntentSet {
        &self.matcher
    }

    /// Example phrases of `name`.
    pub fn examples(&self, name: &str) -> &[String] {
        self.declared
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, e)| e.as_slice())
    }
}

impl Default for Intents {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl PartialEq for Intents {
    fn eq(&self, other: &Self) -> bool {
        self.declared == other.declared && self.labels == other.labels
    }
}

impl fmt::Debug for Intents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.declared.iter().map(|(n, _)| n))
            .finish()
    }
}

/// Built-in intents an `ask` may branch on without declaring them: a yes or a no.
pub const BUILTIN_INTENTS: &[&str] = &["yes", "no"];

/// `ask`: a prompt, then speech and keys. Speech is matched against the step's intents or
/// captured as an entity; keys work as in `menu` (with `keys`) or `collect` (with a digits
/// `capture`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// Prompt, timeout and retry rules; `invalid` is said on no-match.
    pub input: InputRules,
    /// Intent → branch, in file order.
    pub intents: Vec<(String, Target)>,
    /// Key → branch, in file order.
    pub keys: Vec<(char, Target)>,
    /// Fill a variable from what is said (or keyed) instead of branching.
    pub capture: Option<Capture>,
    /// Where a capture continues; `None` = the next step.
    pub next: Option<Target>,
    /// Decoder hint for the recogniser: the step's `hints` and its intents' examples.
    pub hints: String,
    /// Lowest intent confidence that counts as a match.
    pub threshold: f32,
    /// Said instead of `prompt` when speech recognition is unavailable (overload).
    pub dtmf_prompt: Option<Template>,
}

/// What an `ask` captures.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// Variable receiving the value.
    pub var: String,
    /// What kind of value.
    pub entity: Entity,
    /// Digits: fewer is invalid.
    pub min_digits: usize,
    /// Digits: more is invalid (keyed input completes here).
    pub max_digits: usize,
    /// Digits: `#` or `*` ends keyed input.
    pub terminator: Option<char>,
    /// A yes/no question that checks a spoken value before the call goes on (`{var}` is the
    /// value); "no" asks again.
    pub confirm: Option<Template>,
}

/// Entity kinds an `ask` can capture. All but `yes_no` and `date` may also be keyed in, as
/// digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A digit string, spoken ("one two three four", "twelve thirty four") or keyed.
    Digits,
    /// `yes` or `no`; keys 1 and 2 answer yes and no.
    YesNo,
    /// An order, tracking or parcel number; also taken from the turn that chose the step
    /// ("where is order 12345").
    OrderNumber,
    /// An account, card or membership number; also taken from the turn that chose the step.
    AccountNumber,
    /// A phone number; also taken from the turn that chose the step.
    PhoneNumber,
    /// A money amount ("twenty five pounds fifty" → `25.50`); keyed: whole units.
    Amount,
    /// A date, maybe with a time (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`); spoken only.
    Date,
}

impl Entity {
    /// Every kind, in file spelling order.
    pub const ALL: [Entity; 7] = [
        Entity::Digits,
        Entity::YesNo,
        Entity::OrderNumber,
        Entity::AccountNumber,
        Entity::PhoneNumber,
        Entity::Amount,
        Entity::Date,
    ];

    /// The file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Digits => "digits",
            Entity::YesNo => "yes_no",
            Entity::OrderNumber => "order_number",
            Entity::AccountNumber => "account_number",
            Entity::PhoneNumber => "phone_number",
            Entity::Amount => "amount",
            Entity::Date => "date",
        }
    }

    /// Parses the file spelling.
    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether keyed digits answer it (collected like `collect`).
    pub fn keyed_as_digits(self) -> bool {
        !matches!(self, Entity::YesNo | Entity::Date)
    }
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

/// `ticket`: what the call's ticket is about and how urgent it is.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFields {
    /// New priority, if given.
    pub priority: Option<Priority>,
    /// New subject (a template, e.g. `"Fault on {fault_number}"`), if given.
    pub subject: Option<Template>,
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
    /// An agent took the call from a `queue` step and hung up; set by the interpreter only,
    /// not a `hangup` step's.
    Transferred,
}

impl Disposition {
    /// The spelling used in dialplan files and tickets.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Completed => "completed",
            Disposition::NoInput => "no-input",
            Disposition::Failed => "failed",
            Disposition::Transferred => "transferred",
        }
    }

    /// Parses the spelling a `hangup` step may use (not `transferred`).
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
