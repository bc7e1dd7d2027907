//! The shell of the dialplan's `http` step: performs one [`HttpRequest`] and reports an
//! [`HttpOutcome`] for `Event::HttpDone`. Whether the answer is good (2xx, JSON, fields present)
//! is the interpreter's call; this module only moves bytes, within bounds:
//!
//! - each attempt (connect, send, whole answer) is cut at `request.timeout`;
//! - a connect error, a timeout or a 5xx is retried `request.retries` times, with a short
//!   growing pause ([`HttpRequest::backoff`]); a 4xx or any other error is not;
//! - answers over [`MAX_HTTP_BODY_BYTES`] are errors; redirects are not followed (the host a
//!   dialplan names is the only one asked) and no proxy is used.
//!
//! So a hung backend holds a call for at most [`HttpRequest::budget`].
//!
//! Client: reqwest 0.12 without default features, with `json` and `rustls-tls` (ring, Mozilla
//! roots), so https backends work without a local TLS proxy. Measured on this 2-core machine
//! (fresh target dirs, release): a tokio+axum+serde_json crate built in 24 s, 116 s with this
//! reqwest, 36 s with reqwest without TLS; hyper-util's client would cost almost nothing but
//! speak only http. One client is shared by all calls (connection pool).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::time::Instant;

use crate::dialplan::{
    HttpAnswer, HttpMethod, HttpOutcome, HttpRequest, RequestId, MAX_HTTP_BODY_BYTES,
};

/// A request in flight for one call, on its own task (so the call task stays `Sync`);
/// dropping it cancels the request.
pub(super) struct PendingHttp {
    id: RequestId,
    task: tokio::task::JoinHandle<HttpOutcome>,
}

impl Drop for PendingHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Idle pooled connections are closed after this.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why one attempt failed, and whether another may help.
struct Failure {
    retryable: bool,
    reason: String,
}

/// The client shared by every call; `Err` if it could not be built (TLS setup).
pub(super) fn shared_client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(new_client)
        .as_ref()
        .map_err(Clone::clone)
}

/// A client configured as this module's docs say.
pub fn new_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(POOL_IDLE)
        .user_agent(concat!("voxdesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client unavailable: {}", innermost(&e)))
}

/// Starts performing `request` with the shared client.
pub(super) fn start(id: RequestId, request: HttpRequest) -> PendingHttp {
    let task = tokio::spawn(async move {
        match shared_client() {
            Ok(client) => perform(client, &request).await,
            Err(reason) => HttpOutcome {
                result: Err(reason),
                elapsed: Duration::ZERO,
                attempts: 0,
            },
        }
    });
    PendingHttp { id, task }
}

/// The outcome of the pending request; never resolves when there is none.
pub(super) async fn next_outcome(pending: &mut Option<PendingHttp>) -> (RequestId, HttpOutcome) {
    std::future::poll_fn(|cx| {
        let Some(request) = pending.as_mut() else {
            return Poll::Pending;
        };
        let id = request.id;
        match Pin::new(&mut request.task).poll(cx) {
            Poll::Ready(joined) => {
                *pending = None;
                let outcome = joined.unwrap_or_else(|e| HttpOutcome {
                    result: Err(format!("request task failed: {e}")),
                    elapsed: Duration::ZERO,
                    attempts: 0,
                });
                Poll::Ready((id, outcome))
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Performs `request`: attempts, pauses and all.
pub async fn perform(client: &reqwest::Client, request: &HttpRequest) -> HttpOutcome {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = match tokio::time::timeout(request.timeout, attempt(client, request)).await {
            Ok(result) => result,
            Err(_) => Err(Failure {
                retryable: true,
                reason: format!("no answer within {} ms", request.timeout.as_millis()),
            }),
        };
        let retry = match &result {
            Ok(answer) => answer.status >= 500,
            Err(failure) => failure.retryable,
        };
        if !retry || attempts > request.retries {
            return HttpOutcome {
                result: result.map_err(|f| f.reason),
                elapsed: started.elapsed(),
                attempts,
            };
        }
        tokio::time::sleep(HttpRequest::backoff(attempts)).await;
    }
}

async fn attempt(client: &reqwest::Client, request: &HttpRequest) -> Result<HttpAnswer, Failure> {
    let method = match request.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    };
    let mut builder = client
        .request(method, &request.url)
        .header(ACCEPT, "application/json");
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
    }
    let mut response = builder.send().await.map_err(|e| Failure {
        retryable: e.is_connect() || e.is_timeout(),
        reason: if e.is_connect() {
            format!("cannot connect: {}", innermost(&e))
        } else {
            format!("request failed: {}", innermost(&e))
        },
    })?;
    let too_large = || Failure {
        retryable: false,
        reason: format!("answer larger than {MAX_HTTP_BODY_BYTES} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_HTTP_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| Failure {
            retryable: false,
            reason: format!("answer cut short: {}", innermost(&e)),
        })?;
        let Some(chunk) = chunk else {
            break;
        };
        if body.len() + chunk.len() > MAX_HTTP_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpAnswer { status, body })
}

/// The root cause's message: reqwest's own says little more than "error sending request".
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
