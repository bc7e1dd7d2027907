//! The interpreter's `http` step: send the rendered request, wait for its outcome (keys pressed
//! meanwhile are typed ahead), set variables from the answer, branch.
//!
//! The call layer answers within the request's budget; should it not, the interpreter gives up
//! a little later on its own deadline, so no backend can hold a call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Flow, Interp, State};
use crate::dialplan::events::{Action, TurnRecord};
use crate::dialplan::http::{HttpOutcome, HttpRecord, HttpStep, RequestId};
use crate::dialplan::model::{Disposition, StepKind};

/// How long past the request's own budget the interpreter waits for the call layer.
pub(super) const HTTP_GRACE: Duration = Duration::from_secs(2);

impl Interp {
    pub(super) fn begin_http(&mut self, step: usize, http: &HttpStep, now: Instant) -> Flow {
        let request = http.request(&self.vars);
        // Prompts and requests share one counter: ids only need to be unique within a call.
        let id = RequestId(self.next_prompt);
        self.next_prompt += 1;
        self.state = State::Http {
            step,
            id,
            deadline: now + request.budget() + HTTP_GRACE,
            url: request.url.clone(),
        };
        self.push(Action::Http { id, request });
        Flow::Wait
    }

    pub(super) fn on_http_done(&mut self, done: RequestId, outcome: HttpOutcome, now: Instant) {
        if !matches!(&self.state, State::Http { id, .. } if *id == done) {
            return;
        }
        let State::Http { step, url, .. } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return;
        };
        let plan = Arc::clone(&self.plan);
        let Some(StepKind::Http(http)) = plan.steps().get(step).map(|s| &s.kind) else {
            self.hangup(Disposition::Failed, "internal: not an http step".into());
            return;
        };
        let read = match &outcome.result {
            Ok(answer) => http.read_answer(answer),
            Err(reason) => Err(reason.clone()),
        };
        self.record(TurnRecord::Http(Box::new(HttpRecord {
            step,
            method: http.method,
            url,
            status: outcome.result.as_ref().ok().map(|a| a.status),
            ok: read.is_ok(),
            elapsed: Some(outcome.elapsed),
            attempts: outcome.attempts,
            error: read.as_ref().err().cloned(),
        })));
        let flow = match read {
            Ok(values) => {
                for (var, value) in values {
                    self.record(TurnRecord::VarSet {
                        var: var.clone(),
                        value: value.clone(),
                    });
                    self.vars.insert(var, value);
                }
                Flow::Goto(http.next.as_ref().map_or(step + 1, |t| t.index))
            }
            Err(reason) => self.http_failed(http, reason),
        };
        self.run(flow, now);
    }

    /// Gives up on a request the call layer never reported; `false` if none is overdue.
    pub(super) fn handle_http_timeout(&mut self, now: Instant) -> bool {
        if !matches!(&self.state, State::Http { deadline, .. } if now >= *deadline) {
            return false;
        }
        let State::Http { step, url, .. } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return false;
        };
        let plan = Arc::clone(&self.plan);
        let Some(StepKind::Http(http)) = plan.steps().get(step).map(|s| &s.kind) else {
            self.hangup(Disposition::Failed, "internal: not an http step".into());
            return true;
        };
        let reason = "no outcome from the call layer in time".to_string();
        self.record(TurnRecord::Http(Box::new(HttpRecord {
            step,
            method: http.method,
            url,
            status: None,
            ok: false,
            elapsed: None,
            attempts: 0,
            error: Some(reason.clone()),
        })));
        let flow = self.http_failed(http, reason);
        self.run(flow, now);
        true
    }

    fn http_failed(&mut self, http: &HttpStep, reason: String) -> Flow {
        match &http.on_error {
            Some(target) => Flow::Goto(target.index),
            None => self.hangup(
                Disposition::Failed,
                format!("backend request failed: {reason}"),
            ),
        }
    }
}
