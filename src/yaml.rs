//! A YAML node tree that remembers where each node starts (line and column), shared by the
//! dialplan and agents-file loaders.
//!
//! Hand-written because serde_yaml and `yaml_rust2::Yaml` drop source positions, and every
//! file error must say `file:line`. yaml-rust2's event parser is driven here (instead of
//! `Parser::load`, which recurses per nesting level) so nesting depth is capped before it can
//! exhaust the stack. Aliases are refused, which also rules out "billion laughs" expansion.
//! Columns and scalar styles let `agents passwd` edit a file's text in place.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// One YAML value, with the 1-based line and 0-based character column it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub line: usize,
    pub col: usize,
    pub value: Value,
}

/// How a scalar was written: `"true"` (quoted, a string) is not `true` (plain, a bool), and
/// `""` is not null.
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

/// What is wrong with the YAML itself; each loader words it in its own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum YamlProblem {
    /// yaml-rust2 rejected the text.
    Syntax(String),
    /// Nested deeper than the caller allows.
    TooDeep(usize),
    /// `*name` aliases (a bare `*` key also scans as one).
    Alias,
    /// `---` twice.
    MultipleDocuments,
    /// `? [a, b]: x`.
    ComplexKey,
    /// The same key twice in one mapping.
    DuplicateKey { key: String, first_line: usize },
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
pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Option<Node>, (usize, YamlProblem)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let problem = if e.info().contains("unknown anchor") {
                YamlProblem::Alias
            } else {
                YamlProblem::Syntax(e.info().to_owned())
            };
            (e.marker().line(), problem)
        })?;
        let (line, col) = (mark.line(), mark.col());
        let finished = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err((line, YamlProblem::MultipleDocuments));
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::Alias(_) => return Err((line, YamlProblem::Alias)),
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
                if stack.len() >= max_depth {
                    return Err((line, YamlProblem::TooDeep(max_depth)));
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
                        YamlProblem::Syntax("unbalanced collection end".into()),
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
) -> Result<(), (usize, YamlProblem)> {
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
                    return Err((node.line, YamlProblem::ComplexKey));
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
                            YamlProblem::DuplicateKey {
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

    /// The parser at the agents file's depth limit.
    fn parse(text: &str) -> Result<Option<Node>, (usize, YamlProblem)> {
        super::parse(text, 16)
    }

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
        assert_eq!(parse("a: &x 1\nb: *x\n").unwrap_err().1, YamlProblem::Alias);
        assert_eq!(
            parse("a: 1\n---\nb: 2\n").unwrap_err().1,
            YamlProblem::MultipleDocuments
        );
        assert_eq!(
            parse(&"[".repeat(17)).unwrap_err().1,
            YamlProblem::TooDeep(16)
        );
        assert!(parse(&"- ".repeat(10_000)).is_err());
    }

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
            Value::Scalar {
                style: Style::Quoted,
                ..
            }
        ));
        assert!(matches!(
            &map[1].1.value,
            Value::Scalar {
                style: Style::Plain,
                ..
            }
        ));
        assert!(map[2].1.is_null());
    }

    #[test]
    fn rejects_what_we_do_not_support() {
        let duplicate = YamlProblem::DuplicateKey {
            key: "a".into(),
            first_line: 1,
        };
        let cases: &[(&str, usize, Option<YamlProblem>)] = &[
            ("a: 1\na: 2\n", 2, Some(duplicate)),
            ("a: &x 1\nb: *x\n", 2, Some(YamlProblem::Alias)),
            ("a: 1\n---\nb: 2\n", 2, Some(YamlProblem::MultipleDocuments)),
            ("? [1, 2]\n: x\n", 1, Some(YamlProblem::ComplexKey)),
            // A syntax error: yaml-rust2's wording is its own.
            ("a: [1, 2\nb: 3\n", 2, None),
        ];
        for (text, line, want) in cases {
            let (got_line, problem) = parse(text).unwrap_err();
            assert_eq!(got_line, *line, "{text:?}: {problem:?}");
            match want {
                Some(want) => assert_eq!(&problem, want, "{text:?}"),
                None => assert!(matches!(problem, YamlProblem::Syntax(_)), "{problem:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let (_, problem) = parse(&"[".repeat(17)).unwrap_err();
        assert_eq!(problem, YamlProblem::TooDeep(16));
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
