//! The interpreter's `queue` step: join, announce the caller's place on a timer, leave after
//! `max_wait`, and step aside while an agent has the call.
//!
//! The timers are the interpreter's (the wait's end and the next announcement, both through
//! `poll_timeout`); the queue itself is the call layer's, which reports on it with events that
//! carry the wait's [`QueueId`], so an event about an earlier wait is ignored. An announcement
//! is skipped, not stacked, while the previous one still plays, and so is one that names the
//! caller's place before any place was reported. Keys are ignored while queued and bridged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Flow, Interp, State};
use crate::dialplan::events::{Action, PromptId, TurnRecord};
use crate::dialplan::model::{Dialplan, Disposition, StepKind};
use crate::dialplan::queue::{
    QueueExit, QueueId, QueueStep, AGENT_VAR, QUEUE_POSITION_VAR, QUEUE_WAIT_VAR,
};
use crate::dialplan::template::truncate_chars;

/// Longest agent name kept (the call layer reads it from the agents file).
const MAX_AGENT_CHARS: usize = 128;

/// A caller in a queue.
#[derive(Debug)]
pub(super) struct Waiting {
    step: usize,
    id: QueueId,
    entered: Instant,
    /// `max_wait` runs out here.
    deadline: Instant,
    /// `None` when the step has no `announce`.
    next_announce: Option<Instant>,
    /// The announcement playing, if any.
    announcing: Option<PromptId>,
    /// Last place reported.
    position: Option<u32>,
}

impl Waiting {
    /// The earlier of the two timers.
    pub(super) fn next_deadline(&self) -> Instant {
        self.next_announce
            .map_or(self.deadline, |at| at.min(self.deadline))
    }
}

fn queue_step(plan: &Dialplan, step: usize) -> Option<&QueueStep> {
    match &plan.steps().get(step)?.kind {
        StepKind::Queue(queue) => Some(queue),
        _ => None,
    }
}

impl Interp {
    pub(super) fn begin_queue(&mut self, step: usize, queue: &QueueStep, now: Instant) -> Flow {
        // Prompts, requests and waits share one counter: ids only need to be unique per call.
        let id = QueueId(self.next_prompt);
        self.next_prompt += 1;
        self.vars.remove(QUEUE_POSITION_VAR);
        self.vars.insert(QUEUE_WAIT_VAR.into(), "0".into());
        let priority = queue.priority(&self.vars);
        let skill = queue.skill(&self.vars);
        let agent = queue.agent(&self.vars);
        // Pushed, not recorded: a full action queue must not hide that the caller queued.
        self.push(Action::Record(TurnRecord::Queued {
            step,
            name: queue.name.clone(),
            priority,
            skill: skill.clone(),
        }));
        self.push(Action::Queue {
            id,
            name: queue.name.clone(),
            priority,
            skill,
            agent,
            hold_music: queue.hold_music.clone(),
        });
        self.state = State::Queued(Waiting {
            step,
            id,
            entered: now,
            deadline: now + queue.max_wait,
            next_announce: queue.announce.as_ref().map(|_| now + queue.announce_every),
            announcing: None,
            position: None,
        });
        Flow::Wait
    }

    pub(super) fn on_queue_position(&mut self, id: QueueId, position: u32) {
        let State::Queued(waiting) = &mut self.state else {
            return;
        };
        if waiting.id == id {
            waiting.position = Some(position);
            self.vars
                .insert(QUEUE_POSITION_VAR.into(), position.to_string());
        }
    }

    pub(super) fn on_queue_full(&mut self, id: QueueId, now: Instant) {
        let Some(waiting) = self.take_waiting(id) else {
            return;
        };
        let plan = Arc::clone(&self.plan);
        let Some(queue) = queue_step(&plan, waiting.step) else {
            self.hangup(Disposition::Failed, "internal: not a queue step".into());
            return;
        };
        self.left_queue(&waiting, queue, QueueExit::Full, now);
        self.run(Flow::Goto(queue.on_full.index), now);
    }

    pub(super) fn on_agent_answered(&mut self, id: QueueId, agent: String, now: Instant) {
        if matches!(&self.state, State::Bridged { id: bridged, .. } if *bridged == id) {
            self.agent_took_transfer(agent, now);
            return;
        }
        let Some(waiting) = self.take_waiting(id) else {
            return;
        };
        if let Some(prompt) = waiting.announcing {
            self.push(Action::StopPrompt { id: prompt });
        }
        let agent: String = agent.chars().filter(|c| !c.is_control()).collect();
        let agent = truncate_chars(agent, MAX_AGENT_CHARS);
        self.push(Action::Record(TurnRecord::AgentAnswered {
            agent: agent.clone(),
            waited: now.saturating_duration_since(waiting.entered),
        }));
        self.vars.insert(AGENT_VAR.into(), agent.clone());
        self.state = State::Bridged {
            step: waiting.step,
            id,
            agent,
            since: now,
        };
        // The caller keeps being transcribed while with the agent (agent assist).
        if self.speech_available {
            self.push(Action::Listen {
                hints: String::new(),
            });
        }
    }

    /// A transfer by the agent reached another one: the call stays bridged, the new agent
    /// is the one the dialplan names from now on. The transfer's own wait is the call
    /// layer's to record (the ticket's transfers), so this answer waited nothing here.
    fn agent_took_transfer(&mut self, agent: String, now: Instant) {
        let State::Bridged {
            agent: current,
            since,
            ..
        } = &mut self.state
        else {
            return;
        };
        let agent: String = agent.chars().filter(|c| !c.is_control()).collect();
        let agent = truncate_chars(agent, MAX_AGENT_CHARS);
        *current = agent.clone();
        *since = now;
        self.push(Action::Record(TurnRecord::AgentAnswered {
            agent: agent.clone(),
            waited: Duration::ZERO,
        }));
        self.vars.insert(AGENT_VAR.into(), agent);
    }

    pub(super) fn on_agent_hung_up(&mut self, id: QueueId, now: Instant) {
        if !matches!(&self.state, State::Bridged { id: bridged, .. } if *bridged == id) {
            return;
        }
        let State::Bridged {
            step, agent, since, ..
        } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return;
        };
        if self.speech_available {
            self.push(Action::StopListening);
        }
        self.push(Action::Record(TurnRecord::AgentHungUp {
            agent,
            talked: now.saturating_duration_since(since),
        }));
        let next = queue_step(&self.plan, step).and_then(|q| q.next.as_ref().map(|t| t.index));
        match next {
            Some(index) => self.run(Flow::Goto(index), now),
            None => {
                self.hangup(Disposition::Transferred, "the agent hung up".into());
            }
        }
    }

    /// The announcement `ended` is over, if it was the one playing.
    pub(super) fn on_announcement_end(&mut self, mut waiting: Waiting, ended: PromptId) {
        if waiting.announcing == Some(ended) {
            waiting.announcing = None;
        }
        self.state = State::Queued(waiting);
    }

    /// Fires a due queue timer: `max_wait` (the caller leaves) or the next announcement.
    /// `false` if none is due.
    pub(super) fn handle_queue_timeout(&mut self, now: Instant) -> bool {
        let State::Queued(waiting) = &self.state else {
            return false;
        };
        if now >= waiting.deadline {
            let id = waiting.id;
            let Some(waiting) = self.take_waiting(id) else {
                return false;
            };
            let plan = Arc::clone(&self.plan);
            let Some(queue) = queue_step(&plan, waiting.step) else {
                self.hangup(Disposition::Failed, "internal: not a queue step".into());
                return true;
            };
            self.push(Action::LeaveQueue { id });
            self.left_queue(&waiting, queue, QueueExit::TimedOut, now);
            self.run(Flow::Goto(queue.on_timeout.index), now);
            return true;
        }
        if waiting.next_announce.is_some_and(|at| now >= at) {
            self.announce(now);
            return true;
        }
        false
    }

    /// Says the step's announcement, unless one still plays or it would name an unknown place;
    /// either way the next one is due `announce_every` from now.
    fn announce(&mut self, now: Instant) {
        let plan = Arc::clone(&self.plan);
        let State::Queued(waiting) = &mut self.state else {
            return;
        };
        let Some(queue) = queue_step(&plan, waiting.step) else {
            return;
        };
        waiting.next_announce = Some(now + queue.announce_every);
        let Some(template) = &queue.announce else {
            return;
        };
        let names_position = template.variables().any(|v| v == QUEUE_POSITION_VAR);
        if waiting.announcing.is_some() || (names_position && waiting.position.is_none()) {
            return;
        }
        let minutes = now.saturating_duration_since(waiting.entered).as_secs() / 60;
        self.vars.insert(QUEUE_WAIT_VAR.into(), minutes.to_string());
        let id = self.say(template.render(&self.vars), false);
        if let State::Queued(waiting) = &mut self.state {
            waiting.announcing = Some(id);
        }
    }

    /// Takes the wait `id` out of the state (leaving `Finished`), if it is the current one.
    fn take_waiting(&mut self, id: QueueId) -> Option<Waiting> {
        if !matches!(&self.state, State::Queued(waiting) if waiting.id == id) {
            return None;
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Queued(waiting) => Some(waiting),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Silences a playing announcement and records why the caller left.
    fn left_queue(&mut self, waiting: &Waiting, queue: &QueueStep, exit: QueueExit, now: Instant) {
        if let Some(prompt) = waiting.announcing {
            self.push(Action::StopPrompt { id: prompt });
        }
        self.push(Action::Record(TurnRecord::QueueLeft {
            name: queue.name.clone(),
            exit,
            waited: now.saturating_duration_since(waiting.entered),
        }));
    }
}
