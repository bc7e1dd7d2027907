//! The `http` step: one JSON request to a configured backend, fields of its answer into
//! variables.
//!
//! Owns the step's model ([`HttpStep`], [`JsonPath`], [`BodyTemplate`]), the rendered request
//! the interpreter hands the call layer ([`HttpRequest`]) and what comes back ([`HttpOutcome`]).
//! Deciding success (2xx, a JSON body, every `set` field present) lives here, without I/O, so
//! it is unit-tested without a socket; `call::http` only moves bytes, with a per-attempt timeout,
//! retries and a size cap.
//!
//! Caller-influenced values never choose the backend: the scheme and host of `url` are written
//! literally, and variables rendered into it are percent-encoded.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::model::Target;
use super::template::{truncate_chars, Template, MAX_RENDERED_CHARS};

/// Largest answer body the call layer reads; a larger one is an error.
pub const MAX_HTTP_BODY_BYTES: usize = 64 * 1024;
/// Pause before retry `n` is `n` times this.
pub const HTTP_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// The request methods a step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET` (the default).
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    const ALL: [HttpMethod; 5] = [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Patch,
        HttpMethod::Delete,
    ];

    /// The wire spelling, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Parses the file spelling (any case).
    pub fn parse(s: &str) -> Option<HttpMethod> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// `http`: what to send, and where the answer's fields go.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpStep {
    /// Request method.
    pub method: HttpMethod,
    /// `http://` or `https://` with a literal host; variables are percent-encoded.
    pub url: Template,
    /// Extra request headers; values are templates.
    pub headers: Vec<(String, Template)>,
    /// JSON body whose strings are templates.
    pub body: Option<BodyTemplate>,
    /// Per attempt.
    pub timeout: Duration,
    /// Extra attempts after a connect error, a timeout or a 5xx.
    pub retries: u32,
    /// Variable ← field of the answer, in file order.
    pub set: Vec<(String, JsonPath)>,
    /// Where a failed request goes; `None` = hang up (failed).
    pub on_error: Option<Target>,
    /// Where a successful request goes; `None` = the next step.
    pub next: Option<Target>,
}

impl HttpStep {
    /// The request for the current variables.
    pub fn request(&self, vars: &HashMap<String, String>) -> HttpRequest {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                // A variable must not smuggle a second header line in.
                let value: String = value
                    .render(vars)
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                (name.clone(), value)
            })
            .collect();
        HttpRequest {
            method: self.method,
            url: self.url.render_escaped(vars, percent_encode),
            headers,
            body: self.body.as_ref().map(|b| b.render(vars).to_string()),
            timeout: self.timeout,
            retries: self.retries,
        }
    }

    /// Reads an answer: the variables to set, or why the request failed.
    pub fn read_answer(&self, answer: &HttpAnswer) -> Result<Vec<(String, String)>, String> {
        if !(200..300).contains(&answer.status) {
            return Err(format!("backend answered HTTP {}", answer.status));
        }
        let json: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("answer is not JSON ({e})"))?;
        self.set
            .iter()
            .map(|(var, path)| {
                let value = path
                    .lookup(&json)
                    .ok_or_else(|| format!("answer has no field `{}`", path.as_str()))?;
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(format!("field `{}` is not a single value", path.as_str()))
                    }
                };
                Ok((var.clone(), truncate_chars(text, MAX_RENDERED_CHARS)))
            })
            .collect()
    }
}

/// A JSON request body as written in the dialplan: strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    /// A string with `{variables}`.
    Text(Template),
    /// A number, `true`, `false` or `null`, sent as is.
    Literal(Value),
    /// A list.
    List(Vec<BodyTemplate>),
    /// An object, keys in file order.
    Object(Vec<(String, BodyTemplate)>),
}

impl BodyTemplate {
    /// The JSON value for the current variables.
    pub fn render(&self, vars: &HashMap<String, String>) -> Value {
        match self {
            BodyTemplate::Text(t) => Value::String(t.render(vars)),
            BodyTemplate::Literal(v) => v.clone(),
            BodyTemplate::List(items) => {
                Value::Array(items.iter().map(|i| i.render(vars)).collect())
            }
            BodyTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.render(vars)))
                    .collect(),
            ),
        }
    }
}

/// Where a variable's value is in the answer: `delivery.eta` (dotted; a number indexes a list)
/// or a JSON pointer `/items/0/name` (RFC 6901, for keys containing dots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    written: String,
    segments: Vec<String>,
}

/// Longest path accepted, in characters.
pub const MAX_JSON_PATH_CHARS: usize = 256;
const MAX_JSON_PATH_SEGMENTS: usize = 32;

impl JsonPath {
    /// Parses a dotted path or a JSON pointer; `None` if empty, too long or with empty parts.
    pub fn parse(text: &str) -> Option<JsonPath> {
        if text.is_empty() || text.chars().count() > MAX_JSON_PATH_CHARS {
            return None;
        }
        let segments: Vec<String> = match text.strip_prefix('/') {
            Some(pointer) => pointer
                .split('/')
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect(),
            None => text.split('.').map(str::to_owned).collect(),
        };
        let dotted_gap = !text.starts_with('/') && segments.iter().any(String::is_empty);
        if dotted_gap || segments.len() > MAX_JSON_PATH_SEGMENTS {
            return None;
        }
        Some(JsonPath {
            written: text.to_owned(),
            segments,
        })
    }

    /// As written in the file.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The value at this path, if there is one.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.segments
            .iter()
            .try_fold(root, |value, segment| match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }
}

/// A rendered request for the call layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: HttpMethod,
    /// Absolute URL.
    pub url: String,
    /// Extra headers (never logged: they may hold credentials).
    pub headers: Vec<(String, String)>,
    /// JSON text, sent as `application/json`.
    pub body: Option<String>,
    /// Per attempt.
    pub timeout: Duration,
    /// Extra attempts after a connect error, a timeout or a 5xx (not a 4xx).
    pub retries: u32,
}

impl HttpRequest {
    /// Pause before extra attempt `retry` (1-based).
    pub fn backoff(retry: u32) -> Duration {
        HTTP_RETRY_BACKOFF.saturating_mul(retry)
    }

    /// The longest the call layer may take: every attempt times out and every pause is taken.
    pub fn budget(&self) -> Duration {
        let attempts = self.retries.saturating_add(1);
        let pauses = (1..=self.retries).map(Self::backoff).sum::<Duration>();
        self.timeout.saturating_mul(attempts).saturating_add(pauses)
    }
}

/// Names one request so its outcome can be matched to the step that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// What the call layer reports for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutcome {
    /// The last answer, or why none came (connect error, timeout, body too large).
    pub result: Result<HttpAnswer, String>,
    /// From the first attempt's start to the end.
    pub elapsed: Duration,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
}

/// An answer as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Body, at most [`MAX_HTTP_BODY_BYTES`].
    pub body: Vec<u8>,
}

/// The ticket record of one finished `http` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRecord {
    /// Step index.
    pub step: usize,
    /// Method.
    pub method: HttpMethod,
    /// The URL requested.
    pub url: String,
    /// Status of the last answer, if one came.
    pub status: Option<u16>,
    /// Whether the step took its success branch.
    pub ok: bool,
    /// Time spent, as the call layer measured it (`None` when the interpreter gave up waiting).
    pub elapsed: Option<Duration>,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a variable stays inside
/// its path segment or query value.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why a `url` template is refused: `None` when it is an http(s) URL whose scheme and host are
/// written literally (variables only from the path on).
pub fn url_problem(url: &Template) -> Option<&'static str> {
    let literal = url.literal_prefix();
    let lower = literal.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme))
    else {
        return Some("must start with http:// or https://");
    };
    let whole = url.variables().next().is_none();
    let host_end = rest.find(['/', '?', '#']);
    let host = match host_end {
        Some(end) => rest.get(..end).unwrap_or_default(),
        None if whole => rest,
        None => return Some("must name its host literally (variables only after the host)"),
    };
    if host.is_empty() || host.contains('@') {
        return Some("must name a host (and no user:password@)");
    }
    if literal.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain spaces");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn step(set: &[(&str, &str)]) -> HttpStep {
        HttpStep {
            method: HttpMethod::Get,
            url: Template::parse("http://h/orders/{n}?q={q}").unwrap(),
            headers: vec![("X-Who".into(), Template::parse("{q}").unwrap())],
            body: None,
            timeout: Duration::from_secs(2),
            retries: 1,
            set: set
                .iter()
                .map(|(v, p)| (v.to_string(), JsonPath::parse(p).unwrap()))
                .collect(),
            on_error: None,
            next: None,
        }
    }

    fn answer(status: u16, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn renders_an_encoded_url_and_clean_headers() {
        let vars = HashMap::from([
            ("n".to_string(), "12/34".to_string()),
            ("q".to_string(), "a b&c\r\nX: y".to_string()),
        ]);
        let req = step(&[]).request(&vars);
        assert_eq!(req.url, "http://h/orders/12%2F34?q=a%20b%26c%0D%0AX%3A%20y");
        assert_eq!(
            req.headers,
            [("X-Who".to_string(), "a b&c  X: y".to_string())]
        );
        assert_eq!(req.budget(), Duration::from_millis(2000 * 2 + 200));
    }

    #[test]
    fn renders_a_json_body() {
        let body = BodyTemplate::Object(vec![
            (
                "order".into(),
                BodyTemplate::Text(Template::parse("{n}").unwrap()),
            ),
            ("count".into(), BodyTemplate::Literal(json!(2))),
            (
                "tags".into(),
                BodyTemplate::List(vec![BodyTemplate::Literal(json!(true))]),
            ),
        ]);
        let vars = HashMap::from([("n".to_string(), "7\"".to_string())]);
        assert_eq!(
            body.render(&vars).to_string(),
            r#"{"count":2,"order":"7\"","tags":[true]}"#
        );
    }

    #[test]
    fn reads_answers() {
        let s = step(&[
            ("state", "status"),
            ("eta", "delivery.eta"),
            ("first", "/items/0/a.b"),
        ]);
        let ok = r#"{"status":"shipped","delivery":{"eta":3},"items":[{"a.b":true}]}"#;
        let want = vec![
            ("state".to_string(), "shipped".to_string()),
            ("eta".to_string(), "3".to_string()),
            ("first".to_string(), "true".to_string()),
        ];
        assert_eq!(s.read_answer(&answer(200, ok)), Ok(want));
        let cases = [
            (answer(404, ok), "backend answered HTTP 404"),
            (answer(200, "<html>"), "answer is not JSON"),
            (
                answer(200, r#"{"status":"x"}"#),
                "answer has no field `delivery.eta`",
            ),
            (
                answer(200, r#"{"status":[1],"delivery":{"eta":1}}"#),
                "field `status` is not a single value",
            ),
        ];
        for (a, want) in cases {
            let err = s.read_answer(&a).unwrap_err();
            assert!(err.contains(want), "{err} vs {want}");
        }
    }

    #[test]
    fn long_values_are_capped() {
        let s = step(&[("v", "v")]);
        let body = json!({ "v": "x".repeat(5000) }).to_string();
        let vars = s.read_answer(&answer(200, &body)).unwrap();
        assert_eq!(vars[0].1.chars().count(), MAX_RENDERED_CHARS);
    }

    #[test]
    fn parses_paths() {
        let doc = json!({"a": {"b.c": [10, {"d": "x"}]}, "~/": 1});
        let cases = [
            ("a", Some(json!({"b.c": [10, {"d": "x"}]}))),
            ("/a/b.c/1/d", Some(json!("x"))),
            ("/a/b.c/0", Some(json!(10))),
            ("/~0~1", Some(json!(1))),
            ("a.b", None),
            ("/a/b.c/9", None),
            ("/a/b.c/x", None),
        ];
        for (text, want) in cases {
            let path = JsonPath::parse(text).unwrap();
            assert_eq!(path.lookup(&doc).cloned(), want, "{text}");
        }
        for bad in ["", "a..b", ".a", "a.", &"a".repeat(300)] {
            assert!(JsonPath::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn checks_urls() {
        let cases = [
            ("http://127.0.0.1:8088/orders/{n}", true),
            ("https://api.example.com", true),
            ("HTTP://h/x?q={q}", true),
            ("ftp://h/x", false),
            ("{base}/orders", false),
            ("http://{host}/x", false),
            ("http://h{n}", false),
            ("http:///x", false),
            ("http://user:pw@h/x", false),
            ("http://h/a b", false),
        ];
        for (url, ok) in cases {
            let t = Template::parse(url).unwrap();
            assert_eq!(url_problem(&t).is_none(), ok, "{url}");
        }
    }

    proptest! {
        #[test]
        fn path_parse_never_panics(s in ".{0,80}") {
            let _ = JsonPath::parse(&s).map(|p| p.lookup(&json!({"a": [1]})).cloned());
        }

        #[test]
        fn encoded_values_are_plain_ascii(s in ".{0,40}") {
            let e = percent_encode(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        }
    }
}
