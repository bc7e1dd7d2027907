//! Agents and queues managed through the API: `POST /api/agents`, the profile part of
//! `PATCH /api/agents/{user}`, `DELETE /api/agents/{user}`, and `POST`/`PATCH`/`DELETE` on
//! `/api/queues`. Each change is checked by `acd::directory`, stored in the ticket database and
//! only then published on the live directory (`watch`), which the ACD and the registrar follow.
//!
//! Writes are serialized by one lock and run in their own task, so a client that hangs up
//! mid-request cannot leave the store and the live directory apart.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tokio::sync::{watch, Mutex};

use super::agents::{snapshot, QueueView};
use super::error::ApiError;
use super::ApiState;
use crate::acd::directory::{
    AgentFields, Directory, DirectoryError, EntryKind, NewAgent, Planned, QueueFields, Stored,
};
use crate::acd::{Agent, AgentsFile, Queue};
use crate::tickets::{DirectoryTable, DirectoryWrite, TicketStore};

/// The directory the API edits and the channel it publishes on.
pub struct LiveDirectory {
    directory: Mutex<Directory>,
    published: watch::Sender<Arc<AgentsFile>>,
}

impl LiveDirectory {
    /// `directory` (file ⊕ stored changes) published on `directory_tx`, which should already
    /// hold its effective value.
    pub fn new(directory: Directory, directory_tx: watch::Sender<Arc<AgentsFile>>) -> Self {
        LiveDirectory {
            directory: Mutex::new(directory),
            published: directory_tx,
        }
    }

    /// The effective directory now.
    pub fn current(&self) -> Arc<AgentsFile> {
        self.published.borrow().clone()
    }
}

/// The effective directory, when the API manages one.
pub(super) fn current(state: &ApiState) -> Option<Arc<AgentsFile>> {
    state.directory.as_ref().map(|d| d.current())
}

fn live(state: &ApiState) -> Result<Arc<LiveDirectory>, ApiError> {
    state
        .directory
        .clone()
        .ok_or_else(|| ApiError::unavailable("agents and queues are not managed here"))
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::AgentExists(_) | DirectoryError::QueueExists(_) => {
                ApiError::conflict(e.to_string())
            }
            DirectoryError::NoAgent(_) | DirectoryError::NoQueue(_) => {
                ApiError::not_found(e.to_string())
            }
            _ => ApiError::unprocessable(e.to_string()),
        }
    }
}

/// Plans a change on the current directory, stores it, commits and publishes it; in a task of
/// its own so the three steps always finish together.
pub(super) async fn change(
    state: &ApiState,
    plan: impl FnOnce(&Directory) -> Result<Planned, DirectoryError> + Send + 'static,
) -> Result<Arc<AgentsFile>, ApiError> {
    let live = live(state)?;
    let store = state.tickets.clone();
    let task = tokio::spawn(async move {
        let mut directory = live.directory.lock().await;
        let planned = plan(&directory)?;
        store_row(&store, &planned).await?;
        let effective = Arc::new(planned.effective.clone());
        directory.commit(planned);
        live.published.send_replace(effective.clone());
        Ok(effective)
    });
    task.await.map_err(|e| {
        tracing::error!(error = %e, "directory change task failed");
        ApiError::unavailable("the change could not be made")
    })?
}

async fn store_row(store: &TicketStore, planned: &Planned) -> Result<(), ApiError> {
    let table = match planned.kind {
        EntryKind::Agent => DirectoryTable::Agents,
        EntryKind::Queue => DirectoryTable::Queues,
    };
    let key = planned.key.clone();
    let write = match &planned.stored {
        Stored::Put(body) => DirectoryWrite::Put {
            table,
            key,
            body: body.clone(),
        },
        Stored::Tombstone => DirectoryWrite::Tombstone { table, key },
        Stored::Forget => DirectoryWrite::Forget { table, key },
    };
    store.save_directory(write).await.map_err(|e| {
        tracing::error!(error = %e, "directory change not stored");
        ApiError::unavailable("the change could not be stored")
    })
}

/// What the directory says about an agent (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(super) struct Profile {
    pub(super) queues: Vec<String>,
    pub(super) skills: BTreeMap<String, u8>,
}

impl From<&Agent> for Profile {
    fn from(a: &Agent) -> Self {
        Profile {
            queues: a.queues.clone(),
            skills: a.skills.clone(),
        }
    }
}

/// A queue's settings, in the agents file's names and units.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(super) struct Settings {
    ring_timeout: u64,
    max_misses: u32,
    wrap_up: u64,
    max_waiting: usize,
    skills: BTreeMap<String, u8>,
}

impl From<&Queue> for Settings {
    fn from(q: &Queue) -> Self {
        Settings {
            ring_timeout: q.ring_timeout.as_secs(),
            max_misses: q.max_misses,
            wrap_up: q.wrap_up.as_secs(),
            max_waiting: q.max_waiting,
            skills: q.skills.clone(),
        }
    }
}

/// `POST /api/agents` → 201 with the agent as `GET /api/agents/{user}` shows it.
pub(super) async fn create_agent(
    State(state): State<ApiState>,
    body: Result<Json<NewAgent>, JsonRejection>,
) -> Result<(StatusCode, Json<super::agents::AgentView>), ApiError> {
    let Json(new) = body?;
    let user = new.user.clone();
    change(&state, move |d| d.create_agent(new)).await?;
    let view = super::agents::agent_view(&state, &user).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The profile part of `PATCH /api/agents/{user}`.
pub(super) async fn update_agent(
    state: &ApiState,
    user: &str,
    fields: AgentFields,
) -> Result<(), ApiError> {
    let user = user.to_owned();
    change(state, move |d| d.update_agent(&user, fields)).await?;
    Ok(())
}

/// `DELETE /api/agents/{user}` → 204.
pub(super) async fn delete_agent(
    State(state): State<ApiState>,
    user: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(user) = user?;
    change(&state, move |d| d.delete_agent(&user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/queues` → 201 with the queue as `GET /api/queues/{name}` shows it.
pub(super) async fn create_queue(
    State(state): State<ApiState>,
    body: Result<Json<QueueFields>, JsonRejection>,
) -> Result<(StatusCode, Json<QueueView>), ApiError> {
    let Json(fields) = body?;
    let name = fields.name.clone().unwrap_or_default();
    change(&state, move |d| d.create_queue(fields)).await?;
    Ok((StatusCode::CREATED, Json(queue_view(&state, &name).await?)))
}

/// `PATCH /api/queues/{name}` → 200 with the queue.
pub(super) async fn update_queue(
    State(state): State<ApiState>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<QueueFields>, JsonRejection>,
) -> Result<Json<QueueView>, ApiError> {
    let Path(name) = name?;
    let Json(fields) = body?;
    let key = name.clone();
    change(&state, move |d| d.update_queue(&key, fields)).await?;
    Ok(Json(queue_view(&state, &name).await?))
}

/// `DELETE /api/queues/{name}` → 204 (its waiting callers stay until they leave).
pub(super) async fn delete_queue(
    State(state): State<ApiState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name?;
    change(&state, move |d| d.delete_queue(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn queue_view(state: &ApiState, name: &str) -> Result<QueueView, ApiError> {
    let acd = super::agents::handle(state)?;
    let (snapshot, _) = snapshot(acd).await?;
    let effective = current(state);
    snapshot
        .queues
        .into_iter()
        .find(|q| q.name == name)
        .map(|q| QueueView::new(q, effective.as_deref()))
        .ok_or_else(|| ApiError::not_found(format!("no queue {name:?}")))
}
