//! The desk's routes and the ticket edits over real HTTP, with a real ACD task and desk hub,
//! a fake call task owning the desk legs' keys, and tickets in a temporary SQLite file.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::tests::{get, request, request_with_body, start_with, Reply, Server};
use super::*;
use crate::acd::desk::DeskRing;
use crate::acd::parse_str;
use crate::call::LegRoutes;
use crate::media::webrtc::WebrtcConfig;
use crate::sip::endpoint::{CallKey, SipEvent};
use crate::tickets::{NewTicket, TicketId, Timestamp};

const AGENTS: &str = "\
agents:
  - user: alice
    password: wonder
    name: Alice Smith
    queues: [support]
queues:
  - name: support
";

struct Desk {
    server: Server,
    hub: DeskHub,
    legs: LegRoutes,
    calls: mpsc::Receiver<SipEvent>,
}

const OWNER: CallKey = CallKey(1);

async fn start_desk() -> Desk {
    let file = parse_str(AGENTS, "test").unwrap();
    let acd = AcdHandle::start(&file);
    let (_, directory) = watch::channel(Arc::new(file));
    let legs = LegRoutes::default();
    let (owner, calls) = mpsc::channel(16);
    legs.insert(OWNER, owner);
    let webrtc = WebrtcConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
    };
    let hub = DeskHub::new(acd.clone(), legs.clone(), webrtc, directory);
    let server = start_with(vec![], |state| {
        state.with_acd(acd.clone()).with_desk(hub.clone())
    })
    .await;
    Desk {
        server,
        hub,
        legs,
        calls,
    }
}

impl Desk {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    async fn login(&self) -> String {
        let reply = post(
            self.addr(),
            "/api/desk/login",
            "",
            r#"{"user":"alice","password":"wonder"}"#,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(
            (&body["user"], &body["name"]),
            (&json!("alice"), &json!("Alice Smith"))
        );
        body["token"].as_str().unwrap().to_owned()
    }

    fn ring(&self) -> Option<CallKey> {
        let key = self.legs.new_leg(OWNER).unwrap();
        self.hub
            .ring(DeskRing {
                key,
                user: "alice".into(),
                offer_sdp: "v=0".into(),
                ticket: 1,
                caller: "sip:carol@example.com".into(),
                intent: None,
                queue: "support".into(),
                queue_wait_secs: 3,
            })
            .then_some(key)
    }

    fn events(&mut self) -> Vec<SipEvent> {
        std::iter::from_fn(|| self.calls.try_recv().ok()).collect()
    }
}

async fn post(addr: SocketAddr, target: &str, token: &str, body: &str) -> Reply {
    send(addr, "POST", target, token, body).await
}

async fn send(addr: SocketAddr, method: &str, target: &str, token: &str, body: &str) -> Reply {
    let mut headers = String::from("Content-Type: application/json\r\n");
    if !token.is_empty() {
        headers.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request_with_body(addr, method, target, &headers, body.as_bytes()).await
}

fn assert_error(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert!(reply.json()["error"].is_string(), "{what}: {}", reply.body);
}

#[tokio::test]
async fn without_a_desk_its_api_answers_503_but_the_page_is_served() {
    let server = start_with(vec![], |state| state).await;
    let login = r#"{"user":"alice","password":"wonder"}"#;
    assert_error(
        &post(server.addr, "/api/desk/login", "", login).await,
        503,
        "login",
    );
    assert_error(
        &post(server.addr, "/api/desk/logout", "t", "").await,
        503,
        "logout",
    );
    assert_error(
        &post(server.addr, "/api/desk/calls/5/decline", "t", "").await,
        503,
        "decline",
    );
    assert_error(&get(&server, "/api/desk/ws?token=t").await, 503, "ws");
    for (path, kind) in [
        ("/desk", "text/html"),
        ("/desk/desk.js", "text/javascript"),
        ("/desk/desk.css", "text/css"),
    ] {
        let reply = get(&server, path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply.content_type.starts_with(kind),
            "{path}: {}",
            reply.content_type
        );
    }
}

#[tokio::test]
async fn login_answers_a_token_or_401_and_bad_bodies_are_4xx_json() {
    let desk = start_desk().await;
    let token = desk.login().await;
    assert_eq!(token.len(), 64);
    for body in [
        r#"{"user":"alice","password":"nope"}"#,
        r#"{"user":"mallory","password":"wonder"}"#,
    ] {
        assert_error(
            &post(desk.addr(), "/api/desk/login", "", body).await,
            401,
            body,
        );
    }
    for (body, status) in [
        ("{", 400),
        (r#"{"user":"alice"}"#, 422),
        (r#"{"user":"alice","password":"wonder","admin":true}"#, 422),
    ] {
        assert_error(
            &post(desk.addr(), "/api/desk/login", "", body).await,
            status,
            body,
        );
    }
    let reply = request(desk.addr(), "POST", "/api/desk/login").await;
    assert!(
        (400..500).contains(&reply.status),
        "no body: {}",
        reply.status
    );

    assert_eq!(
        post(desk.addr(), "/api/desk/logout", &token, "")
            .await
            .status,
        200
    );
    assert_error(
        &post(desk.addr(), "/api/desk/logout", &token, "").await,
        401,
        "twice",
    );
    assert_error(
        &post(desk.addr(), "/api/desk/calls/5/hangup", &token, "").await,
        401,
        "after",
    );
}

#[tokio::test]
async fn call_routes_need_a_token_and_the_agents_own_call() {
    let mut desk = start_desk().await;
    let token = desk.login().await;
    for action in ["answer", "decline", "hangup", "transfer", "hold"] {
        let target = format!("/api/desk/calls/5/{action}");
        assert_error(&post(desk.addr(), &target, "", "{}").await, 401, &target);
        assert_error(
            &post(desk.addr(), &target, "forged", "{}").await,
            401,
            &target,
        );
    }
    let answer = r#"{"sdp":"v=0"}"#;
    let unknown = post(desk.addr(), "/api/desk/calls/5/answer", &token, answer).await;
    assert_error(&unknown, 404, "unknown call");
    let bad_id = post(desk.addr(), "/api/desk/calls/-1/decline", &token, "").await;
    assert_error(&bad_id, 400, "bad id");
    let huge = format!("/api/desk/calls/{}0/decline", u64::MAX);
    assert_error(&post(desk.addr(), &huge, &token, "").await, 400, "overflow");

    // A ring needs an open desk; the API's own routes work on the hub's calls.
    assert_eq!(desk.ring(), None);
    let _socket = desk.hub.open_socket(&token).unwrap();
    let key = desk.ring().unwrap();
    let call = |action: &str| format!("/api/desk/calls/{}/{action}", key.0);
    let transfer = post(desk.addr(), &call("transfer"), &token, r#"{"to":"bob"}"#).await;
    assert_error(&transfer, 409, "transfer while ringing");
    let transfer = post(
        desk.addr(),
        &call("transfer"),
        &token,
        r#"{"target":"bob"}"#,
    )
    .await;
    assert_error(&transfer, 422, "transfer body");
    let hold = post(desk.addr(), &call("hold"), &token, r#"{"hold":true}"#).await;
    assert_error(&hold, 409, "hold while ringing");
    for body in [r#"{"hold":"yes"}"#, r#"{}"#, r#"{"hold":true,"music":"x"}"#] {
        assert_error(
            &post(desk.addr(), &call("hold"), &token, body).await,
            422,
            body,
        );
    }
    assert_error(
        &post(
            desk.addr(),
            "/api/desk/calls/5/hold",
            &token,
            r#"{"hold":false}"#,
        )
        .await,
        404,
        "hold an unknown call",
    );
    assert!(desk.events().is_empty(), "nothing reached the call");
    let declined = post(desk.addr(), &call("decline"), &token, "").await;
    assert_eq!(
        (declined.status, declined.json()),
        (200, json!({"status": "declined"}))
    );
    assert_eq!(
        desk.events(),
        vec![SipEvent::Rejected { key, code: 603 }, SipEvent::Ended(key)]
    );
    assert_error(
        &post(desk.addr(), &call("hangup"), &token, "").await,
        404,
        "gone",
    );

    let key = desk.ring().unwrap();
    let hangup = post(
        desk.addr(),
        &format!("/api/desk/calls/{}/hangup", key.0),
        &token,
        "",
    )
    .await;
    assert_eq!(hangup.status, 200);
    assert_eq!(
        desk.events(),
        vec![SipEvent::Rejected { key, code: 480 }, SipEvent::Ended(key)]
    );
}

#[tokio::test]
async fn an_answer_that_cannot_be_set_up_is_an_error_and_the_call_rings_on() {
    let mut desk = start_desk().await;
    let token = desk.login().await;
    let _socket = desk.hub.open_socket(&token).unwrap();
    let key = desk.ring().unwrap();
    let target = format!("/api/desk/calls/{}/answer", key.0);
    let big_offer = json!({"sdp": "a".repeat(20_000)}).to_string();
    let reply = post(desk.addr(), &target, &token, &big_offer).await;
    assert!(
        (400..600).contains(&reply.status) && reply.status != 413,
        "{}",
        reply.status
    );
    assert!(reply.json()["error"].is_string());
    assert!(desk.events().is_empty());
    let declined = post(
        desk.addr(),
        &format!("/api/desk/calls/{}/decline", key.0),
        &token,
        "",
    )
    .await;
    assert_eq!(declined.status, 200, "still ringing: {}", declined.body);
}

async fn ticket(desk: &Desk) -> TicketId {
    let store = &desk.server.state.tickets;
    let id = store.create(NewTicket {
        call_id: "c1".into(),
        from: "sip:carol@example.com".into(),
        to: "sip:support@voxdesk".into(),
        started_at: Timestamp::from_unix_millis(1_000),
    });
    store.flush_async().await.unwrap();
    id
}

async fn stored(desk: &Desk, id: TicketId) -> Value {
    desk.server.state.tickets.flush_async().await.unwrap();
    let reply = get(&desk.server, &format!("/api/tickets/{id}")).await;
    assert_eq!(reply.status, 200);
    reply.json()
}

#[tokio::test]
async fn notes_land_on_the_ticket_by_token_user_or_by_body() {
    let desk = start_desk().await;
    let token = desk.login().await;
    let id = ticket(&desk).await;
    let target = format!("/api/tickets/{id}/notes");
    let by_token = post(desk.addr(), &target, &token, r#"{"text":" called back "}"#).await;
    assert_eq!(by_token.status, 201, "{}", by_token.body);
    assert_eq!(by_token.json()["by"], "alice");
    let by_body = r#"{"text":"checked the order","by":"crm"}"#;
    assert_eq!(post(desk.addr(), &target, "", by_body).await.status, 201);
    let notes = stored(&desk, id).await["notes"].clone();
    let pairs: Vec<(Value, Value)> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["by"].clone(), n["text"].clone()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (json!("alice"), json!("called back")),
            (json!("crm"), json!("checked the order")),
        ]
    );

    for (token, body, status) in [
        ("", r#"{"text":"who am i"}"#, 422),
        ("", r#"{"text":"   ","by":"crm"}"#, 422),
        ("forged", r#"{"text":"x"}"#, 401),
        ("", r#"{"text":"x","by":"crm","extra":1}"#, 422),
        ("", r#"{"text":5}"#, 422),
        ("", "not json", 400),
    ] {
        assert_error(&post(desk.addr(), &target, token, body).await, status, body);
    }
    let unknown = post(
        desk.addr(),
        "/api/tickets/999/notes",
        "",
        r#"{"text":"x","by":"a"}"#,
    )
    .await;
    assert_error(&unknown, 404, "unknown ticket");
    let bad_id = post(
        desk.addr(),
        "/api/tickets/x/notes",
        "",
        r#"{"text":"x","by":"a"}"#,
    )
    .await;
    assert_error(&bad_id, 400, "bad id");
}

#[tokio::test]
async fn a_disposition_patch_lands_on_the_ticket() {
    let desk = start_desk().await;
    let id = ticket(&desk).await;
    let target = format!("/api/tickets/{id}");
    let reply = send(
        desk.addr(),
        "PATCH",
        &target,
        "",
        r#"{"disposition":"resolved"}"#,
    )
    .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"id": id.0, "agent_disposition": "resolved"}))
    );
    assert_eq!(stored(&desk, id).await["agent_disposition"], "resolved");
    for (body, status) in [
        (r#"{"disposition":"two words"}"#, 422),
        (r#"{"disposition":""}"#, 422),
        (r#"{"state":"done"}"#, 422),
        ("{", 400),
    ] {
        assert_error(
            &send(desk.addr(), "PATCH", &target, "", body).await,
            status,
            body,
        );
    }
    let unknown = send(
        desk.addr(),
        "PATCH",
        "/api/tickets/999",
        "",
        r#"{"disposition":"x"}"#,
    )
    .await;
    assert_error(&unknown, 404, "unknown ticket");
}

mod websocket {
    use std::net::TcpStream;

    use tungstenite::handshake::HandshakeError;
    use tungstenite::{Error as WsError, Message};

    use super::*;

    type Client = tungstenite::WebSocket<TcpStream>;

    async fn connect(addr: SocketAddr, token: &str) -> Result<Client, u16> {
        let url = format!("ws://{addr}/api/desk/ws?token={token}");
        tokio::task::spawn_blocking(move || {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            match tungstenite::client(url, stream) {
                Ok((client, _)) => Ok(client),
                Err(HandshakeError::Failure(WsError::Http(rsp))) => Err(rsp.status().as_u16()),
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

    async fn close(client: Client) {
        tokio::task::spawn_blocking(move || {
            let mut client = client;
            client.close(None).unwrap();
            while client.read().is_ok() {}
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_desk_socket_brings_the_agent_online_and_pushes_rings() {
        let mut desk = start_desk().await;
        assert_eq!(connect(desk.addr(), "forged").await.err(), Some(401));
        let token = desk.login().await;
        let client = connect(desk.addr(), &token).await.unwrap();
        let (client, online) = next_json(client).await;
        assert_eq!(
            online,
            json!({"type": "agent", "user": "alice", "from": "offline", "to": "available"})
        );
        assert!(desk.hub.is_logged_in("alice"));
        let agent = get(&desk.server, "/api/agents/alice").await.json();
        assert_eq!(agent["state"], "available");

        let key = desk.ring().unwrap();
        let (client, ring) = next_json(client).await;
        assert_eq!(
            ring,
            json!({"type": "ring", "call": key.0.to_string(), "ticket": 1,
                   "caller": "sip:carol@example.com", "intent": null, "queue": "support",
                   "queue_wait_secs": 3})
        );
        desk.hub.hangup(key);
        let (client, ended) = next_json(client).await;
        assert_eq!(ended, json!({"type": "ended", "call": key.0.to_string()}));
        assert!(desk.events().is_empty());

        // Closing the page ends a ringing call and takes the agent offline.
        let key = desk.ring().unwrap();
        let (client, _) = next_json(client).await;
        close(client).await;
        tokio::time::timeout(Duration::from_secs(5), async {
            while desk.hub.is_logged_in("alice") {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the closed page counts no more");
        assert_eq!(
            desk.events(),
            vec![SipEvent::Rejected { key, code: 480 }, SipEvent::Ended(key)]
        );
        let mut state = Value::Null;
        for _ in 0..100 {
            state = get(&desk.server, "/api/agents/alice").await.json()["state"].clone();
            if state == "offline" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(state, "offline");
    }
}
