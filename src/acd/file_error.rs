//! Errors of the agents file and of `agents passwd`: `file:line: what is wrong`.

use std::fmt;

/// `file:line: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as given on the command line or in the config.
    pub file: String,
    /// 1-based; `None` for errors about the whole file.
    pub line: Option<usize>,
    /// What is wrong.
    pub problem: FileProblem,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for FileError {}

/// What is wrong with an agents file, without the position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// The file could not be read or written.
    #[error("cannot access: {0}")]
    Io(String),
    /// Over [`crate::acd::file::MAX_FILE_BYTES`].
    #[error("file is larger than {0} bytes")]
    TooLarge(usize),
    /// Empty or only comments.
    #[error("the agents file is empty")]
    Empty,
    /// yaml-rust2 rejected the text.
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    /// Deeper than the format needs.
    #[error("YAML nested deeper than {0} levels")]
    TooDeep(usize),
    /// `*name`.
    #[error("YAML aliases (*name) are not supported")]
    Alias,
    /// `---` twice.
    #[error("only one YAML document is allowed per file")]
    MultipleDocuments,
    /// `? [a]: x`.
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
    /// A key the context does not take.
    #[error("unknown key `{key}` in {context}; allowed keys: {allowed}")]
    UnknownKey {
        /// The key.
        key: String,
        /// `the file`, `an agent`, `a queue`.
        context: &'static str,
        /// Comma-separated.
        allowed: String,
    },
    /// A required key is absent.
    #[error("{context} needs `{key}`")]
    Missing {
        /// The key.
        key: &'static str,
        /// `an agent`, `a queue`.
        context: &'static str,
    },
    /// The wrong kind of node.
    #[error("`{key}` must be {expected}, found {found}")]
    Expected {
        /// The key (or list) being read.
        key: String,
        /// `a list`, `a mapping`, `a string`.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// A user, queue or skill name outside `[a-z0-9._-]{1,64}`.
    #[error("bad {what} `{name}`: use 1 to 64 of a-z 0-9 . _ -")]
    BadName {
        /// `user name`, `queue name`, `skill name`.
        what: &'static str,
        /// As written.
        name: String,
    },
    /// A realm that cannot go into a quoted header parameter.
    #[error("bad realm: use 1 to 128 printable characters without `\"` or `\\`")]
    BadRealm,
    /// Two agents with one user.
    #[error("duplicate user `{user}` (first on line {first_line})")]
    DuplicateUser {
        /// The user.
        user: String,
        /// Where it first appeared.
        first_line: usize,
    },
    /// Two queues with one name.
    #[error("duplicate queue `{name}` (first on line {first_line})")]
    DuplicateQueue {
        /// The queue.
        name: String,
        /// Where it first appeared.
        first_line: usize,
    },
    /// An agent lists a queue that `queues:` does not define (or lists one twice).
    #[error("unknown queue `{0}`; define it under `queues:`")]
    UnknownQueue(String),
    /// An agent lists a queue twice.
    #[error("queue `{0}` is listed twice")]
    RepeatedQueue(String),
    /// Both a password and a hash.
    #[error("give either `password` or `ha1`, not both")]
    PasswordAndHa1,
    /// Neither a password nor a hash.
    #[error("an agent needs `password` or `ha1`")]
    NoSecret,
    /// `ha1_sha256` without `ha1`.
    #[error("`ha1_sha256` needs `ha1` next to it (and no `password`)")]
    Sha256WithoutHa1,
    /// An empty password.
    #[error("`password` must not be empty")]
    EmptyPassword,
    /// A hash of the wrong length or with non-hex characters.
    #[error("`{key}` must be {len} hex digits")]
    BadHex {
        /// `ha1` or `ha1_sha256`.
        key: &'static str,
        /// Expected digits.
        len: usize,
    },
    /// Not one of [`crate::acd::Strategy::ALL`].
    #[error(
        "unknown strategy `{0}`; use ring-all, longest-idle, round-robin, fewest-calls or skills"
    )]
    UnknownStrategy(String),
    /// A number outside its range.
    #[error("`{key}` must be a whole number from {min} to {max}, found `{found}`")]
    OutOfRange {
        /// The key.
        key: String,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// As written.
        found: String,
    },
    /// More agents or queues than we load.
    #[error("more than {max} {what}")]
    TooMany {
        /// `agents`, `queues`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// `agents passwd` for a user the file does not have.
    #[error("no agent with user `{0}`")]
    UnknownUser(String),
    /// `agents passwd` cannot edit this entry as text.
    #[error("cannot rewrite this entry in place: {0}")]
    NotEditable(&'static str),
}

impl From<crate::yaml::YamlProblem> for FileProblem {
    fn from(problem: crate::yaml::YamlProblem) -> Self {
        use crate::yaml::YamlProblem as Y;
        match problem {
            Y::Syntax(info) => FileProblem::Syntax(info),
            Y::TooDeep(depth) => FileProblem::TooDeep(depth),
            Y::Alias => FileProblem::Alias,
            Y::MultipleDocuments => FileProblem::MultipleDocuments,
            Y::ComplexKey => FileProblem::ComplexKey,
            Y::DuplicateKey { key, first_line } => FileProblem::DuplicateKey { key, first_line },
        }
    }
}
