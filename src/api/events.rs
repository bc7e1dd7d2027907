//! `GET /api/events`: a websocket that streams the ACD's agent state changes, one JSON text
//! message each: `{"type":"agent","user","from","to","reason"?}`.
//!
//! Bounded twice: at most [`MAX_EVENT_CLIENTS`] sockets at once (503 beyond), and no buffer per
//! client beyond the ACD's broadcast backlog. A client too slow for that backlog is told how
//! many changes it missed (`{"type":"lagged","missed":N}`) and carries on from the newest; one
//! that cannot take a message within [`SEND_TIMEOUT`] is disconnected.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::error::ApiError;
use super::{agents, busy, ApiState};
use crate::acd::service::AgentChange;

/// Websocket clients served at once.
pub const MAX_EVENT_CLIENTS: usize = 64;
/// A client that has not taken a message by then is gone or stuck.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients have nothing to say; this only bounds what a hostile one can make us buffer.
const MAX_CLIENT_MESSAGE: usize = 1024;

/// One message on the socket.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Event<'a> {
    Agent(&'a AgentChange),
    Lagged { missed: u64 },
}

pub(super) async fn events(
    State(state): State<ApiState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let acd = agents::handle(&state)?;
    let upgrade = upgrade?;
    let Ok(permit) = state.event_clients.clone().try_acquire_owned() else {
        return Ok(busy("too many event clients"));
    };
    // Subscribed before the upgrade answer goes out, so the client sees every change made
    // after it got that answer.
    let changes = acd.subscribe();
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            stream(socket, changes).await;
            drop(permit);
        }))
}

async fn stream(mut socket: WebSocket, mut changes: broadcast::Receiver<AgentChange>) {
    loop {
        let text = tokio::select! {
            received = changes.recv() => match message(received) {
                Some(text) => text,
                None => break,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the websocket layer; anything else is ignored.
                Some(Ok(message)) if !matches!(message, Message::Close(_)) => continue,
                _ => return,
            },
        };
        let sent = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::text(text))).await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// The text for one broadcast outcome; `None` once the ACD is gone.
fn message(received: Result<AgentChange, RecvError>) -> Option<String> {
    let text = match received {
        Ok(change) => serde_json::to_string(&Event::Agent(&change)),
        Err(RecvError::Lagged(missed)) => serde_json::to_string(&Event::Lagged { missed }),
        Err(RecvError::Closed) => return None,
    };
    // Serializing strings and numbers cannot fail.
    text.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn change(user: &str) -> AgentChange {
        AgentChange {
            user: user.into(),
            from: "available",
            to: "paused",
            reason: Some("lunch".into()),
        }
    }

    fn json_of(text: Option<String>) -> Option<Value> {
        text.map(|t| serde_json::from_str(&t).unwrap())
    }

    #[test]
    fn a_lagging_receiver_is_told_how_much_it_missed() {
        let (tx, mut rx) = broadcast::channel(2);
        for user in ["a", "b", "c", "d", "e"] {
            tx.send(change(user)).unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(json_of(message(rx.try_recv().map_err(|e| match e {
                broadcast::error::TryRecvError::Lagged(n) => RecvError::Lagged(n),
                other => panic!("{other:?}"),
            }))));
        }
        let agent = |user| json!({"type": "agent", "user": user, "from": "available", "to": "paused", "reason": "lunch"});
        assert_eq!(
            got,
            [
                Some(json!({"type": "lagged", "missed": 3})),
                Some(agent("d")),
                Some(agent("e")),
            ]
        );
        drop(tx);
        assert_eq!(message(Err(RecvError::Closed)), None);
    }

    #[test]
    fn a_change_without_reason_has_no_reason_key() {
        let unpaused = AgentChange {
            user: "bob".into(),
            from: "paused",
            to: "available",
            reason: None,
        };
        assert_eq!(
            json_of(message(Ok(unpaused))),
            Some(json!({"type": "agent", "user": "bob", "from": "paused", "to": "available"}))
        );
    }
}
