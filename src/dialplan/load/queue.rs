//! The `queue` step of a dialplan file: which queue, how long to wait, what to say meanwhile,
//! and where the call goes on a timeout, a full queue, or the agent's hang-up.

use std::time::Duration;

use super::fields::get;
use super::Loader;
use crate::dialplan::error::Problem;
use crate::dialplan::queue::{
    QueueStep, AGENT_VAR, MAX_QUEUE_PRIORITY, QUEUE_POSITION_VAR, QUEUE_WAIT_VAR,
};
use crate::dialplan::template::Template;
use crate::yaml::Node;

const QUEUE_KEYS: &[&str] = &[
    "name",
    "max_wait",
    "announce",
    "announce_every",
    "hold_music",
    "priority",
    "skill",
    "agent",
    "on_timeout",
    "on_full",
    "next",
];
/// Seconds.
const DEFAULT_MAX_WAIT: u64 = 300;
const MIN_MAX_WAIT: u64 = 5;
const MAX_MAX_WAIT: u64 = 3600;
/// Seconds.
const DEFAULT_ANNOUNCE_EVERY: u64 = 30;
const MIN_ANNOUNCE_EVERY: u64 = 10;
const MAX_ANNOUNCE_EVERY: u64 = 600;
const MAX_QUEUE_NAME_CHARS: usize = 64;

fn is_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_QUEUE_NAME_CHARS
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Loader<'_> {
    pub(super) fn queue(&mut self, node: &Node) -> Option<QueueStep> {
        let map = self.mapping(node, "queue")?;
        let before = self.errors.len();
        self.check_keys(map, QUEUE_KEYS, "queue", &[]);
        let name = match get(map, "name") {
            Some(n) => self.string(n, "name").filter(|name| {
                let ok = is_queue_name(name);
                if !ok {
                    self.error(n.line, Problem::BadQueueName(name.clone()));
                }
                ok
            }),
            None => {
                self.missing(node, "name", "queue");
                None
            }
        };
        let max_wait = self.number_or(
            map,
            "max_wait",
            DEFAULT_MAX_WAIT,
            MIN_MAX_WAIT,
            MAX_MAX_WAIT,
        );
        let announce = get(map, "announce").map(|n| self.template(n, "announce"));
        let announce_every = self.number_or(
            map,
            "announce_every",
            DEFAULT_ANNOUNCE_EVERY,
            MIN_ANNOUNCE_EVERY,
            MAX_ANNOUNCE_EVERY,
        );
        if let (None, Some(n)) = (&announce, get(map, "announce_every")) {
            self.error(n.line, Problem::AnnounceEveryWithoutAnnounce);
        }
        let hold_music = get(map, "hold_music").map(|n| self.play(n, false).map(|p| p.path));
        let priority = match get(map, "priority") {
            Some(n) => self.queue_priority(n),
            None => Template::parse("0").ok(),
        };
        let skill = get(map, "skill").map(|n| self.template(n, "skill"));
        let agent = get(map, "agent").map(|n| self.template(n, "agent"));
        let on_timeout = self.required_target(node, map, "on_timeout");
        let on_full = self.required_target(node, map, "on_full");
        let next = get(map, "next").map(|n| self.target(n, "next"));
        for var in [QUEUE_POSITION_VAR, QUEUE_WAIT_VAR, AGENT_VAR] {
            self.writes.push(var.to_owned());
        }
        if self.errors.len() > before {
            return None;
        }
        Some(QueueStep {
            name: name?,
            max_wait: Duration::from_secs(max_wait?),
            announce: announce.map_or(Some(None), |t| t.map(Some))?,
            announce_every: Duration::from_secs(announce_every?),
            hold_music: hold_music.map_or(Some(None), |p| p.map(Some))?,
            priority: priority?,
            skill: skill.map_or(Some(None), |t| t.map(Some))?,
            agent: agent.map_or(Some(None), |t| t.map(Some))?,
            on_timeout: on_timeout?,
            on_full: on_full?,
            next: next.map_or(Some(None), |t| t.map(Some))?,
        })
    }

    /// `priority`: a literal `0..=9`, checked now, or a template, checked when rendered.
    fn queue_priority(&mut self, node: &Node) -> Option<Template> {
        let template = self.template(node, "priority")?;
        if template.variables().next().is_some() {
            return Some(template);
        }
        let text = node.as_scalar().unwrap_or_default().trim().to_owned();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            self.error(node.line, Problem::BadQueuePriority(text));
            return None;
        }
        match text.parse::<u8>() {
            Ok(p) if p <= MAX_QUEUE_PRIORITY => Some(template),
            _ => {
                let max = u64::from(MAX_QUEUE_PRIORITY);
                self.out_of_range(node.line, "priority", text, 0, max);
                None
            }
        }
    }

    fn required_target(
        &mut self,
        node: &Node,
        map: &[(Node, Node)],
        key: &str,
    ) -> Option<crate::dialplan::model::Target> {
        match get(map, key) {
            Some(n) => self.target(n, key),
            None => {
                self.missing(node, key, "queue");
                None
            }
        }
    }
}
