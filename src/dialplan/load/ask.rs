//! The speech parts of a dialplan file: the top-level `intents:` and `ask` steps.

use super::fields::get;
use super::Loader;
use crate::dialplan::error::Problem;
use crate::dialplan::model::{Ask, Capture, Entity, Intents, Target, BUILTIN_INTENTS};
use crate::yaml::Node;

const ASK_KEYS: &[&str] = &[
    "prompt",
    "dtmf_prompt",
    "timeout",
    "retries",
    "invalid",
    "on_timeout",
    "on_no_match",
    "barge_in",
    "intents",
    "keys",
    "capture",
    "next",
    "hints",
    "threshold",
];
const CAPTURE_KEYS: &[&str] = &[
    "var",
    "entity",
    "min_digits",
    "max_digits",
    "terminator",
    "confirm",
];
/// Keys of an intent written as a mapping (`{label, examples}`).
const INTENT_KEYS: &[&str] = &["label", "examples"];
/// Longest intent `label`, in characters.
const MAX_LABEL_CHARS: usize = 60;
const MAX_INTENTS: usize = 100;
const MAX_EXAMPLES: usize = 200;
const MAX_EXAMPLE_CHARS: usize = 200;
/// Bounds a step's `hints`: decoding time grows with the recogniser's prompt.
pub(crate) const MAX_HINT_BYTES: usize = 400;
const DEFAULT_THRESHOLD: f32 = 0.5;

impl Loader<'_> {
    /// `intents: {name: [example, ...], ...}`.
    pub(super) fn intents(&mut self, node: &Node) -> Intents {
        let Some(map) = self.mapping(node, "intents") else {
            return Intents::default();
        };
        if map.len() > MAX_INTENTS {
            let count = map.len().to_string();
            self.out_of_range(node.line, "intents", count, 0, MAX_INTENTS as u64);
            return Intents::default();
        }
        let mut declared = Vec::new();
        let mut labels = Vec::new();
        for (key, value) in map {
            let name = key.as_scalar().unwrap_or_default().to_owned();
            if !super::is_label(&name) {
                self.error(key.line, Problem::BadLabel(name));
                continue;
            }
            if BUILTIN_INTENTS.contains(&name.as_str()) {
                self.error(key.line, Problem::BuiltinIntent(name));
                continue;
            }
            let examples = match value.as_map() {
                Some(fields) => {
                    self.check_keys(fields, INTENT_KEYS, &format!("intents.{name}"), &[]);
                    if let Some(label) = get(fields, "label").and_then(|n| self.label_text(n)) {
                        labels.push((name.clone(), label));
                    }
                    match get(fields, "examples") {
                        Some(list) => self.examples(list, &format!("intents.{name}")),
                        None => {
                            let key = "examples".to_owned();
                            let context = format!("intent `{name}`");
                            self.error(value.line, Problem::MissingKey { key, context });
                            None
                        }
                    }
                }
                None => self.examples(value, &format!("intents.{name}")),
            };
            let Some(examples) = examples else {
                continue;
            };
            declared.push((name, examples));
        }
        Intents::new(declared).with_labels(labels)
    }

    /// An intent's `label`: short words a caller can hear.
    fn label_text(&mut self, node: &Node) -> Option<String> {
        let text = self.string(node, "label")?;
        let len = text.chars().count();
        if len > MAX_LABEL_CHARS || text.trim().is_empty() {
            let key = "label".to_string();
            let max = MAX_LABEL_CHARS;
            self.error(node.line, Problem::TooLong { key, len, max });
            return None;
        }
        Some(text)
    }

    /// A list of example phrases (an intent's, or `out_of_scope`), reported as `key`.
    pub(super) fn examples(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(node, key, "a list of example phrases");
            return None;
        };
        if items.is_empty() || items.len() > MAX_EXAMPLES {
            let count = items.len().to_string();
            self.out_of_range(node.line, key, count, 1, MAX_EXAMPLES as u64);
            return None;
        }
        let mut examples = Vec::new();
        for item in items {
            let text = self.string(item, key)?;
            let len = text.chars().count();
            if len > MAX_EXAMPLE_CHARS || text.trim().is_empty() {
                let key = key.to_owned();
                self.error(
                    item.line,
                    Problem::TooLong {
                        key,
                        len,
                        max: MAX_EXAMPLE_CHARS,
                    },
                );
                return None;
            }
            examples.push(text);
        }
        Some(examples)
    }

    pub(super) fn ask(&mut self, node: &Node) -> Option<Ask> {
        let map = self.mapping(node, "ask")?;
        let before = self.errors.len();
        self.check_keys(map, ASK_KEYS, "ask", &[]);
        let mut input = self.input_rules(node, map, "ask", false);
        if let (Some(rules), Some(n)) = (input.as_mut(), get(map, "on_no_match")) {
            rules.on_invalid = self.target(n, "on_no_match");
        }
        let dtmf_prompt = get(map, "dtmf_prompt").map(|n| self.template(n, "dtmf_prompt"));
        let intents = get(map, "intents").map(|n| self.intent_branches(n));
        let keys = get(map, "keys").map(|n| self.key_branches(n, "keys"));
        let capture = get(map, "capture").map(|n| self.capture(n));
        let next = get(map, "next").map(|n| self.target(n, "next"));
        let threshold = get(map, "threshold").map(|n| self.fraction(n, "threshold"));
        let own_hints = get(map, "hints").map(|n| self.string(n, "hints"));
        let branches = intents.clone().flatten().unwrap_or_default();
        let has_keys = keys
            .as_ref()
            .is_some_and(|k| k.as_ref().is_some_and(|k| !k.is_empty()));
        if branches.is_empty() && !has_keys && capture.is_none() {
            self.error(node.line, Problem::AskWithoutAnswers);
        }
        if self.errors.len() > before {
            return None;
        }
        self.writes.push("utterance".into());
        self.writes.push("intent".into());
        let hints = self.hints(own_hints.flatten().as_deref());
        Some(Ask {
            input: input?,
            intents: branches,
            keys: keys.flatten().unwrap_or_default(),
            capture: capture.flatten(),
            next: next.flatten(),
            hints,
            threshold: threshold.flatten().unwrap_or(DEFAULT_THRESHOLD),
            dtmf_prompt: dtmf_prompt.flatten(),
        })
    }

    /// `intents: {intent: label}` of an ask; every intent must be declared or built in.
    fn intent_branches(&mut self, node: &Node) -> Option<Vec<(String, Target)>> {
        let map = self.mapping(node, "intents")?;
        let mut branches = Vec::new();
        for (key, value) in map {
            let name = key.as_scalar().unwrap_or_default().to_owned();
            let known = BUILTIN_INTENTS.contains(&name.as_str())
                || self
                    .declared_intents
                    .declared()
                    .iter()
                    .any(|(n, _)| *n == name);
            if !known {
                let declared = self.declared_intent_names();
                self.error(key.line, Problem::UnknownIntent { name, declared });
                continue;
            }
            if let Some(target) = self.target(value, &format!("intents.{name}")) {
                branches.push((name, target));
            }
        }
        Some(branches)
    }

    /// `{ "1": label, ... }`, as menu options.
    fn key_branches(&mut self, node: &Node, key: &str) -> Option<Vec<(char, Target)>> {
        let map = self.mapping(node, key)?;
        Some(self.key_options(map, key))
    }

    fn capture(&mut self, node: &Node) -> Option<Capture> {
        let map = self.mapping(node, "capture")?;
        let before = self.errors.len();
        self.check_keys(map, CAPTURE_KEYS, "capture", &[]);
        let var = match get(map, "var") {
            Some(n) => self.var_name(n, "var"),
            None => {
                self.missing(node, "var", "capture");
                None
            }
        };
        let entity = match get(map, "entity") {
            None => Some(Entity::Digits),
            Some(n) => {
                let text = self.string(n, "entity")?;
                let entity = Entity::parse(&text);
                if entity.is_none() {
                    self.error(n.line, Problem::BadEntity(text));
                }
                entity
            }
        };
        let confirm = get(map, "confirm").map(|n| self.template(n, "confirm"));
        let digits = self.digit_rules(node, map);
        if self.errors.len() > before {
            return None;
        }
        let (min_digits, max_digits, terminator) = digits?;
        Some(Capture {
            var: var?,
            entity: entity?,
            min_digits,
            max_digits,
            terminator,
            confirm: confirm.flatten(),
        })
    }

    /// A number in 0..=1.
    fn fraction(&mut self, node: &Node, key: &str) -> Option<f32> {
        let text = self.string(node, key)?;
        match text.parse::<f32>() {
            Ok(v) if (0.0..=1.0).contains(&v) => Some(v),
            _ => {
                self.wrong_type(node, key, "a number between 0 and 1");
                None
            }
        }
    }

    /// The step's own `hints`, cut at a phrase boundary. Intent examples are deliberately not
    /// added: on 24 espeak sentences through G.711, tiny.en made 33 % word errors with no
    /// prompt and 44–48 % with any prompt tried (the examples, a keyword list, a greeting),
    /// and decoded twice as long.
    fn hints(&self, own: Option<&str>) -> String {
        let mut hints = String::new();
        for phrase in own.unwrap_or_default().split(',') {
            let phrase = phrase.trim();
            if phrase.is_empty() || hints.len() + phrase.len() + 2 > MAX_HINT_BYTES {
                continue;
            }
            if !hints.is_empty() {
                hints.push_str(", ");
            }
            hints.push_str(phrase);
        }
        hints
    }

    fn declared_intent_names(&self) -> String {
        let mut names: Vec<&str> = self
            .declared_intents
            .declared()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        names.extend(BUILTIN_INTENTS);
        names.join(", ")
    }
}
