//! [`TicketStore`]: non-blocking writes through one writer thread, reads on a separate
//! read-only connection.
//!
//! Writes never wait: each update is `try_send` into a bounded queue. When the queue is full
//! (SQLite is stalled far longer than calls produce updates) the update is dropped, logged and
//! counted in `voxdesk_ticket_updates_dropped_total` so calls keep flowing. A crash loses at most
//! what is still queued, normally the step in progress.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use super::directory::{self, DirectoryWrite, StoredDirectory};
use super::handling::{Handling, HandlingUpdate};
use super::model::{
    Disposition, NewTicket, Page, Priority, Ticket, TicketId, TicketSummary, Turn, TurnKind,
};
use super::schema;
use super::time::Timestamp;
use super::writer::{self, TicketOp};
use super::TicketError;
use crate::metrics::{self, Metrics};

/// Default length of the write queue.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Largest page a listing returns.
pub const MAX_PER_PAGE: u32 = 200;
/// Turn notices a slow subscriber may fall behind by before it is told it lagged.
const TURN_NOTICES: usize = 256;

/// Tuning for [`TicketStore::open_with`].
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Updates that may wait for the writer before new ones are dropped.
    pub queue_capacity: usize,
    /// Where dropped updates and write errors are counted.
    pub metrics: &'static Metrics,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            metrics: metrics::global(),
        }
    }
}

/// Handle to the ticket database. Cheap to clone; the writer thread stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct TicketStore {
    inner: Arc<Inner>,
}

struct Inner {
    ops: SyncSender<TicketOp>,
    /// Tickets that just had a turn committed (so a reader sees it).
    turns: tokio::sync::broadcast::Sender<TicketId>,
    reader: Mutex<Connection>,
    next_id: AtomicI64,
    metrics: &'static Metrics,
}

impl TicketStore {
    /// Opens or creates the database file at `path` with default options.
    pub fn open(path: &Path) -> Result<Self, TicketError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Opens or creates the database file, migrates it, closes tickets a previous process left
    /// open (as `failed`, with a note turn) and starts the writer thread. `path` must be a real
    /// file: the reader uses its own connection. Dropping the last clone lets the writer drain
    /// its queue and stop, but only [`Self::flush`] waits for that; call it at shutdown.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Self, TicketError> {
        let mut conn = schema::open_writer(path)?;
        let orphans = writer::close_orphans(&mut conn)?;
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "closed tickets left open by a previous run as failed"
            );
        }
        let max_id: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM tickets", [], |r| r.get(0))?;
        let reader = schema::open_reader(path)?;
        let (ops, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let metrics = options.metrics;
        let (turns, _) = tokio::sync::broadcast::channel(TURN_NOTICES);
        let notices = turns.clone();
        std::thread::Builder::new()
            .name("voxdesk-tickets".into())
            .spawn(move || writer::run(conn, rx, &notices, metrics))
            .map_err(TicketError::Spawn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                ops,
                turns,
                reader: Mutex::new(reader),
                next_id: AtomicI64::new(max_id.saturating_add(1)),
                metrics,
            }),
        })
    }

    /// Opens a ticket (at INVITE time) and returns its id at once; the row is written shortly
    /// after by the writer thread.
    pub fn create(&self, ticket: NewTicket) -> TicketId {
        let id = TicketId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(TicketOp::Create(id, ticket));
        id
    }

    /// Records when the call was answered.
    pub fn answered(&self, id: TicketId, at: Timestamp) {
        self.send(TicketOp::Answered(id, at));
    }

    /// Appends a turn to the timeline.
    pub fn add_turn(&self, id: TicketId, turn: Turn) {
        self.send(TicketOp::AddTurn(id, turn));
    }

    /// The ids of tickets as turns are committed to them: a page showing a live ticket reloads
    /// it on each, instead of polling. A receiver that falls [`TURN_NOTICES`] behind gets
    /// `Lagged` and should reload what it shows.
    pub fn subscribe_turns(&self) -> tokio::sync::broadcast::Receiver<TicketId> {
        self.inner.turns.subscribe()
    }

    /// Appends key presses; symbols other than `0-9 * # A-D` are ignored.
    pub fn add_digits(&self, id: TicketId, digits: &str) {
        self.send(TicketOp::AddDigits(id, digits.to_owned()));
    }

    /// Records where the call recording is stored.
    pub fn set_recording(&self, id: TicketId, path: &str) {
        self.send(TicketOp::SetRecording(id, path.to_owned()));
    }

    /// Records the transfer destination.
    pub fn set_transfer(&self, id: TicketId, target: &str) {
        self.send(TicketOp::SetTransfer(id, target.to_owned()));
    }

    /// Sets how urgent the ticket is.
    pub fn set_priority(&self, id: TicketId, priority: Priority) {
        self.send(TicketOp::SetPriority(id, priority));
    }

    /// Sets the call's sentiment (a JSON object; one over the size cap is dropped).
    pub fn set_sentiment(&self, id: TicketId, sentiment: &Value) {
        self.send(TicketOp::SetSentiment(id, sentiment.to_string()));
    }

    /// Sets what the ticket is about (truncated like other fields).
    pub fn set_subject(&self, id: TicketId, subject: &str) {
        self.send(TicketOp::SetSubject(id, subject.to_owned()));
    }

    /// Records a step of the human part of the call (queue, agent, CSAT, …).
    pub fn handling(&self, id: TicketId, update: HandlingUpdate) {
        self.send(TicketOp::Handling(id, update));
    }

    /// Closes the ticket.
    pub fn finish(&self, id: TicketId, ended_at: Timestamp, disposition: Disposition) {
        self.send(TicketOp::Finish(id, ended_at, disposition));
    }

    /// Blocks until every update queued before this call is committed. Waits for queue space
    /// rather than dropping, so use it at shutdown and in tests, or via [`Self::flush_async`].
    pub fn flush(&self) -> Result<(), TicketError> {
        let (ack, done) = mpsc::sync_channel(1);
        self.inner
            .ops
            .send(TicketOp::Flush(ack))
            .map_err(|_| TicketError::WriterGone)?;
        done.recv().map_err(|_| TicketError::WriterGone)
    }

    /// [`Self::flush`] on the blocking thread pool.
    pub async fn flush_async(&self) -> Result<(), TicketError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.flush()).await?
    }

    /// Page `page` (1-based; 0 reads as 1) of tickets, newest first. `per_page` is clamped to
    /// `1..=MAX_PER_PAGE`.
    pub fn list_blocking(
        &self,
        page: u32,
        per_page: u32,
    ) -> Result<Page<TicketSummary>, TicketError> {
        let page = page.max(1);
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let offset = i64::from(page - 1) * i64::from(per_page);
        let mut conn = self.reader();
        // One read transaction so rows and total come from the same snapshot.
        let tx = conn.transaction()?;
        let total: i64 = tx.query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))?;
        let items = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM tickets ORDER BY id DESC LIMIT ?1 OFFSET ?2"
            ))?;
            let rows = stmt.query_map(params![per_page, offset], summary_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(Page {
            items,
            page,
            per_page,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The ticket with its turns, or `None` if unknown.
    pub fn get_blocking(&self, id: TicketId) -> Result<Option<Ticket>, TicketError> {
        let mut conn = self.reader();
        let tx = conn.transaction()?;
        let summary = tx
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM tickets WHERE id = ?1"
            ))?
            .query_row([id.0], summary_from_row)
            .optional()?;
        let Some(summary) = summary else {
            return Ok(None);
        };
        let turns = {
            let mut stmt = tx.prepare_cached(
                "SELECT at, kind, text, data, extras FROM turns WHERE ticket_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id.0], turn_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(Some(Ticket { summary, turns }))
    }

    /// The caller's earlier tickets, newest first: those from the same From URI with an id
    /// below `before` (at most `limit`, clamped to [`MAX_PER_PAGE`]). What an agent sees as the
    /// caller's history.
    pub fn caller_history_blocking(
        &self,
        from_uri: &str,
        before: TicketId,
        limit: u32,
    ) -> Result<Vec<TicketSummary>, TicketError> {
        let limit = limit.clamp(1, MAX_PER_PAGE);
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM tickets WHERE from_uri = ?1 AND id < ?2
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![from_uri, before.0, limit], summary_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// [`Self::caller_history_blocking`] on the blocking thread pool.
    pub async fn caller_history(
        &self,
        from_uri: &str,
        before: TicketId,
        limit: u32,
    ) -> Result<Vec<TicketSummary>, TicketError> {
        let store = self.clone();
        let from_uri = from_uri.to_owned();
        tokio::task::spawn_blocking(move || store.caller_history_blocking(&from_uri, before, limit))
            .await?
    }

    /// [`Self::list_blocking`] on the blocking thread pool.
    pub async fn list(&self, page: u32, per_page: u32) -> Result<Page<TicketSummary>, TicketError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.list_blocking(page, per_page)).await?
    }

    /// [`Self::get_blocking`] on the blocking thread pool.
    pub async fn get(&self, id: TicketId) -> Result<Option<Ticket>, TicketError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.get_blocking(id)).await?
    }

    /// Writes one directory row and waits until it is committed (the writer's queue may make
    /// this wait too: the API answers only once the change is safe).
    pub async fn save_directory(&self, write: DirectoryWrite) -> Result<(), TicketError> {
        let store = self.clone();
        let wait = move || {
            let (ack, done) = mpsc::sync_channel(1);
            store
                .inner
                .ops
                .send(TicketOp::Directory(write, ack))
                .map_err(|_| TicketError::WriterGone)?;
            done.recv()
                .map_err(|_| TicketError::WriterGone)?
                .map_err(TicketError::WriteFailed)
        };
        tokio::task::spawn_blocking(wait).await?
    }

    /// Every stored directory row (read at start).
    pub fn directory_blocking(&self) -> Result<StoredDirectory, TicketError> {
        Ok(directory::read(&self.reader())?)
    }

    fn send(&self, op: TicketOp) {
        match self.inner.ops.try_send(op) {
            Ok(()) => {}
            Err(TrySendError::Full(op)) => {
                self.inner.metrics.ticket_updates_dropped.inc();
                tracing::warn!(?op, "ticket queue full; update dropped");
            }
            Err(TrySendError::Disconnected(op)) => {
                self.inner.metrics.ticket_updates_dropped.inc();
                tracing::error!(?op, "ticket writer gone; update dropped");
            }
        }
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        // A panic while reading cannot leave the connection half-written; keep using it.
        self.inner
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn send_op(&self, op: TicketOp) {
        self.send(op);
    }
}

const SUMMARY_COLUMNS: &str = "id, call_id, from_uri, to_uri, started_at, answered_at, ended_at, \
     disposition, transfer_target, recording_path, digits, turn_count, priority, subject, \
     sentiment, queue, queue_wait_ms, agents_tried, agent, talk_ms, hold_ms, wrap_up_ms, \
     transfers, notes, agent_disposition, csat, agent_recording_path";

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<TicketSummary> {
    let answered_at: Option<i64> = row.get(5)?;
    let ended_at: Option<i64> = row.get(6)?;
    let disposition = row
        .get::<_, Option<String>>(7)?
        .map(|word| word.parse::<Disposition>().map_err(|e| bad_text(7, e)))
        .transpose()?;
    Ok(TicketSummary {
        id: TicketId(row.get(0)?),
        call_id: row.get(1)?,
        from_uri: row.get(2)?,
        to_uri: row.get(3)?,
        started_at: Timestamp::from_unix_millis(row.get(4)?),
        answered_at: answered_at.map(Timestamp::from_unix_millis),
        ended_at: ended_at.map(Timestamp::from_unix_millis),
        duration_ms: answered_at
            .zip(ended_at)
            .map(|(a, e)| e.saturating_sub(a).max(0)),
        disposition,
        transfer_target: row.get(8)?,
        recording_path: row.get(9)?,
        digits: row.get(10)?,
        turn_count: row.get(11)?,
        // A word from a newer build reads as normal rather than hiding the ticket.
        priority: Priority::parse(&row.get::<_, String>(12)?).unwrap_or_default(),
        subject: row.get(13)?,
        sentiment: serde_json::from_str(&row.get::<_, String>(14)?).map_err(|e| bad_text(14, e))?,
        handling: Handling::from_row(row, 15)?,
    })
}

fn turn_from_row(row: &Row<'_>) -> rusqlite::Result<Turn> {
    let data: String = row.get(3)?;
    let extras: String = row.get(4)?;
    let data: Value = serde_json::from_str(&data).map_err(|e| bad_text(3, e))?;
    let extras: Map<String, Value> = serde_json::from_str(&extras).map_err(|e| bad_text(4, e))?;
    Ok(Turn {
        at: Timestamp::from_unix_millis(row.get(0)?),
        kind: TurnKind::parse(&row.get::<_, String>(1)?),
        text: row.get(2)?,
        data,
        extras,
    })
}

fn bad_text(column: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(e))
}
