//! One queue at run time: its settings, its members and its callers in service order
//! (higher priority first, then arrival), plus the calls the ACD tracks.

use std::cmp::Reverse;
use std::time::Instant;

use super::file::Queue;
use super::{CallId, CallerInfo};

/// Service order: higher priority first, then earlier arrival (a per-ACD sequence number, so
/// two callers in the same instant still keep their order).
pub(crate) type OrderKey = (Reverse<u8>, u64);

/// A queue's settings and its waiting callers.
#[derive(Debug)]
pub(crate) struct CallQueue {
    pub config: Queue,
    /// Users of the agents in this queue, in agents-file order (the round-robin ring).
    pub members: Vec<String>,
    /// Index into `members` where round-robin looks first.
    pub next_member: usize,
    /// Deleted from the directory while callers still used it: it takes no new callers and
    /// goes when its last call ends.
    pub retired: bool,
    /// Callers not yet connected, in service order.
    waiting: Vec<(OrderKey, CallId)>,
}

impl CallQueue {
    pub fn new(config: Queue, members: Vec<String>) -> Self {
        CallQueue {
            config,
            members,
            next_member: 0,
            retired: false,
            waiting: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_full(&self) -> bool {
        self.waiting.len() >= self.config.max_waiting
    }

    /// Puts `call` in its place and returns its 1-based position.
    pub fn insert(&mut self, key: OrderKey, call: CallId) -> usize {
        let at = self.waiting.partition_point(|(k, _)| *k <= key);
        self.waiting.insert(at, (key, call));
        at + 1
    }

    pub fn remove(&mut self, call: CallId) {
        self.waiting.retain(|(_, c)| *c != call);
    }

    /// Waiting calls with their 1-based positions.
    pub fn positions(&self) -> impl Iterator<Item = (usize, CallId)> + '_ {
        self.waiting
            .iter()
            .enumerate()
            .map(|(i, (_, c))| (i + 1, *c))
    }
}

/// Where a tracked call is.
#[derive(Debug)]
pub(crate) enum Phase {
    /// In the queue; `ringing` is empty between offers.
    Waiting {
        ringing: Vec<String>,
        ring_deadline: Option<Instant>,
        /// Agents offered this call in the current round; cleared when everyone was tried.
        tried: Vec<String>,
        /// Position last told to the caller.
        announced: usize,
    },
    /// Talking to `user`.
    Connected { user: String },
}

/// A caller the ACD knows about, from enqueue until the call ends.
#[derive(Debug)]
pub(crate) struct Call {
    /// Index into the ACD's queues.
    pub queue: usize,
    pub info: CallerInfo,
    pub key: OrderKey,
    pub arrived: Instant,
    pub phase: Phase,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_first_then_arrival() {
        let config = crate::acd::file::parse_str("queues:\n  - name: q\n", "t")
            .unwrap()
            .queues
            .remove(0);
        let mut queue = CallQueue::new(config, Vec::new());
        assert_eq!(queue.insert((Reverse(0), 1), CallId(1)), 1);
        assert_eq!(queue.insert((Reverse(0), 2), CallId(2)), 2);
        assert_eq!(queue.insert((Reverse(5), 3), CallId(3)), 1);
        assert_eq!(queue.insert((Reverse(5), 4), CallId(4)), 2);
        queue.remove(CallId(3));
        let order: Vec<_> = queue.positions().map(|(_, c)| c.0).collect();
        assert_eq!(order, [4, 1, 2]);
    }
}
