//! The `queue` step: the caller waits in a named queue until a human agent answers, the wait
//! runs out, or the queue turns the call away.
//!
//! Owns the step's model ([`QueueStep`]), the id that ties the call layer's queue events to
//! one wait ([`QueueId`]) and how a wait ended ([`QueueExit`]). The queues themselves (agents,
//! positions, routing) belong to `acd/`: the loader cannot check a queue's name, the call layer
//! answers [`Event::QueueFull`](super::Event::QueueFull) for one it does not know.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::model::Target;
use super::template::Template;

/// Highest caller priority; 0 (the default) is the lowest.
pub const MAX_QUEUE_PRIORITY: u8 = 9;
/// Variable holding the caller's last reported place in the queue (1 = next).
pub const QUEUE_POSITION_VAR: &str = "queue_position";
/// Variable holding the whole minutes waited so far, set before each announcement.
pub const QUEUE_WAIT_VAR: &str = "queue_wait";
/// Variable holding the name of the agent who answered.
pub const AGENT_VAR: &str = "agent";

/// Names one wait in a queue, so a late event about an earlier wait is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueId(pub u64);

/// `queue`: wait for an agent of queue `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStep {
    /// Queue name, as in the agents file.
    pub name: String,
    /// Longest wait before [`QueueStep::on_timeout`].
    pub max_wait: Duration,
    /// Said every `announce_every` while waiting (`{queue_position}`, `{queue_wait}`).
    pub announce: Option<Template>,
    /// Time between announcements; the first comes this long after joining.
    pub announce_every: Duration,
    /// WAV file the call layer loops while the caller waits; existed at load time.
    pub hold_music: Option<PathBuf>,
    /// Renders to `0..=9`; anything else counts as 0.
    pub priority: Template,
    /// Wanted agent skill; renders empty for none.
    pub skill: Option<Template>,
    /// Rings only this agent (a login of the agents file) when it renders non-empty: a
    /// personal account manager, or an agent calling a colleague through voxdesk.
    pub agent: Option<Template>,
    /// Where the call goes when `max_wait` runs out.
    pub on_timeout: Target,
    /// Where the call goes when the queue is full or has no agent logged in.
    pub on_full: Target,
    /// Where the call goes when the agent hangs up; `None` = hang up (transferred).
    pub next: Option<Target>,
}

impl QueueStep {
    /// The caller's priority for the current variables (0 unless it renders to `0..=9`).
    pub fn priority(&self, vars: &HashMap<String, String>) -> u8 {
        self.priority
            .render(vars)
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= MAX_QUEUE_PRIORITY)
            .unwrap_or(0)
    }

    /// The wanted skill for the current variables; `None` when absent or empty.
    pub fn skill(&self, vars: &HashMap<String, String>) -> Option<String> {
        render_non_empty(self.skill.as_ref()?, vars)
    }

    /// The only agent to ring for the current variables; `None` when absent or empty.
    pub fn agent(&self, vars: &HashMap<String, String>) -> Option<String> {
        render_non_empty(self.agent.as_ref()?, vars)
    }
}

fn render_non_empty(template: &Template, vars: &HashMap<String, String>) -> Option<String> {
    let text = template.render(vars);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Why a caller left a queue without talking to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueExit {
    /// `max_wait` ran out.
    TimedOut,
    /// The queue was full or had no agent logged in.
    Full,
}

impl QueueExit {
    /// The spelling used in tickets.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueExit::TimedOut => "timed-out",
            QueueExit::Full => "full",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(priority: &str, skill: Option<&str>) -> QueueStep {
        let target = Target {
            label: "x".into(),
            index: 0,
        };
        QueueStep {
            name: "support".into(),
            max_wait: Duration::from_secs(60),
            announce: None,
            announce_every: Duration::from_secs(30),
            hold_music: None,
            priority: Template::parse(priority).unwrap(),
            skill: skill.map(|s| Template::parse(s).unwrap()),
            agent: None,
            on_timeout: target.clone(),
            on_full: target,
            next: None,
        }
    }

    #[test]
    fn the_pinned_agent_renders_or_is_none() {
        let vars = HashMap::from([("manager".to_string(), "bob".to_string())]);
        let mut pinned = step("0", None);
        assert_eq!(pinned.agent(&vars), None);
        pinned.agent = Some(Template::parse("{manager}").unwrap());
        assert_eq!(pinned.agent(&vars).as_deref(), Some("bob"));
        pinned.agent = Some(Template::parse("{unset}").unwrap());
        assert_eq!(pinned.agent(&vars), None);
    }

    #[test]
    fn priority_renders_or_falls_back_to_zero() {
        let vars = HashMap::from([
            ("vip".to_string(), " 7 ".to_string()),
            ("big".to_string(), "10".to_string()),
            ("word".to_string(), "high".to_string()),
        ]);
        let cases = [
            ("5", 5),
            ("{vip}", 7),
            ("{big}", 0),
            ("{word}", 0),
            ("{unset}", 0),
            ("-1", 0),
        ];
        for (template, want) in cases {
            assert_eq!(step(template, None).priority(&vars), want, "{template}");
        }
    }

    #[test]
    fn an_empty_skill_is_none() {
        let vars = HashMap::from([("team".to_string(), "billing".to_string())]);
        assert_eq!(step("0", None).skill(&vars), None);
        assert_eq!(step("0", Some("{unset}")).skill(&vars), None);
        assert_eq!(
            step("0", Some("{team}")).skill(&vars).as_deref(),
            Some("billing")
        );
    }
}
