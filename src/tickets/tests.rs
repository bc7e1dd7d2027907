//! Store tests against real SQLite files in temporary directories.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use serde_json::json;

use super::schema::{self, MIGRATIONS};
use super::writer::TicketOp;
use super::*;
use crate::metrics::Metrics;

fn metrics() -> &'static Metrics {
    Box::leak(Box::new(Metrics::new()))
}

fn open(path: &Path) -> (TicketStore, &'static Metrics) {
    let metrics = metrics();
    let options = StoreOptions {
        metrics,
        ..StoreOptions::default()
    };
    (TicketStore::open_with(path, options).unwrap(), metrics)
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + millis)
}

fn new_ticket(n: u32) -> NewTicket {
    NewTicket {
        call_id: format!("call-{n}"),
        from: format!("sip:caller{n}@example.com"),
        to: "sip:support@voxdesk.test".into(),
        started_at: at(i64::from(n)),
    }
}

/// Blocks the writer until the returned sender is dropped or sent to.
fn pause_writer(store: &TicketStore) -> mpsc::SyncSender<()> {
    let (paused_tx, paused) = mpsc::sync_channel(1);
    let (resume, resume_rx) = mpsc::sync_channel(1);
    store.send_op(TicketOp::Pause {
        paused: paused_tx,
        resume: resume_rx,
    });
    paused.recv().unwrap();
    resume
}

#[test]
fn create_update_get_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, metrics) = open(&dir.path().join("t.db"));
    let id = store.create(new_ticket(1));
    store.answered(id, at(1_000));
    store.add_turn(id, Turn::new(at(1_100), TurnKind::Step, "welcome"));
    store.add_turn(
        id,
        Turn::new(at(1_200), TurnKind::Prompt, "Press 1 for sales")
            .with_data(json!({"voice": "en"}))
            .with_extra("asr_confidence", json!(0.9)),
    );
    store.add_digits(id, "1");
    store.add_digits(id, "2x#");
    store.add_turn(id, Turn::new(at(1_300), TurnKind::Dtmf, "1"));
    store.set_recording(id, "/var/rec/1.wav");
    store.set_transfer(id, "sip:agent@voxdesk.test");
    store.set_priority(id, Priority::High);
    store.set_subject(id, "Fault on 07700900123");
    store.set_sentiment(id, &json!({"turns": 2, "last_polarity": "negative"}));
    store.finish(id, at(4_000), Disposition::Transferred);
    store.flush().unwrap();

    let ticket = store.get_blocking(id).unwrap().unwrap();
    assert_eq!(ticket.summary.duration_ms, Some(3_000));
    assert_eq!(ticket.summary.digits, "12#");
    assert_eq!(ticket.summary.turn_count, 3);
    let kinds: Vec<&str> = ticket.turns.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["step", "prompt", "dtmf"]);
    let json = serde_json::to_value(&ticket).unwrap();
    assert_eq!(json["id"], json!(id.0));
    assert_eq!(json["from_uri"], json!("sip:caller1@example.com"));
    assert_eq!(json["started_at"], json!("2023-11-14T22:13:20.001Z"));
    assert_eq!(json["answered_at"], json!("2023-11-14T22:13:21.000Z"));
    assert_eq!(json["disposition"], json!("transferred"));
    assert_eq!(json["transfer_target"], json!("sip:agent@voxdesk.test"));
    assert_eq!(json["recording_path"], json!("/var/rec/1.wav"));
    assert_eq!(json["priority"], json!("high"));
    assert_eq!(json["subject"], json!("Fault on 07700900123"));
    assert_eq!(json["sentiment"]["last_polarity"], json!("negative"));
    assert_eq!(
        json["turns"][1],
        json!({
            "at": "2023-11-14T22:13:21.200Z",
            "kind": "prompt",
            "text": "Press 1 for sales",
            "data": {"voice": "en"},
            "asr_confidence": 0.9,
        })
    );
    assert_eq!(metrics.ticket_write_errors.get(), 0);
    assert_eq!(store.get_blocking(TicketId(999)).unwrap(), None);
}

#[test]
fn live_ticket_has_no_end_or_duration() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let id = store.create(new_ticket(1));
    store.flush().unwrap();
    let json = serde_json::to_value(store.get_blocking(id).unwrap().unwrap()).unwrap();
    for key in ["answered_at", "ended_at", "duration_ms", "disposition"] {
        assert_eq!(json[key], json!(null), "{key}");
    }
    assert_eq!(
        (&json["priority"], &json["subject"]),
        (&json!("normal"), &json!(""))
    );
    assert_eq!(json["sentiment"], json!(null));
    assert_eq!(json["turns"], json!([]));
}

#[test]
fn list_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let ids: Vec<TicketId> = (1..=5).map(|n| store.create(new_ticket(n))).collect();
    store.flush().unwrap();
    let page_ids = |page, per_page| -> Vec<i64> {
        let p = store.list_blocking(page, per_page).unwrap();
        assert_eq!(p.total, 5);
        p.items.iter().map(|t| t.id.0).collect()
    };
    let newest = ids.iter().rev().map(|id| id.0).collect::<Vec<_>>();
    assert_eq!(page_ids(1, 2), newest[0..2]);
    assert_eq!(page_ids(2, 2), newest[2..4]);
    assert_eq!(page_ids(3, 2), newest[4..5]);
    assert_eq!(page_ids(4, 2), Vec::<i64>::new());
    assert_eq!(page_ids(0, 50), newest, "page 0 reads as 1");
    assert_eq!(page_ids(u32::MAX, u32::MAX), Vec::<i64>::new());
    let clamped = store.list_blocking(1, 10_000).unwrap();
    assert_eq!((clamped.page, clamped.per_page), (1, MAX_PER_PAGE));
    assert_eq!(store.list_blocking(1, 0).unwrap().per_page, 1);
}

#[test]
fn opening_a_new_file_migrates_to_latest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (store, _) = open(&path);
    drop(store);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), schema::latest_version());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn opening_a_v1_database_upgrades_it_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), 1);
        conn.execute_batch(
            "INSERT INTO tickets (id, call_id, from_uri, to_uri, started_at, answered_at,
                                  ended_at, disposition, digits)
             VALUES (7, 'old-call', 'sip:a@x', 'sip:b@y', 1000, 2000, 5000, 'no-input', '9');
             INSERT INTO turns (ticket_id, at, kind, text, data)
             VALUES (7, 2100, 'prompt', 'hello', '{\"n\":1}'), (7, 2200, 'note', 'bye', 'null');",
        )
        .unwrap();
    }
    let (store, _) = open(&path);
    let ticket = store.get_blocking(TicketId(7)).unwrap().unwrap();
    assert_eq!(ticket.summary.turn_count, 2, "turn_count backfilled");
    assert_eq!(ticket.summary.disposition, Some(Disposition::NoInput));
    assert_eq!(ticket.summary.duration_ms, Some(3000));
    assert_eq!(ticket.turns[0].data, json!({"n": 1}));
    assert!(ticket.turns.iter().all(|t| t.extras.is_empty()));
    assert_eq!(store.create(new_ticket(1)), TicketId(8), "ids continue");
    store.flush().unwrap();
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), schema::latest_version());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let too_new = schema::latest_version() + 1;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", too_new)
        .unwrap();
    let err = TicketStore::open(&path).err().unwrap();
    assert!(
        matches!(err, TicketError::SchemaTooNew { found, .. } if found == too_new),
        "{err}"
    );
}

#[test]
fn flush_waits_for_queued_updates() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let resume = pause_writer(&store);
    let id = store.create(new_ticket(1));
    store.finish(id, at(10), Disposition::Completed);
    assert_eq!(store.get_blocking(id).unwrap(), None, "writer is paused");
    let flusher = {
        let store = store.clone();
        std::thread::spawn(move || store.flush())
    };
    resume.send(()).unwrap();
    flusher.join().unwrap().unwrap();
    let ticket = store.get_blocking(id).unwrap().unwrap();
    assert_eq!(ticket.summary.disposition, Some(Disposition::Completed));
}

#[test]
fn full_queue_drops_and_counts_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = metrics();
    let options = StoreOptions {
        queue_capacity: 2,
        metrics,
    };
    let store = TicketStore::open_with(&dir.path().join("t.db"), options).unwrap();
    let resume = pause_writer(&store);
    let kept = store.create(new_ticket(1));
    store.answered(kept, at(5));
    store.finish(kept, at(9), Disposition::Failed);
    assert_eq!(metrics.ticket_updates_dropped.get(), 1);
    drop(resume);
    store.flush().unwrap();
    let ticket = store.get_blocking(kept).unwrap().unwrap();
    assert_eq!(ticket.summary.answered_at, Some(at(5)));
    assert_eq!(ticket.summary.disposition, None, "the finish was dropped");
}

#[test]
fn concurrent_writers_from_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (store, metrics) = open(&dir.path().join("t.db"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|n| {
                        let id = store.create(new_ticket(t * 100 + n));
                        for step in 0..4 {
                            let text = format!("t{t} n{n} s{step}");
                            store.add_turn(id, Turn::new(at(step), TurnKind::Step, text));
                        }
                        store.finish(id, at(10), Disposition::Completed);
                        (id, format!("call-{}", t * 100 + n))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let created: Vec<_> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    store.flush().unwrap();
    assert_eq!(metrics.ticket_updates_dropped.get(), 0);
    assert_eq!(store.list_blocking(1, 10).unwrap().total, 200);
    let mut ids: Vec<i64> = created.iter().map(|(id, _)| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "ids are unique");
    for (id, call_id) in created {
        let ticket = store.get_blocking(id).unwrap().unwrap();
        assert_eq!(ticket.summary.call_id, call_id);
        let steps: Vec<String> = ticket.turns.iter().map(|t| t.text.clone()).collect();
        let prefix = steps[0].trim_end_matches("s0").to_owned();
        let want: Vec<String> = (0..4).map(|s| format!("{prefix}s{s}")).collect();
        assert_eq!(steps, want, "turns keep their order");
    }
}

#[test]
fn reopening_closes_tickets_left_open_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (open_id, done_id) = {
        let (store, _) = open(&path);
        let open_id = store.create(new_ticket(1));
        store.answered(open_id, at(100));
        store.add_turn(open_id, Turn::new(at(300), TurnKind::Step, "menu"));
        let done_id = store.create(new_ticket(2));
        store.finish(done_id, at(50), Disposition::Completed);
        store.flush().unwrap();
        (open_id, done_id)
    };
    let (store, _) = open(&path);
    let ticket = store.get_blocking(open_id).unwrap().unwrap();
    assert_eq!(ticket.summary.disposition, Some(Disposition::Failed));
    assert_eq!(
        ticket.summary.ended_at,
        Some(at(300)),
        "last known activity"
    );
    assert_eq!(ticket.summary.turn_count, 2);
    let last = ticket.turns.last().unwrap();
    assert_eq!((last.kind.clone(), last.at), (TurnKind::Note, at(300)));
    let done = store.get_blocking(done_id).unwrap().unwrap();
    assert_eq!(done.summary.disposition, Some(Disposition::Completed));
    assert_eq!(done.summary.turn_count, 0);
}

#[test]
fn untrusted_sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (store, metrics) = open(&dir.path().join("t.db"));
    let id = store.create(NewTicket {
        call_id: "c".repeat(MAX_FIELD_BYTES + 10),
        ..new_ticket(1)
    });
    store.add_digits(id, &"5".repeat(MAX_DIGITS + 10));
    for n in 0..=MAX_TURNS {
        store.add_turn(id, Turn::new(at(0), TurnKind::Note, n.to_string()));
    }
    store.add_turn(
        TicketId(12_345),
        Turn::new(at(0), TurnKind::Note, "unknown ticket"),
    );
    let long_text = "é".repeat(MAX_TEXT_BYTES);
    let other = store.create(new_ticket(2));
    store.add_turn(other, Turn::new(at(0), TurnKind::Prompt, long_text));
    store.flush().unwrap();
    let ticket = store.get_blocking(id).unwrap().unwrap();
    assert_eq!(ticket.summary.call_id.len(), MAX_FIELD_BYTES);
    assert_eq!(ticket.summary.digits.len(), MAX_DIGITS);
    assert_eq!(ticket.turns.len(), MAX_TURNS as usize);
    let other = store.get_blocking(other).unwrap().unwrap();
    assert_eq!(other.turns[0].text.len(), MAX_TEXT_BYTES);
    assert_eq!(metrics.ticket_write_errors.get(), 0);
}

#[tokio::test]
async fn async_reads_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let id = store.create(new_ticket(1));
    store.flush_async().await.unwrap();
    let page = store.list(1, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(store.get(id).await.unwrap().unwrap().summary.id, id);
}

#[test]
fn handling_updates_fill_the_human_part_and_lists_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let id = store.create(new_ticket(1));
    let fresh = store.create(new_ticket(2));
    store.handling(id, HandlingUpdate::Queued("support".into()));
    store.handling(id, HandlingUpdate::AgentTried("bob".into()));
    store.handling(id, HandlingUpdate::AgentTried("alice".into()));
    store.handling(id, HandlingUpdate::AgentAnswered("alice".into()));
    store.handling(id, HandlingUpdate::QueueLeft { wait_ms: 4_200 });
    store.handling(
        id,
        HandlingUpdate::TalkEnded {
            talk_ms: 61_000,
            hold_ms: 5_000,
        },
    );
    store.handling(
        id,
        HandlingUpdate::TalkEnded {
            talk_ms: 9_000,
            hold_ms: 0,
        },
    );
    store.handling(id, HandlingUpdate::WrapUp { ms: 10_000 });
    store.handling(
        id,
        HandlingUpdate::Transfer(json!({"by": "alice", "kind": "blind", "target": "carol"})),
    );
    store.handling(
        id,
        HandlingUpdate::Note {
            by: "alice".into(),
            text: "refund promised".into(),
            at: at(9_000),
        },
    );
    store.handling(id, HandlingUpdate::AgentDisposition("resolved".into()));
    store.handling(id, HandlingUpdate::Csat(9));
    store.handling(id, HandlingUpdate::Csat(4));
    store.handling(id, HandlingUpdate::AgentRecording("/r/1-agent.wav".into()));
    for n in 0..(MAX_LIST + 5) {
        store.handling(fresh, HandlingUpdate::AgentTried(format!("a{n}")));
    }
    store.flush().unwrap();

    let json = serde_json::to_value(store.get_blocking(id).unwrap().unwrap()).unwrap();
    assert_eq!(json["queue"], "support");
    assert_eq!(json["queue_wait_ms"], 4_200);
    assert_eq!(json["agents_tried"], json!(["bob", "alice"]));
    assert_eq!(json["agent"], "alice");
    assert_eq!(
        (json["talk_ms"].clone(), json["hold_ms"].clone()),
        (json!(70_000), json!(5_000)),
        "a transferred call's bridges add up"
    );
    assert_eq!(json["wrap_up_ms"], 10_000);
    assert_eq!(json["transfers"][0]["target"], "carol");
    assert_eq!(json["notes"][0]["text"], "refund promised");
    assert_eq!(json["notes"][0]["at"], json!(at(9_000)));
    assert_eq!(json["agent_disposition"], "resolved");
    assert_eq!(json["csat"], 4, "an out-of-range score is ignored");
    assert_eq!(json["agent_recording_path"], "/r/1-agent.wav");

    let capped = store.get_blocking(fresh).unwrap().unwrap();
    assert_eq!(
        capped
            .summary
            .handling
            .agents_tried
            .as_array()
            .map(Vec::len),
        Some(MAX_LIST as usize)
    );
    assert_eq!(capped.summary.handling.csat, None);
    assert_eq!(capped.summary.handling.queue, None);
}

#[test]
fn caller_history_lists_earlier_tickets_from_the_same_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let first = store.create(new_ticket(1));
    let _other = store.create(new_ticket(2));
    let second = store.create(new_ticket(1));
    let current = store.create(new_ticket(1));
    store.flush().unwrap();
    let ids: Vec<TicketId> = store
        .caller_history_blocking("sip:caller1@example.com", current, 10)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec![second, first]);
    let one = store
        .caller_history_blocking("sip:caller1@example.com", current, 1)
        .unwrap();
    assert_eq!(one.len(), 1);
}

#[tokio::test]
async fn directory_rows_are_upserted_tombstoned_forgotten_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (store, _) = open(&path);
    let put = |table, key: &str, body: &str| DirectoryWrite::Put {
        table,
        key: key.into(),
        body: body.into(),
    };
    let key = |k: &str| k.to_string();
    let writes = [
        put(DirectoryTable::Agents, "bob", "{}"),
        put(DirectoryTable::Agents, "alice", r#"{"v":1}"#),
        put(DirectoryTable::Agents, "alice", r#"{"v":2}"#),
        DirectoryWrite::Tombstone {
            table: DirectoryTable::Agents,
            key: key("carol"),
        },
        put(DirectoryTable::Queues, "vip", "{}"),
        put(DirectoryTable::Agents, "dave", "{}"),
        DirectoryWrite::Forget {
            table: DirectoryTable::Agents,
            key: key("dave"),
        },
        DirectoryWrite::Tombstone {
            table: DirectoryTable::Agents,
            key: key("bob"),
        },
    ];
    for write in writes {
        store.save_directory(write).await.unwrap();
    }
    let want = StoredDirectory {
        agents: vec![
            (key("alice"), Some(r#"{"v":2}"#.into())),
            (key("bob"), None),
            (key("carol"), None),
        ],
        queues: vec![(key("vip"), Some("{}".into()))],
    };
    assert_eq!(store.directory_blocking().unwrap(), want);
    drop(store);
    let (reopened, _) = open(&path);
    assert_eq!(reopened.directory_blocking().unwrap(), want);
}

#[tokio::test]
async fn a_turn_notice_comes_after_the_turn_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir.path().join("t.db"));
    let mut turns = store.subscribe_turns();
    let quiet = store.create(new_ticket(1));
    let id = store.create(new_ticket(2));
    store.flush().unwrap();
    assert!(turns.try_recv().is_err(), "no turn, no notice");
    // Both turns land in one batch while the writer is held.
    let resume = pause_writer(&store);
    store.add_turn(id, Turn::new(at(1_100), TurnKind::Prompt, "hello"));
    store.add_turn(id, Turn::new(at(1_200), TurnKind::Prompt, "again"));
    resume.send(()).unwrap();
    store.flush().unwrap();
    assert_eq!(turns.try_recv().ok(), Some(id));
    assert!(turns.try_recv().is_err(), "one notice per ticket and batch");
    let ticket = store.get(id).await.unwrap().unwrap();
    assert_eq!(ticket.turns.len(), 2, "readable when noticed");
    assert!(store.get(quiet).await.unwrap().unwrap().turns.is_empty());
}
