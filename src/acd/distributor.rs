//! [`Acd`]: owns the live agents, the queues and every caller from enqueue to hang-up, and
//! turns inputs into [`AcdAction`]s. After each input it offers waiting callers (in priority,
//! then arrival order, across queues) to free agents and tells callers whose place moved.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::agent::{AgentState, Events, LiveAgent};
use super::file::{AgentsFile, Queue, Strategy};
use super::queue::{Call, CallQueue, Phase};
use super::strategy::{pick, qualified};
use super::{AcdAction, AcdError, AgentEvent, CallId, CallerInfo, EnqueueError, Position};

/// The automatic call distributor core. See the module docs of [`crate::acd`].
#[derive(Debug)]
pub struct Acd {
    pub(super) agents: BTreeMap<String, LiveAgent>,
    pub(super) queues: Vec<CallQueue>,
    pub(super) calls: HashMap<CallId, Call>,
    next_seq: u64,
    actions: VecDeque<AcdAction>,
    events: Events,
}

impl Acd {
    /// Every agent starts offline.
    pub fn new(file: &AgentsFile, now: Instant) -> Self {
        let mut acd = Acd {
            agents: BTreeMap::new(),
            queues: Vec::new(),
            calls: HashMap::new(),
            next_seq: 0,
            actions: VecDeque::new(),
            events: Events::default(),
        };
        acd.set_directory(file, now);
        acd
    }

    /// Follows a changed directory without a restart. New agents start offline (the registrar
    /// has no phone of theirs yet); a removed agent is taken offline (a ring in progress is
    /// stopped, a connected call carries on) and out of every queue; kept agents keep their
    /// state and counters. Queue settings apply from the next ring. A removed queue takes no
    /// new callers, but the ones waiting in it stay, still offered to its former members,
    /// until they are served or leave.
    pub fn set_directory(&mut self, file: &AgentsFile, now: Instant) {
        let removed: Vec<String> = self
            .agents
            .keys()
            .filter(|user| file.agent(user).is_none())
            .cloned()
            .collect();
        for user in &removed {
            self.leave_ringing(user);
            if let Some(mut agent) = self.agents.remove(user) {
                agent.set_state(AgentState::Offline, now, &mut self.events);
            }
        }
        for a in &file.agents {
            let live = self.agents.entry(a.user.clone()).or_insert_with(|| {
                LiveAgent::new(a.user.clone(), String::new(), BTreeMap::new(), now)
            });
            live.name.clone_from(&a.name);
            live.skills.clone_from(&a.skills);
        }
        let wanted = file
            .queues
            .iter()
            .map(|q| {
                let members = file
                    .agents
                    .iter()
                    .filter(|a| a.queues.contains(&q.name))
                    .map(|a| a.user.clone())
                    .collect();
                (q.clone(), members)
            })
            .collect();
        self.regroup(wanted);
        self.settle(now);
    }

    /// Rebuilds the queue list as `wanted` (settings and members, in order), keeping each
    /// kept queue's callers and round-robin place; a queue no longer wanted stays, retired,
    /// while calls still point at it. Calls' queue indices follow.
    fn regroup(&mut self, wanted: Vec<(Queue, Vec<String>)>) {
        let mut old: Vec<Option<CallQueue>> = std::mem::take(&mut self.queues)
            .into_iter()
            .map(Some)
            .collect();
        let mut moved: Vec<Option<usize>> = vec![None; old.len()];
        for (config, members) in wanted {
            let at = old
                .iter()
                .position(|q| q.as_ref().is_some_and(|q| q.config.name == config.name));
            let queue = match at.and_then(|i| old.get_mut(i)).and_then(Option::take) {
                Some(mut queue) => {
                    queue.config = config;
                    queue.members = members;
                    queue.retired = false;
                    queue
                }
                None => CallQueue::new(config, members),
            };
            if let Some(slot) = at.and_then(|i| moved.get_mut(i)) {
                *slot = Some(self.queues.len());
            }
            self.queues.push(queue);
        }
        for (i, queue) in old.into_iter().enumerate() {
            let Some(mut queue) = queue else { continue };
            if !self.calls.values().any(|c| c.queue == i) {
                continue;
            }
            queue.retired = true;
            let agents = &self.agents;
            queue.members.retain(|user| agents.contains_key(user));
            if let Some(slot) = moved.get_mut(i) {
                *slot = Some(self.queues.len());
            }
            self.queues.push(queue);
        }
        for call in self.calls.values_mut() {
            // Every queue a call points at was kept above.
            call.queue = moved
                .get(call.queue)
                .copied()
                .flatten()
                .unwrap_or(usize::MAX);
        }
    }

    /// Drops retired queues nobody uses any more.
    fn prune_retired(&mut self) {
        let unused_retired = self
            .queues
            .iter()
            .enumerate()
            .any(|(i, q)| q.retired && !self.calls.values().any(|c| c.queue == i));
        if unused_retired {
            let wanted = self
                .queues
                .iter()
                .filter(|q| !q.retired)
                .map(|q| (q.config.clone(), q.members.clone()))
                .collect();
            self.regroup(wanted);
        }
    }

    /// The agent logged in (their phone registered). No change when already online.
    pub fn agent_online(&mut self, user: &str, now: Instant) -> Result<(), AcdError> {
        let agent = agent_in(&mut self.agents, user)?;
        agent.devices = agent.devices.saturating_add(1);
        if agent.state == AgentState::Offline {
            agent.set_state(AgentState::Available, now, &mut self.events);
        }
        self.settle(now);
        Ok(())
    }

    /// One of the agent's devices logged out; with none left the agent is offline. A ring in progress is stopped; a connected call carries on
    /// without them being told about it.
    pub fn agent_offline(&mut self, user: &str, now: Instant) -> Result<(), AcdError> {
        let agent = agent_in(&mut self.agents, user)?;
        agent.devices = agent.devices.saturating_sub(1);
        if agent.devices > 0 {
            // Still logged in elsewhere (a desk as well as a phone).
            return Ok(());
        }
        self.leave_ringing(user);
        if let Some(agent) = self.agents.get_mut(user) {
            agent.pending_pause = None;
            agent.set_state(AgentState::Offline, now, &mut self.events);
        }
        self.settle(now);
        Ok(())
    }

    /// Stops offering calls to the agent. During a call the pause starts when the call ends.
    pub fn pause(&mut self, user: &str, reason: &str, now: Instant) -> Result<(), AcdError> {
        let agent = agent_in(&mut self.agents, user)?;
        match agent.state {
            AgentState::Offline => return Err(AcdError::AgentOffline(user.to_owned())),
            AgentState::OnCall { .. } => agent.pending_pause = Some(reason.to_owned()),
            _ => {
                self.leave_ringing(user);
                let paused = AgentState::Paused {
                    reason: reason.to_owned(),
                };
                if let Some(agent) = self.agents.get_mut(user) {
                    agent.set_state(paused, now, &mut self.events);
                }
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Makes a paused agent available again (and forgets their missed rings), or cancels a
    /// pause asked for during a call.
    pub fn unpause(&mut self, user: &str, now: Instant) -> Result<(), AcdError> {
        let agent = agent_in(&mut self.agents, user)?;
        match agent.state {
            AgentState::Paused { .. } => agent.unpause(now, &mut self.events),
            AgentState::OnCall { .. } if agent.pending_pause.is_some() => {
                agent.pending_pause = None
            }
            _ => return Err(AcdError::NotPaused(user.to_owned())),
        }
        self.settle(now);
        Ok(())
    }

    /// The agent finished their after-call work before the timer.
    pub fn end_wrap_up(&mut self, user: &str, now: Instant) -> Result<(), AcdError> {
        let agent = agent_in(&mut self.agents, user)?;
        if agent.wrap_up_until().is_none() {
            return Err(AcdError::NotInWrapUp(user.to_owned()));
        }
        agent.set_state(AgentState::Available, now, &mut self.events);
        self.settle(now);
        Ok(())
    }

    /// Queues a caller; it may be offered to an agent at once (see [`Acd::poll_action`]).
    pub fn enqueue(
        &mut self,
        call: CallId,
        queue: &str,
        info: CallerInfo,
        now: Instant,
    ) -> Result<Position, EnqueueError> {
        if self.calls.contains_key(&call) {
            return Err(EnqueueError::DuplicateCall(call));
        }
        let index = self
            .queues
            .iter()
            .position(|q| q.config.name == queue && !q.retired)
            .ok_or_else(|| EnqueueError::UnknownQueue(queue.to_owned()))?;
        let target = &self.queues[index];
        if target.is_full() {
            return Err(EnqueueError::Full {
                queue: queue.to_owned(),
                max: target.config.max_waiting,
            });
        }
        let someone_could_answer = target.members.iter().any(|user| {
            self.agents.get(user).is_some_and(|a| {
                a.state != AgentState::Offline && qualified(&target.config, a, &info)
            })
        });
        if !someone_could_answer {
            return Err(EnqueueError::NoAgents(queue.to_owned()));
        }
        let key = (Reverse(info.priority), self.next_seq);
        self.next_seq += 1;
        let position = self.queues[index].insert(key, call);
        let phase = Phase::Waiting {
            ringing: Vec::new(),
            ring_deadline: None,
            tried: Vec::new(),
            announced: position,
        };
        let entry = Call {
            queue: index,
            info,
            key,
            arrived: now,
            phase,
        };
        self.calls.insert(call, entry);
        self.settle(now);
        Ok(Position(position))
    }

    /// The caller hung up while waiting (rings in progress are stopped).
    pub fn abandon(&mut self, call: CallId, now: Instant) -> Result<(), AcdError> {
        self.call_ended(call, now)
    }

    /// The agent's leg answered: connects it and stops the other legs.
    pub fn answered(&mut self, call: CallId, user: &str, now: Instant) -> Result<(), AcdError> {
        let entry = self
            .calls
            .get_mut(&call)
            .ok_or(AcdError::UnknownCall(call))?;
        let not_ringing = || AcdError::NotRinging {
            call,
            user: user.to_owned(),
        };
        let Phase::Waiting { ringing, .. } = &mut entry.phase else {
            return Err(not_ringing());
        };
        if !ringing.iter().any(|u| u == user) {
            return Err(not_ringing());
        }
        let others: Vec<String> = ringing.drain(..).filter(|u| u != user).collect();
        entry.phase = Phase::Connected {
            user: user.to_owned(),
        };
        let queue = entry.queue;
        if let Some(q) = self.queues.get_mut(queue) {
            q.remove(call);
        }
        for other in &others {
            if let Some(agent) = self.agents.get_mut(other) {
                agent.set_state(AgentState::Available, now, &mut self.events);
            }
        }
        if let Some(agent) = self.agents.get_mut(user) {
            agent.answered(call, now, &mut self.events);
        }
        if !others.is_empty() {
            self.actions.push_back(AcdAction::StopRinging {
                call,
                users: others,
            });
        }
        self.actions.push_back(AcdAction::Connected {
            call,
            user: user.to_owned(),
        });
        self.settle(now);
        Ok(())
    }

    /// The agent's leg declined or was unreachable: counts as a missed ring.
    pub fn ring_failed(&mut self, call: CallId, user: &str, now: Instant) -> Result<(), AcdError> {
        let entry = self
            .calls
            .get_mut(&call)
            .ok_or(AcdError::UnknownCall(call))?;
        let max_misses = self
            .queues
            .get(entry.queue)
            .map_or(1, |q| q.config.max_misses);
        let Phase::Waiting {
            ringing,
            ring_deadline,
            ..
        } = &mut entry.phase
        else {
            return Err(AcdError::NotRinging {
                call,
                user: user.to_owned(),
            });
        };
        let before = ringing.len();
        ringing.retain(|u| u != user);
        if ringing.len() == before {
            return Err(AcdError::NotRinging {
                call,
                user: user.to_owned(),
            });
        }
        if ringing.is_empty() {
            *ring_deadline = None;
        }
        if let Some(agent) = self.agents.get_mut(user) {
            agent.missed(max_misses, now, &mut self.events);
        }
        self.settle(now);
        Ok(())
    }

    /// The call is over: a connected agent goes to wrap-up; a waiting caller is removed.
    pub fn call_ended(&mut self, call: CallId, now: Instant) -> Result<(), AcdError> {
        let entry = self
            .calls
            .remove(&call)
            .ok_or(AcdError::UnknownCall(call))?;
        let wrap_up = self
            .queues
            .get(entry.queue)
            .map_or(Duration::ZERO, |q| q.config.wrap_up);
        if let Some(q) = self.queues.get_mut(entry.queue) {
            q.remove(call);
        }
        match entry.phase {
            Phase::Waiting { ringing, .. } => {
                for user in &ringing {
                    if let Some(agent) = self.agents.get_mut(user) {
                        agent.set_state(AgentState::Available, now, &mut self.events);
                    }
                }
                if !ringing.is_empty() {
                    let users = ringing;
                    self.actions
                        .push_back(AcdAction::StopRinging { call, users });
                }
            }
            Phase::Connected { user } => {
                if let Some(agent) = self.agents.get_mut(&user) {
                    if agent.state == (AgentState::OnCall { call }) {
                        agent.call_ended(wrap_up, now, &mut self.events);
                    }
                }
            }
        }
        self.prune_retired();
        self.settle(now);
        Ok(())
    }

    /// Attended transfer: the agent of call `from` (a consultation) takes over call `to`. The
    /// agent who had `to` is done with it (wrap-up); the taker stays on a call, now `to`'s,
    /// without counting a new call taken; `from` is forgotten.
    pub fn hand_over(
        &mut self,
        from: CallId,
        to: CallId,
        now: Instant,
    ) -> Result<String, AcdError> {
        let connected =
            |calls: &std::collections::HashMap<CallId, Call>, call| match calls.get(&call) {
                Some(Call {
                    phase: Phase::Connected { user },
                    queue,
                    ..
                }) => Ok((user.clone(), *queue)),
                _ => Err(AcdError::NotConnected(call)),
            };
        let (taker, _) = connected(&self.calls, from)?;
        let (previous, queue) = connected(&self.calls, to)?;
        self.calls.remove(&from);
        if let Some(entry) = self.calls.get_mut(&to) {
            entry.phase = Phase::Connected {
                user: taker.clone(),
            };
        }
        let wrap_up = self
            .queues
            .get(queue)
            .map_or(Duration::ZERO, |q| q.config.wrap_up);
        if let Some(agent) = self.agents.get_mut(&previous) {
            if agent.state == (AgentState::OnCall { call: to }) {
                agent.call_ended(wrap_up, now, &mut self.events);
            }
        }
        if let Some(agent) = self.agents.get_mut(&taker) {
            agent.set_state(AgentState::OnCall { call: to }, now, &mut self.events);
        }
        self.prune_retired();
        self.settle(now);
        Ok(taker)
    }

    /// Fires due timers: unanswered rings count as misses and move on, wrap-ups end.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut timed_out: Vec<(CallId, Vec<String>, u32)> = Vec::new();
        for (id, call) in &mut self.calls {
            let max_misses = self
                .queues
                .get(call.queue)
                .map_or(1, |q| q.config.max_misses);
            if let Phase::Waiting {
                ringing,
                ring_deadline,
                ..
            } = &mut call.phase
            {
                if ring_deadline.is_some_and(|d| d <= now) {
                    *ring_deadline = None;
                    timed_out.push((*id, std::mem::take(ringing), max_misses));
                }
            }
        }
        timed_out.sort_by_key(|(id, ..)| *id);
        for (call, users, max_misses) in timed_out {
            for user in &users {
                if let Some(agent) = self.agents.get_mut(user) {
                    agent.missed(max_misses, now, &mut self.events);
                }
            }
            if !users.is_empty() {
                self.actions
                    .push_back(AcdAction::StopRinging { call, users });
            }
        }
        for agent in self.agents.values_mut() {
            if agent.wrap_up_until().is_some_and(|until| until <= now) {
                agent.set_state(AgentState::Available, now, &mut self.events);
            }
        }
        self.settle(now);
    }

    /// The next ring deadline or wrap-up end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rings = self.calls.values().filter_map(|c| match c.phase {
            Phase::Waiting { ring_deadline, .. } => ring_deadline,
            Phase::Connected { .. } => None,
        });
        let wrap_ups = self.agents.values().filter_map(LiveAgent::wrap_up_until);
        rings.chain(wrap_ups).min()
    }

    /// Next thing for the shell to do; drain after every input.
    pub fn poll_action(&mut self) -> Option<AcdAction> {
        self.actions.pop_front()
    }

    /// Next agent state change.
    pub fn poll_event(&mut self) -> Option<AgentEvent> {
        self.events.pop()
    }

    /// Agent events dropped because nobody polled them in time.
    pub fn dropped_events(&self) -> u64 {
        self.events.dropped
    }

    /// The agent's current state.
    pub fn agent_state(&self, user: &str) -> Option<&AgentState> {
        self.agents.get(user).map(|a| &a.state)
    }

    /// Takes `user` out of the call they are ringing for (no miss), telling the shell.
    fn leave_ringing(&mut self, user: &str) {
        let Some(AgentState::Ringing { call }) = self.agents.get(user).map(|a| a.state.clone())
        else {
            return;
        };
        if let Some(Phase::Waiting {
            ringing,
            ring_deadline,
            ..
        }) = self.calls.get_mut(&call).map(|c| &mut c.phase)
        {
            ringing.retain(|u| u != user);
            if ringing.is_empty() {
                *ring_deadline = None;
            }
        }
        self.actions.push_back(AcdAction::StopRinging {
            call,
            users: vec![user.to_owned()],
        });
    }

    /// After every input: offer idle callers to free agents, then announce moved positions.
    fn settle(&mut self, now: Instant) {
        self.offer_waiting_calls(now);
        self.announce_positions();
    }

    fn offer_waiting_calls(&mut self, now: Instant) {
        if !self.agents.values().any(LiveAgent::is_available) {
            return;
        }
        let mut idle: Vec<_> = self
            .calls
            .iter()
            .filter(
                |(_, c)| matches!(&c.phase, Phase::Waiting { ringing, .. } if ringing.is_empty()),
            )
            .map(|(id, c)| (c.key, *id))
            .collect();
        idle.sort_unstable();
        for (_, call) in idle {
            self.offer(call, now);
        }
    }

    /// Rings the agents the queue's strategy picks for `call`, if any is free.
    fn offer(&mut self, call: CallId, now: Instant) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(queue) = self.queues.get_mut(entry.queue) else {
            return;
        };
        let Phase::Waiting {
            ringing,
            ring_deadline,
            tried,
            ..
        } = &mut entry.phase
        else {
            return;
        };
        let choose = |tried: &[String]| {
            pick(
                &queue.config,
                &queue.members,
                queue.next_member,
                &self.agents,
                &entry.info,
                tried,
            )
        };
        let mut chosen = choose(tried);
        if chosen.is_empty() && !tried.is_empty() {
            // Everyone free has had a turn at this caller: start a new round.
            tried.clear();
            chosen = choose(tried);
        }
        if chosen.is_empty() {
            return;
        }
        if queue.config.strategy == Strategy::RoundRobin {
            if let Some(last) = chosen.last() {
                queue.next_member = last + 1;
            }
        }
        let users: Vec<String> = chosen
            .iter()
            .filter_map(|i| queue.members.get(*i).cloned())
            .collect();
        for user in &users {
            if let Some(agent) = self.agents.get_mut(user) {
                agent.set_state(AgentState::Ringing { call }, now, &mut self.events);
            }
        }
        tried.extend(users.iter().cloned());
        ringing.clone_from(&users);
        *ring_deadline = Some(now + queue.config.ring_timeout);
        self.actions.push_back(AcdAction::Ring { call, users });
    }

    fn announce_positions(&mut self) {
        for queue in &self.queues {
            for (position, call) in queue.positions() {
                let Some(Call {
                    phase: Phase::Waiting { announced, .. },
                    ..
                }) = self.calls.get_mut(&call)
                else {
                    continue;
                };
                if *announced != position {
                    *announced = position;
                    self.actions.push_back(AcdAction::Position {
                        call,
                        position: Position(position),
                    });
                }
            }
        }
    }
}

fn agent_in<'a>(
    agents: &'a mut BTreeMap<String, LiveAgent>,
    user: &str,
) -> Result<&'a mut LiveAgent, AcdError> {
    agents
        .get_mut(user)
        .ok_or_else(|| AcdError::UnknownAgent(user.to_owned()))
}
