//! HTTP API (axum): health, live calls, tickets (and agents' notes and dispositions on them),
//! the ACD's queues and agents, an agent event websocket, the browser agent desk (its page,
//! login, desk websocket and call signalling) and Prometheus metrics.
//!
//! Views of the rest of the program: live calls through the [`LiveCalls`] trait the call layer
//! implements, tickets through [`TicketStore`]'s async reads, queues and agents through the
//! [`AcdHandle`] (the only writes: pausing and unpausing agents), counters from [`Metrics`].
//! Every error, including rejected paths, queries, bodies and unknown routes, is JSON
//! `{"error": message}`.

#![warn(missing_docs, unreachable_pub)]

mod agents;
mod desk;
mod directory;
mod error;
mod events;
mod routes;
mod supervise;
mod ticket_edits;

#[cfg(test)]
mod acd_tests;
#[cfg(test)]
mod desk_tests;
#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::acd::desk::DeskHub;
use crate::acd::service::AcdHandle;
use crate::call::CallControls;
use crate::metrics::{self, Metrics};
use crate::tickets::TicketStore;

pub use agents::MAX_REASON_CHARS;
pub use directory::LiveDirectory;
pub use error::ApiError;
pub use events::{MAX_EVENT_CLIENTS, SEND_TIMEOUT};

/// Largest request body accepted (the agent PATCH is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 4096;

/// One call in progress, as shown by `GET /api/calls`.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct LiveCall {
    /// SIP Call-ID.
    pub call_id: String,
    /// Its ticket, once created.
    pub ticket_id: Option<i64>,
    /// Caller URI.
    pub from: String,
    /// Called URI.
    pub to: String,
    /// Call state word (e.g. `ringing`, `answered`, `transferring`).
    pub state: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// Dialplan step the call is in, if any.
    pub step: Option<String>,
}

/// Source of the live call list; the call registry implements it.
pub trait LiveCalls: Send + Sync {
    /// A snapshot of calls in progress. Called on a runtime thread: must not block.
    fn live_calls(&self) -> Vec<LiveCall>;
}

/// Everything the handlers read.
#[derive(Clone)]
pub struct ApiState {
    /// Ticket database.
    pub tickets: TicketStore,
    /// Call registry view.
    pub live_calls: Arc<dyn LiveCalls>,
    /// Counters for `/metrics`.
    pub metrics: &'static Metrics,
    /// Set while the node drains; `/healthz` then answers 503 so balancers stop sending.
    pub draining: Arc<AtomicBool>,
    /// Requests handled at once; beyond them the answer is 503 with Retry-After.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The call distributor; without it the queue, agent and event routes answer 503.
    pub acd: Option<AcdHandle>,
    /// Event websockets open at once; beyond them the answer is 503 with Retry-After.
    pub event_clients: Arc<tokio::sync::Semaphore>,
    /// Commands to live calls (supervision); without them those routes answer 503.
    pub controls: Option<CallControls>,
    /// The browser agent desk; without it the desk's API routes answer 503.
    pub desk: Option<DeskHub>,
    /// Agents and queues the API may change; without it those writes answer 503.
    pub directory: Option<Arc<LiveDirectory>>,
}

/// Default for [`ApiState::in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

impl ApiState {
    /// State over the process-wide metrics with a fresh, unset draining flag and no ACD.
    pub fn new(tickets: TicketStore, live_calls: Arc<dyn LiveCalls>) -> Self {
        Self {
            tickets,
            live_calls,
            metrics: metrics::global(),
            draining: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
            acd: None,
            event_clients: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_CLIENTS)),
            controls: None,
            desk: None,
            directory: None,
        }
    }

    /// The same state managing agents and queues through `directory`.
    pub fn with_directory(self, directory: LiveDirectory) -> Self {
        Self {
            directory: Some(Arc::new(directory)),
            ..self
        }
    }

    /// The same state able to command live calls.
    pub fn with_controls(self, controls: CallControls) -> Self {
        Self {
            controls: Some(controls),
            ..self
        }
    }

    /// The same state serving `acd`'s queues and agents.
    pub fn with_acd(self, acd: AcdHandle) -> Self {
        Self {
            acd: Some(acd),
            ..self
        }
    }

    /// The same state serving the browser agent desk.
    pub fn with_desk(self, desk: DeskHub) -> Self {
        Self {
            desk: Some(desk),
            ..self
        }
    }
}

/// All routes.
pub fn router(state: ApiState) -> Router {
    let limit = state.in_flight.clone();
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/api/calls", get(routes::calls))
        .route(
            "/api/calls/{ticket}/supervise",
            post(supervise::supervise).delete(supervise::end_supervision),
        )
        .route("/api/tickets", get(routes::tickets))
        .route(
            "/api/tickets/{id}",
            get(routes::ticket).patch(ticket_edits::patch_ticket),
        )
        .route(
            "/api/tickets/{id}/notes",
            post(ticket_edits::add_note).layer(DefaultBodyLimit::max(ticket_edits::MAX_NOTE_BODY)),
        )
        .route("/api/tickets/{id}/recording", get(routes::recording))
        .route("/api/tickets/{id}/history", get(routes::history))
        .route(
            "/api/queues",
            get(agents::queues).post(directory::create_queue),
        )
        .route(
            "/api/queues/{name}",
            get(agents::queue)
                .patch(directory::update_queue)
                .delete(directory::delete_queue),
        )
        .route(
            "/api/agents",
            get(agents::agents).post(directory::create_agent),
        )
        .route(
            "/api/agents/{user}",
            get(agents::agent)
                .patch(agents::patch_agent)
                .delete(directory::delete_agent),
        )
        .route("/api/events", get(events::events))
        .route("/desk", get(desk::page))
        .route("/desk/desk.js", get(desk::script))
        .route("/desk/desk.css", get(desk::style))
        .route("/api/desk/login", post(desk::login))
        .route("/api/desk/logout", post(desk::logout))
        .route("/api/desk/ws", get(desk::socket))
        .route(
            "/api/desk/calls/{call}/answer",
            post(desk::answer).layer(DefaultBodyLimit::max(desk::MAX_SDP_BODY)),
        )
        .route("/api/desk/calls/{call}/decline", post(desk::decline))
        .route("/api/desk/calls/{call}/hangup", post(desk::hangup))
        .route("/api/desk/calls/{call}/transfer", post(desk::transfer))
        .route("/api/desk/calls/{call}/hold", post(desk::hold))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(limit, shed_load))
}

/// 503 with Retry-After: a limit is reached, the client may try again shortly.
fn busy(message: &str) -> Response {
    let mut rsp = ApiError::unavailable(message).into_response();
    rsp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    rsp
}

/// Refuses a request at once when the in-flight limit is reached, rather than queueing it.
async fn shed_load(
    axum::extract::State(limit): axum::extract::State<Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match limit.try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => busy("too many requests in flight"),
    }
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
