//! A YAML node tree that remembers where each node starts (line and column).
//!
//! Hand-written for the same reasons as `dialplan::yaml` (serde_yaml and `yaml_rust2::Yaml` drop
//! positions; the event loop caps nesting instead of recursing; aliases are refused), and kept
//! separate because that module is private to `dialplan` and the agents file also needs columns
//! and scalar styles so `agents passwd` can edit the text in place.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::file::FileProblem;

/// Deepest nesting the agents file may use; a real one needs 4.
const MAX_DEPTH: usize = 16;

/// One YAML value, with the 1-based line and 0-based character column it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub line: usize,
    pub col: usize,
    pub value: Value,
}

/// How a scalar was written; `agents passwd` only rewrites single-line ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Quoted,
    /// `|` or `>`: spans several lines.
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Scalar {
        text: String,
        style: Style,
    },
    Seq(Vec<Node>),
    /// Keys keep their own position so errors and edits point at the key.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A plain `~`, `null` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, style: Style::Plain }
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

enum Open {
    Seq(Node),
    Map {
        node: Node,
        pending_key: Option<Node>,
    },
}

/// Parses one YAML document; `Ok(None)` for an empty file. Errors carry their 1-based line.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, (usize, FileProblem)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let problem = if e.info().contains("unknown anchor") {
                FileProblem::Alias
            } else {
                FileProblem::Syntax(e.info().to_owned())
            };
            (e.marker().line(), problem)
        })?;
        let (line, col) = (mark.line(), mark.col());
        let finished = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err((line, FileProblem::MultipleDocuments));
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::Alias(_) => return Err((line, FileProblem::Alias)),
            Event::Scalar(text, style, _, _) => Some(Node {
                line,
                col,
                value: Value::Scalar {
                    text,
                    style: match style {
                        TScalarStyle::Plain => Style::Plain,
                        TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
                        _ => Style::Quoted,
                    },
                },
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err((line, FileProblem::TooDeep(MAX_DEPTH)));
                }
                let is_seq = matches!(event, Event::SequenceStart(..));
                stack.push(if is_seq {
                    Open::Seq(Node {
                        line,
                        col,
                        value: Value::Seq(Vec::new()),
                    })
                } else {
                    Open::Map {
                        node: Node {
                            line,
                            col,
                            value: Value::Map(Vec::new()),
                        },
                        pending_key: None,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(node)) | Some(Open::Map { node, .. }) => Some(node),
                None => {
                    return Err((
                        line,
                        FileProblem::Syntax("unbalanced collection end".into()),
                    ))
                }
            },
        };
        if let Some(node) = finished {
            attach(&mut stack, &mut root, node)?;
        }
    }
    Ok(root)
}

fn attach(
    stack: &mut [Open],
    root: &mut Option<Node>,
    mut node: Node,
) -> Result<(), (usize, FileProblem)> {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Open::Seq(parent)) => {
            if let Value::Seq(items) = &mut parent.value {
                items.push(node);
            }
        }
        Some(Open::Map {
            node: parent,
            pending_key,
        }) => match pending_key.take() {
            None => {
                if node.as_scalar().is_none() {
                    return Err((node.line, FileProblem::ComplexKey));
                }
                *pending_key = Some(node);
            }
            Some(key) => {
                if node.is_null() && node.as_scalar() == Some("") {
                    // yaml-rust2 marks an omitted value at the next token, often a later line.
                    node.line = key.line;
                }
                if let Value::Map(entries) = &mut parent.value {
                    let first = entries
                        .iter()
                        .find(|(k, _)| k.as_scalar() == key.as_scalar());
                    if let Some((first, _)) = first {
                        return Err((
                            key.line,
                            FileProblem::DuplicateKey {
                                key: key.as_scalar().unwrap_or_default().to_owned(),
                                first_line: first.line,
                            },
                        ));
                    }
                    entries.push((key, node));
                }
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_keys_and_flow_maps_start_at_their_brace() {
        let root = parse("agents:\n  - user: a\n    password: x\n  - {user: b}\n")
            .unwrap()
            .unwrap();
        let agents = root.as_map().unwrap()[0].1.as_seq().unwrap();
        let first = agents[0].as_map().unwrap();
        assert_eq!((first[1].0.line, first[1].0.col), (3, 4));
        assert_eq!((agents[1].line, agents[1].col), (4, 4));
        assert_eq!((first[0].0.line, first[0].0.col), (2, 4));
    }

    #[test]
    fn styles_are_recorded() {
        let root = parse("a: x\nb: 'y'\nc: |\n  z\n").unwrap().unwrap();
        let styles: Vec<_> = root
            .as_map()
            .unwrap()
            .iter()
            .map(|(_, v)| match &v.value {
                Value::Scalar { style, .. } => *style,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(styles, [Style::Plain, Style::Quoted, Style::Block]);
    }

    #[test]
    fn refuses_aliases_documents_and_depth() {
        assert_eq!(parse("a: &x 1\nb: *x\n").unwrap_err().1, FileProblem::Alias);
        assert_eq!(
            parse("a: 1\n---\nb: 2\n").unwrap_err().1,
            FileProblem::MultipleDocuments
        );
        assert_eq!(
            parse(&"[".repeat(MAX_DEPTH + 1)).unwrap_err().1,
            FileProblem::TooDeep(MAX_DEPTH)
        );
        assert!(parse(&"- ".repeat(10_000)).is_err());
    }
}
