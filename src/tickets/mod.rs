//! Tickets: every call becomes a ticket in a SQLite file, with its timeline of turns.
//!
//! Owns the ticket model ([`Ticket`], [`Turn`], [`Disposition`]), the schema and its migrations,
//! and [`TicketStore`]. Knows nothing of SIP or HTTP: `call` feeds it, `api` reads it.
//!
//! Lifecycle: the call layer calls [`TicketStore::create`] when the INVITE is accepted (so
//! rejected-after-accept and never-answered calls are recorded too), then `answered`,
//! `add_turn`, `add_digits`, … at each step and `finish` at the end. Each update is its own
//! small write, so a crash loses at most the step in progress; tickets still open when the
//! store is next opened are closed as `failed` with a note.
//!
//! The database also keeps the API's changes to agents and queues ([`DirectoryWrite`]),
//! written through the same writer thread and waited for.
//!
//! Times are unix milliseconds in SQLite and RFC 3339 UTC strings in JSON ([`Timestamp`]).

#![warn(missing_docs, unreachable_pub)]

mod directory;
mod handling;
mod model;
mod schema;
mod store;
pub(crate) mod time;
mod writer;

#[cfg(test)]
mod tests;

pub use directory::{DirectoryTable, DirectoryWrite, StoredDirectory};
pub use handling::{Handling, HandlingUpdate, MAX_LIST};
pub use model::{
    Disposition, NewTicket, Page, Priority, Ticket, TicketId, TicketSummary, Turn, TurnKind,
    UnknownDisposition, RESERVED_TURN_KEYS,
};
pub use store::{StoreOptions, TicketStore, DEFAULT_QUEUE_CAPACITY, MAX_PER_PAGE};
pub use time::Timestamp;
pub use writer::{MAX_DIGITS, MAX_FIELD_BYTES, MAX_JSON_BYTES, MAX_TEXT_BYTES, MAX_TURNS};

/// Why a ticket store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// SQLite reported an error (I/O, corruption, constraint, or a stored value we cannot read).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was migrated by a newer voxdesk; refusing to touch it.
    #[error("ticket database schema v{found} is newer than this build supports (v{supported})")]
    SchemaTooNew {
        /// `user_version` in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// The writer thread has exited, so nothing can be written or flushed.
    #[error("ticket writer thread is gone")]
    WriterGone,
    /// The writer thread could not be started.
    #[error("cannot start ticket writer thread: {0}")]
    Spawn(std::io::Error),
    /// A write the caller waits for did not commit.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// A blocking read task panicked or was cancelled.
    #[error("ticket read task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}
