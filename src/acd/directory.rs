//! The live directory of agents and queues: the agents file as the base, and the changes made
//! through the API (the overlay) on top. Pure: the API persists what [`Planned::stored`] says
//! in the ticket database and publishes [`Planned::effective`]; nothing here does I/O.
//!
//! **The rule.** effective = file ⊕ overlay. The overlay keeps, per user and per queue name,
//! the last thing the API did (last write wins):
//! - a stored queue replaces the file's queue of that name, or is added after the file's queues;
//! - a stored agent replaces the file's agent of that user as a whole (secret included), or is
//!   added after the file's agents (stored ones in user order);
//! - a stored deletion removes the file's entry (so a deleted file agent stays deleted after a
//!   restart); deleting an entry the file does not have simply forgets the stored one;
//! - an agent is never in a queue that does not exist: a deleted queue leaves every agent's
//!   `queues`, and so does one the file no longer defines. Agents keep the name in their own
//!   entry, so re-creating the queue puts back every agent that listed it.
//!
//! Every input is checked by the agents file's own rules (`acd::file`: names, strategies, ranges,
//! hashes, limits). Only digest hashes are stored: a password given to the API is hashed with
//! the file's realm at once, and the file agent a PATCH copies into the overlay has its
//! clear-text password hashed the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::file::{
    add_member_queue, check_hex, check_name, check_number, Agent, AgentsFile, FileProblem, Queue,
    Secret, Strategy, MAX_AGENTS, MAX_MISSES, MAX_QUEUES, MAX_WAITING, RING_TIMEOUT_SECS,
    SKILL_LEVEL, WRAP_UP_SECS,
};
use crate::sip::auth::{ha1, Algorithm};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;
/// Longest password accepted, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a directory change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// A value the agents file would refuse too.
    #[error("{0}")]
    Invalid(FileProblem),
    /// Empty, too long or with control characters.
    #[error("`name` must be 1 to {MAX_DISPLAY_NAME_CHARS} characters without control characters")]
    BadDisplayName,
    /// Over [`MAX_PASSWORD_CHARS`].
    #[error("`password` is longer than {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    /// The user is taken.
    #[error("agent `{0}` already exists")]
    AgentExists(String),
    /// The queue name is taken.
    #[error("queue `{0}` already exists")]
    QueueExists(String),
    /// No such agent.
    #[error("no agent `{0}`")]
    NoAgent(String),
    /// No such queue.
    #[error("no queue `{0}`")]
    NoQueue(String),
    /// A stored row that cannot be read back (written by a newer build, or the realm changed).
    #[error("stored entry `{key}` ignored: {why}")]
    Unreadable {
        /// User or queue name.
        key: String,
        /// What is wrong.
        why: String,
    },
}

impl From<FileProblem> for DirectoryError {
    fn from(problem: FileProblem) -> Self {
        DirectoryError::Invalid(problem)
    }
}

/// Per user and per queue name: a replacement entry, or `None` for a deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    /// By user.
    pub agents: BTreeMap<String, Option<Agent>>,
    /// By queue name.
    pub queues: BTreeMap<String, Option<Queue>>,
}

/// The effective directory: `base` with `overlay` applied (see the module docs for the rule).
pub fn apply(base: &AgentsFile, overlay: &Overlay) -> AgentsFile {
    let mut queues: Vec<Queue> = base
        .queues
        .iter()
        .filter_map(|q| match overlay.queues.get(&q.name) {
            None => Some(q.clone()),
            Some(replaced) => replaced.clone(),
        })
        .collect();
    let added_queues = overlay
        .queues
        .iter()
        .filter(|(name, _)| base.queue(name).is_none());
    queues.extend(added_queues.filter_map(|(_, q)| q.clone()));
    let mut agents: Vec<Agent> = base
        .agents
        .iter()
        .filter_map(|a| match overlay.agents.get(&a.user) {
            None => Some(a.clone()),
            Some(replaced) => replaced.clone(),
        })
        .collect();
    let added_agents = overlay
        .agents
        .iter()
        .filter(|(user, _)| base.agent(user).is_none());
    agents.extend(added_agents.filter_map(|(_, a)| a.clone()));
    for agent in &mut agents {
        agent
            .queues
            .retain(|name| queues.iter().any(|q| &q.name == name));
    }
    AgentsFile {
        realm: base.realm.clone(),
        agents,
        queues,
    }
}

/// What one change means for the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Upsert this JSON body.
    Put(String),
    /// Keep a deletion row: the file has this entry.
    Tombstone,
    /// Remove the row: the file does not have this entry.
    Forget,
}

/// Which table a change goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Keyed by user.
    Agent,
    /// Keyed by queue name.
    Queue,
}

/// A checked change, not yet persisted: store it, then [`Directory::commit`] it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Table of the row.
    pub kind: EntryKind,
    /// User or queue name.
    pub key: String,
    /// The row change.
    pub stored: Stored,
    /// The directory after the change.
    pub effective: AgentsFile,
    overlay: Overlay,
}

/// `POST /api/agents`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// SIP user.
    pub user: String,
    /// Display name; the user when absent.
    pub name: Option<String>,
    /// Clear-text; hashed at once.
    pub password: Option<String>,
    /// MD5 HA1 for the file's realm (instead of a password).
    pub ha1: Option<String>,
    /// SHA-256 HA1, with `ha1`.
    pub ha1_sha256: Option<String>,
    /// Queues the agent takes calls from.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Skill → level.
    #[serde(default)]
    pub skills: BTreeMap<String, u64>,
}

/// Profile fields of `PATCH /api/agents/{user}`; absent ones are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFields {
    /// Display name.
    pub name: Option<String>,
    /// New clear-text password.
    pub password: Option<String>,
    /// New MD5 HA1.
    pub ha1: Option<String>,
    /// New SHA-256 HA1, with `ha1`.
    pub ha1_sha256: Option<String>,
    /// Replaces the list.
    pub queues: Option<Vec<String>>,
    /// Replaces the map.
    pub skills: Option<BTreeMap<String, u64>>,
}

impl AgentFields {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == AgentFields::default()
    }
}

/// `POST /api/queues` (`name` set) and `PATCH /api/queues/{name}` (`name` absent); units as
/// in the agents file (seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFields {
    /// Only when creating.
    pub name: Option<String>,
    /// Strategy name.
    pub strategy: Option<String>,
    /// Seconds.
    pub ring_timeout: Option<u64>,
    /// Missed rings in a row before a pause.
    pub max_misses: Option<u64>,
    /// Seconds.
    pub wrap_up: Option<u64>,
    /// Callers allowed to wait.
    pub max_waiting: Option<u64>,
    /// Minimum levels (skills strategy); replaces the map.
    pub skills: Option<BTreeMap<String, u64>>,
}

/// Base, overlay and their effective result.
#[derive(Debug, Clone)]
pub struct Directory {
    base: AgentsFile,
    overlay: Overlay,
    effective: AgentsFile,
}

impl Directory {
    /// The agents file with the stored changes on top.
    pub fn new(base: AgentsFile, overlay: Overlay) -> Self {
        let effective = apply(&base, &overlay);
        Directory {
            base,
            overlay,
            effective,
        }
    }

    /// What the ACD and the registrar work from.
    pub fn effective(&self) -> &AgentsFile {
        &self.effective
    }

    /// Makes a planned change current (after it was stored).
    pub fn commit(&mut self, planned: Planned) {
        self.overlay = planned.overlay;
        self.effective = planned.effective;
    }

    /// Adds an agent.
    pub fn create_agent(&self, new: NewAgent) -> Result<Planned, DirectoryError> {
        let user = check_name(&new.user, "user name")?;
        if self.effective.agent(&user).is_some() {
            return Err(DirectoryError::AgentExists(user));
        }
        if self.effective.agents.len() >= MAX_AGENTS {
            let max = MAX_AGENTS;
            return Err(FileProblem::TooMany {
                what: "agents",
                max,
            }
            .into());
        }
        let Some(secret) = self.secret(&user, &new.password, &new.ha1, &new.ha1_sha256)? else {
            return Err(FileProblem::NoSecret.into());
        };
        let fields = AgentFields {
            name: Some(new.name.unwrap_or_else(|| user.clone())),
            queues: Some(new.queues),
            skills: Some(new.skills),
            ..AgentFields::default()
        };
        let blank = Agent {
            user: user.clone(),
            name: String::new(),
            secret,
            queues: Vec::new(),
            skills: BTreeMap::new(),
            line: 0,
        };
        let agent = self.edited_agent(blank, fields)?;
        Ok(self.plan_agent(user, Some(agent)))
    }

    /// Changes an agent's profile (name, secret, queues, skills).
    pub fn update_agent(&self, user: &str, fields: AgentFields) -> Result<Planned, DirectoryError> {
        let current = self
            .effective
            .agent(user)
            .ok_or_else(|| DirectoryError::NoAgent(user.to_owned()))?;
        let mut agent = current.clone();
        if let Some(secret) =
            self.secret(user, &fields.password, &fields.ha1, &fields.ha1_sha256)?
        {
            agent.secret = secret;
        }
        let agent = self.edited_agent(agent, fields)?;
        Ok(self.plan_agent(user.to_owned(), Some(agent)))
    }

    /// Removes an agent.
    pub fn delete_agent(&self, user: &str) -> Result<Planned, DirectoryError> {
        if self.effective.agent(user).is_none() {
            return Err(DirectoryError::NoAgent(user.to_owned()));
        }
        Ok(self.plan_agent(user.to_owned(), None))
    }

    /// Adds a queue (`fields.name` required).
    pub fn create_queue(&self, fields: QueueFields) -> Result<Planned, DirectoryError> {
        let name = fields.name.as_deref().ok_or(FileProblem::Missing {
            key: "name",
            context: "a queue",
        })?;
        let name = check_name(name, "queue name")?;
        if self.effective.queue(&name).is_some() {
            return Err(DirectoryError::QueueExists(name));
        }
        if self.effective.queues.len() >= MAX_QUEUES {
            let max = MAX_QUEUES;
            return Err(FileProblem::TooMany {
                what: "queues",
                max,
            }
            .into());
        }
        let queue = edited_queue(Queue::with_defaults(name.clone()), fields)?;
        Ok(self.plan_queue(name, Some(queue)))
    }

    /// Changes a queue's settings (`fields.name` must be absent: queues are not renamed).
    pub fn update_queue(&self, name: &str, fields: QueueFields) -> Result<Planned, DirectoryError> {
        let current = self
            .effective
            .queue(name)
            .ok_or_else(|| DirectoryError::NoQueue(name.to_owned()))?;
        if fields.name.is_some() {
            let problem = FileProblem::UnknownKey {
                key: "name".to_owned(),
                context: "a queue change",
                allowed: "strategy, ring_timeout, max_misses, wrap_up, max_waiting, skills"
                    .to_owned(),
            };
            return Err(problem.into());
        }
        let queue = edited_queue(current.clone(), fields)?;
        Ok(self.plan_queue(name.to_owned(), Some(queue)))
    }

    /// Removes a queue (and takes it out of every agent's `queues`).
    pub fn delete_queue(&self, name: &str) -> Result<Planned, DirectoryError> {
        if self.effective.queue(name).is_none() {
            return Err(DirectoryError::NoQueue(name.to_owned()));
        }
        Ok(self.plan_queue(name.to_owned(), None))
    }

    /// The stored secret for `user`: `None` when the change gives none.
    fn secret(
        &self,
        user: &str,
        password: &Option<String>,
        md5: &Option<String>,
        sha256: &Option<String>,
    ) -> Result<Option<Secret>, DirectoryError> {
        match (password, md5, sha256) {
            (None, None, None) => Ok(None),
            (Some(_), Some(_), _) => Err(FileProblem::PasswordAndHa1.into()),
            (_, None, Some(_)) => Err(FileProblem::Sha256WithoutHa1.into()),
            (Some(password), None, None) => {
                if password.is_empty() {
                    return Err(FileProblem::EmptyPassword.into());
                }
                if password.chars().count() > MAX_PASSWORD_CHARS {
                    return Err(DirectoryError::PasswordTooLong);
                }
                Ok(Some(hashed(user, &self.base.realm, password)))
            }
            (None, Some(md5), sha256) => Ok(Some(Secret::Ha1 {
                md5: check_hex(md5, "ha1", Algorithm::Md5)?,
                sha256: sha256
                    .as_deref()
                    .map(|s| check_hex(s, "ha1_sha256", Algorithm::Sha256))
                    .transpose()?,
            })),
        }
    }

    fn edited_agent(&self, mut agent: Agent, fields: AgentFields) -> Result<Agent, DirectoryError> {
        if let Some(name) = fields.name {
            agent.name = display_name(&name)?;
        }
        if let Some(queues) = fields.queues {
            let mut member_of = Vec::new();
            for queue in queues {
                let queue = check_name(&queue, "queue name")?;
                add_member_queue(&mut member_of, queue, &self.effective.queues)?;
            }
            agent.queues = member_of;
        }
        if let Some(skills) = fields.skills {
            agent.skills = checked_skills(skills)?;
        }
        if let Secret::Password(password) = &agent.secret {
            agent.secret = hashed(&agent.user, &self.base.realm, password);
        }
        // No longer the file's entry: a stored one has no line.
        agent.line = 0;
        Ok(agent)
    }

    fn plan_agent(&self, user: String, entry: Option<Agent>) -> Planned {
        let mut overlay = self.overlay.clone();
        let stored = match &entry {
            Some(agent) => Stored::Put(encode_agent(agent, &self.base.realm)),
            None if self.base.agent(&user).is_some() => Stored::Tombstone,
            None => Stored::Forget,
        };
        if stored == Stored::Forget {
            overlay.agents.remove(&user);
        } else {
            overlay.agents.insert(user.clone(), entry);
        }
        self.planned(EntryKind::Agent, user, stored, overlay)
    }

    fn plan_queue(&self, name: String, entry: Option<Queue>) -> Planned {
        let mut overlay = self.overlay.clone();
        let stored = match &entry {
            Some(queue) => Stored::Put(encode_queue(queue)),
            None if self.base.queue(&name).is_some() => Stored::Tombstone,
            None => Stored::Forget,
        };
        if stored == Stored::Forget {
            overlay.queues.remove(&name);
        } else {
            overlay.queues.insert(name.clone(), entry);
        }
        self.planned(EntryKind::Queue, name, stored, overlay)
    }

    fn planned(&self, kind: EntryKind, key: String, stored: Stored, overlay: Overlay) -> Planned {
        Planned {
            kind,
            key,
            stored,
            effective: apply(&self.base, &overlay),
            overlay,
        }
    }
}

fn hashed(user: &str, realm: &str, password: &str) -> Secret {
    Secret::Ha1 {
        md5: ha1(Algorithm::Md5, user, realm, password),
        sha256: Some(ha1(Algorithm::Sha256, user, realm, password)),
    }
}

fn display_name(name: &str) -> Result<String, DirectoryError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(DirectoryError::BadDisplayName);
    }
    Ok(name.to_owned())
}

fn checked_skills(skills: BTreeMap<String, u64>) -> Result<BTreeMap<String, u8>, DirectoryError> {
    let mut checked = BTreeMap::new();
    for (skill, level) in skills {
        let skill = check_name(&skill, "skill name")?;
        let level = check_number(&skill, level, SKILL_LEVEL)?;
        checked.insert(skill, u8::try_from(level).unwrap_or(u8::MAX));
    }
    Ok(checked)
}

fn edited_queue(mut queue: Queue, fields: QueueFields) -> Result<Queue, DirectoryError> {
    if let Some(strategy) = fields.strategy {
        queue.strategy = Strategy::from_name(&strategy).ok_or_else(|| {
            FileProblem::UnknownStrategy(strategy.chars().take(40).collect::<String>())
        })?;
    }
    if let Some(secs) = fields.ring_timeout {
        let secs = check_number("ring_timeout", secs, RING_TIMEOUT_SECS)?;
        queue.ring_timeout = Duration::from_secs(secs);
    }
    if let Some(n) = fields.max_misses {
        let n = check_number("max_misses", n, MAX_MISSES)?;
        queue.max_misses = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(secs) = fields.wrap_up {
        queue.wrap_up = Duration::from_secs(check_number("wrap_up", secs, WRAP_UP_SECS)?);
    }
    if let Some(n) = fields.max_waiting {
        let n = check_number("max_waiting", n, MAX_WAITING)?;
        queue.max_waiting = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(skills) = fields.skills {
        queue.skills = checked_skills(skills)?;
    }
    queue.line = 0;
    Ok(queue)
}

/// An agent row's JSON: only hashes, and the realm they were made for.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredAgent {
    realm: String,
    name: String,
    ha1: String,
    ha1_sha256: Option<String>,
    queues: Vec<String>,
    skills: BTreeMap<String, u64>,
}

fn encode_agent(agent: &Agent, realm: &str) -> String {
    let (md5, sha256) = match &agent.secret {
        Secret::Ha1 { md5, sha256 } => (md5.clone(), sha256.clone()),
        // edited_agent hashes every password before an agent is planned.
        Secret::Password(password) => (
            ha1(Algorithm::Md5, &agent.user, realm, password),
            Some(ha1(Algorithm::Sha256, &agent.user, realm, password)),
        ),
    };
    let stored = StoredAgent {
        realm: realm.to_owned(),
        name: agent.name.clone(),
        ha1: md5,
        ha1_sha256: sha256,
        queues: agent.queues.clone(),
        skills: agent
            .skills
            .iter()
            .map(|(k, v)| (k.clone(), u64::from(*v)))
            .collect(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

fn encode_queue(queue: &Queue) -> String {
    let fields = QueueFields {
        name: None,
        strategy: Some(queue.strategy.name().to_owned()),
        ring_timeout: Some(queue.ring_timeout.as_secs()),
        max_misses: Some(queue.max_misses.into()),
        wrap_up: Some(queue.wrap_up.as_secs()),
        max_waiting: Some(queue.max_waiting as u64),
        skills: Some(
            queue
                .skills
                .iter()
                .map(|(k, v)| (k.clone(), u64::from(*v)))
                .collect(),
        ),
    };
    serde_json::to_string(&StoredQueue::from(fields)).unwrap_or_default()
}

/// A queue row's JSON: [`QueueFields`] without the name.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredQueue {
    strategy: Option<String>,
    ring_timeout: Option<u64>,
    max_misses: Option<u64>,
    wrap_up: Option<u64>,
    max_waiting: Option<u64>,
    skills: Option<BTreeMap<String, u64>>,
}

impl From<QueueFields> for StoredQueue {
    fn from(f: QueueFields) -> Self {
        StoredQueue {
            strategy: f.strategy,
            ring_timeout: f.ring_timeout,
            max_misses: f.max_misses,
            wrap_up: f.wrap_up,
            max_waiting: f.max_waiting,
            skills: f.skills,
        }
    }
}

/// Reads stored rows back (`None` body = deletion), checking them like API input: an
/// unreadable row is left out and reported, so one bad row cannot stop the server.
pub fn decode_overlay(
    realm: &str,
    agents: Vec<(String, Option<String>)>,
    queues: Vec<(String, Option<String>)>,
) -> (Overlay, Vec<DirectoryError>) {
    let mut overlay = Overlay::default();
    let mut problems = Vec::new();
    for (name, body) in queues {
        match decode_queue(&name, body.as_deref()) {
            Ok(entry) => {
                overlay.queues.insert(name, entry);
            }
            Err(why) => problems.push(DirectoryError::Unreadable { key: name, why }),
        }
    }
    for (user, body) in agents {
        match decode_agent(&user, realm, body.as_deref()) {
            Ok(entry) => {
                overlay.agents.insert(user, entry);
            }
            Err(why) => problems.push(DirectoryError::Unreadable { key: user, why }),
        }
    }
    (overlay, problems)
}

fn decode_queue(name: &str, body: Option<&str>) -> Result<Option<Queue>, String> {
    let name = check_name(name, "queue name").map_err(|e| e.to_string())?;
    let Some(body) = body else { return Ok(None) };
    let stored: StoredQueue = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let fields = QueueFields {
        name: None,
        strategy: stored.strategy,
        ring_timeout: stored.ring_timeout,
        max_misses: stored.max_misses,
        wrap_up: stored.wrap_up,
        max_waiting: stored.max_waiting,
        skills: stored.skills,
    };
    edited_queue(Queue::with_defaults(name), fields)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn decode_agent(user: &str, realm: &str, body: Option<&str>) -> Result<Option<Agent>, String> {
    let user = check_name(user, "user name").map_err(|e| e.to_string())?;
    let Some(body) = body else { return Ok(None) };
    let stored: StoredAgent = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if stored.realm != realm {
        return Err(format!(
            "its hashes are for realm `{}`, the agents file's realm is `{realm}`",
            stored.realm
        ));
    }
    let bad = |e: FileProblem| e.to_string();
    let secret = Secret::Ha1 {
        md5: check_hex(&stored.ha1, "ha1", Algorithm::Md5).map_err(bad)?,
        sha256: stored
            .ha1_sha256
            .as_deref()
            .map(|s| check_hex(s, "ha1_sha256", Algorithm::Sha256))
            .transpose()
            .map_err(bad)?,
    };
    let mut queues = Vec::new();
    for queue in stored.queues {
        // Whether the queue still exists is `apply`'s business.
        let queue = check_name(&queue, "queue name").map_err(bad)?;
        if !queues.contains(&queue) {
            queues.push(queue);
        }
    }
    Ok(Some(Agent {
        user,
        name: display_name(&stored.name).map_err(|e| e.to_string())?,
        secret,
        queues,
        skills: checked_skills(stored.skills).map_err(|e| e.to_string())?,
        line: 0,
    }))
}
