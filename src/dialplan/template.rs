//! Prompt templates: `"Your order {order_number|digits} has shipped."`.
//!
//! Parsed once at load time so syntax errors are reported with the file's line, and rendering
//! during a call cannot fail. `{{` and `}}` are literal braces. Unknown variables render empty.

use std::collections::HashMap;

/// Longest rendered text or variable value; keeps `set: {x: "{x}{x}"}` loops from doubling forever.
pub const MAX_RENDERED_CHARS: usize = 1024;

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without a closing `}`.
    #[error("unclosed `{{` at character {0} (write `{{{{` for a literal brace)")]
    Unclosed(usize),
    /// `}` without an opening `{`.
    #[error("unmatched `}}` at character {0} (write `}}}}` for a literal brace)")]
    Unopened(usize),
    /// `{}` or `{|digits}`.
    #[error("empty variable name at character {0}")]
    EmptyName(usize),
    /// Name with characters other than letters, digits and `_`.
    #[error("bad variable name `{0}` (use letters, digits and `_`)")]
    BadName(String),
    /// A `|filter` we do not know.
    #[error("unknown filter `{0}` (known: digits)")]
    UnknownFilter(String),
}

/// How a variable's value is turned into speech text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// As is.
    Plain,
    /// One character at a time: `1234` → `1 2 3 4`, so TTS reads digits, not "one thousand...".
    Digits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var { name: String, filter: Filter },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; see the module docs for the syntax.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unopened(pos + 1)),
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        match c {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '{' => return Err(TemplateError::Unclosed(pos + 1)),
                            c => inner.push(c),
                        }
                    }
                    if !closed {
                        return Err(TemplateError::Unclosed(pos + 1));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_var(&inner, pos + 1)?);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The text before the first variable.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(text)) => text,
            _ => "",
        }
    }

    /// Names of the variables the template reads, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Renders with `vars`; missing variables are empty. Capped at [`MAX_RENDERED_CHARS`].
    pub fn render(&self, vars: &HashMap<String, String>) -> String {
        self.render_escaped(vars, str::to_owned)
    }

    /// Renders like [`Template::render`], but a variable without a value stays `{name}`: a
    /// draft for a person to complete (the agent's suggested replies), not speech.
    pub fn render_known(&self, vars: &HashMap<String, String>) -> String {
        self.render_with(vars, str::to_owned, true)
    }

    /// Renders like [`Template::render`], passing each variable's (filtered) value through
    /// `escape`, e.g. percent-encoding for a URL.
    pub fn render_escaped(
        &self,
        vars: &HashMap<String, String>,
        escape: impl Fn(&str) -> String,
    ) -> String {
        self.render_with(vars, escape, false)
    }

    fn render_with(
        &self,
        vars: &HashMap<String, String>,
        escape: impl Fn(&str) -> String,
        keep_missing: bool,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var { name, .. } if keep_missing && !vars.contains_key(name) => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
                Part::Var { name, filter } => {
                    let value = vars.get(name).map(String::as_str).unwrap_or("");
                    match filter {
                        Filter::Plain => out.push_str(&escape(value)),
                        Filter::Digits => {
                            let mut spaced = String::new();
                            for (i, c) in value.chars().filter(|c| !c.is_whitespace()).enumerate() {
                                if i > 0 {
                                    spaced.push(' ');
                                }
                                spaced.push(c);
                            }
                            out.push_str(&escape(&spaced));
                        }
                    }
                }
            }
            if out.chars().count() > MAX_RENDERED_CHARS {
                break;
            }
        }
        truncate_chars(out, MAX_RENDERED_CHARS)
    }
}

/// Cuts `s` to at most `max` characters (on a char boundary).
pub fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((byte, _)) = s.char_indices().nth(max) {
        s.truncate(byte);
    }
    s
}

/// Variable names: ASCII letters, digits, `_`, not starting with a digit.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_var(inner: &str, pos: usize) -> Result<Part, TemplateError> {
    let (name, filter) = match inner.split_once('|') {
        Some((name, filter)) => (name.trim(), Some(filter.trim())),
        None => (inner.trim(), None),
    };
    if name.is_empty() {
        return Err(TemplateError::EmptyName(pos));
    }
    if !is_var_name(name) {
        return Err(TemplateError::BadName(name.to_owned()));
    }
    let filter = match filter {
        None => Filter::Plain,
        Some("digits") => Filter::Digits,
        Some(other) => return Err(TemplateError::UnknownFilter(other.to_owned())),
    };
    Ok(Part::Var {
        name: name.to_owned(),
        filter,
    })
}

/// Variables from `(name, value)` pairs, for tests that render templates.
#[cfg(test)]
pub(crate) fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders() {
        let v = vars(&[("n", "1234"), ("who", "Ann")]);
        let cases = [
            ("plain text", "plain text"),
            ("Hi {who}.", "Hi Ann."),
            ("Order {n|digits}!", "Order 1 2 3 4!"),
            ("{ n | digits }", "1 2 3 4"),
            ("{missing}x", "x"),
            ("{{literal}} {who}", "{literal} Ann"),
        ];
        for (text, want) in cases {
            assert_eq!(Template::parse(text).unwrap().render(&v), want, "{text}");
        }
    }

    #[test]
    fn drafts_keep_unknown_variables_as_slots() {
        let v = vars(&[("n", "1234")]);
        let cases = [
            ("Order {n|digits} for {who}.", "Order 1 2 3 4 for {who}."),
            ("{who|digits}", "{who}"),
            ("{{n}} {n}", "{n} 1234"),
        ];
        for (text, want) in cases {
            assert_eq!(
                Template::parse(text).unwrap().render_known(&v),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            ("a {b", TemplateError::Unclosed(3)),
            ("a } b", TemplateError::Unopened(3)),
            ("{}", TemplateError::EmptyName(1)),
            ("{|digits}", TemplateError::EmptyName(1)),
            ("{a b}", TemplateError::BadName("a b".into())),
            ("{1x}", TemplateError::BadName("1x".into())),
            ("{a{b}}", TemplateError::Unclosed(1)),
            ("{a|upper}", TemplateError::UnknownFilter("upper".into())),
        ];
        for (text, want) in cases {
            assert_eq!(Template::parse(text), Err(want), "{text}");
        }
    }

    #[test]
    fn lists_variables() {
        let t = Template::parse("{a} and {b|digits} and {a}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["a", "b", "a"]);
    }

    #[test]
    fn rendering_is_capped() {
        let t = Template::parse("{x}{x}").unwrap();
        let v = vars(&[("x", &"é".repeat(MAX_RENDERED_CHARS))]);
        assert_eq!(t.render(&v).chars().count(), MAX_RENDERED_CHARS);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,64}") {
            let _ = Template::parse(&s);
        }

        #[test]
        fn brace_free_text_round_trips(s in "[^{}]{0,64}") {
            let t = Template::parse(&s).unwrap();
            prop_assert_eq!(t.render(&HashMap::new()), s);
        }
    }
}
