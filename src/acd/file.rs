//! The agents file (`dialplans/agents.yaml`): who may log in, with what secret, into which
//! queues, and how each queue distributes calls.
//!
//! Parsed from the positioned node tree in `acd::yaml` so every error reads
//! `file:line: what is wrong`; nothing in the file can make the parser panic.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::sip::auth::{ha1, Algorithm};

use crate::yaml::{self, Node};

pub use super::file_error::{FileError, FileProblem};

/// Digest realm when the file names none.
pub const DEFAULT_REALM: &str = "voxdesk";
/// Bigger than any real agents file.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Deepest YAML nesting the agents file may use; a real one needs 4.
pub(crate) const MAX_DEPTH: usize = 16;
/// Agents per file.
pub const MAX_AGENTS: usize = 10_000;
/// Queues per file.
pub const MAX_QUEUES: usize = 1_000;
/// Longest user, queue or skill name.
pub const MAX_NAME_LEN: usize = 64;
/// Allowed `ring_timeout`, seconds (inclusive), and the default.
pub const RING_TIMEOUT_SECS: (u64, u64) = (1, 600);
/// Allowed `max_misses` (inclusive).
pub const MAX_MISSES: (u64, u64) = (1, 100);
/// Allowed `wrap_up`, seconds (inclusive).
pub const WRAP_UP_SECS: (u64, u64) = (0, 3600);
/// Allowed `max_waiting` (inclusive).
pub const MAX_WAITING: (u64, u64) = (1, 10_000);
/// Allowed skill levels (inclusive).
pub const SKILL_LEVEL: (u64, u64) = (1, 10);

const TOP_KEYS: &[&str] = &["realm", "agents", "queues"];
const AGENT_KEYS: &[&str] = &[
    "user",
    "password",
    "ha1",
    "ha1_sha256",
    "name",
    "queues",
    "skills",
];
const QUEUE_KEYS: &[&str] = &[
    "name",
    "strategy",
    "ring_timeout",
    "max_misses",
    "wrap_up",
    "max_waiting",
    "skills",
];

/// The whole file, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsFile {
    /// Digest realm the stored HA1 hashes were made for.
    pub realm: String,
    /// In file order.
    pub agents: Vec<Agent>,
    /// In file order.
    pub queues: Vec<Queue>,
}

impl AgentsFile {
    /// The agent logging in as `user`.
    pub fn agent(&self, user: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.user == user)
    }

    /// The queue called `name`.
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }
}

/// One human agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// SIP user and login name, `[a-z0-9._-]+`.
    pub user: String,
    /// Display name (the user when the file gives none).
    pub name: String,
    /// How the agent proves who they are.
    pub secret: Secret,
    /// Queues the agent takes calls from, each defined under `queues:`.
    pub queues: Vec<String>,
    /// Skill name → level 1..=10.
    pub skills: BTreeMap<String, u8>,
    /// Line of the agent's entry.
    pub line: usize,
}

/// A clear-text password or the digest hashes made from it.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// `password:`; `agents passwd` replaces it with hashes.
    Password(String),
    /// `ha1:` (MD5, lowercase hex) and optionally `ha1_sha256:`, made for the file's realm.
    Ha1 {
        /// `MD5(user:realm:password)`.
        md5: String,
        /// `SHA-256(user:realm:password)`.
        sha256: Option<String>,
    },
}

impl fmt::Debug for Secret {
    // Keeps passwords out of logs and test failure output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(..)"),
            Secret::Ha1 { sha256, .. } => {
                write!(f, "Ha1 {{ md5, sha256: {} }}", sha256.is_some())
            }
        }
    }
}

impl Agent {
    /// `H(user:realm:password)` in lowercase hex for digest verification. Stored hashes are
    /// returned as they are (they were made for the file's realm); `None` when only an MD5
    /// `ha1` is stored and SHA-256 is asked for.
    pub fn ha1(&self, alg: Algorithm, realm: &str) -> Option<String> {
        match (&self.secret, alg) {
            (Secret::Password(password), _) => Some(ha1(alg, &self.user, realm, password)),
            (Secret::Ha1 { md5, .. }, Algorithm::Md5) => Some(md5.clone()),
            (Secret::Ha1 { sha256, .. }, Algorithm::Sha256) => sha256.clone(),
        }
    }
}

/// How a queue picks agents for its next caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Ring every free agent at once; the first to answer gets the call.
    RingAll,
    /// The agent idle for longest.
    LongestIdle,
    /// Agents in turn, by a pointer that rotates through the queue's members.
    RoundRobin,
    /// The agent who has taken the fewest calls; ties go to the longest idle.
    FewestCalls,
    /// Agents with the caller's skill, highest level first; ties go to the longest idle.
    Skills,
}

impl Strategy {
    /// Every strategy, in the order the file format lists them.
    pub const ALL: [Strategy; 5] = [
        Strategy::RingAll,
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::Skills,
    ];

    /// The name used in the file.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::RingAll => "ring-all",
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::Skills => "skills",
        }
    }

    /// The strategy called `name` in the file.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One call queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// `[a-z0-9._-]+`.
    pub name: String,
    /// Default longest-idle.
    pub strategy: Strategy,
    /// How long one agent (or ring-all round) rings, default 15 s.
    pub ring_timeout: Duration,
    /// Missed rings in a row before the agent is paused, default 3.
    pub max_misses: u32,
    /// After-call work, default 10 s.
    pub wrap_up: Duration,
    /// Callers allowed to wait, default 50.
    pub max_waiting: usize,
    /// Minimum skill levels an agent needs under the skills strategy.
    pub skills: BTreeMap<String, u8>,
    /// Line of the queue's entry.
    pub line: usize,
}

impl Queue {
    /// A queue with the file's defaults (line 0: not from a file).
    pub fn with_defaults(name: String) -> Queue {
        Queue {
            name,
            strategy: Strategy::LongestIdle,
            ring_timeout: Duration::from_secs(15),
            max_misses: 3,
            wrap_up: Duration::from_secs(10),
            max_waiting: 50,
            skills: BTreeMap::new(),
            line: 0,
        }
    }
}

type Positioned = (usize, FileProblem);

/// Reads and validates an agents file.
pub fn load_file(path: &Path) -> Result<AgentsFile, FileError> {
    let file = path.display().to_string();
    let whole = |problem| FileError {
        file: file.clone(),
        line: None,
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| whole(FileProblem::Io(e.to_string())))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(whole(FileProblem::TooLarge(MAX_FILE_BYTES)));
    }
    let text = std::fs::read_to_string(path).map_err(|e| whole(FileProblem::Io(e.to_string())))?;
    parse_str(&text, &file)
}

/// Validates agents-file text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<AgentsFile, FileError> {
    parse_positioned(text).map_err(|(line, problem)| FileError {
        file: file.to_owned(),
        line: (line > 0).then_some(line),
        problem,
    })
}

fn parse_positioned(text: &str) -> Result<AgentsFile, Positioned> {
    if text.len() > MAX_FILE_BYTES {
        return Err((0, FileProblem::TooLarge(MAX_FILE_BYTES)));
    }
    let root = yaml::parse(text, MAX_DEPTH)
        .map_err(|(line, problem)| (line, FileProblem::from(problem)))?
        .ok_or((0, FileProblem::Empty))?;
    let top = expect_map(&root, "the file")?;
    check_keys(top, TOP_KEYS, "the file")?;
    let realm = match get(top, "realm") {
        None => DEFAULT_REALM.to_owned(),
        Some(node) => realm(node)?,
    };
    let mut queues: Vec<Queue> = Vec::new();
    for node in list(top, "queues", MAX_QUEUES)? {
        let queue = parse_queue(node)?;
        if let Some(first) = queues.iter().find(|q| q.name == queue.name) {
            let problem = FileProblem::DuplicateQueue {
                name: queue.name.clone(),
                first_line: first.line,
            };
            return Err((queue.line, problem));
        }
        queues.push(queue);
    }
    let mut agents: Vec<Agent> = Vec::new();
    for node in list(top, "agents", MAX_AGENTS)? {
        let agent = parse_agent(node, &queues)?;
        if let Some(first) = agents.iter().find(|a| a.user == agent.user) {
            let problem = FileProblem::DuplicateUser {
                user: agent.user.clone(),
                first_line: first.line,
            };
            return Err((agent.line, problem));
        }
        agents.push(agent);
    }
    Ok(AgentsFile {
        realm,
        agents,
        queues,
    })
}

fn parse_agent(node: &Node, queues: &[Queue]) -> Result<Agent, Positioned> {
    let map = expect_map(node, "an agent")?;
    check_keys(map, AGENT_KEYS, "an agent")?;
    let user_node = get(map, "user").ok_or((node.line, missing("user", "an agent")))?;
    let user = name(user_node, "user", "user name")?;
    let display = match get(map, "name") {
        Some(n) => string(n, "name")?.to_owned(),
        None => user.clone(),
    };
    let secret = match (
        get(map, "password"),
        get(map, "ha1"),
        get(map, "ha1_sha256"),
    ) {
        (Some(p), Some(_), _) => return Err((p.line, FileProblem::PasswordAndHa1)),
        (None, None, Some(s)) | (Some(_), None, Some(s)) => {
            return Err((s.line, FileProblem::Sha256WithoutHa1))
        }
        (None, None, None) => return Err((node.line, FileProblem::NoSecret)),
        (Some(p), None, None) => {
            let password = string(p, "password")?;
            if password.is_empty() {
                return Err((p.line, FileProblem::EmptyPassword));
            }
            Secret::Password(password.to_owned())
        }
        (None, Some(md5), sha256) => Secret::Ha1 {
            md5: hex(md5, "ha1", Algorithm::Md5)?,
            sha256: sha256
                .map(|s| hex(s, "ha1_sha256", Algorithm::Sha256))
                .transpose()?,
        },
    };
    let mut agent_queues: Vec<String> = Vec::new();
    if let Some(list_node) = get(map, "queues") {
        let items = list_node
            .as_seq()
            .ok_or_else(|| expected(list_node, "queues", "a list"))?;
        for item in items {
            let queue = name(item, "queues", "queue name")?;
            add_member_queue(&mut agent_queues, queue, queues).map_err(|p| (item.line, p))?;
        }
    }
    Ok(Agent {
        user,
        name: display,
        secret,
        queues: agent_queues,
        skills: skills(map)?,
        line: node.line,
    })
}

fn parse_queue(node: &Node) -> Result<Queue, Positioned> {
    let map = expect_map(node, "a queue")?;
    check_keys(map, QUEUE_KEYS, "a queue")?;
    let name_node = get(map, "name").ok_or((node.line, missing("name", "a queue")))?;
    let strategy = match get(map, "strategy") {
        None => Strategy::LongestIdle,
        Some(s) => {
            let text = string(s, "strategy")?;
            Strategy::from_name(text)
                .ok_or_else(|| (s.line, FileProblem::UnknownStrategy(text.to_owned())))?
        }
    };
    let d = Queue::with_defaults(String::new());
    Ok(Queue {
        name: name(name_node, "name", "queue name")?,
        strategy,
        ring_timeout: number(
            map,
            "ring_timeout",
            d.ring_timeout.as_secs(),
            RING_TIMEOUT_SECS,
        )
        .map(Duration::from_secs)?,
        max_misses: number(map, "max_misses", d.max_misses.into(), MAX_MISSES)? as u32,
        wrap_up: number(map, "wrap_up", d.wrap_up.as_secs(), WRAP_UP_SECS)
            .map(Duration::from_secs)?,
        max_waiting: number(map, "max_waiting", d.max_waiting as u64, MAX_WAITING)? as usize,
        skills: skills(map)?,
        line: node.line,
    })
}

fn realm(node: &Node) -> Result<String, Positioned> {
    let text = string(node, "realm")?;
    let printable = text
        .chars()
        .all(|c| !c.is_control() && c != '"' && c != '\\');
    if text.is_empty() || text.chars().count() > 128 || !printable {
        return Err((node.line, FileProblem::BadRealm));
    }
    Ok(text.to_owned())
}

fn skills(map: &[(Node, Node)]) -> Result<BTreeMap<String, u8>, Positioned> {
    let mut skills = BTreeMap::new();
    let Some(node) = get(map, "skills") else {
        return Ok(skills);
    };
    let entries = node
        .as_map()
        .ok_or_else(|| expected(node, "skills", "a mapping"))?;
    for (key, _) in entries {
        let skill = name(key, "skills", "skill name")?;
        let level = number(entries, &skill, 1, SKILL_LEVEL)? as u8;
        skills.insert(skill, level);
    }
    Ok(skills)
}

fn list<'a>(map: &'a [(Node, Node)], key: &str, max: usize) -> Result<&'a [Node], Positioned> {
    let Some(node) = get(map, key) else {
        return Ok(&[]);
    };
    if node.is_null() {
        return Ok(&[]);
    }
    let items = node.as_seq().ok_or_else(|| expected(node, key, "a list"))?;
    if items.len() > max {
        let what = if key == "agents" { "agents" } else { "queues" };
        return Err((node.line, FileProblem::TooMany { what, max }));
    }
    Ok(items)
}

fn get<'a>(map: &'a [(Node, Node)], key: &str) -> Option<&'a Node> {
    map.iter()
        .find(|(k, _)| k.as_scalar() == Some(key))
        .map(|(_, v)| v)
}

fn check_keys(
    map: &[(Node, Node)],
    allowed: &[&str],
    context: &'static str,
) -> Result<(), Positioned> {
    for (key, _) in map {
        let text = key.as_scalar().unwrap_or_default();
        if !allowed.contains(&text) {
            let problem = FileProblem::UnknownKey {
                key: text.to_owned(),
                context,
                allowed: allowed.join(", "),
            };
            return Err((key.line, problem));
        }
    }
    Ok(())
}

fn expect_map<'a>(node: &'a Node, context: &str) -> Result<&'a [(Node, Node)], Positioned> {
    node.as_map()
        .ok_or_else(|| expected(node, context, "a mapping"))
}

fn expected(node: &Node, key: &str, what: &'static str) -> Positioned {
    let problem = FileProblem::Expected {
        key: key.to_owned(),
        expected: what,
        found: node.describe().to_owned(),
    };
    (node.line, problem)
}

fn missing(key: &'static str, context: &'static str) -> FileProblem {
    FileProblem::Missing { key, context }
}

fn string<'a>(node: &'a Node, key: &str) -> Result<&'a str, Positioned> {
    match node.as_scalar() {
        Some(text) if !node.is_null() => Ok(text),
        _ => Err(expected(node, key, "a string")),
    }
}

/// Whether `text` is a valid user, queue or skill name.
pub fn is_valid_name(text: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// `text` as a user (`what` = `user name`), queue or skill name.
pub fn check_name(text: &str, what: &'static str) -> Result<String, FileProblem> {
    if !is_valid_name(text) {
        return Err(FileProblem::BadName {
            what,
            name: text.chars().take(80).collect(),
        });
    }
    Ok(text.to_owned())
}

/// `text` as a stored digest hash for `alg`, lowercased; `key` names it in the error.
pub fn check_hex(text: &str, key: &'static str, alg: Algorithm) -> Result<String, FileProblem> {
    let len = alg.hex_len();
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FileProblem::BadHex { key, len });
    }
    Ok(text.to_ascii_lowercase())
}

/// `value` of `key` within `(min, max)`.
pub fn check_number(key: &str, value: u64, (min, max): (u64, u64)) -> Result<u64, FileProblem> {
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    Err(FileProblem::OutOfRange {
        key: key.to_owned(),
        min,
        max,
        found: value.to_string(),
    })
}

/// Adds `queue` to an agent's `member_of`: it must be one of `queues`, and only once.
pub fn add_member_queue(
    member_of: &mut Vec<String>,
    queue: String,
    queues: &[Queue],
) -> Result<(), FileProblem> {
    if !queues.iter().any(|q| q.name == queue) {
        return Err(FileProblem::UnknownQueue(queue));
    }
    if member_of.contains(&queue) {
        return Err(FileProblem::RepeatedQueue(queue));
    }
    member_of.push(queue);
    Ok(())
}

fn name(node: &Node, key: &str, what: &'static str) -> Result<String, Positioned> {
    check_name(string(node, key)?, what).map_err(|p| (node.line, p))
}

fn hex(node: &Node, key: &'static str, alg: Algorithm) -> Result<String, Positioned> {
    check_hex(string(node, key)?, key, alg).map_err(|p| (node.line, p))
}

fn number(
    map: &[(Node, Node)],
    key: &str,
    default: u64,
    (min, max): (u64, u64),
) -> Result<u64, Positioned> {
    let Some(node) = get(map, key) else {
        return Ok(default);
    };
    let text = node.as_scalar().unwrap_or_default();
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && node.as_scalar().is_some() => Ok(n),
        _ => {
            let problem = FileProblem::OutOfRange {
                key: key.to_owned(),
                min,
                max,
                found: text.chars().take(40).collect(),
            };
            Err((node.line, problem))
        }
    }
}
