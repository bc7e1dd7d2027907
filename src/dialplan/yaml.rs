//! A tiny YAML node tree that remembers line numbers.
//!
//! Hand-written because serde_yaml and `yaml_rust2::Yaml` drop source positions, and every
//! dialplan error must say `file:line`. We drive yaml-rust2's event parser ourselves (instead of
//! `Parser::load`, which recurses per nesting level) so nesting depth is capped before it can
//! exhaust the stack. Aliases are refused, which also rules out "billion laughs" expansion.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::error::Problem;

/// Deepest nesting a dialplan may use; real ones need about 5.
const MAX_DEPTH: usize = 32;

/// One YAML value and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// `quoted` tells `"true"` (a string) from `true` (a bool) and `""` from null.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys keep their own line so "unknown key" points at the key.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A plain `~`, `null` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "nothing",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }
}

/// A container being built while its events stream in.
enum Open {
    Seq(Node),
    Map {
        node: Node,
        pending_key: Option<Node>,
    },
}

/// Parses one YAML document. `Ok(None)` for an empty file.
/// The error carries its 1-based line.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, (usize, Problem)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            // A bare `*` menu key scans as an alias to a missing anchor; say what to do.
            let problem = if e.info().contains("unknown anchor") {
                Problem::Alias
            } else {
                Problem::Syntax(e.info().to_owned())
            };
            (e.marker().line(), problem)
        })?;
        let line = mark.line();
        let finished = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err((line, Problem::MultipleDocuments));
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::Alias(_) => return Err((line, Problem::Alias)),
            Event::Scalar(text, style, _, _) => Some(Node {
                line,
                value: Value::Scalar {
                    text,
                    quoted: style != TScalarStyle::Plain,
                },
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err((line, Problem::TooDeep(MAX_DEPTH)));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Open::Seq(Node {
                        line,
                        value: Value::Seq(Vec::new()),
                    }),
                    _ => Open::Map {
                        node: Node {
                            line,
                            value: Value::Map(Vec::new()),
                        },
                        pending_key: None,
                    },
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(node)) | Some(Open::Map { node, .. }) => Some(node),
                None => return Err((line, Problem::Syntax("unbalanced collection end".into()))),
            },
        };
        if let Some(node) = finished {
            attach(&mut stack, &mut root, node)?;
        }
    }
    Ok(root)
}

/// Puts a finished node into its parent (or makes it the root).
fn attach(stack: &mut [Open], root: &mut Option<Node>, node: Node) -> Result<(), (usize, Problem)> {
    match stack.last_mut() {
        None => {
            *root = Some(node);
            Ok(())
        }
        Some(Open::Seq(parent)) => {
            if let Value::Seq(items) = &mut parent.value {
                items.push(node);
            }
            Ok(())
        }
        Some(Open::Map {
            node: parent,
            pending_key,
        }) => match pending_key.take() {
            None => {
                if node.as_scalar().is_none() {
                    return Err((node.line, Problem::ComplexKey));
                }
                *pending_key = Some(node);
                Ok(())
            }
            Some(key) => {
                let mut node = node;
                if matches!(&node.value, Value::Scalar { text, quoted: false } if text.is_empty()) {
                    // yaml-rust2 marks an omitted value at the next token, often a later line.
                    node.line = key.line;
                }
                if let Value::Map(entries) = &mut parent.value {
                    let duplicate = entries
                        .iter()
                        .find(|(k, _)| k.as_scalar() == key.as_scalar());
                    if let Some((first, _)) = duplicate {
                        return Err((
                            key.line,
                            Problem::DuplicateKey {
                                key: key.as_scalar().unwrap_or_default().to_owned(),
                                first_line: first.line,
                            },
                        ));
                    }
                    entries.push((key, node));
                }
                Ok(())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_point_at_keys_and_values() {
        let root = parse("name: x\nsteps:\n  - say: hi\n  - goto: a\n")
            .unwrap()
            .unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map[0].0.line, 1);
        let steps = map[1].1.as_seq().unwrap();
        assert_eq!(steps[0].line, 3);
        assert_eq!(steps[1].line, 4);
        let step = steps[1].as_map().unwrap();
        assert_eq!(step[0].1.as_scalar(), Some("a"));
        assert_eq!(step[0].1.line, 4);
    }

    #[test]
    fn empty_input_is_no_document() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn quoted_scalars_are_marked() {
        let root = parse("a: \"true\"\nb: true\nc:\n").unwrap().unwrap();
        let map = root.as_map().unwrap();
        assert!(matches!(
            &map[0].1.value,
            Value::Scalar { quoted: true, .. }
        ));
        assert!(matches!(
            &map[1].1.value,
            Value::Scalar { quoted: false, .. }
        ));
        assert!(map[2].1.is_null());
    }

    #[test]
    fn rejects_what_we_do_not_support() {
        let cases: &[(&str, usize, &str)] = &[
            ("a: 1\na: 2\n", 2, "duplicate key `a` (first on line 1)"),
            ("a: &x 1\nb: *x\n", 2, "aliases"),
            ("a: 1\n---\nb: 2\n", 2, "one YAML document"),
            ("? [1, 2]\n: x\n", 1, "plain strings"),
            ("a: [1, 2\nb: 3\n", 2, "syntax"),
        ];
        for (text, line, needle) in cases {
            let (got_line, problem) = parse(text).unwrap_err();
            assert_eq!(got_line, *line, "{text:?}: {problem}");
            assert!(problem.to_string().contains(needle), "{text:?}: {problem}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let (_, problem) = parse(&"[".repeat(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(problem, Problem::TooDeep(MAX_DEPTH));
        assert!(parse(&"[".repeat(100_000)).is_err());
        assert!(parse(&"- ".repeat(10_000)).is_err());
    }

    #[test]
    fn omitted_values_sit_on_their_key_line() {
        let root = parse(
            "a:

b: 1
",
        )
        .unwrap()
        .unwrap();
        let map = root.as_map().unwrap();
        assert!(map[0].1.is_null());
        assert_eq!(map[0].1.line, 1);
    }
}
