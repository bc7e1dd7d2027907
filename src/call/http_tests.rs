//! The `http` shell against a real axum server on 127.0.0.1: answers, retries, timeouts,
//! size cap, and a dialplan run end to end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::*;
use crate::dialplan::{load_str, Action, Event, Interp};

#[derive(Default)]
struct Hits {
    flaky: AtomicU32,
    missing: AtomicU32,
    down: AtomicU32,
}

async fn backend() -> (SocketAddr, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let app = Router::new()
        .route(
            "/orders/{n}",
            get(
                |axum::extract::Path(n): axum::extract::Path<String>| async move {
                    Json(json!({"order": n, "status": "shipped", "delivery": {"eta": "Tuesday"}}))
                },
            ),
        )
        .route(
            "/flaky",
            get(|State(h): State<Arc<Hits>>| async move {
                if h.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "busy").into_response()
                } else {
                    Json(json!({"status": "ok"})).into_response()
                }
            }),
        )
        .route(
            "/down",
            get(|State(h): State<Arc<Hits>>| async move {
                h.down.fetch_add(1, Ordering::SeqCst);
                StatusCode::SERVICE_UNAVAILABLE
            }),
        )
        .route(
            "/missing",
            get(|State(h): State<Arc<Hits>>| async move {
                h.missing.fetch_add(1, Ordering::SeqCst);
                StatusCode::NOT_FOUND
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Json(json!({"status": "late"}))
            }),
        )
        .route("/html", get(|| async { "<html>hi</html>" }))
        .route(
            "/big",
            get(|| async { "x".repeat(MAX_HTTP_BODY_BYTES + 1) }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                let token = headers
                    .get("x-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                Json(json!({"got": body, "token": token}))
            }),
        )
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

fn get_req(url: String, timeout_ms: u64, retries: u32) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Get,
        url,
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_millis(timeout_ms),
        retries,
    }
}

fn body_json(outcome: &HttpOutcome) -> Value {
    let answer = outcome.result.as_ref().expect("an answer");
    serde_json::from_slice(&answer.body).expect("JSON")
}

#[tokio::test]
async fn answers_retries_and_limits() {
    let (addr, hits) = backend().await;
    let client = new_client().unwrap();
    let url = |path: &str| format!("http://{addr}{path}");

    let ok = perform(&client, &get_req(url("/orders/12"), 2000, 1)).await;
    assert_eq!(ok.attempts, 1);
    assert_eq!(ok.result.as_ref().map(|a| a.status), Ok(200));
    assert_eq!(body_json(&ok)["delivery"]["eta"], "Tuesday");

    let flaky = perform(&client, &get_req(url("/flaky"), 2000, 1)).await;
    assert_eq!(
        (flaky.attempts, body_json(&flaky)["status"].clone()),
        (2, json!("ok"))
    );
    assert!(
        flaky.elapsed >= HttpRequest::backoff(1),
        "paused before retrying"
    );

    let down = perform(&client, &get_req(url("/down"), 2000, 2)).await;
    assert_eq!(down.result.as_ref().map(|a| a.status), Ok(503));
    assert_eq!((down.attempts, hits.down.load(Ordering::SeqCst)), (3, 3));

    let missing = perform(&client, &get_req(url("/missing"), 2000, 3)).await;
    assert_eq!(missing.result.as_ref().map(|a| a.status), Ok(404));
    assert_eq!(missing.attempts, 1, "a 4xx is not retried");
    assert_eq!(hits.missing.load(Ordering::SeqCst), 1);

    let html = perform(&client, &get_req(url("/html"), 2000, 1)).await;
    assert_eq!(
        html.result.as_ref().map(|a| a.body.clone()),
        Ok(b"<html>hi</html>".to_vec())
    );

    let big = perform(&client, &get_req(url("/big"), 2000, 1)).await;
    assert_eq!(
        big.result,
        Err(format!("answer larger than {MAX_HTTP_BODY_BYTES} bytes"))
    );
    assert_eq!(big.attempts, 1);
}

#[tokio::test]
async fn a_hung_backend_costs_at_most_the_budget() {
    let (addr, _) = backend().await;
    let client = new_client().unwrap();
    let request = get_req(format!("http://{addr}/slow"), 150, 1);
    let outcome = perform(&client, &request).await;
    assert_eq!(outcome.result, Err("no answer within 150 ms".to_string()));
    assert_eq!(outcome.attempts, 2);
    assert!(outcome.elapsed >= Duration::from_millis(300));
    // Scheduling slack only: nothing waits past the budget.
    assert!(outcome.elapsed < request.budget() + Duration::from_millis(500));
}

#[tokio::test]
async fn a_closed_port_is_retried_then_reported() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let client = new_client().unwrap();
    let outcome = perform(
        &client,
        &get_req(format!("http://127.0.0.1:{port}/x"), 1000, 2),
    )
    .await;
    let reason = outcome.result.unwrap_err();
    assert!(reason.starts_with("cannot connect"), "{reason}");
    assert_eq!(outcome.attempts, 3);
}

#[tokio::test]
async fn sends_method_headers_and_json_body() {
    let (addr, _) = backend().await;
    let client = new_client().unwrap();
    let request = HttpRequest {
        method: HttpMethod::Post,
        url: format!("http://{addr}/echo"),
        headers: vec![("X-Token".into(), "abc".into())],
        body: Some(r#"{"order":"12"}"#.into()),
        timeout: Duration::from_secs(2),
        retries: 0,
    };
    let outcome = perform(&client, &request).await;
    assert_eq!(
        body_json(&outcome),
        json!({"got": {"order": "12"}, "token": "abc"})
    );
}

/// Runs the interpreter like the call task does: actions out, `http` through the real shell,
/// prompts finished at once. Returns what was said.
async fn run_plan(yaml: &str) -> (Vec<String>, Interp) {
    let plan = Arc::new(load_str("t.yaml", yaml).unwrap());
    let vars = HashMap::from([("caller".to_string(), "alice".to_string())]);
    let mut interp = Interp::new(plan, vars);
    let now = std::time::Instant::now();
    interp.start(now);
    let mut said = Vec::new();
    let mut pending = None;
    for _ in 0..100 {
        while let Some(action) = interp.poll_action() {
            match action {
                Action::Say { id, text, .. } => {
                    said.push(text);
                    interp.handle_event(Event::PromptFinished(id), now);
                }
                Action::Http { id, request } => pending = Some(start(id, request)),
                _ => {}
            }
        }
        if interp.is_finished() {
            break;
        }
        let (id, outcome) = next_outcome(&mut pending).await;
        interp.handle_event(Event::HttpDone { id, outcome }, now);
    }
    (said, interp)
}

#[tokio::test]
async fn a_dialplan_reads_its_backend() {
    let (addr, _) = backend().await;
    let yaml = format!(
        r#"
steps:
  - set: {{ order_number: "12 34" }}
  - http:
      url: "http://{addr}/orders/{{order_number}}"
      timeout: 2s
      set: {{ state: status, eta: delivery.eta, echoed: order }}
      on_error: down
  - say: "Order {{echoed}} is {{state}}, arriving {{eta}}."
  - http:
      url: "http://{addr}/html"
      on_error: down
  - say: "not reached"
  - label: down
    say: "Our order system is down."
  - hangup:
"#
    );
    let (said, interp) = run_plan(&yaml).await;
    assert_eq!(
        said,
        [
            "Order 12 34 is shipped, arriving Tuesday.",
            "Our order system is down."
        ]
    );
    assert!(interp.is_finished());
}
