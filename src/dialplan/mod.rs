//! Dialplans: the IVR script a call runs, loaded from YAML files under `dialplans/`.
//!
//! Owns the file format ([`load_file`], [`load_str`], errors as `file:line: message`), the typed
//! model ([`Dialplan`], [`Step`], [`StepKind`]) and the sans-IO interpreter ([`Interp`]) that runs
//! one call: events in, actions out, `now` passed in. Imports no tokio, no sockets, no clock;
//! `call/` drives it and turns its actions into TTS, RTP and SIP.
//!
//! Format (see `dialplans/default.yaml`): top-level `name`, `voice`, `start`, `steps`; each step
//! is a mapping with an optional `label` and exactly one action key: `say`, `play`, `menu`,
//! `collect`, `ask`, `set`, `goto`, `transfer`, `hangup`, `http`, `ticket`, `queue`, `csat`.
//! Steps run in order; `goto`, menu options and ask branches go to labels. A top-level
//! `intents:` maps intent names to example phrases; `ask` steps branch on them (matched by
//! `bot/`) as well as on keys. An `http` step asks a backend for JSON (the call layer does the
//! request) and sets variables from the answer. A `queue` step waits for a human agent (the
//! call layer and `acd/` run the queue); a `csat` step asks for a score after the agent call.

mod csat;
mod error;
mod events;
mod http;
mod interp;
mod load;
mod model;
mod queue;
mod routes;
mod template;

#[cfg(test)]
mod interp_http_tests;
#[cfg(test)]
mod interp_queue_tests;
#[cfg(test)]
mod interp_tests;
#[cfg(test)]
mod load_tests;

use std::path::Path;

pub use csat::{csat_key, csat_spoken, CsatStep, CSAT_HINTS, CSAT_SCORES, CSAT_VAR};
pub use error::{DialplanError, DialplanErrors, Problem};
pub use events::{Action, Event, PromptId, TurnRecord, Understanding};
pub use http::{
    percent_encode, BodyTemplate, HttpAnswer, HttpMethod, HttpOutcome, HttpRecord, HttpRequest,
    HttpStep, JsonPath, RequestId, HTTP_RETRY_BACKOFF, MAX_HTTP_BODY_BYTES,
};
pub use interp::{Interp, MAX_QUEUED_ACTIONS, MAX_STEPS_PER_INPUT, MAX_TYPEAHEAD};
pub use load::{load_file, load_str, BUILTIN_VARS, MAX_FILE_BYTES, MAX_STEPS};
pub use model::{
    Ask, Assignment, Capture, Collect, Dialplan, Disposition, Entity, InputRules, Intents, Menu,
    Play, Say, Step, StepKind, Target, TicketFields, Transfer, BUILTIN_INTENTS,
};
pub use queue::{
    QueueExit, QueueId, QueueStep, AGENT_VAR, MAX_QUEUE_PRIORITY, QUEUE_POSITION_VAR,
    QUEUE_WAIT_VAR,
};
pub use routes::Routes;
pub use template::{Filter, Template, TemplateError};

/// Result of `voxdesk dialplan check FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// True when the file loads (warnings allowed).
    pub ok: bool,
    /// Lines to print: errors, or warnings then `FILE: ok (N steps)`.
    pub output: String,
}

/// Loads `path` and describes the outcome for the CLI, which prints `output` and exits
/// non-zero unless `ok`.
pub fn check_file(path: &Path) -> CheckReport {
    match load_file(path) {
        Ok(plan) => {
            let mut output = String::new();
            for warning in plan.warnings() {
                output.push_str(&format!("{warning}\n"));
            }
            output.push_str(&format!(
                "{}: ok ({} steps)",
                path.display(),
                plan.steps().len()
            ));
            CheckReport { ok: true, output }
        }
        Err(errors) => CheckReport {
            ok: false,
            output: errors.to_string(),
        },
    }
}
