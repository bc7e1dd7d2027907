//! The API's changes to agents and queues, kept beside the tickets: one row per user and per
//! queue name holding its JSON body, or a deletion. The ticket store only keeps the rows; what
//! they mean (and checking them) is `acd::directory`'s business.

use rusqlite::{params, Connection};

use super::time::Timestamp;

/// Which table a row lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryTable {
    /// `directory_agents`, keyed by user.
    Agents,
    /// `directory_queues`, keyed by queue name.
    Queues,
}

impl DirectoryTable {
    /// Literals only: never input.
    fn sql_name(self) -> (&'static str, &'static str) {
        match self {
            DirectoryTable::Agents => ("directory_agents", "user"),
            DirectoryTable::Queues => ("directory_queues", "name"),
        }
    }
}

/// One row change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryWrite {
    /// Upsert the entry's JSON body.
    Put {
        /// Table.
        table: DirectoryTable,
        /// User or queue name.
        key: String,
        /// JSON.
        body: String,
    },
    /// Upsert a deletion (the agents file has this entry).
    Tombstone {
        /// Table.
        table: DirectoryTable,
        /// User or queue name.
        key: String,
    },
    /// Remove the row.
    Forget {
        /// Table.
        table: DirectoryTable,
        /// User or queue name.
        key: String,
    },
}

/// Every stored row: `(key, Some(body))` or `(key, None)` for a deletion, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDirectory {
    /// `directory_agents`.
    pub agents: Vec<(String, Option<String>)>,
    /// `directory_queues`.
    pub queues: Vec<(String, Option<String>)>,
}

pub(crate) fn apply(conn: &Connection, write: &DirectoryWrite) -> rusqlite::Result<()> {
    let now = Timestamp::now().unix_millis();
    match write {
        DirectoryWrite::Put { table, key, body } => upsert(conn, *table, key, Some(body), now),
        DirectoryWrite::Tombstone { table, key } => upsert(conn, *table, key, None, now),
        DirectoryWrite::Forget { table, key } => {
            let (name, column) = table.sql_name();
            let sql = format!("DELETE FROM {name} WHERE {column} = ?1");
            conn.prepare_cached(&sql)?.execute([key])?;
            Ok(())
        }
    }
}

fn upsert(
    conn: &Connection,
    table: DirectoryTable,
    key: &str,
    body: Option<&String>,
    now: i64,
) -> rusqlite::Result<()> {
    let (name, column) = table.sql_name();
    let sql = format!(
        "INSERT INTO {name} ({column}, body, deleted, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT({column}) DO UPDATE SET
             body = excluded.body, deleted = excluded.deleted, updated_at = excluded.updated_at"
    );
    let deleted = i64::from(body.is_none());
    conn.prepare_cached(&sql)?
        .execute(params![key, body, deleted, now])?;
    Ok(())
}

pub(crate) fn read(conn: &Connection) -> rusqlite::Result<StoredDirectory> {
    let rows = |table: DirectoryTable| -> rusqlite::Result<Vec<(String, Option<String>)>> {
        let (name, column) = table.sql_name();
        let sql = format!(
            "SELECT {column}, CASE WHEN deleted THEN NULL ELSE body END FROM {name} ORDER BY {column}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    Ok(StoredDirectory {
        agents: rows(DirectoryTable::Agents)?,
        queues: rows(DirectoryTable::Queues)?,
    })
}
