//! Typed getters for the validator: each reads one YAML node as a string, number, duration,
//! template, label..., records a `file:line` error when it is not one, and returns `None`.

use std::time::Duration;

use super::{Loader, MAX_TIMEOUT, MIN_TIMEOUT};
use crate::dialplan::error::Problem;
use crate::dialplan::model::Target;
use crate::dialplan::template::{is_var_name, Template, MAX_RENDERED_CHARS};
use crate::yaml::{Node, Style, Value};

pub(super) fn get<'n>(map: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
    map.iter()
        .find(|(k, _)| k.as_scalar() == Some(key))
        .map(|(_, v)| v)
}

/// `5s`, `1500ms`, within [MIN_TIMEOUT, MAX_TIMEOUT].
pub(super) fn parse_duration(s: &str) -> Option<Duration> {
    let (digits, unit_ms) = if let Some(d) = s.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = s.strip_suffix('s') {
        (d, 1000)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = digits.parse::<u64>().ok()?.checked_mul(unit_ms)?;
    let duration = Duration::from_millis(millis);
    (MIN_TIMEOUT..=MAX_TIMEOUT)
        .contains(&duration)
        .then_some(duration)
}

impl Loader<'_> {
    pub(super) fn check_keys(
        &mut self,
        map: &[(Node, Node)],
        allowed: &[&str],
        context: &str,
        skip: &[&str],
    ) {
        for (key, _) in map {
            let name = key.as_scalar().unwrap_or_default();
            if !allowed.contains(&name) && !skip.contains(&name) {
                self.error(
                    key.line,
                    Problem::UnknownKey {
                        key: name.to_owned(),
                        context: context.to_owned(),
                        allowed: allowed.join(", "),
                    },
                );
            }
        }
    }

    pub(super) fn missing(&mut self, node: &Node, key: &str, context: &str) {
        self.error(
            node.line,
            Problem::MissingKey {
                key: key.to_owned(),
                context: format!("{context} step"),
            },
        );
    }

    pub(super) fn wrong_type(&mut self, node: &Node, key: &str, expected: &'static str) {
        let found = match node.as_scalar() {
            Some(text) if !node.is_null() => format!("`{text}`"),
            _ => node.describe().to_owned(),
        };
        self.error(
            node.line,
            Problem::WrongType {
                key: key.to_owned(),
                expected,
                found,
            },
        );
    }

    pub(super) fn out_of_range(
        &mut self,
        line: usize,
        key: &str,
        value: String,
        min: u64,
        max: u64,
    ) {
        self.error(
            line,
            Problem::OutOfRange {
                key: key.to_owned(),
                value,
                min,
                max,
            },
        );
    }

    pub(super) fn mapping<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n [(Node, Node)]> {
        let map = node.as_map();
        if map.is_none() {
            self.wrong_type(node, key, "a mapping");
        }
        map
    }

    pub(super) fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.wrong_type(node, key, "a string");
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                style: Style::Plain,
            } if text == "true" => Some(true),
            Value::Scalar {
                text,
                style: Style::Plain,
            } if text == "false" => Some(false),
            _ => {
                self.wrong_type(node, key, "true or false");
                None
            }
        }
    }

    /// `map[key]` as a whole number in `min..=max`, or `default` when absent.
    pub(super) fn number_or(
        &mut self,
        map: &[(Node, Node)],
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let Some(node) = get(map, key) else {
            return Some(default);
        };
        let text = node.as_scalar().unwrap_or_default();
        if node.is_null() || text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            self.wrong_type(node, key, "a whole number");
            return None;
        }
        match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.out_of_range(node.line, key, text.to_owned(), min, max);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, node: &Node, key: &str) -> Option<Duration> {
        let text = self.string(node, key)?;
        let parsed = parse_duration(&text);
        if parsed.is_none() {
            self.error(
                node.line,
                Problem::BadDuration {
                    key: key.to_owned(),
                    value: text,
                },
            );
        }
        parsed
    }

    pub(super) fn template(&mut self, node: &Node, key: &str) -> Option<Template> {
        let text = self.string(node, key)?;
        let len = text.chars().count();
        if len > MAX_RENDERED_CHARS {
            let key = key.to_owned();
            let max = MAX_RENDERED_CHARS;
            self.error(node.line, Problem::TooLong { key, len, max });
            return None;
        }
        match Template::parse(&text) {
            Ok(template) => {
                for var in template.variables() {
                    self.reads.push((var.to_owned(), node.line));
                }
                Some(template)
            }
            Err(error) => {
                self.error(
                    node.line,
                    Problem::Template {
                        key: key.to_owned(),
                        error,
                    },
                );
                None
            }
        }
    }

    pub(super) fn var_name(&mut self, node: &Node, key: &str) -> Option<String> {
        let name = self.string(node, key)?;
        if !is_var_name(&name) || name.len() > 64 {
            self.error(node.line, Problem::BadVarName(name));
            return None;
        }
        self.writes.push(name.clone());
        Some(name)
    }

    pub(super) fn target(&mut self, node: &Node, key: &str) -> Option<Target> {
        let label = self.string(node, key)?;
        match self.labels.get(&label) {
            Some(&(index, _)) => Some(Target { label, index }),
            None => {
                self.error(
                    node.line,
                    Problem::UnknownLabel {
                        key: key.to_owned(),
                        label,
                    },
                );
                None
            }
        }
    }
}
