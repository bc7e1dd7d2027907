//! Dialplan load errors: each one is `file:line: what is wrong`, and a load collects them all.

use std::fmt;

use super::template::TemplateError;

/// One thing wrong with a dialplan file (or a warning about it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanError {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line; `None` for whole-file problems such as an unreadable file.
    pub line: Option<usize>,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for DialplanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for DialplanError {}

/// Every error found in one file, in line order. Displays one `file:line: message` per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanErrors(pub Vec<DialplanError>);

impl fmt::Display for DialplanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DialplanErrors {}

/// What is wrong, without the position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// A line of the knowledge file named by `faq:` is wrong.
    #[error("knowledge file: {0}")]
    Knowledge(String),
    /// Bigger than any sane dialplan.
    #[error("file is larger than {0} bytes")]
    TooLarge(usize),
    /// yaml-rust2 rejected the text.
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    /// Nested deeper than we parse.
    #[error("YAML nested deeper than {0} levels")]
    TooDeep(usize),
    /// `*name` aliases (a bare `*` key also parses as one).
    #[error("YAML aliases (*name) are not supported; write a `*` menu key as \"*\"")]
    Alias,
    /// `---` twice.
    #[error("only one YAML document is allowed per file")]
    MultipleDocuments,
    /// `? [a, b]: x`.
    #[error("mapping keys must be plain strings")]
    ComplexKey,
    /// The same key twice in one mapping.
    #[error("duplicate key `{key}` (first on line {first_line})")]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where it first appeared.
        first_line: usize,
    },
    /// No steps at all (or an empty file).
    #[error("the dialplan is empty: it needs a non-empty `steps` list")]
    Empty,
    /// A key that `context` does not take.
    #[error("unknown key `{key}` in {context}; allowed keys: {allowed}")]
    UnknownKey {
        /// The key.
        key: String,
        /// E.g. "menu step".
        context: String,
        /// Comma-separated list.
        allowed: String,
    },
    /// A required key is absent.
    #[error("{context} is missing required key `{key}`")]
    MissingKey {
        /// The key.
        key: String,
        /// E.g. "collect step".
        context: String,
    },
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key (or "step", "dialplan").
        key: String,
        /// E.g. "a string".
        expected: &'static str,
        /// What it was.
        found: String,
    },
    /// A step whose action key we do not know.
    #[error("unknown step kind `{kind}`; expected one of: {allowed}")]
    UnknownStepKind {
        /// The key that looked like an action.
        kind: String,
        /// Comma-separated list.
        allowed: String,
    },
    /// A step with only a label (or nothing).
    #[error("step has no action; expected one of: {allowed}")]
    NoStepKind {
        /// Comma-separated list.
        allowed: String,
    },
    /// `say:` and `goto:` in one step.
    #[error("step has both `{first}` and `{second}`; a step does exactly one thing")]
    SeveralStepKinds {
        /// First action key.
        first: String,
        /// Second action key.
        second: String,
    },
    /// A branch to a label that no step has.
    #[error("`{key}` refers to unknown label `{label}`")]
    UnknownLabel {
        /// Where the branch is (e.g. "goto", "options.1").
        key: String,
        /// The missing label.
        label: String,
    },
    /// Two steps with one label.
    #[error("duplicate label `{label}` (first on line {first_line})")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// Labels are identifiers so that they read well in tickets and logs.
    #[error("bad label `{0}` (use letters, digits, `_` and `-`)")]
    BadLabel(String),
    /// Menu keys are single DTMF digits.
    #[error("menu option `{0}` is not a single key 0-9, * or #")]
    BadDigit(String),
    /// A menu with no options.
    #[error("menu `options` must not be empty")]
    NoOptions,
    /// A number outside its allowed range.
    #[error("`{key}` is {value}, must be between {min} and {max}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// Inclusive minimum.
        min: u64,
        /// Inclusive maximum.
        max: u64,
    },
    /// `min_digits` > `max_digits`.
    #[error("`min_digits` ({min}) is greater than `max_digits` ({max})")]
    MinAboveMax {
        /// min_digits.
        min: u64,
        /// max_digits.
        max: u64,
    },
    /// Not `5s`, `1500ms`.
    #[error("`{key}`: `{value}` is not a duration like 5s or 1500ms (between 100ms and 120s)")]
    BadDuration {
        /// The key.
        key: String,
        /// The value found.
        value: String,
    },
    /// A `{variable}` syntax problem.
    #[error("`{key}`: {error}")]
    Template {
        /// The key holding the template.
        key: String,
        /// What is wrong with it.
        error: TemplateError,
    },
    /// Text longer than a prompt may be.
    #[error("`{key}` is {len} characters long, at most {max} are allowed")]
    TooLong {
        /// The key.
        key: String,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `set`/`collect` into something that is not a variable name.
    #[error("bad variable name `{0}` (use letters, digits and `_`)")]
    BadVarName(String),
    /// Collect terminator other than `#`/`*`.
    #[error("`terminator` must be \"#\" or \"*\", found `{0}`")]
    BadTerminator(String),
    /// Hangup disposition we do not know.
    #[error("unknown hangup disposition `{0}`; expected one of: completed, no-input, failed")]
    BadDisposition(String),
    /// Transfer target is not a SIP/tel URI.
    #[error("transfer target `{0}` is not a sip:, sips: or tel: URI")]
    BadUri(String),
    /// `play` file missing or not a WAV.
    #[error("cannot play `{path}`: {reason}")]
    BadAudioFile {
        /// Path as written.
        path: String,
        /// Why.
        reason: String,
    },
    /// `start` names an unknown label.
    #[error("`start` refers to unknown label `{0}`")]
    UnknownStart(String),
    /// An ask branches on an intent the file does not declare.
    #[error("unknown intent `{name}`; declared: {declared}")]
    UnknownIntent {
        /// The intent.
        name: String,
        /// Comma-separated declared and built-in names.
        declared: String,
    },
    /// `yes` and `no` come from the entity extractor.
    #[error("intent `{0}` is built in and cannot be declared")]
    BuiltinIntent(String),
    /// An ask with nothing to listen for.
    #[error("ask needs `intents`, `keys` or `capture`")]
    AskWithoutAnswers,
    /// A ticket priority that is not one of the four words.
    #[error("unknown priority `{0}`; expected low, normal, high or urgent")]
    BadPriority(String),
    /// An entity kind we do not extract.
    #[error(
        "unknown entity `{0}`; expected digits, yes_no, order_number, account_number, phone_number, amount or date"
    )]
    BadEntity(String),
    /// An `http` step's `url` the call could not safely request.
    #[error("http `url` `{url}` {why}")]
    BadHttpUrl {
        /// The URL as written.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A request method we do not send.
    #[error("unknown http method `{0}`; expected one of: GET, POST, PUT, PATCH, DELETE")]
    BadHttpMethod(String),
    /// A header name that is not an HTTP token, or one voxdesk sets itself.
    #[error("bad header name `{0}` (letters, digits and -; not Host, Content-Length, Content-Type, Transfer-Encoding or Connection)")]
    BadHeaderName(String),
    /// A `set` source that is neither a dotted path nor a JSON pointer.
    #[error("bad JSON path `{0}` (write `a.b.0`, or a JSON pointer like `/a/b/0`)")]
    BadJsonPath(String),
    /// `body` on a GET.
    #[error("`body` needs method POST, PUT, PATCH or DELETE")]
    HttpBodyWithGet,
    /// An http timeout above the limit.
    #[error("`timeout`: `{0}` is longer than an http step may wait per attempt (30s)")]
    HttpTimeoutTooLong(String),
    /// A `queue` name that is empty, too long, or not one word.
    #[error("bad queue name `{0}` (1 to 64 characters, no spaces)")]
    BadQueueName(String),
    /// A `queue` priority that is neither a number nor a template.
    #[error("`priority` must be a number from 0 to 9 or a template like \"{{vip_priority}}\", found `{0}`")]
    BadQueuePriority(String),
    /// `announce_every` without `announce`: nothing to say.
    #[error("`announce_every` needs `announce` (the text to say)")]
    AnnounceEveryWithoutAnnounce,
    /// Warning only: read but never set, so it always renders empty.
    #[error("warning: variable `{0}` is never set (it renders empty)")]
    UnsetVariable(String),
}

impl From<crate::yaml::YamlProblem> for Problem {
    fn from(problem: crate::yaml::YamlProblem) -> Self {
        use crate::yaml::YamlProblem as Y;
        match problem {
            Y::Syntax(info) => Problem::Syntax(info),
            Y::TooDeep(depth) => Problem::TooDeep(depth),
            Y::Alias => Problem::Alias,
            Y::MultipleDocuments => Problem::MultipleDocuments,
            Y::ComplexKey => Problem::ComplexKey,
            Y::DuplicateKey { key, first_line } => Problem::DuplicateKey { key, first_line },
        }
    }
}
