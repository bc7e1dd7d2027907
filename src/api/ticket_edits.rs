//! The only ticket writes over HTTP: an agent's note (`POST /api/tickets/{id}/notes`) and the
//! agent's disposition code (`PATCH /api/tickets/{id}`). Used by the desk, and by anyone else
//! (a CRM, a supervisor) who names themselves with `by`.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::desk::{bearer, hub};
use super::error::ApiError;
use super::routes::ticket_id;
use super::ApiState;
use crate::tickets::{HandlingUpdate, TicketId, Timestamp, MAX_TEXT_BYTES};

/// Body limit of a note (the text is at most [`MAX_TEXT_BYTES`], JSON escapes included).
pub(super) const MAX_NOTE_BODY: usize = 4 * MAX_TEXT_BYTES;
/// Longest author name and disposition code, in characters.
const MAX_WORD_CHARS: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoteBody {
    text: String,
    by: Option<String>,
}

async fn existing(state: &ApiState, id: TicketId) -> Result<(), ApiError> {
    match state.tickets.get(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no ticket {id}"))),
    }
}

/// Who writes: the desk agent of the bearer token, else the body's `by`.
fn author(state: &ApiState, headers: &HeaderMap, by: Option<&str>) -> Result<String, ApiError> {
    if let Some(token) = bearer(headers) {
        return Ok(hub(state)?.authenticate(token?)?);
    }
    let by = by
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::unprocessable("by is required without a desk token"))?;
    if by.chars().count() > MAX_WORD_CHARS || by.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(format!(
            "by must be at most {MAX_WORD_CHARS} characters, without control characters"
        )));
    }
    Ok(by.to_owned())
}

fn note_text(text: &str) -> Result<&str, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::unprocessable("text is empty"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::unprocessable(format!(
            "text is longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::unprocessable("text has control characters"));
    }
    Ok(text)
}

pub(super) async fn add_note(
    State(state): State<ApiState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = ticket_id(id)?;
    let Json(body) = body?;
    let text = note_text(&body.text)?;
    let by = author(&state, &headers, body.by.as_deref())?;
    existing(&state, id).await?;
    let at = Timestamp::now();
    let note = json!({"at": at, "by": by, "text": text});
    state.tickets.handling(
        id,
        HandlingUpdate::Note {
            by,
            text: text.to_owned(),
            at,
        },
    );
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TicketPatch {
    disposition: String,
}

/// A disposition code: a short word such as `resolved` or `follow-up`.
fn disposition(code: &str) -> Result<&str, ApiError> {
    let code = code.trim();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if code.is_empty() || code.chars().count() > MAX_WORD_CHARS || !code.chars().all(word) {
        return Err(ApiError::unprocessable(format!(
            "disposition must be 1 to {MAX_WORD_CHARS} letters, digits, - or _"
        )));
    }
    Ok(code)
}

pub(super) async fn patch_ticket(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<TicketPatch>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = ticket_id(id)?;
    let Json(body) = body?;
    let code = disposition(&body.disposition)?;
    existing(&state, id).await?;
    state
        .tickets
        .handling(id, HandlingUpdate::AgentDisposition(code.to_owned()));
    Ok(Json(json!({"id": id, "agent_disposition": code})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_short_words() {
        let long = "x".repeat(MAX_WORD_CHARS + 1);
        for (code, ok) in [
            ("resolved", Some("resolved")),
            (" follow-up ", Some("follow-up")),
            ("no_answer", Some("no_answer")),
            ("", None),
            ("two words", None),
            ("drop;table", None),
            (long.as_str(), None),
        ] {
            assert_eq!(disposition(code).ok(), ok, "{code:?}");
        }
    }

    #[test]
    fn note_texts_are_trimmed_and_checked() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        for (text, ok) in [
            ("  called back \n", Some("called back")),
            ("line one\nline two", Some("line one\nline two")),
            ("   ", None),
            ("bell\u{7}", None),
            (long.as_str(), None),
        ] {
            assert_eq!(note_text(text).ok(), ok, "{text:?}");
        }
    }
}
