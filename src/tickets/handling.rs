//! The human part of a ticket: the queue the caller waited in, the agents who were rung, who
//! answered, talk/hold/wrap-up times, transfers, agent notes, the agent's disposition and the
//! caller's satisfaction score (CSAT), and the agent leg's recording.
//!
//! Scalars are columns (reports filter and average them: service level, handle time, CSAT);
//! lists (agents tried, transfers, notes) are JSON arrays appended in SQL and capped at
//! [`MAX_LIST`] entries so no call can grow a row without bound.

use rusqlite::{params, Connection, Row};
use serde::Serialize;
use serde_json::{json, Value};

use super::model::TicketId;
use super::time::Timestamp;
use super::writer::{truncate, MAX_FIELD_BYTES, MAX_TEXT_BYTES};

/// Most entries kept in each list (agents tried, transfers, notes).
pub const MAX_LIST: i64 = 100;

/// What happened with agents, as the ticket shows it (flattened into the ticket JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Handling {
    /// The queue the caller waited in, if any.
    pub queue: Option<String>,
    /// Time from entering the queue to an agent answering or the caller leaving it.
    pub queue_wait_ms: Option<i64>,
    /// Every agent rung, in order (repeats when an agent was rung twice).
    pub agents_tried: Value,
    /// The agent who answered.
    pub agent: Option<String>,
    /// Time bridged with the agent, hold included.
    pub talk_ms: Option<i64>,
    /// Time on hold while bridged.
    pub hold_ms: Option<i64>,
    /// After-call work the agent spent on this call.
    pub wrap_up_ms: Option<i64>,
    /// Transfers by agents: `{"at", "by", "kind": "blind"|"attended", "target", "result"}`.
    pub transfers: Value,
    /// Agent notes: `{"at", "by", "text"}`.
    pub notes: Value,
    /// The agent's disposition code from wrap-up (e.g. `resolved`), distinct from how the call
    /// ended.
    pub agent_disposition: Option<String>,
    /// The caller's satisfaction score, 1 to 5.
    pub csat: Option<u8>,
    /// The agent leg's recording (agent left, what the agent heard right).
    pub agent_recording_path: Option<String>,
}

impl Handling {
    /// Reads `queue, queue_wait_ms, agents_tried, agent, talk_ms, hold_ms, wrap_up_ms,
    /// transfers, notes, agent_disposition, csat, agent_recording_path`, in that order,
    /// starting at column `first`.
    pub(crate) fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Handling> {
        let json = |i: usize| -> rusqlite::Result<Value> {
            let text: String = row.get(first + i)?;
            Ok(serde_json::from_str(&text).unwrap_or_else(|_| json!([])))
        };
        Ok(Handling {
            queue: row.get(first)?,
            queue_wait_ms: row.get(first + 1)?,
            agents_tried: json(2)?,
            agent: row.get(first + 3)?,
            talk_ms: row.get(first + 4)?,
            hold_ms: row.get(first + 5)?,
            wrap_up_ms: row.get(first + 6)?,
            transfers: json(7)?,
            notes: json(8)?,
            agent_disposition: row.get(first + 9)?,
            csat: row
                .get::<_, Option<i64>>(first + 10)?
                .and_then(|n| u8::try_from(n).ok()),
            agent_recording_path: row.get(first + 11)?,
        })
    }
}

/// One change to a ticket's [`Handling`].
#[derive(Debug, Clone, PartialEq)]
pub enum HandlingUpdate {
    /// The caller entered this queue.
    Queued(String),
    /// The caller left the queue (answered or not) after waiting this long.
    QueueLeft {
        /// Milliseconds waited.
        wait_ms: i64,
    },
    /// This agent was rung.
    AgentTried(String),
    /// This agent answered.
    AgentAnswered(String),
    /// A bridge ended; with transfers, each agent's bridge adds to the totals.
    TalkEnded {
        /// Bridged time, hold included.
        talk_ms: i64,
        /// Time on hold.
        hold_ms: i64,
    },
    /// The agent's after-call work ended.
    WrapUp {
        /// Its length.
        ms: i64,
    },
    /// An agent transferred the call (a JSON object, see [`Handling::transfers`]).
    Transfer(Value),
    /// A note by an agent or supervisor.
    Note {
        /// Who wrote it.
        by: String,
        /// What.
        text: String,
        /// When.
        at: Timestamp,
    },
    /// The agent's disposition code.
    AgentDisposition(String),
    /// The caller's score; outside 1..=5 is ignored.
    Csat(u8),
    /// Where the agent leg's recording is.
    AgentRecording(String),
}

/// Applies one update inside the writer's transaction.
pub(crate) fn apply(
    conn: &Connection,
    id: TicketId,
    update: &HandlingUpdate,
) -> rusqlite::Result<()> {
    let set = |column: &'static str, value: &dyn rusqlite::ToSql| -> rusqlite::Result<()> {
        // `column` is always a literal from this file, never input.
        let sql = format!("UPDATE tickets SET {column} = ?2 WHERE id = ?1");
        conn.prepare_cached(&sql)?.execute(params![id.0, value])?;
        Ok(())
    };
    // Several agents can talk to one caller (transfers): their times add up.
    let add = |column: &'static str, value: i64| -> rusqlite::Result<()> {
        let sql = format!("UPDATE tickets SET {column} = COALESCE({column}, 0) + ?2 WHERE id = ?1");
        conn.prepare_cached(&sql)?.execute(params![id.0, value])?;
        Ok(())
    };
    match update {
        HandlingUpdate::Queued(queue) => set("queue", &truncate(queue, MAX_FIELD_BYTES)),
        HandlingUpdate::QueueLeft { wait_ms } => set("queue_wait_ms", &(*wait_ms).max(0)),
        HandlingUpdate::AgentTried(user) => append(
            conn,
            id,
            "agents_tried",
            &Value::String(truncate(user, MAX_FIELD_BYTES).to_owned()),
        ),
        HandlingUpdate::AgentAnswered(user) => set("agent", &truncate(user, MAX_FIELD_BYTES)),
        HandlingUpdate::TalkEnded { talk_ms, hold_ms } => {
            add("talk_ms", (*talk_ms).max(0))?;
            add("hold_ms", (*hold_ms).max(0))
        }
        HandlingUpdate::WrapUp { ms } => set("wrap_up_ms", &(*ms).max(0)),
        HandlingUpdate::Transfer(value) => append(conn, id, "transfers", value),
        HandlingUpdate::Note { by, text, at } => {
            let note = json!({
                "at": at,
                "by": truncate(by, MAX_FIELD_BYTES),
                "text": truncate(text, MAX_TEXT_BYTES),
            });
            append(conn, id, "notes", &note)
        }
        HandlingUpdate::AgentDisposition(code) => {
            set("agent_disposition", &truncate(code, MAX_FIELD_BYTES))
        }
        HandlingUpdate::Csat(score) if (1..=5).contains(score) => set("csat", &i64::from(*score)),
        HandlingUpdate::Csat(_) => Ok(()),
        HandlingUpdate::AgentRecording(path) => {
            set("agent_recording_path", &truncate(path, MAX_FIELD_BYTES))
        }
    }
}

/// Appends `value` to the JSON array in `column`, unless it already holds [`MAX_LIST`].
fn append(
    conn: &Connection,
    id: TicketId,
    column: &'static str,
    value: &Value,
) -> rusqlite::Result<()> {
    let text = value.to_string();
    if text.len() > MAX_TEXT_BYTES * 2 {
        return Ok(());
    }
    let sql = format!(
        "UPDATE tickets SET {column} = json_insert({column}, '$[#]', json(?2))
         WHERE id = ?1 AND json_array_length({column}) < ?3"
    );
    conn.prepare_cached(&sql)?
        .execute(params![id.0, text, MAX_LIST])?;
    Ok(())
}
