//! The browser agent desk over HTTP: the page itself (`/desk`, plain HTML/JS/CSS embedded in
//! the binary, no build step), login/logout, the desk websocket (rings, ended calls, this
//! agent's state changes) and the call buttons (answer with the browser's SDP, decline, hang
//! up, transfer, hold/resume). Every desk request but login carries `Authorization: Bearer TOKEN`; the
//! websocket takes `?token=` because browsers cannot set headers on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};

use super::error::ApiError;
use super::{ApiState, SEND_TIMEOUT};
use crate::acd::desk::{DeskError, DeskHub, DeskLogin, DeskSocket};
use crate::acd::service::AgentChange;
use crate::sip::endpoint::CallKey;

/// Body limit of an answer: a browser offer with all its ICE candidates is a few KiB.
pub(super) const MAX_SDP_BODY: usize = 64 * 1024;
/// Longest user name and password accepted at login.
const MAX_USER_CHARS: usize = 64;
const MAX_PASSWORD_CHARS: usize = 256;
/// Tokens are 64 hex digits; anything much longer is not one.
const MAX_TOKEN_CHARS: usize = 128;
/// Pages only send keepalives; this bounds what a hostile one can make us buffer.
const MAX_PAGE_MESSAGE: usize = 1024;
/// The server pings the page this often (browsers answer pings even in background tabs)...
const PING_EVERY: Duration = Duration::from_secs(20);
/// ...and gives up on a page it has heard nothing from for this long.
const PAGE_SILENCE: Duration = Duration::from_secs(65);

const PAGE_HTML: &str = include_str!("desk/desk.html");
const PAGE_JS: &str = include_str!("desk/desk.js");
const PAGE_CSS: &str = include_str!("desk/desk.css");

pub(super) async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE_HTML,
    )
}

pub(super) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PAGE_JS,
    )
}

pub(super) async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        PAGE_CSS,
    )
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        let status = match &e {
            DeskError::BadLogin | DeskError::BadToken => StatusCode::UNAUTHORIZED,
            DeskError::LockedOut | DeskError::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
            DeskError::TooManySessions => StatusCode::SERVICE_UNAVAILABLE,
            DeskError::NoSuchCall => StatusCode::NOT_FOUND,
            DeskError::WrongPhase(_) | DeskError::CallGone => StatusCode::CONFLICT,
            DeskError::BadSdp(_) | DeskError::BadTarget(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DeskError::Media(_) => StatusCode::BAD_GATEWAY,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

pub(super) fn hub(state: &ApiState) -> Result<&DeskHub, ApiError> {
    state
        .desk
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no agent desk"))
}

/// The bearer token of a request, if it has an `Authorization` header at all.
pub(super) fn bearer(headers: &HeaderMap) -> Option<Result<&str, ApiError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let bad = || ApiError::from(DeskError::BadToken);
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_CHARS)
        .ok_or_else(bad);
    Some(token)
}

/// The agent a desk request is from.
fn agent(state: &ApiState, headers: &HeaderMap) -> Result<(DeskHub, String), ApiError> {
    let desk = hub(state)?;
    let token = bearer(headers).unwrap_or_else(|| Err(DeskError::BadToken.into()))?;
    let user = desk.authenticate(token)?;
    Ok((desk.clone(), user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginBody {
    user: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<ApiState>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<DeskLogin>, ApiError> {
    let desk = hub(&state)?;
    let Json(body) = body?;
    if body.user.chars().count() > MAX_USER_CHARS
        || body.password.chars().count() > MAX_PASSWORD_CHARS
    {
        return Err(DeskError::BadLogin.into());
    }
    Ok(Json(desk.login(&body.user, &body.password)?))
}

pub(super) async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let desk = hub(&state)?;
    let token = bearer(&headers).unwrap_or_else(|| Err(DeskError::BadToken.into()))?;
    if !desk.logout(token) {
        return Err(DeskError::BadToken.into());
    }
    Ok(Json(json!({"status": "logged out"})))
}

#[derive(Deserialize)]
pub(super) struct SocketQuery {
    token: String,
}

/// The desk websocket; opening it makes the agent present (available) in the ACD.
pub(super) async fn socket(
    State(state): State<ApiState>,
    query: Result<Query<SocketQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let desk = hub(&state)?;
    let Query(query) = query?;
    let upgrade = upgrade?;
    // Subscribed before the socket counts, so the page sees its own "available".
    let changes = desk.agent_changes();
    let socket = desk.open_socket(&query.token)?;
    Ok(upgrade
        .max_message_size(MAX_PAGE_MESSAGE)
        .max_frame_size(MAX_PAGE_MESSAGE)
        .on_upgrade(move |ws| serve_page(ws, socket, changes)))
}

/// One message about this agent's state.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum AgentMessage<'a> {
    Agent(&'a AgentChange),
    Lagged { missed: u64 },
}

async fn serve_page(
    mut ws: WebSocket,
    mut desk: DeskSocket,
    mut changes: broadcast::Receiver<AgentChange>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut heard = Instant::now();
    loop {
        let text: Arc<str> = tokio::select! {
            pushed = desk.messages.recv() => match pushed {
                Some(text) => text,
                None => break,
            },
            change = changes.recv() => {
                let message = match &change {
                    Ok(change) if change.user == desk.user => AgentMessage::Agent(change),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => AgentMessage::Lagged { missed: *missed },
                    Err(RecvError::Closed) => break,
                };
                Arc::from(serde_json::to_string(&message).unwrap_or_default())
            }
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {
                    heard = Instant::now();
                    continue;
                }
            },
            _ = ping.tick() => {
                if heard.elapsed() > PAGE_SILENCE {
                    break;
                }
                let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Ping(Default::default()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return;
                }
                continue;
            }
        };
        let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(&*text))).await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
    let _ = ws.send(Message::Close(None)).await;
}

/// The logged-in agent and the call a `/api/desk/calls/{call}/…` route names.
fn agent_call(
    state: &ApiState,
    headers: &HeaderMap,
    call: Result<Path<String>, PathRejection>,
) -> Result<(DeskHub, String, CallKey), ApiError> {
    let (desk, user) = agent(state, headers)?;
    Ok((desk, user, call_key(call)?))
}

fn call_key(call: Result<Path<String>, PathRejection>) -> Result<CallKey, ApiError> {
    let Path(raw) = call?;
    raw.parse::<u64>()
        .map(CallKey)
        .map_err(|_| ApiError::bad_request(format!("call id must be an integer, got {raw:?}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerBody {
    sdp: String,
}

/// Answers a ringing call with the browser's SDP offer; the reply carries the SDP answer.
pub(super) async fn answer(
    State(state): State<ApiState>,
    headers: HeaderMap,
    call: Result<Path<String>, PathRejection>,
    body: Result<Json<AnswerBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let (desk, user, key) = agent_call(&state, &headers, call)?;
    let Json(body) = body?;
    let sdp = desk.answer(&user, key, &body.sdp).await?;
    Ok(Json(json!({ "sdp": sdp })))
}

pub(super) async fn decline(
    State(state): State<ApiState>,
    headers: HeaderMap,
    call: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (desk, user, key) = agent_call(&state, &headers, call)?;
    desk.decline(&user, key)?;
    Ok(Json(json!({"status": "declined"})))
}

pub(super) async fn hangup(
    State(state): State<ApiState>,
    headers: HeaderMap,
    call: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (desk, user, key) = agent_call(&state, &headers, call)?;
    desk.agent_hangup(&user, key)?;
    Ok(Json(json!({"status": "ended"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferBody {
    to: String,
}

pub(super) async fn transfer(
    State(state): State<ApiState>,
    headers: HeaderMap,
    call: Result<Path<String>, PathRejection>,
    body: Result<Json<TransferBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (desk, user, key) = agent_call(&state, &headers, call)?;
    let Json(body) = body?;
    desk.transfer(&user, key, body.to.trim())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "transferring", "to": body.to.trim()})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldBody {
    hold: bool,
}

/// Holds (`{"hold": true}`: the caller hears hold music) or resumes an answered call.
pub(super) async fn hold(
    State(state): State<ApiState>,
    headers: HeaderMap,
    call: Result<Path<String>, PathRejection>,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let (desk, user, key) = agent_call(&state, &headers, call)?;
    let Json(body) = body?;
    desk.hold(&user, key, body.hold)?;
    Ok(Json(json!({
        "status": if body.hold { "held" } else { "resumed" },
    })))
}
