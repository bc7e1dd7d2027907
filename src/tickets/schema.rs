//! SQLite schema: connection setup and ordered migrations keyed by `PRAGMA user_version`.
//!
//! Migration `n` (1-based) takes a database from version `n - 1` to `n`. Never edit a shipped
//! migration; append a new one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::TicketError;

/// How long a connection waits on a locked database before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema history, oldest first.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: tickets and their timeline.
    "CREATE TABLE tickets (
        id              INTEGER PRIMARY KEY,
        call_id         TEXT NOT NULL,
        from_uri        TEXT NOT NULL,
        to_uri          TEXT NOT NULL,
        started_at      INTEGER NOT NULL,
        answered_at     INTEGER,
        ended_at        INTEGER,
        disposition     TEXT,
        transfer_target TEXT,
        recording_path  TEXT,
        digits          TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX tickets_call_id ON tickets(call_id);
    CREATE TABLE turns (
        id        INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        at        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        text      TEXT NOT NULL DEFAULT '',
        data      TEXT NOT NULL DEFAULT 'null'
    );
    CREATE INDEX turns_ticket ON turns(ticket_id, id);",
    // v2: kind-specific turn fields as one JSON object, and a turn counter to bound turns.
    "ALTER TABLE turns ADD COLUMN extras TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE tickets ADD COLUMN turn_count INTEGER NOT NULL DEFAULT 0;
    UPDATE tickets SET turn_count =
        (SELECT COUNT(*) FROM turns WHERE turns.ticket_id = tickets.id);",
    // v3: what the ticket is about and how urgent (the dialplan's `ticket` step), and the
    // caller's sentiment over the whole call (JSON).
    "ALTER TABLE tickets ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
    ALTER TABLE tickets ADD COLUMN subject TEXT NOT NULL DEFAULT '';
    ALTER TABLE tickets ADD COLUMN sentiment TEXT NOT NULL DEFAULT 'null';",
    // v4: the human part of the call (queue, agents, talk/hold/wrap-up, transfers, notes,
    // the agent's disposition, CSAT, the agent leg's recording).
    "ALTER TABLE tickets ADD COLUMN queue TEXT;
    ALTER TABLE tickets ADD COLUMN queue_wait_ms INTEGER;
    ALTER TABLE tickets ADD COLUMN agents_tried TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE tickets ADD COLUMN agent TEXT;
    ALTER TABLE tickets ADD COLUMN talk_ms INTEGER;
    ALTER TABLE tickets ADD COLUMN hold_ms INTEGER;
    ALTER TABLE tickets ADD COLUMN wrap_up_ms INTEGER;
    ALTER TABLE tickets ADD COLUMN transfers TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE tickets ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE tickets ADD COLUMN agent_disposition TEXT;
    ALTER TABLE tickets ADD COLUMN csat INTEGER;
    ALTER TABLE tickets ADD COLUMN agent_recording_path TEXT;
    CREATE INDEX tickets_from_uri ON tickets(from_uri, id);",
    // v5: agents and queues changed through the API, on top of the agents file (a row is
    // the entry's JSON, or a deletion of the file's entry).
    "CREATE TABLE directory_agents (
        user       TEXT PRIMARY KEY,
        body       TEXT,
        deleted    INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE directory_queues (
        name       TEXT PRIMARY KEY,
        body       TEXT,
        deleted    INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    );",
];

/// The version a fully migrated database reports.
#[cfg(test)]
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Opens (creating if needed) the writable connection and migrates it.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, TicketError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + NORMAL keeps committed transactions across a process crash; only an OS crash
    // can lose the last few, which is acceptable for call logs.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(&mut conn, MIGRATIONS)?;
    Ok(conn)
}

/// Opens a read-only connection to an already migrated database.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, TicketError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), TicketError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Applies every migration above the database's `user_version`, all in one transaction, so a
/// crash mid-upgrade leaves the old version intact.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), TicketError> {
    let tx = conn.transaction()?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = migrations.len() as i64;
    if found > supported {
        return Err(TicketError::SchemaTooNew { found, supported });
    }
    let pending = usize::try_from(found).unwrap_or(0);
    for sql in migrations.iter().skip(pending) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", supported)?;
    tx.commit()?;
    Ok(())
}

/// The database's `user_version`.
#[cfg(test)]
pub(crate) fn version(conn: &Connection) -> Result<i64, TicketError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}
