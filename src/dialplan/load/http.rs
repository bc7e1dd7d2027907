//! The `http` step of a dialplan file: URL, method, headers, JSON body, timeouts and which
//! answer fields go into which variables.

use std::time::Duration;

use serde_json::Value;

use super::fields::get;
use super::Loader;
use crate::dialplan::error::Problem;
use crate::dialplan::http::{url_problem, BodyTemplate, HttpMethod, HttpStep, JsonPath};
use crate::dialplan::template::Template;
use crate::yaml::{Node, Style, Value as Yaml};

const HTTP_KEYS: &[&str] = &[
    "url", "method", "body", "headers", "timeout", "retries", "set", "on_error", "next",
];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u64 = 1;
const MAX_RETRIES: u64 = 5;
const MAX_HEADERS: usize = 16;
const MAX_FIELDS: usize = 32;
/// Headers the HTTP client writes itself.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

impl Loader<'_> {
    pub(super) fn http(&mut self, node: &Node) -> Option<HttpStep> {
        let map = self.mapping(node, "http")?;
        let before = self.errors.len();
        self.check_keys(map, HTTP_KEYS, "http", &[]);
        let url = match get(map, "url") {
            Some(n) => self.http_url(n),
            None => {
                self.missing(node, "url", "http");
                None
            }
        };
        let method = match get(map, "method") {
            None => Some(HttpMethod::Get),
            Some(n) => self.string(n, "method").and_then(|text| {
                let method = HttpMethod::parse(&text);
                if method.is_none() {
                    self.error(n.line, Problem::BadHttpMethod(text));
                }
                method
            }),
        };
        let headers = get(map, "headers").map(|n| self.headers(n));
        let body = get(map, "body").map(|n| {
            if method == Some(HttpMethod::Get) {
                self.error(n.line, Problem::HttpBodyWithGet);
            }
            self.mapping(n, "body")?;
            self.body(n, "body")
        });
        let timeout = match get(map, "timeout") {
            None => Some(DEFAULT_TIMEOUT),
            Some(n) => self.duration(n, "timeout").filter(|&d| {
                if d > MAX_TIMEOUT {
                    let value = n.as_scalar().unwrap_or_default().to_owned();
                    self.error(n.line, Problem::HttpTimeoutTooLong(value));
                }
                d <= MAX_TIMEOUT
            }),
        };
        let retries = self.number_or(map, "retries", DEFAULT_RETRIES, 0, MAX_RETRIES);
        let set = get(map, "set").map(|n| self.answer_fields(n));
        let on_error = get(map, "on_error").map(|n| self.target(n, "on_error"));
        let next = get(map, "next").map(|n| self.target(n, "next"));
        if self.errors.len() > before {
            return None;
        }
        Some(HttpStep {
            method: method?,
            url: url?,
            headers: headers.unwrap_or(Some(Vec::new()))?,
            body: body.map_or(Some(None), |b| b.map(Some))?,
            timeout: timeout?,
            retries: u32::try_from(retries?).ok()?,
            set: set.unwrap_or(Some(Vec::new()))?,
            on_error: on_error.map_or(Some(None), |t| t.map(Some))?,
            next: next.map_or(Some(None), |t| t.map(Some))?,
        })
    }

    fn http_url(&mut self, node: &Node) -> Option<Template> {
        let url = self.template(node, "url")?;
        if let Some(why) = url_problem(&url) {
            let url = node.as_scalar().unwrap_or_default().to_owned();
            self.error(node.line, Problem::BadHttpUrl { url, why });
            return None;
        }
        Some(url)
    }

    fn headers(&mut self, node: &Node) -> Option<Vec<(String, Template)>> {
        let map = self.mapping(node, "headers")?;
        if map.len() > MAX_HEADERS {
            let count = map.len().to_string();
            self.out_of_range(node.line, "headers", count, 0, MAX_HEADERS as u64);
            return None;
        }
        let mut headers = Vec::new();
        for (key, value) in map {
            let name = key.as_scalar().unwrap_or_default().to_owned();
            if !is_header_name(&name) {
                self.error(key.line, Problem::BadHeaderName(name));
                continue;
            }
            if let Some(value) = self.template(value, &format!("headers.{name}")) {
                headers.push((name, value));
            }
        }
        (headers.len() == map.len()).then_some(headers)
    }

    /// A JSON body: mappings and lists as such, quoted or non-literal scalars as templates.
    fn body(&mut self, node: &Node, key: &str) -> Option<BodyTemplate> {
        match &node.value {
            Yaml::Map(entries) => {
                let mut fields = Vec::new();
                for (k, v) in entries {
                    let name = k.as_scalar().unwrap_or_default().to_owned();
                    let value = self.body(v, &format!("{key}.{name}"));
                    fields.push((name, value));
                }
                let fields: Option<Vec<_>> =
                    fields.into_iter().map(|(k, v)| Some((k, v?))).collect();
                Some(BodyTemplate::Object(fields?))
            }
            Yaml::Seq(items) => {
                let items: Vec<_> = items.iter().map(|i| self.body(i, key)).collect();
                Some(BodyTemplate::List(
                    items.into_iter().collect::<Option<_>>()?,
                ))
            }
            Yaml::Scalar { .. } if node.is_null() => Some(BodyTemplate::Literal(Value::Null)),
            Yaml::Scalar {
                text,
                style: Style::Plain,
            } if json_literal(text).is_some() => json_literal(text).map(BodyTemplate::Literal),
            Yaml::Scalar { .. } => self.template(node, key).map(BodyTemplate::Text),
        }
    }

    /// `set: {var: path}`.
    fn answer_fields(&mut self, node: &Node) -> Option<Vec<(String, JsonPath)>> {
        let map = self.mapping(node, "set")?;
        if map.len() > MAX_FIELDS {
            let count = map.len().to_string();
            self.out_of_range(node.line, "set", count, 0, MAX_FIELDS as u64);
            return None;
        }
        let mut fields = Vec::new();
        for (key, value) in map {
            let var = self.var_name(key, "set");
            let path = self.string(value, "set").and_then(|text| {
                let path = JsonPath::parse(&text);
                if path.is_none() {
                    self.error(value.line, Problem::BadJsonPath(text));
                }
                path
            });
            if let (Some(var), Some(path)) = (var, path) {
                fields.push((var, path));
            }
        }
        (fields.len() == map.len()).then_some(fields)
    }
}

/// An unquoted `true`, `false` or number, as JSON.
fn json_literal(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Bool(_) | Value::Number(_))) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::dialplan::{load_str, DialplanErrors, HttpMethod, JsonPath, StepKind};
    use std::time::Duration;

    const TAIL: &str = "  - label: a\n    hangup:\n";

    #[test]
    fn each_rule_reports_its_line_and_message() {
        let cases: &[(&str, usize, &str)] = &[
            ("  - http: \"http://x\"\n", 2, "`http` must be a mapping"),
            ("  - http: { method: GET }\n", 2, "http step is missing required key `url`"),
            ("  - http:\n      url: \"http://x\"\n      retry: 1\n", 4, "unknown key `retry` in http; allowed keys: url, method, body, headers, timeout, retries, set, on_error, next"),
            ("  - http: { url: \"ftp://x/y\" }\n", 2, "http `url` `ftp://x/y` must start with http:// or https://"),
            ("  - http: { url: \"{base}/orders\" }\n", 2, "must start with http://"),
            ("  - http: { url: \"http://{host}/x\" }\n", 2, "must name its host literally"),
            ("  - http: { url: \"http://h{n}\" }\n", 2, "must name its host literally"),
            ("  - http: { url: \"http://h/{n\" }\n", 2, "`url`: unclosed `{`"),
            ("  - http: { url: \"http://h/\", method: FETCH }\n", 2, "unknown http method `FETCH`"),
            ("  - http:\n      url: \"http://h/\"\n      body: { a: 1 }\n", 4, "`body` needs method POST"),
            ("  - http:\n      url: \"http://h/\"\n      method: POST\n      body: [1]\n", 5, "`body` must be a mapping, found a list"),
            ("  - http:\n      url: \"http://h/\"\n      method: POST\n      body: { a: \"{x\" }\n", 5, "`body.a`: unclosed"),
            ("  - http:\n      url: \"http://h/\"\n      timeout: 31s\n", 4, "`timeout`: `31s` is longer than an http step may wait per attempt (30s)"),
            ("  - http:\n      url: \"http://h/\"\n      timeout: 3\n", 4, "`timeout`: `3` is not a duration"),
            ("  - http:\n      url: \"http://h/\"\n      retries: 6\n", 4, "`retries` is 6, must be between 0 and 5"),
            ("  - http:\n      url: \"http://h/\"\n      headers: { \"Bad Name\": x }\n", 4, "bad header name `Bad Name`"),
            ("  - http:\n      url: \"http://h/\"\n      headers: { Host: x }\n", 4, "bad header name `Host`"),
            ("  - http:\n      url: \"http://h/\"\n      headers: [x]\n", 4, "`headers` must be a mapping"),
            ("  - http:\n      url: \"http://h/\"\n      set: { \"1x\": a }\n", 4, "bad variable name `1x`"),
            ("  - http:\n      url: \"http://h/\"\n      set: { x: \"a..b\" }\n", 4, "bad JSON path `a..b`"),
            ("  - http:\n      url: \"http://h/\"\n      set: { x: [a] }\n", 4, "`set` must be a string, found a list"),
            ("  - http:\n      url: \"http://h/\"\n      on_error: nowhere\n", 4, "`on_error` refers to unknown label `nowhere`"),
            ("  - http:\n      url: \"http://h/\"\n      next: nowhere\n", 4, "`next` refers to unknown label `nowhere`"),
        ];
        for (snippet, line, needle) in cases {
            let text = format!("steps:\n{snippet}{TAIL}");
            let Err(DialplanErrors(errors)) = load_str("t.yaml", &text) else {
                panic!("expected errors for:\n{text}");
            };
            let hit = errors
                .iter()
                .any(|e| e.line == Some(*line) && e.to_string().contains(needle));
            assert!(
                hit,
                "{snippet:?}: want line {line} `{needle}`, got {errors:#?}"
            );
        }
    }

    #[test]
    fn loads_a_full_step_and_its_defaults() {
        let text = r#"
steps:
  - collect: { prompt: "Order?", var: order_number }
  - label: lookup
    http:
      url: "https://shop.example/orders/{order_number}"
      method: post
      body: { order: "{order_number}", caller: "{caller}", n: 1, tags: [x, 2] }
      headers: { Authorization: "Bearer xyz" }
      timeout: 2s
      retries: 0
      set: { order_state: status, eta: delivery.eta }
      on_error: down
      next: down
  - http: { url: "http://127.0.0.1:8088/ping" }
  - label: down
    say: "{order_state} {eta}"
"#;
        let plan = load_str("t.yaml", text).unwrap();
        assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
        let StepKind::Http(full) = &plan.steps()[1].kind else {
            panic!("not http");
        };
        assert_eq!(full.method, HttpMethod::Post);
        assert_eq!((full.timeout, full.retries), (Duration::from_secs(2), 0));
        assert_eq!(
            full.set[1],
            ("eta".into(), JsonPath::parse("delivery.eta").unwrap())
        );
        assert_eq!(full.on_error.as_ref().map(|t| t.index), Some(3));
        let StepKind::Http(plain) = &plan.steps()[2].kind else {
            panic!("not http");
        };
        assert_eq!(plain.method, HttpMethod::Get);
        assert_eq!((plain.timeout, plain.retries), (Duration::from_secs(3), 1));
        assert!(plain.on_error.is_none() && plain.next.is_none() && plain.body.is_none());
    }
}
