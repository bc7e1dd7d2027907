//! Real HTTP/1.1 over TCP against the router, backed by a SQLite file in a tempdir.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::*;
use crate::tickets::{Disposition, NewTicket, StoreOptions, Timestamp, Turn, TurnKind};

struct FixedCalls(Vec<LiveCall>);

impl LiveCalls for FixedCalls {
    fn live_calls(&self) -> Vec<LiveCall> {
        self.0.clone()
    }
}

pub(super) struct Server {
    pub(super) addr: SocketAddr,
    pub(super) state: ApiState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(calls: Vec<LiveCall>) -> Server {
    start_with(calls, |state| state).await
}

/// A server whose state `adjust` may change (e.g. give it an ACD) before it serves.
pub(super) async fn start_with(
    calls: Vec<LiveCall>,
    adjust: impl FnOnce(ApiState) -> ApiState,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
    let options = StoreOptions {
        metrics,
        ..StoreOptions::default()
    };
    let tickets = TicketStore::open_with(&dir.path().join("t.db"), options).unwrap();
    let state = adjust(ApiState {
        metrics,
        ..ApiState::new(tickets, Arc::new(FixedCalls(calls)))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        state,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        serde_json::from_str(&self.body).unwrap()
    }
}

/// One request on a fresh connection; the server closes it after replying.
pub(super) async fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
    request_with_body(addr, method, target, "", &[]).await
}

/// [`request`] with a body; `headers` are extra header lines, each ending in CRLF.
pub(super) async fn request_with_body(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}{length}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A server that answers before reading a refused body may close early: ignore that.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    assert_eq!(
        header("transfer-encoding"),
        None,
        "bodies have a known length"
    );
    Reply {
        status: status.parse().unwrap(),
        content_type: header("content-type").unwrap_or_default(),
        body: body.to_owned(),
    }
}

pub(super) async fn get(server: &Server, target: &str) -> Reply {
    request(server.addr, "GET", target).await
}

fn new_ticket(n: u32) -> NewTicket {
    NewTicket {
        call_id: format!("call-{n}"),
        from: "sip:alice@example.com".into(),
        to: "sip:desk@voxdesk.test".into(),
        started_at: Timestamp::from_unix_millis(i64::from(n) * 1000),
    }
}

#[tokio::test]
async fn healthz_reports_ok_then_draining() {
    let server = start(vec![]).await;
    let reply = get(&server, "/healthz").await;
    assert_eq!((reply.status, reply.json()), (200, json!({"status": "ok"})));
    server.state.draining.store(true, Ordering::Relaxed);
    let reply = get(&server, "/healthz").await;
    assert_eq!(
        (reply.status, reply.json()),
        (503, json!({"status": "draining"}))
    );
}

#[tokio::test]
async fn calls_lists_live_calls() {
    let call = LiveCall {
        call_id: "abc@host".into(),
        ticket_id: Some(3),
        from: "sip:alice@example.com".into(),
        to: "sip:desk@voxdesk.test".into(),
        state: "answered".into(),
        started_at: "2024-01-01T00:00:00.000Z".into(),
        step: None,
    };
    let server = start(vec![call]).await;
    let reply = get(&server, "/api/calls").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"calls": [{
            "call_id": "abc@host",
            "ticket_id": 3,
            "from": "sip:alice@example.com",
            "to": "sip:desk@voxdesk.test",
            "state": "answered",
            "started_at": "2024-01-01T00:00:00.000Z",
            "step": null,
        }]})
    );
}

#[tokio::test]
async fn tickets_are_paged_newest_first() {
    let server = start(vec![]).await;
    let store = &server.state.tickets;
    for n in 1..=3 {
        store.create(new_ticket(n));
    }
    store.flush_async().await.unwrap();

    let reply = get(&server, "/api/tickets").await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        (&body["page"], &body["per_page"], &body["total"]),
        (&json!(1), &json!(50), &json!(3))
    );
    let ids: Vec<&Value> = body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(ids, [&json!(3), &json!(2), &json!(1)]);

    let body = get(&server, "/api/tickets?page=2&per_page=2").await.json();
    assert_eq!(body["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(body["tickets"][0]["call_id"], json!("call-1"));

    let body = get(&server, "/api/tickets?per_page=100000").await.json();
    assert_eq!(body["per_page"], json!(200), "capped");
}

#[tokio::test]
async fn bad_ticket_queries_are_json_400s() {
    let server = start(vec![]).await;
    for target in [
        "/api/tickets?page=abc",
        "/api/tickets?page=0",
        "/api/tickets?per_page=0",
        "/api/tickets?per_page=-1",
        "/api/tickets?page=99999999999",
        "/api/tickets?page=",
    ] {
        let reply = get(&server, target).await;
        assert_eq!(reply.status, 400, "{target}");
        assert!(reply.json()["error"].is_string(), "{target}");
    }
}

#[tokio::test]
async fn ticket_by_id_with_turns() {
    let server = start(vec![]).await;
    let store = &server.state.tickets;
    let id = store.create(new_ticket(1));
    store.answered(id, Timestamp::from_unix_millis(2000));
    let turn = Turn::new(Timestamp::from_unix_millis(2500), TurnKind::Menu, "1")
        .with_data(json!({"branch": "sales"}));
    store.add_turn(id, turn);
    store.finish(
        id,
        Timestamp::from_unix_millis(5000),
        Disposition::CallerHungUp,
    );
    store.flush_async().await.unwrap();

    let reply = get(&server, &format!("/api/tickets/{id}")).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["disposition"], json!("caller-hung-up"));
    assert_eq!(body["duration_ms"], json!(3000));
    assert_eq!(body["ended_at"], json!("1970-01-01T00:00:05.000Z"));
    assert_eq!(
        body["turns"],
        json!([{
            "at": "1970-01-01T00:00:02.500Z",
            "kind": "menu",
            "text": "1",
            "data": {"branch": "sales"},
        }])
    );
}

#[tokio::test]
async fn history_lists_the_callers_earlier_tickets() {
    let server = start(vec![]).await;
    let store = &server.state.tickets;
    let first = store.create(new_ticket(1));
    let mut stranger = new_ticket(2);
    stranger.from = "sip:bob@example.com".into();
    store.create(stranger);
    let current = store.create(new_ticket(3));
    store.flush_async().await.unwrap();

    let reply = get(&server, &format!("/api/tickets/{current}/history")).await;
    assert_eq!(reply.status, 200);
    let ids: Vec<Value> = reply.json()["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(first.0)]);
    let reply = get(&server, &format!("/api/tickets/{first}/history")).await;
    assert_eq!(reply.json(), json!({"tickets": []}));
    assert_eq!(get(&server, "/api/tickets/999/history").await.status, 404);
    assert_eq!(get(&server, "/api/tickets/x/history").await.status, 400);
}

#[tokio::test]
async fn ticket_errors_are_json() {
    let server = start(vec![]).await;
    let cases = [
        ("/api/tickets/42", 404),
        ("/api/tickets/-1", 404),
        ("/api/tickets/abc", 400),
        ("/api/tickets/1.5", 400),
        ("/api/tickets/99999999999999999999", 400),
        ("/api/tickets/%FF", 400),
    ];
    for (target, status) in cases {
        let reply = get(&server, target).await;
        assert_eq!(reply.status, status, "{target}: {}", reply.body);
        assert!(reply.json()["error"].is_string(), "{target}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let server = start(vec![]).await;
    let cases = [
        ("GET", "/nope", 404),
        ("GET", "/api/tickets/1/extra", 404),
        ("POST", "/api/tickets", 405),
        ("DELETE", "/healthz", 405),
    ];
    for (method, target, status) in cases {
        let reply = request(server.addr, method, target).await;
        assert_eq!(reply.status, status, "{method} {target}");
        assert!(reply.json()["error"].is_string(), "{method} {target}");
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = start(vec![]).await;
    server.state.metrics.sip_response_sent(180);
    let reply = get(&server, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/plain; version=0.0.4"));
    assert!(reply
        .body
        .lines()
        .any(|l| l == "voxdesk_sip_responses_sent_total{code=\"180\"} 1"));
}

#[tokio::test]
async fn serve_stops_on_shutdown_signal() {
    let mut server = start(vec![]).await;
    assert_eq!(get(&server, "/healthz").await.status, 200);
    server.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), &mut server.task)
        .await
        .expect("server stops")
        .unwrap();
    assert!(result.is_ok());
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_get_503() {
    let server = start(vec![]).await;
    let all = u32::try_from(crate::api::DEFAULT_MAX_IN_FLIGHT).unwrap();
    let held = server
        .state
        .in_flight
        .clone()
        .acquire_many_owned(all)
        .await
        .unwrap();
    let reply = get(&server, "/api/tickets").await;
    assert_eq!(reply.status, 503);
    assert!(reply.json()["error"].is_string());
    drop(held);
    assert_eq!(get(&server, "/api/tickets").await.status, 200);
}
