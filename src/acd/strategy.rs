//! Which free agents a queue offers its next caller to. Pure functions over the queue's
//! members; the ACD applies the result (and moves the round-robin pointer).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::agent::{AgentState, LiveAgent};
use super::file::{Queue, Strategy};
use super::CallerInfo;

/// Whether `agent` meets the skills strategy's needs: the queue's minimum levels, the caller's
/// skill and the caller's language (a skill named after it).
pub(crate) fn qualified(queue: &Queue, agent: &LiveAgent, caller: &CallerInfo) -> bool {
    if queue.strategy != Strategy::Skills {
        return true;
    }
    let has = |skill: &str, level: u8| agent.skills.get(skill).is_some_and(|l| *l >= level);
    queue.skills.iter().all(|(skill, level)| has(skill, *level))
        && caller.skill.as_deref().is_none_or(|s| has(s, 1))
        && caller.language.as_deref().is_none_or(|l| has(l, 1))
}

/// Indices into `members` to ring for `caller`, skipping `tried`; empty when nobody fits.
pub(crate) fn pick(
    queue: &Queue,
    members: &[String],
    next_member: usize,
    agents: &BTreeMap<String, LiveAgent>,
    caller: &CallerInfo,
    tried: &[String],
) -> Vec<usize> {
    let free: Vec<(usize, &LiveAgent)> = members
        .iter()
        .enumerate()
        .filter(|(_, user)| !tried.contains(user))
        .filter(|(_, user)| caller.agent.as_ref().is_none_or(|only| only == *user))
        .filter_map(|(i, user)| agents.get(user).map(|a| (i, a)))
        .filter(|(_, a)| a.state == AgentState::Available && qualified(queue, a, caller))
        .collect();
    let best = |key: &dyn Fn(usize, &LiveAgent) -> (u64, std::time::Instant)| {
        free.iter()
            .min_by_key(|(i, a)| (key(*i, a), *i))
            .map(|(i, _)| vec![*i])
            .unwrap_or_default()
    };
    match queue.strategy {
        Strategy::RingAll => free.iter().map(|(i, _)| *i).collect(),
        Strategy::LongestIdle => best(&|_, a| (0, a.idle_since)),
        Strategy::FewestCalls => best(&|_, a| (a.calls_taken, a.idle_since)),
        Strategy::Skills => {
            let wanted = caller.skill.as_deref().or(caller.language.as_deref());
            let level = |a: &LiveAgent| wanted.and_then(|s| a.skills.get(s)).copied().unwrap_or(0);
            free.iter()
                .min_by_key(|(i, a)| (Reverse(level(a)), a.idle_since, *i))
                .map(|(i, _)| vec![*i])
                .unwrap_or_default()
        }
        Strategy::RoundRobin => {
            let len = members.len().max(1);
            free.iter()
                .min_by_key(|(i, _)| (i + len - next_member % len) % len)
                .map(|(i, _)| vec![*i])
                .unwrap_or_default()
        }
    }
}
