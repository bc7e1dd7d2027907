//! Route handlers. Each reads a model of the rest of the program and answers JSON or text.

use std::sync::atomic::Ordering;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::agents;
use super::error::ApiError;
use super::{ApiState, LiveCall};
use crate::tickets::{TicketId, TicketSummary, MAX_PER_PAGE};

const DEFAULT_PER_PAGE: u32 = 50;

pub(super) async fn healthz(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    if state.draining.load(Ordering::Relaxed) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
    } else {
        (StatusCode::OK, Json(json!({"status": "ok"})))
    }
}

#[derive(Serialize)]
pub(super) struct CallsBody {
    calls: Vec<LiveCall>,
}

pub(super) async fn calls(State(state): State<ApiState>) -> Json<CallsBody> {
    Json(CallsBody {
        calls: state.live_calls.live_calls(),
    })
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

#[derive(Serialize)]
pub(super) struct TicketsBody {
    tickets: Vec<TicketSummary>,
    page: u32,
    per_page: u32,
    total: u64,
}

pub(super) async fn tickets(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TicketsBody>, ApiError> {
    let Query(query) = query?;
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad_request("page must be 1 or more"));
    }
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 {
        return Err(ApiError::bad_request("per_page must be 1 or more"));
    }
    let listed = state.tickets.list(page, per_page.min(MAX_PER_PAGE)).await?;
    Ok(Json(TicketsBody {
        tickets: listed.items,
        page: listed.page,
        per_page: listed.per_page,
        total: listed.total,
    }))
}

pub(super) fn ticket_id(id: Result<Path<String>, PathRejection>) -> Result<TicketId, ApiError> {
    let Path(raw) = id?;
    raw.parse::<i64>()
        .map(TicketId)
        .map_err(|_| ApiError::bad_request(format!("ticket id must be an integer, got {raw:?}")))
}

pub(super) async fn ticket(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ticket_id(id)?;
    match state.tickets.get(id).await? {
        Some(ticket) => Ok(Json(ticket)),
        None => Err(ApiError::not_found(format!("no ticket {id}"))),
    }
}

/// Earlier tickets shown beside a live call.
const HISTORY_LIMIT: u32 = 20;

#[derive(Serialize)]
pub(super) struct HistoryBody {
    tickets: Vec<TicketSummary>,
}

/// The caller's earlier tickets (same From URI), newest first: what an agent sees next to a
/// new call.
pub(super) async fn history(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<HistoryBody>, ApiError> {
    let id = ticket_id(id)?;
    let ticket = state
        .tickets
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no ticket {id}")))?;
    let tickets = state
        .tickets
        .caller_history(&ticket.summary.from_uri, id, HISTORY_LIMIT)
        .await?;
    Ok(Json(HistoryBody { tickets }))
}

/// The call's stereo WAV (caller left, voxdesk right), for supervisors to listen to.
pub(super) async fn recording(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ticket_id(id)?;
    let ticket = state
        .tickets
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no ticket {id}")))?;
    // The path comes from our own ticket row, never from the request.
    let path = ticket
        .summary
        .recording_path
        .ok_or_else(|| ApiError::not_found(format!("ticket {id} has no recording")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::not_found(format!("recording of ticket {id} is gone")))?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes))
}

/// Counters, plus the ACD's gauges when it answers (a scrape never fails for want of them).
pub(super) async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let families = match &state.acd {
        Some(acd) => match agents::snapshot(acd).await {
            Ok((snapshot, _)) => Vec::from(agents::gauge_families(&snapshot)),
            Err(e) => {
                tracing::warn!(error = %e.message, "metrics without ACD gauges");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render_prometheus_with(&families),
    )
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "method not allowed".into(),
    }
}
