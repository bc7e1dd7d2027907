//! Queues, agents, agent PATCH, the event websocket and the ACD's metrics, over real HTTP
//! against a real ACD task built from an agents file.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::tests::{get, request, request_with_body, start_with, Reply, Server};
use super::*;
use crate::acd::{parse_str, CallId, CallerInfo};

const AGENTS: &str = "\
agents:
  - user: alice
    password: x
    name: Alice Smith
    queues: [support, sales]
  - user: bob
    password: x
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
  - name: sales
    strategy: ring-all
";

async fn start_acd() -> (Server, AcdHandle) {
    let file = parse_str(AGENTS, "test").unwrap();
    let acd = AcdHandle::start(&file);
    let server = start_with(vec![], |state| state.with_acd(acd.clone())).await;
    (server, acd)
}

/// Alice online (available), bob offline.
async fn start_with_alice_online() -> (Server, AcdHandle) {
    let (server, acd) = start_acd().await;
    acd.online("alice");
    (server, acd)
}

async fn patch(addr: SocketAddr, target: &str, body: &str) -> Reply {
    let json = "Content-Type: application/json\r\n";
    request_with_body(addr, "PATCH", target, json, body.as_bytes()).await
}

fn assert_error(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert!(reply.json()["error"].is_string(), "{what}: {}", reply.body);
}

#[tokio::test]
async fn without_an_acd_the_acd_routes_answer_503() {
    let server = start_with(vec![], |state| state).await;
    for (method, target) in [
        ("GET", "/api/queues"),
        ("GET", "/api/queues/support"),
        ("GET", "/api/agents"),
        ("GET", "/api/agents/alice"),
        ("GET", "/api/events"),
    ] {
        let reply = request(server.addr, method, target).await;
        assert_error(&reply, 503, target);
    }
    let reply = patch(server.addr, "/api/agents/alice", r#"{"state":"available"}"#).await;
    assert_error(&reply, 503, "patch");
    assert_eq!(get(&server, "/metrics").await.status, 200);
}

#[tokio::test]
async fn queues_list_counts_and_totals() {
    let (server, acd) = start_with_alice_online().await;
    let reply = get(&server, "/api/queues").await;
    assert_eq!(reply.status, 200);
    let counts = |available, offline| {
        json!({"offline": offline, "available": available, "ringing": 0, "on_call": 0,
               "wrap_up": 0, "paused": 0})
    };
    assert_eq!(
        reply.json(),
        json!({
            "queues": [
                {"name": "support", "strategy": "longest-idle", "waiting": 0,
                 "longest_wait_ms": 0, "agents": counts(1, 1)},
                {"name": "sales", "strategy": "ring-all", "waiting": 0,
                 "longest_wait_ms": 0, "agents": counts(1, 0)},
            ],
            "totals": {"answered": 0, "abandoned": 0, "timed_out": 0, "service_level": null,
                       "abandon_rate": null, "average_talk_seconds": null},
        })
    );

    let metrics = server.state.metrics;
    metrics.queue_calls_answered.add(3);
    metrics.queue_answered_within_20s.add(3);
    metrics.queue_calls_timed_out.inc();
    metrics.agent_talked(Duration::from_secs(60));
    let totals = get(&server, "/api/queues").await.json()["totals"].clone();
    assert_eq!(
        totals,
        json!({"answered": 3, "abandoned": 0, "timed_out": 1, "service_level": 0.75,
               "abandon_rate": 0.0, "average_talk_seconds": 20.0})
    );

    // A caller rings alice: waiting counts ringing callers.
    let (_, _notices) = acd
        .enqueue(CallId(1), "sales", CallerInfo::default())
        .await
        .unwrap();
    let reply = get(&server, "/api/queues/sales").await;
    assert_eq!(reply.status, 200);
    let sales = reply.json();
    assert_eq!(
        (&sales["name"], &sales["waiting"]),
        (&json!("sales"), &json!(1))
    );
    assert_eq!(sales["agents"]["ringing"], json!(1));
    assert!(sales["longest_wait_ms"].is_u64());

    for target in ["/api/queues/nope", "/api/queues/%FF"] {
        let reply = get(&server, target).await;
        assert!(matches!(reply.status, 400 | 404), "{target}");
        assert!(reply.json()["error"].is_string(), "{target}");
    }
}

#[tokio::test]
async fn agents_list_and_one() {
    let (server, _acd) = start_with_alice_online().await;
    let reply = get(&server, "/api/agents").await;
    assert_eq!(reply.status, 200);
    let mut body = reply.json();
    let agents = body["agents"].as_array_mut().unwrap();
    for agent in agents.iter_mut() {
        assert!(agent["since_ms"].is_u64(), "{agent}");
        agent["since_ms"] = json!(0);
    }
    assert_eq!(
        body,
        json!({"agents": [
            {"user": "alice", "name": "Alice Smith", "state": "available", "since_ms": 0,
             "calls_taken": 0, "misses": 0},
            {"user": "bob", "name": "bob", "state": "offline", "since_ms": 0,
             "calls_taken": 0, "misses": 0},
        ]})
    );
    let reply = get(&server, "/api/agents/bob").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["state"], json!("offline"));
    assert_error(&get(&server, "/api/agents/zed").await, 404, "unknown agent");
}

#[tokio::test]
async fn pause_with_reason_then_available_again() {
    let (server, _acd) = start_with_alice_online().await;
    let reply = patch(
        server.addr,
        "/api/agents/alice",
        r#"{"state":"paused","reason":"lunch"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let alice = reply.json();
    assert_eq!(
        (&alice["user"], &alice["state"], &alice["reason"]),
        (&json!("alice"), &json!("paused"), &json!("lunch"))
    );
    let queue = get(&server, "/api/queues/support").await.json();
    assert_eq!(queue["agents"]["paused"], json!(1));

    let reply = patch(server.addr, "/api/agents/alice", r#"{"state":"available"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let alice = reply.json();
    assert_eq!(alice["state"], json!("available"));
    assert_eq!(alice.get("reason"), None, "no reason once unpaused");

    let again = patch(server.addr, "/api/agents/alice", r#"{"state":"available"}"#).await;
    assert_eq!(again.status, 200, "already available is not an error");
}

#[tokio::test]
async fn refused_and_unknown_agents() {
    let (server, _acd) = start_with_alice_online().await;
    let cases = [
        ("/api/agents/bob", r#"{"state":"paused","reason":"x"}"#, 409),
        ("/api/agents/bob", r#"{"state":"available"}"#, 409),
        ("/api/agents/zed", r#"{"state":"available"}"#, 404),
        ("/api/agents/zed", r#"{"state":"paused"}"#, 404),
    ];
    for (target, body, status) in cases {
        let reply = patch(server.addr, target, body).await;
        assert_error(&reply, status, &format!("{target} {body}"));
    }
    let reply = patch(server.addr, "/api/agents/bob", r#"{"state":"paused"}"#).await;
    assert!(reply.json()["error"].as_str().unwrap().contains("offline"));
}

#[tokio::test]
async fn hostile_patch_bodies_are_4xx_json_and_change_nothing() {
    let (server, _acd) = start_with_alice_online().await;
    let nested = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
    let long_reason = format!(r#"{{"state":"paused","reason":"{}"}}"#, "x".repeat(101));
    let json = "Content-Type: application/json\r\n";
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (json, b"".to_vec(), &[400]),
        (json, b"{".to_vec(), &[400]),
        (json, b"null".to_vec(), &[422]),
        (json, b"[]".to_vec(), &[422]),
        (json, b"\"paused\"".to_vec(), &[422]),
        (json, br#"{"state":"sleeping"}"#.to_vec(), &[422]),
        (json, br#"{"state":"PAUSED"}"#.to_vec(), &[422]),
        (json, br#"{"state":1}"#.to_vec(), &[400, 422]),
        (json, br#"{"reason":"x"}"#.to_vec(), &[422]),
        (json, br#"{"state":"paused","reason":5}"#.to_vec(), &[422]),
        (json, br#"{"state":"paused","admin":true}"#.to_vec(), &[422]),
        (json, br#"{"state":"paused","reason":""}"#.to_vec(), &[422]),
        (
            json,
            br#"{"state":"paused","reason":"a\u0000b"}"#.to_vec(),
            &[422],
        ),
        (
            json,
            br#"{"state":"available","reason":"x"}"#.to_vec(),
            &[422],
        ),
        (json, long_reason.into_bytes(), &[422]),
        (json, b"{\"state\":\"\xff\"}".to_vec(), &[400]),
        (json, nested.into_bytes(), &[400]),
        (json, vec![b' '; MAX_BODY_BYTES + 1], &[413]),
        ("", br#"{"state":"paused"}"#.to_vec(), &[415]),
        (
            "Content-Type: text/plain\r\n",
            br#"{"state":"paused"}"#.to_vec(),
            &[415],
        ),
    ];
    for (headers, body, statuses) in cases {
        let what = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let reply =
            request_with_body(server.addr, "PATCH", "/api/agents/alice", headers, &body).await;
        assert!(
            statuses.contains(&reply.status),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.json()["error"].is_string(), "{what}");
    }
    let alice = get(&server, "/api/agents/alice").await.json();
    assert_eq!(alice["state"], json!("available"));
}

#[tokio::test]
async fn metrics_include_acd_gauges_and_queue_counters() {
    let (server, acd) = start_with_alice_online().await;
    let (_, _notices) = acd
        .enqueue(CallId(7), "support", CallerInfo::default())
        .await
        .unwrap();
    let reply = get(&server, "/metrics").await;
    assert_eq!(reply.status, 200);
    let lines: Vec<&str> = reply.body.lines().collect();
    for want in [
        "# TYPE voxdesk_agents gauge",
        "voxdesk_agents{state=\"offline\"} 1",
        "voxdesk_agents{state=\"ringing\"} 1",
        "voxdesk_agents{state=\"on_call\"} 0",
        "voxdesk_queue_waiting{queue=\"support\"} 1",
        "voxdesk_queue_waiting{queue=\"sales\"} 0",
        "voxdesk_queue_longest_wait_seconds{queue=\"sales\"} 0",
        "voxdesk_queue_calls_answered_total 0",
        "voxdesk_queue_answered_within_20s_total 0",
        "voxdesk_agent_talk_seconds_total 0",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{}", reply.body);
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("voxdesk_queue_longest_wait_seconds{queue=\"support\"} ")));
}

mod websocket {
    use std::net::TcpStream;

    use tungstenite::handshake::HandshakeError;
    use tungstenite::{Error as WsError, Message};

    use super::*;

    type Client = tungstenite::WebSocket<TcpStream>;

    /// A blocking client (in a blocking thread) so the test needs no async websocket crate.
    async fn connect(addr: SocketAddr) -> Result<Client, u16> {
        tokio::task::spawn_blocking(move || {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            match tungstenite::client(format!("ws://{addr}/api/events"), stream) {
                Ok((client, _)) => Ok(client),
                Err(HandshakeError::Failure(WsError::Http(rsp))) => {
                    let status = rsp.status().as_u16();
                    if status == 503 {
                        assert_eq!(rsp.headers()["retry-after"], "1");
                    }
                    Err(status)
                }
                Err(e) => panic!("handshake: {e}"),
            }
        })
        .await
        .unwrap()
    }

    async fn next_json(mut client: Client) -> (Client, Value) {
        tokio::task::spawn_blocking(move || loop {
            match client.read().unwrap() {
                Message::Text(text) => {
                    let value = serde_json::from_str(text.as_str()).unwrap();
                    return (client, value);
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn pausing_an_agent_is_streamed() {
        let (server, _acd) = start_with_alice_online().await;
        let client = connect(server.addr).await.unwrap();
        let body = r#"{"state":"paused","reason":"lunch"}"#;
        assert_eq!(
            patch(server.addr, "/api/agents/alice", body).await.status,
            200
        );
        let (client, event) = next_json(client).await;
        assert_eq!(
            event,
            json!({"type": "agent", "user": "alice", "from": "available", "to": "paused",
                   "reason": "lunch"})
        );
        let body = r#"{"state":"available"}"#;
        assert_eq!(
            patch(server.addr, "/api/agents/alice", body).await.status,
            200
        );
        let (_, event) = next_json(client).await;
        assert_eq!(
            event,
            json!({"type": "agent", "user": "alice", "from": "paused", "to": "available"})
        );
    }

    #[tokio::test]
    async fn clients_beyond_the_limit_get_503_until_one_leaves() {
        let file = parse_str(AGENTS, "test").unwrap();
        let acd = AcdHandle::start(&file);
        let server = start_with(vec![], |state| ApiState {
            event_clients: Arc::new(tokio::sync::Semaphore::new(1)),
            ..state.with_acd(acd)
        })
        .await;
        let first = connect(server.addr).await.unwrap();
        assert_eq!(connect(server.addr).await.err(), Some(503));

        tokio::task::spawn_blocking(move || {
            let mut first = first;
            first.close(None).unwrap();
            // Reads until the server's close answer (or the socket's end).
            while first.read().is_ok() {}
        })
        .await
        .unwrap();
        let permits = &server.state.event_clients;
        tokio::time::timeout(Duration::from_secs(5), async {
            while permits.available_permits() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the closed client's slot is freed");
        assert!(connect(server.addr).await.is_ok());
    }

    #[tokio::test]
    async fn a_plain_get_is_a_json_error() {
        let (server, _acd) = start_acd().await;
        let reply = get(&server, "/api/events").await;
        assert!((400..500).contains(&reply.status), "{}", reply.status);
        assert!(reply.json()["error"].is_string());
    }
}
