//! The interpreter's `http` step on a fake clock: the call layer's outcomes are made up here,
//! no socket is opened (`call::http` has the tests against a real server).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::interp_tests::says;
use super::*;

const PLAN: &str = r#"
steps:
  - set: { order: "12/34" }
  - label: lookup
    http:
      url: "http://backend:8088/orders/{order}?who={caller}"
      method: POST
      headers: { Authorization: "Bearer {caller}" }
      body: { order: "{order}", count: 2, rush: false }
      timeout: 2s
      retries: 2
      set: { state: status, eta: /delivery/eta }
      on_error: sorry
      next: tell
  - say: "skipped"
  - label: tell
    say: "Order is {state}, eta {eta}."
  - hangup:
  - label: sorry
    say: "Sorry."
  - hangup: failed
"#;

/// What the call layer reports: `Ok((status, body))` or why no answer came.
type Reply<'a> = Result<(u16, &'a str), &'a str>;

struct Call {
    interp: Interp,
    now: Instant,
}

impl Call {
    fn new(yaml: &str) -> (Call, Vec<Action>) {
        let plan = load_str("t.yaml", yaml).unwrap();
        let vars = HashMap::from([("caller".to_string(), "alice".to_string())]);
        let mut call = Call {
            interp: Interp::new(Arc::new(plan), vars),
            now: Instant::now(),
        };
        call.interp.start(call.now);
        let actions = call.drain();
        (call, actions)
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.interp.poll_action()).collect()
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        self.interp.handle_event(event, self.now);
        self.drain()
    }

    fn answer(&mut self, id: RequestId, result: Reply<'_>) -> Vec<Action> {
        let outcome = HttpOutcome {
            result: result
                .map(|(status, body)| HttpAnswer {
                    status,
                    body: body.as_bytes().to_vec(),
                })
                .map_err(str::to_owned),
            elapsed: Duration::from_millis(35),
            attempts: 1,
        };
        self.event(Event::HttpDone { id, outcome })
    }
}

fn request_of(actions: &[Action]) -> (RequestId, HttpRequest) {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Http { id, request } => Some((*id, request.clone())),
            _ => None,
        })
        .expect("an http request")
}

fn http_record(actions: &[Action]) -> HttpRecord {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Record(TurnRecord::Http(r)) => Some((**r).clone()),
            _ => None,
        })
        .expect("an http record")
}

#[test]
fn sends_the_rendered_request_and_reads_the_answer() {
    let (mut call, actions) = Call::new(PLAN);
    let (id, request) = request_of(&actions);
    assert_eq!(
        request,
        HttpRequest {
            method: HttpMethod::Post,
            url: "http://backend:8088/orders/12%2F34?who=alice".into(),
            headers: vec![("Authorization".into(), "Bearer alice".into())],
            // serde_json sorts keys; order carries no meaning in JSON.
            body: Some(r#"{"count":2,"order":"12/34","rush":false}"#.into()),
            timeout: Duration::from_secs(2),
            retries: 2,
        }
    );
    assert!(says(&actions).is_empty(), "nothing is said while waiting");
    let out = call.answer(
        id,
        Ok((200, r#"{"status":"shipped","delivery":{"eta":3}}"#)),
    );
    assert_eq!(says(&out), ["Order is shipped, eta 3."]);
    assert_eq!(
        http_record(&out),
        HttpRecord {
            step: 1,
            method: HttpMethod::Post,
            url: "http://backend:8088/orders/12%2F34?who=alice".into(),
            status: Some(200),
            ok: true,
            elapsed: Some(Duration::from_millis(35)),
            attempts: 1,
            error: None,
        }
    );
    assert!(out.contains(&Action::Record(TurnRecord::VarSet {
        var: "state".into(),
        value: "shipped".into()
    })));
    assert_eq!(call.interp.vars().get("eta").map(String::as_str), Some("3"));
}

#[test]
fn failures_take_on_error() {
    let cases: &[(Reply<'_>, Option<u16>, &str)] = &[
        (Ok((500, "{}")), Some(500), "backend answered HTTP 500"),
        (
            Ok((404, r#"{"status":"x"}"#)),
            Some(404),
            "backend answered HTTP 404",
        ),
        (Ok((200, "<html>")), Some(200), "answer is not JSON"),
        (
            Ok((200, r#"{"status":"x"}"#)),
            Some(200),
            "answer has no field `/delivery/eta`",
        ),
        (
            Err("no answer within 2000 ms"),
            None,
            "no answer within 2000 ms",
        ),
    ];
    for (result, status, error) in cases {
        let (mut call, actions) = Call::new(PLAN);
        let (id, _) = request_of(&actions);
        let out = call.answer(id, *result);
        assert_eq!(says(&out), ["Sorry."], "{error}");
        let record = http_record(&out);
        assert_eq!((record.ok, record.status), (false, *status), "{error}");
        let got = record.error.unwrap_or_default();
        assert!(got.contains(error), "{got} vs {error}");
        assert!(
            !call.interp.vars().contains_key("state"),
            "nothing set on failure"
        );
    }
}

#[test]
fn without_on_error_a_failure_hangs_up() {
    let yaml = "steps:\n  - http: { url: \"http://b/x\" }\n  - say: next\n";
    let (mut call, actions) = Call::new(yaml);
    let (id, _) = request_of(&actions);
    let out = call.answer(id, Ok((503, "")));
    assert!(out.contains(&Action::Hangup {
        disposition: Disposition::Failed
    }));
    assert!(out.contains(&Action::Record(TurnRecord::Hangup {
        disposition: Disposition::Failed,
        reason: "backend request failed: backend answered HTTP 503".into(),
    })));
}

#[test]
fn without_next_a_success_falls_through() {
    let yaml = "steps:\n  - http: { url: \"http://b/x\", set: { n: a.0 } }\n  - say: \"got {n}\"\n";
    let (mut call, actions) = Call::new(yaml);
    let (id, _) = request_of(&actions);
    assert_eq!(says(&call.answer(id, Ok((200, r#"{"a":[7]}"#)))), ["got 7"]);
}

#[test]
fn stale_and_foreign_ids_are_ignored() {
    let (mut call, actions) = Call::new(PLAN);
    let (id, _) = request_of(&actions);
    assert!(call
        .answer(RequestId(id.0 + 99), Ok((200, "{}")))
        .is_empty());
    let out = call.answer(id, Err("refused"));
    assert_eq!(says(&out), ["Sorry."]);
    assert!(
        call.answer(id, Ok((200, "{}"))).is_empty(),
        "answered twice"
    );
}

#[test]
fn keys_pressed_while_waiting_are_typed_ahead() {
    let yaml = r#"
steps:
  - http: { url: "http://b/x" }
  - menu:
      prompt: "Press 1 or 2."
      options: { "1": one, "2": two }
  - label: one
    hangup:
  - label: two
    say: "Two."
"#;
    let (mut call, actions) = Call::new(yaml);
    let (id, _) = request_of(&actions);
    let pressed = call.event(Event::Dtmf('2'));
    assert_eq!(pressed, [Action::Record(TurnRecord::Dtmf { digit: '2' })]);
    let out = call.answer(id, Ok((200, "{}")));
    assert_eq!(says(&out), ["Two."], "the menu prompt is skipped");
}

#[test]
fn gives_up_when_the_call_layer_never_reports() {
    let (mut call, actions) = Call::new(PLAN);
    let (id, request) = request_of(&actions);
    let deadline = call
        .interp
        .poll_timeout()
        .expect("a deadline while waiting");
    assert_eq!(
        deadline,
        call.now + request.budget() + Duration::from_secs(2)
    );
    call.interp
        .handle_timeout(deadline - Duration::from_millis(1));
    assert!(call.drain().is_empty());
    call.now = deadline;
    call.interp.handle_timeout(deadline);
    let out = call.drain();
    assert_eq!(says(&out), ["Sorry."]);
    let record = http_record(&out);
    assert_eq!(
        (record.ok, record.elapsed, record.attempts),
        (false, None, 0)
    );
    assert!(call.answer(id, Ok((200, "{}"))).is_empty(), "too late");
}
