//! A call's history: the dialplan's records become ticket turns (and the live view's current
//! step), so the call task itself only decides what happens next.

use serde_json::json;

use super::Registry;
use crate::dialplan::{self, TurnRecord};
use crate::sip::endpoint::CallKey;
use crate::tickets::{Disposition, TicketId, TicketStore, Timestamp, Turn, TurnKind};

/// Where one call's history goes.
pub(super) struct CallLog {
    pub(super) tickets: TicketStore,
    pub(super) ticket: TicketId,
    pub(super) registry: Registry,
    pub(super) key: CallKey,
}

impl CallLog {
    /// Appends one turn to the ticket.
    pub(super) fn turn(&self, kind: TurnKind, text: impl Into<String>, data: serde_json::Value) {
        self.tickets.add_turn(
            self.ticket,
            Turn::new(Timestamp::now(), kind, text).with_data(data),
        );
    }

    /// Writes one interpreter record.
    pub(super) fn record(&self, rec: TurnRecord) {
        match rec {
            TurnRecord::StepEntered { label, kind, step } => {
                let name = label.clone().unwrap_or_else(|| format!("#{step}"));
                self.registry
                    .update(self.key, |c| c.step = Some(name.clone()));
                self.turn(TurnKind::Step, name, json!({"step": step, "kind": kind}));
            }
            TurnRecord::Prompt { id, text } => {
                self.turn(TurnKind::Prompt, text, json!({"prompt_id": id.0}))
            }
            TurnRecord::PromptFile { id, path } => self.turn(
                TurnKind::Prompt,
                path.display().to_string(),
                json!({"prompt_id": id.0, "file": path.display().to_string()}),
            ),
            TurnRecord::PromptSkipped { step } => self.turn(
                TurnKind::Note,
                "prompt skipped: caller typed ahead",
                json!({"step": step}),
            ),
            TurnRecord::BargeIn { id } => {
                self.turn(TurnKind::Note, "barge-in", json!({"prompt_id": id.0}))
            }
            TurnRecord::Dtmf { digit } => {
                self.tickets.add_digits(self.ticket, &digit.to_string());
                self.turn(
                    TurnKind::Dtmf,
                    digit.to_string(),
                    json!({"digit": digit.to_string()}),
                );
            }
            TurnRecord::MenuChoice {
                step,
                digit,
                target,
            } => self.turn(
                TurnKind::Menu,
                format!("{digit} -> {target}"),
                json!({"step": step, "digit": digit.to_string(), "branch": target}),
            ),
            TurnRecord::InvalidInput {
                step,
                input,
                attempt,
            } => self.turn(
                TurnKind::Note,
                format!("invalid input {input:?}"),
                json!({"step": step, "input": input, "attempt": attempt}),
            ),
            TurnRecord::NoInput { step, attempt } => self.turn(
                TurnKind::Note,
                "no input",
                json!({"step": step, "attempt": attempt}),
            ),
            TurnRecord::Collected { var, value } => self.turn(
                TurnKind::Collect,
                format!("{var}={value}"),
                json!({"var": var, "value": value}),
            ),
            TurnRecord::VarSet { var, value } => self.turn(
                TurnKind::Note,
                format!("{var}={value}"),
                json!({"var": var, "value": value}),
            ),
            TurnRecord::Transfer { target } => self.turn(
                TurnKind::Transfer,
                format!("REFER to {target}"),
                json!({"target": target, "method": "REFER"}),
            ),
            TurnRecord::TransferFailed { reason } => self.turn(
                TurnKind::Transfer,
                format!("transfer failed: {reason}"),
                json!({"reason": reason}),
            ),
            TurnRecord::Hangup {
                disposition,
                reason,
            } => self.turn(
                TurnKind::Note,
                format!("hangup: {reason}"),
                json!({"disposition": map_disposition(disposition).as_str()}),
            ),
        }
    }
}

/// The ticket's word for how a dialplan ended a call.
pub(super) fn map_disposition(d: dialplan::Disposition) -> Disposition {
    match d {
        dialplan::Disposition::Completed => Disposition::Completed,
        dialplan::Disposition::NoInput => Disposition::NoInput,
        dialplan::Disposition::Failed => Disposition::Failed,
    }
}
