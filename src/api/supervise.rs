//! `POST /api/calls/{ticket}/supervise {supervisor, mode}` rings a supervisor in on a call
//! bridged to an agent (or switches the attached supervisor's mode);
//! `DELETE /api/calls/{ticket}/supervise` hangs the supervisor up. Calls are named by their
//! ticket, which is what `GET /api/calls` and the desk show.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::ApiState;
use crate::acd::file::is_valid_name;
use crate::call::{CallControl, CallControls, ControlError};
use crate::media::bridge::SupervisorMode;

/// Body of `POST /api/calls/{ticket}/supervise`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SuperviseBody {
    supervisor: String,
    mode: String,
}

fn controls(state: &ApiState) -> Result<&CallControls, ApiError> {
    state
        .controls
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("calls cannot be supervised here"))
}

fn ticket(raw: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(raw) = raw?;
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("ticket id must be an integer, got {raw:?}")))
}

fn refused(error: ControlError) -> ApiError {
    match error {
        ControlError::NoCall => ApiError::not_found(error.to_string()),
        ControlError::Busy => ApiError::unavailable(error.to_string()),
        ControlError::Unreachable(_) => ApiError::unprocessable(error.to_string()),
        ControlError::NotWithAgent
        | ControlError::IsTheAgent(_)
        | ControlError::NoSupervisor
        | ControlError::NotPlacedBy(_) => ApiError::conflict(error.to_string()),
    }
}

pub(super) async fn supervise(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<SuperviseBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ticket = ticket(id)?;
    let Json(body) = body?;
    let mode = SupervisorMode::from_name(&body.mode).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "mode must be listen, whisper or barge, got {:?}",
            body.mode
        ))
    })?;
    if !is_valid_name(&body.supervisor) {
        return Err(ApiError::unprocessable(
            "supervisor is not a valid agent name",
        ));
    }
    let user = body.supervisor.clone();
    controls(&state)?
        .send(ticket, |reply| CallControl::Supervise { user, mode, reply })
        .await
        .map_err(refused)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"ticket": ticket, "supervisor": body.supervisor, "mode": mode.name()})),
    ))
}

pub(super) async fn end_supervision(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let ticket = ticket(id)?;
    controls(&state)?
        .send(ticket, |reply| CallControl::EndSupervision { reply })
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}
