//! Agents and queues changed over real HTTP, stored in a real SQLite file and followed by a
//! real ACD task.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::tests::{get, request, request_with_body, start_with, Reply, Server};
use super::*;
use crate::acd::directory::{decode_overlay, Directory};
use crate::acd::{parse_str, AgentsFile};
use crate::tickets::StoreOptions;

const AGENTS: &str = "\
agents:
  - user: alice
    password: x
    queues: [support]
queues:
  - name: support
";

fn base() -> AgentsFile {
    parse_str(AGENTS, "test").unwrap()
}

fn open_store(path: &Path) -> TicketStore {
    let metrics: &'static crate::metrics::Metrics =
        Box::leak(Box::new(crate::metrics::Metrics::new()));
    let options = StoreOptions {
        metrics,
        ..StoreOptions::default()
    };
    TicketStore::open_with(path, options).unwrap()
}

/// The effective directory a restart would build from `path`.
fn reopened(path: &Path) -> AgentsFile {
    let stored = open_store(path).directory_blocking().unwrap();
    let (overlay, problems) = decode_overlay("voxdesk", stored.agents, stored.queues);
    assert_eq!(problems, []);
    Directory::new(base(), overlay).effective().clone()
}

/// A server managing the directory over the store at `db`, with an ACD following it.
async fn start(db: &Path) -> Server {
    let tickets = open_store(db);
    let stored = tickets.directory_blocking().unwrap();
    let (overlay, _) = decode_overlay("voxdesk", stored.agents, stored.queues);
    let directory = Directory::new(base(), overlay);
    let (directory_tx, directory_rx) = watch::channel(Arc::new(directory.effective().clone()));
    let acd = AcdHandle::follow(directory_rx);
    start_with(vec![], move |mut state| {
        state.tickets = tickets;
        state
            .with_acd(acd)
            .with_directory(LiveDirectory::new(directory, directory_tx))
    })
    .await
}

async fn send(addr: SocketAddr, method: &str, target: &str, body: &str) -> Reply {
    let json = "Content-Type: application/json\r\n";
    request_with_body(addr, method, target, json, body.as_bytes()).await
}

fn users(body: &Value) -> Vec<String> {
    body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn agents_are_created_listed_stored_changed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = start(&db).await;
    let body = r#"{"user":"carol","password":"pw","name":"Carol","queues":["support"],
                   "skills":{"english":4}}"#;
    let reply = send(server.addr, "POST", "/api/agents", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let mut carol = reply.json();
    assert!(carol["since_ms"].is_u64());
    carol["since_ms"] = json!(0);
    assert_eq!(
        carol,
        json!({"user": "carol", "name": "Carol", "state": "offline", "since_ms": 0,
               "calls_taken": 0, "misses": 0, "queues": ["support"],
               "skills": {"english": 4}})
    );
    assert!(!reply.body.contains("pw") && !reply.body.contains("ha1"));
    assert_eq!(
        users(&get(&server, "/api/agents").await.json()),
        ["alice", "carol"]
    );
    let queue = get(&server, "/api/queues/support").await.json();
    assert_eq!(queue["agents"]["offline"], json!(2), "{queue}");
    assert_eq!(reopened(&db).agent("carol").unwrap().name, "Carol");

    let reply = send(server.addr, "POST", "/api/agents", body).await;
    assert_eq!(reply.status, 409, "{}", reply.body);

    let reply = send(
        server.addr,
        "PATCH",
        "/api/agents/carol",
        r#"{"name":"Carol B","queues":[],"password":"new"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["queues"], json!([]));
    assert_eq!(reopened(&db).agent("carol").unwrap().name, "Carol B");

    // A file agent deleted through the API stays deleted after a restart.
    for user in ["carol", "alice"] {
        let target = format!("/api/agents/{user}");
        let reply = request(server.addr, "DELETE", &target).await;
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_eq!(get(&server, &target).await.status, 404);
    }
    assert_eq!(
        users(&get(&server, "/api/agents").await.json()),
        Vec::<String>::new()
    );
    assert_eq!(reopened(&db).agents, []);
    let again = request(server.addr, "DELETE", "/api/agents/alice").await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn queues_are_created_changed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = start(&db).await;
    let reply = send(
        server.addr,
        "POST",
        "/api/queues",
        r#"{"name":"vip","strategy":"ring-all","ring_timeout":20}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"name": "vip", "strategy": "ring-all", "waiting": 0, "longest_wait_ms": 0,
               "agents": {"offline": 0, "available": 0, "ringing": 0, "on_call": 0,
                          "wrap_up": 0, "paused": 0},
               "ring_timeout": 20, "max_misses": 3, "wrap_up": 10, "max_waiting": 50,
               "skills": {}})
    );
    let reply = send(server.addr, "PATCH", "/api/queues/vip", r#"{"wrap_up":0}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (
            reply.json()["wrap_up"].clone(),
            reply.json()["ring_timeout"].clone()
        ),
        (json!(0), json!(20))
    );
    let patch = r#"{"queues":["support","vip"]}"#;
    let reply = send(server.addr, "PATCH", "/api/agents/alice", patch).await;
    assert_eq!(reply.json()["queues"], json!(["support", "vip"]));

    let reply = request(server.addr, "DELETE", "/api/queues/support").await;
    assert_eq!(reply.status, 204);
    let alice = get(&server, "/api/agents/alice").await.json();
    assert_eq!(
        alice["queues"],
        json!(["vip"]),
        "a deleted queue leaves its agents"
    );
    let names: Vec<_> = get(&server, "/api/queues").await.json()["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].clone())
        .collect();
    assert_eq!(names, [json!("vip")]);
    let stored = reopened(&db);
    assert_eq!(stored.queues.len(), 1);
    assert_eq!(stored.queue("vip").unwrap().wrap_up.as_secs(), 0);
    assert_eq!(stored.agent("alice").unwrap().queues, ["vip"]);
}

#[tokio::test]
async fn bad_changes_are_4xx_json_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = start(&db).await;
    let cases: [(&str, &str, &str, u16); 16] = [
        (
            "POST",
            "/api/agents",
            r#"{"user":"alice","password":"x"}"#,
            409,
        ),
        (
            "POST",
            "/api/agents",
            r#"{"user":"Bob","password":"x"}"#,
            422,
        ),
        ("POST", "/api/agents", r#"{"user":"bob"}"#, 422),
        (
            "POST",
            "/api/agents",
            r#"{"user":"bob","password":"x","admin":1}"#,
            422,
        ),
        (
            "POST",
            "/api/agents",
            r#"{"user":"bob","password":"x","queues":["nope"]}"#,
            422,
        ),
        (
            "POST",
            "/api/agents",
            r#"{"user":"bob","password":"x","skills":{"en":0}}"#,
            422,
        ),
        (
            "POST",
            "/api/agents",
            r#"{"user":"bob","password":"x","ha1":"00"}"#,
            422,
        ),
        ("PATCH", "/api/agents/zed", r#"{"name":"Z"}"#, 404),
        ("PATCH", "/api/agents/alice", r#"{}"#, 422),
        ("PATCH", "/api/agents/alice", r#"{"user":"bob"}"#, 422),
        ("POST", "/api/queues", r#"{"name":"support"}"#, 409),
        (
            "POST",
            "/api/queues",
            r#"{"name":"q","strategy":"random"}"#,
            422,
        ),
        (
            "POST",
            "/api/queues",
            r#"{"name":"q","ring_timeout":-1}"#,
            422,
        ),
        ("PATCH", "/api/queues/support", r#"{"max_waiting":0}"#, 422),
        ("PATCH", "/api/queues/nope", r#"{"wrap_up":1}"#, 404),
        ("DELETE", "/api/queues/nope", "", 404),
    ];
    for (method, target, body, status) in cases {
        let reply = send(server.addr, method, target, body).await;
        assert_eq!(
            reply.status, status,
            "{method} {target} {body}: {}",
            reply.body
        );
        assert!(reply.json()["error"].is_string(), "{body}");
    }
    let message = send(
        server.addr,
        "POST",
        "/api/queues",
        r#"{"name":"q","strategy":"random"}"#,
    )
    .await
    .json()["error"]
        .clone();
    assert!(
        message.as_str().unwrap().contains("unknown strategy"),
        "{message}"
    );
    assert_eq!(reopened(&db), base());
    assert_eq!(users(&get(&server, "/api/agents").await.json()), ["alice"]);
}

#[tokio::test]
async fn without_a_directory_changes_answer_503() {
    let server = start_with(vec![], |state| state).await;
    let reply = send(
        server.addr,
        "POST",
        "/api/agents",
        r#"{"user":"bob","password":"x"}"#,
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
}
