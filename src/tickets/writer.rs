//! The single writer thread: drains queued [`TicketOp`]s in batches, one transaction each.
//!
//! Every op is applied on its own; a failing op is logged and counted and the rest of the batch
//! still commits. Untrusted strings are cut to fixed limits here, so no caller can grow a row
//! without bound.

use std::sync::mpsc::{Receiver, SyncSender};

use rusqlite::{params, Connection};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::directory::{self, DirectoryWrite};
use super::handling::{self, HandlingUpdate};
use super::model::{Disposition, NewTicket, Priority, TicketId, Turn, RESERVED_TURN_KEYS};
use super::time::Timestamp;
use crate::metrics::Metrics;

/// Longest call id, URI, path or transfer target kept, in bytes.
pub const MAX_FIELD_BYTES: usize = 1024;
/// Longest turn text kept, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Largest `data` or `extras` JSON kept per turn, in bytes; larger is replaced by a marker.
pub const MAX_JSON_BYTES: usize = 16 * 1024;
/// Most digits kept per ticket.
pub const MAX_DIGITS: usize = 256;
/// Most turns kept per ticket; later ones are dropped.
pub const MAX_TURNS: u32 = 2000;
/// Most ops applied in one transaction.
const MAX_BATCH: usize = 256;

/// One queued change to the ticket database.
#[derive(Debug)]
pub(crate) enum TicketOp {
    Create(TicketId, NewTicket),
    Answered(TicketId, Timestamp),
    AddTurn(TicketId, Turn),
    AddDigits(TicketId, String),
    SetRecording(TicketId, String),
    SetTransfer(TicketId, String),
    SetPriority(TicketId, Priority),
    SetSubject(TicketId, String),
    /// JSON text.
    SetSentiment(TicketId, String),
    Finish(TicketId, Timestamp, Disposition),
    Handling(TicketId, HandlingUpdate),
    /// Acknowledged once everything queued before it is committed.
    Flush(SyncSender<()>),
    /// A directory row; acknowledged with the outcome once committed.
    Directory(DirectoryWrite, SyncSender<Result<(), String>>),
    /// Test hook: report `paused`, then block until `resume` yields or hangs up.
    #[cfg(test)]
    Pause {
        paused: SyncSender<()>,
        resume: Receiver<()>,
    },
}

/// Runs until every sender is dropped.
pub(crate) fn run(
    mut conn: Connection,
    rx: Receiver<TicketOp>,
    turns: &broadcast::Sender<TicketId>,
    metrics: &'static Metrics,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        apply_batch(&mut conn, batch, turns, metrics);
    }
    tracing::debug!("ticket writer stopped: all senders dropped");
}

/// Applies one batch in a transaction; once it is committed, each ticket that got a turn is
/// announced on `turns` (before flushes are acknowledged, so a flusher sees the notices).
fn apply_batch(
    conn: &mut Connection,
    batch: Vec<TicketOp>,
    turns: &broadcast::Sender<TicketId>,
    metrics: &'static Metrics,
) {
    let mut acks = Vec::new();
    let mut with_turns: Vec<TicketId> = Vec::new();
    for op in &batch {
        if let TicketOp::AddTurn(id, _) = op {
            if !with_turns.contains(id) {
                with_turns.push(*id);
            }
        }
    }
    let mut directory_acks = Vec::new();
    match conn.transaction() {
        Ok(tx) => {
            for op in batch {
                match op {
                    TicketOp::Flush(ack) => acks.push(ack),
                    TicketOp::Directory(write, ack) => match directory::apply(&tx, &write) {
                        Ok(()) => directory_acks.push(ack),
                        Err(e) => {
                            metrics.ticket_write_errors.inc();
                            tracing::error!(error = %e, ?write, "directory write failed");
                            let _ = ack.send(Err(e.to_string()));
                        }
                    },
                    #[cfg(test)]
                    TicketOp::Pause { paused, resume } => {
                        let _ = paused.send(());
                        let _ = resume.recv();
                    }
                    op => {
                        if let Err(e) = apply(&tx, &op) {
                            metrics.ticket_write_errors.inc();
                            tracing::error!(error = %e, ?op, "ticket update failed");
                        }
                    }
                }
            }
            let committed = tx.commit().map_err(|e| e.to_string());
            if let Err(e) = &committed {
                metrics.ticket_write_errors.inc();
                tracing::error!(error = %e, "ticket batch commit failed");
            }
            if committed.is_ok() {
                for id in with_turns {
                    // No subscriber is fine: nobody is watching a live ticket.
                    let _ = turns.send(id);
                }
            }
            for ack in directory_acks {
                let _ = ack.send(committed.clone());
            }
        }
        Err(e) => {
            metrics.ticket_write_errors.inc();
            tracing::error!(error = %e, "ticket batch could not begin; batch lost");
            for op in batch {
                match op {
                    TicketOp::Flush(ack) => acks.push(ack),
                    TicketOp::Directory(_, ack) => {
                        let _ = ack.send(Err(e.to_string()));
                    }
                    _ => {}
                }
            }
        }
    }
    for ack in acks {
        // The flusher may have given up waiting; nothing to do then.
        let _ = ack.send(());
    }
}

fn apply(conn: &Connection, op: &TicketOp) -> rusqlite::Result<()> {
    match op {
        TicketOp::Create(id, t) => {
            conn.execute(
                "INSERT INTO tickets (id, call_id, from_uri, to_uri, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id.0,
                    truncate(&t.call_id, MAX_FIELD_BYTES),
                    truncate(&t.from, MAX_FIELD_BYTES),
                    truncate(&t.to, MAX_FIELD_BYTES),
                    t.started_at.unix_millis()
                ],
            )?;
        }
        TicketOp::Answered(id, at) => {
            update(conn, "answered_at", *id, at.unix_millis())?;
        }
        TicketOp::AddTurn(id, turn) => add_turn(conn, *id, turn)?,
        TicketOp::AddDigits(id, digits) => {
            let digits: String = digits.chars().filter(is_dtmf_symbol).collect();
            conn.execute(
                "UPDATE tickets SET digits = substr(digits || ?2, 1, ?3) WHERE id = ?1",
                params![id.0, digits, MAX_DIGITS as i64],
            )?;
        }
        TicketOp::SetRecording(id, path) => {
            update(conn, "recording_path", *id, truncate(path, MAX_FIELD_BYTES))?;
        }
        TicketOp::SetTransfer(id, target) => {
            update(
                conn,
                "transfer_target",
                *id,
                truncate(target, MAX_FIELD_BYTES),
            )?;
        }
        TicketOp::SetPriority(id, priority) => {
            update(conn, "priority", *id, priority.as_str())?;
        }
        TicketOp::SetSubject(id, subject) => {
            update(conn, "subject", *id, truncate(subject, MAX_FIELD_BYTES))?;
        }
        TicketOp::SetSentiment(id, json) => {
            // Truncating JSON would break it: too large is dropped.
            if json.len() <= MAX_JSON_BYTES {
                update(conn, "sentiment", *id, json.as_str())?;
            }
        }
        TicketOp::Finish(id, at, disposition) => {
            conn.execute(
                "UPDATE tickets SET ended_at = ?2, disposition = ?3 WHERE id = ?1",
                params![id.0, at.unix_millis(), disposition.as_str()],
            )?;
        }
        TicketOp::Handling(id, update) => handling::apply(conn, *id, update)?,
        TicketOp::Flush(_) | TicketOp::Directory(..) => {}
        #[cfg(test)]
        TicketOp::Pause { .. } => {}
    }
    Ok(())
}

/// `column` is always a literal from this file, never input.
fn update(
    conn: &Connection,
    column: &'static str,
    id: TicketId,
    value: impl rusqlite::ToSql,
) -> rusqlite::Result<()> {
    let sql = format!("UPDATE tickets SET {column} = ?2 WHERE id = ?1");
    conn.prepare_cached(&sql)?.execute(params![id.0, value])?;
    Ok(())
}

fn add_turn(conn: &Connection, id: TicketId, turn: &Turn) -> rusqlite::Result<()> {
    // Claiming a slot first bounds the timeline and skips turns of unknown tickets.
    let claimed = conn.execute(
        "UPDATE tickets SET turn_count = turn_count + 1 WHERE id = ?1 AND turn_count < ?2",
        params![id.0, MAX_TURNS],
    )?;
    if claimed == 0 {
        tracing::debug!(ticket = %id, "turn dropped: unknown ticket or timeline full");
        return Ok(());
    }
    let extras: Map<String, Value> = turn
        .extras
        .iter()
        .filter(|(k, _)| !RESERVED_TURN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    conn.execute(
        "INSERT INTO turns (ticket_id, at, kind, text, data, extras)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id.0,
            turn.at.unix_millis(),
            truncate(turn.kind.as_str(), MAX_FIELD_BYTES),
            truncate(&turn.text, MAX_TEXT_BYTES),
            bounded_json(&turn.data),
            bounded_json(&Value::Object(extras)),
        ],
    )?;
    Ok(())
}

/// Closes tickets left open by a previous process (it crashed or was killed mid-call): they
/// become `failed`, end at their last known activity and get a note saying why. Returns how
/// many were closed. Run once at open, before the writer thread starts.
pub(crate) fn close_orphans(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE tickets SET ended_at = COALESCE(
             ended_at,
             (SELECT MAX(at) FROM turns WHERE turns.ticket_id = tickets.id),
             answered_at,
             started_at)
         WHERE disposition IS NULL",
        [],
    )?;
    tx.execute(
        "INSERT INTO turns (ticket_id, at, kind, text)
         SELECT id, ended_at, 'note', 'call interrupted: voxdesk restarted'
         FROM tickets WHERE disposition IS NULL",
        [],
    )?;
    let closed = tx.execute(
        "UPDATE tickets SET disposition = 'failed', turn_count = turn_count + 1
         WHERE disposition IS NULL",
        [],
    )?;
    tx.commit()?;
    Ok(closed)
}

fn is_dtmf_symbol(c: &char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

/// Serialized JSON, or `{"truncated": true}` when it exceeds [`MAX_JSON_BYTES`].
fn bounded_json(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= MAX_JSON_BYTES {
        text
    } else {
        r#"{"truncated":true}"#.to_owned()
    }
}

/// The longest prefix of `s` that fits in `max` bytes and ends on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        let cases = [
            ("hello", 10, "hello"),
            ("hello", 3, "hel"),
            ("héllo", 2, "h"),
            ("héllo", 3, "hé"),
            ("", 0, ""),
        ];
        for (input, max, want) in cases {
            assert_eq!(truncate(input, max), want, "{input:?} to {max}");
        }
    }

    #[test]
    fn oversized_json_becomes_marker() {
        let big = Value::String("x".repeat(MAX_JSON_BYTES));
        assert_eq!(bounded_json(&big), r#"{"truncated":true}"#);
        assert_eq!(bounded_json(&Value::Null), "null");
    }

    proptest! {
        #[test]
        fn truncate_never_panics_and_is_a_prefix(s in ".*", max in 0usize..64) {
            let t = truncate(&s, max);
            prop_assert!(t.len() <= max);
            prop_assert!(s.starts_with(t));
        }
    }
}
