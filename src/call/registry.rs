//! The live-call registry: what `GET /api/calls` shows. A short std `Mutex` critical section
//! per update; readers copy a snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::api::{LiveCall, LiveCalls};
use crate::sip::endpoint::CallKey;

/// Shared map of calls in progress.
#[derive(Clone, Default)]
pub struct Registry(Arc<Mutex<HashMap<CallKey, LiveCall>>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<CallKey, LiveCall>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts
        // and field writes), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a call.
    pub fn insert(&self, key: CallKey, call: LiveCall) {
        self.lock().insert(key, call);
    }

    /// Changes a call's fields.
    pub fn update(&self, key: CallKey, f: impl FnOnce(&mut LiveCall)) {
        if let Some(call) = self.lock().get_mut(&key) {
            f(call);
        }
    }

    /// Removes a call.
    pub fn remove(&self, key: CallKey) {
        self.lock().remove(&key);
    }

    /// The ticket of the live call with this SIP Call-ID.
    pub fn ticket_of_call_id(&self, call_id: &str) -> Option<i64> {
        self.lock()
            .values()
            .find(|c| c.call_id == call_id)
            .and_then(|c| c.ticket_id)
    }

    /// Calls in progress.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no call is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LiveCalls for Registry {
    fn live_calls(&self) -> Vec<LiveCall> {
        let mut calls: Vec<LiveCall> = self.lock().values().cloned().collect();
        calls.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        calls
    }
}
