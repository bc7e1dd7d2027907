//! Loader and validator: YAML text → [`Dialplan`], or every problem as `file:line: message`.
//!
//! Validation keeps going after an error so one `voxdesk dialplan check` run shows them all.
//! A getter that finds a problem records it and returns `None`; a step whose parse recorded any
//! error is dropped, and the load fails if anything was recorded.

use crate::bot::{Bot, Faq};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::{DialplanError, DialplanErrors, Problem};
use super::model::{
    Assignment, Collect, Dialplan, Disposition, Escalation, InputRules, Intents, Menu, Play, Say,
    Step, StepKind, Target, TicketFields, Transfer,
};
use crate::yaml::{self, Node};

/// Deepest YAML nesting a dialplan may use; real ones need about 5.
const MAX_DEPTH: usize = 32;
use crate::tickets::Priority;

mod ask;
mod csat;
mod fields;
mod http;
mod queue;
use fields::get;

/// Largest dialplan file accepted.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Most steps in one dialplan.
pub const MAX_STEPS: usize = 10_000;

/// Variables the call layer always provides.
pub const BUILTIN_VARS: &[&str] = &["caller", "called", "call_id", "request_uri"];

const STEP_KINDS: &[&str] = &[
    "say", "play", "menu", "collect", "ask", "set", "goto", "transfer", "hangup", "http", "ticket",
    "queue", "csat",
];
const TOP_KEYS: &[&str] = &[
    "name",
    "voice",
    "start",
    "intents",
    "out_of_scope",
    "faq",
    "on_angry",
    "steps",
];
const ON_ANGRY_KEYS: &[&str] = &["turns", "goto"];
/// Angry turns before `on_angry` applies, unless the file says otherwise.
const DEFAULT_ANGRY_TURNS: u64 = 2;
/// Largest knowledge file read for `faq:`.
const MAX_FAQ_BYTES: u64 = 256 * 1024;
const MENU_KEYS: &[&str] = &[
    "prompt",
    "options",
    "timeout",
    "retries",
    "invalid",
    "on_timeout",
    "on_invalid",
    "barge_in",
];
const COLLECT_KEYS: &[&str] = &[
    "prompt",
    "var",
    "min_digits",
    "max_digits",
    "terminator",
    "timeout",
    "retries",
    "invalid",
    "on_timeout",
    "on_invalid",
    "barge_in",
];
const TRANSFER_KEYS: &[&str] = &["to", "on_failure"];
const TICKET_KEYS: &[&str] = &["priority", "subject"];

const DEFAULT_VOICE: &str = "en-us";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u64 = 2;
const MAX_RETRIES: u64 = 10;
const DEFAULT_MAX_DIGITS: u64 = 16;
const MAX_DIGITS_LIMIT: u64 = 32;
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// Loads and validates a dialplan file. `play` paths resolve against the file's directory.
pub fn load_file(path: &Path) -> Result<Dialplan, DialplanErrors> {
    let name = path.display().to_string();
    let whole_file = |problem| DialplanErrors(vec![file_error(&name, problem)]);
    let file = std::fs::File::open(path).map_err(|e| whole_file(Problem::Io(e.to_string())))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| whole_file(Problem::Io(e.to_string())))?;
    if text.len() > MAX_FILE_BYTES {
        return Err(whole_file(Problem::TooLarge(MAX_FILE_BYTES)));
    }
    load_in(&name, &text, path.parent().unwrap_or(Path::new("")))
}

/// Loads and validates dialplan text; `name` is used in messages, and its directory (if any)
/// resolves `play` paths.
pub fn load_str(name: &str, text: &str) -> Result<Dialplan, DialplanErrors> {
    if text.len() > MAX_FILE_BYTES {
        return Err(DialplanErrors(vec![file_error(
            name,
            Problem::TooLarge(MAX_FILE_BYTES),
        )]));
    }
    load_in(
        name,
        text,
        Path::new(name).parent().unwrap_or(Path::new("")),
    )
}

fn file_error(file: &str, problem: Problem) -> DialplanError {
    DialplanError {
        file: file.to_owned(),
        line: None,
        problem,
    }
}

fn load_in(name: &str, text: &str, base_dir: &Path) -> Result<Dialplan, DialplanErrors> {
    let mut loader = Loader {
        file: name,
        base_dir,
        errors: Vec::new(),
        labels: HashMap::new(),
        reads: Vec::new(),
        writes: BUILTIN_VARS.iter().map(|v| v.to_string()).collect(),
        declared_intents: Intents::default(),
    };
    let plan = match yaml::parse(text, MAX_DEPTH) {
        Ok(root) => loader.dialplan(root.as_ref()),
        Err((line, problem)) => {
            loader.error(line, Problem::from(problem));
            None
        }
    };
    match plan {
        Some(plan) if loader.errors.is_empty() => Ok(plan),
        _ => {
            loader.errors.sort_by_key(|e| e.line);
            Err(DialplanErrors(loader.errors))
        }
    }
}

struct Loader<'a> {
    file: &'a str,
    base_dir: &'a Path,
    errors: Vec<DialplanError>,
    /// Label → (step index, line).
    labels: HashMap<String, (usize, usize)>,
    /// Variables read by templates, with the line of the first read.
    reads: Vec<(String, usize)>,
    /// Variables something sets.
    writes: Vec<String>,
    /// The top-level `intents:`, read before the steps that branch on them.
    declared_intents: Intents,
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_transfer_uri(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = ["sip:", "sips:", "tel:"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme));
    matches!(rest, Some(rest) if !rest.is_empty())
        && s.len() <= 256
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

impl Loader<'_> {
    fn error(&mut self, line: usize, problem: Problem) {
        self.errors.push(DialplanError {
            file: self.file.to_owned(),
            line: Some(line),
            problem,
        });
    }

    fn dialplan(&mut self, root: Option<&Node>) -> Option<Dialplan> {
        let Some(root) = root else {
            self.error(1, Problem::Empty);
            return None;
        };
        let Some(map) = root.as_map() else {
            self.wrong_type(root, "dialplan", "a mapping with `steps`");
            return None;
        };
        self.check_keys(map, TOP_KEYS, "the dialplan", &[]);
        let name = match get(map, "name") {
            Some(node) => self.string(node, "name").unwrap_or_default(),
            None => Path::new(self.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let voice = match get(map, "voice") {
            Some(node) => self.string(node, "voice").unwrap_or_default(),
            None => DEFAULT_VOICE.to_owned(),
        };
        let Some(steps_node) = get(map, "steps") else {
            self.error(root.line, Problem::Empty);
            return None;
        };
        let Some(step_nodes) = steps_node.as_seq() else {
            if steps_node.is_null() {
                self.error(steps_node.line, Problem::Empty);
            } else {
                self.wrong_type(steps_node, "steps", "a list of steps");
            }
            return None;
        };
        if step_nodes.is_empty() {
            self.error(steps_node.line, Problem::Empty);
            return None;
        }
        if step_nodes.len() > MAX_STEPS {
            let value = step_nodes.len().to_string();
            self.out_of_range(steps_node.line, "steps", value, 1, MAX_STEPS as u64);
            return None;
        }
        if let Some(node) = get(map, "intents") {
            self.declared_intents = self.intents(node);
        }
        let out_of_scope = get(map, "out_of_scope")
            .and_then(|node| self.examples(node, "out_of_scope"))
            .unwrap_or_default();
        let faq = get(map, "faq").and_then(|node| self.faq(node));
        self.collect_labels(step_nodes);
        let steps: Vec<Option<Step>> = step_nodes.iter().map(|n| self.step(n)).collect();
        let on_angry = get(map, "on_angry").and_then(|node| self.on_angry(node));
        let start = match get(map, "start") {
            Some(node) => {
                let label = self.string(node, "start")?;
                match self.labels.get(&label) {
                    Some(&(index, _)) => index,
                    None => {
                        self.error(node.line, Problem::UnknownStart(label));
                        return None;
                    }
                }
            }
            None => 0,
        };
        let warnings = self.unset_variable_warnings();
        Some(Dialplan {
            name,
            voice,
            file: self.file.to_owned(),
            start,
            steps: steps.into_iter().collect::<Option<Vec<_>>>()?,
            warnings,
            bot: Arc::new(Bot::keywords(
                self.declared_intents.declared(),
                faq.as_deref().cloned(),
            )),
            intents: self.declared_intents.clone(),
            out_of_scope,
            faq,
            on_angry,
        })
    }

    /// `on_angry: {turns: N, goto: LABEL}`: where a caller goes after N angry turns.
    fn on_angry(&mut self, node: &Node) -> Option<Escalation> {
        let map = self.mapping(node, "on_angry")?;
        self.check_keys(map, ON_ANGRY_KEYS, "on_angry", &[]);
        let turns = self.number_or(map, "turns", DEFAULT_ANGRY_TURNS, 1, 100)?;
        let Some(goto) = get(map, "goto") else {
            self.error(
                node.line,
                Problem::MissingKey {
                    key: "goto".into(),
                    context: "on_angry".into(),
                },
            );
            return None;
        };
        let target = self.target(goto, "on_angry.goto")?;
        Some(Escalation {
            turns: u32::try_from(turns).unwrap_or(u32::MAX),
            target,
        })
    }

    /// `faq: FILE`: a Markdown knowledge file beside the dialplan; its problems are reported
    /// as `FILE:line: ...`.
    fn faq(&mut self, node: &Node) -> Option<Arc<Faq>> {
        let written = self.string(node, "faq")?;
        let path = self.base_dir.join(&written);
        let name = path.display().to_string();
        let mut text = String::new();
        let read = std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_FAQ_BYTES + 1).read_to_string(&mut text));
        if let Err(e) = read {
            self.error(node.line, Problem::Io(format!("{name}: {e}")));
            return None;
        }
        if text.len() as u64 > MAX_FAQ_BYTES {
            self.error(node.line, Problem::TooLarge(MAX_FAQ_BYTES as usize));
            return None;
        }
        match Faq::parse(&text) {
            Ok(faq) => Some(Arc::new(faq)),
            Err(errors) => {
                for e in errors {
                    self.errors.push(DialplanError {
                        file: name.clone(),
                        line: Some(e.line),
                        problem: Problem::Knowledge(e.message),
                    });
                }
                None
            }
        }
    }

    /// First pass, so branches may point forward.
    fn collect_labels(&mut self, steps: &[Node]) {
        for (index, step) in steps.iter().enumerate() {
            let Some(node) = step.as_map().and_then(|m| get(m, "label")) else {
                continue;
            };
            let Some(label) = self.string(node, "label") else {
                continue;
            };
            if !is_label(&label) {
                self.error(node.line, Problem::BadLabel(label));
            } else if let Some(&(_, first_line)) = self.labels.get(&label) {
                self.error(node.line, Problem::DuplicateLabel { label, first_line });
            } else {
                self.labels.insert(label, (index, node.line));
            }
        }
    }

    fn unset_variable_warnings(&self) -> Vec<DialplanError> {
        let mut warned: Vec<&str> = Vec::new();
        let mut warnings = Vec::new();
        for (name, line) in &self.reads {
            if self.writes.contains(name) || warned.contains(&name.as_str()) {
                continue;
            }
            warned.push(name);
            warnings.push(DialplanError {
                file: self.file.to_owned(),
                line: Some(*line),
                problem: Problem::UnsetVariable(name.clone()),
            });
        }
        warnings
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let Some(map) = node.as_map() else {
            self.wrong_type(node, "step", "a mapping like `say: ...`");
            return None;
        };
        let kinds: Vec<(&str, &Node, &Node)> = map
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_scalar()?;
                STEP_KINDS.contains(&key).then_some((key, k, v))
            })
            .collect();
        let Some(&(kind, _, value)) = kinds.first() else {
            let allowed = STEP_KINDS.join(", ");
            let unknown = map
                .iter()
                .find(|(k, _)| !matches!(k.as_scalar(), Some("label" | "barge_in")));
            match unknown {
                Some((k, _)) => {
                    let kind = k.as_scalar().unwrap_or_default().to_owned();
                    self.error(k.line, Problem::UnknownStepKind { kind, allowed });
                }
                None => self.error(node.line, Problem::NoStepKind { allowed }),
            }
            return None;
        };
        for &(second, key_node, _) in kinds.iter().skip(1) {
            self.error(
                key_node.line,
                Problem::SeveralStepKinds {
                    first: kind.to_owned(),
                    second: second.to_owned(),
                },
            );
        }
        let allowed: &[&str] = match kind {
            "say" | "play" => &["label", kind, "barge_in"],
            _ => &["label", kind],
        };
        self.check_keys(map, allowed, &format!("{kind} step"), STEP_KINDS);
        let label = get(map, "label").and_then(|n| n.as_scalar().map(str::to_owned));
        let barge_in = match get(map, "barge_in") {
            Some(n) => self.boolean(n, "barge_in"),
            None => Some(true),
        };
        let before = self.errors.len();
        let kind = match kind {
            "say" => StepKind::Say(Say {
                text: self.template(value, "say")?,
                barge_in: barge_in?,
            }),
            "play" => StepKind::Play(self.play(value, barge_in?)?),
            "menu" => StepKind::Menu(self.menu(value)?),
            "collect" => StepKind::Collect(self.collect(value)?),
            "ask" => StepKind::Ask(self.ask(value)?),
            "set" => StepKind::Set(self.set(value)?),
            "goto" => StepKind::Goto(self.target(value, "goto")?),
            "transfer" => StepKind::Transfer(self.transfer(value)?),
            "http" => StepKind::Http(self.http(value)?),
            "ticket" => StepKind::Ticket(self.ticket(value)?),
            "queue" => StepKind::Queue(self.queue(value)?),
            "csat" => StepKind::Csat(self.csat(value)?),
            _ => StepKind::Hangup(self.disposition(value)?),
        };
        if self.errors.len() > before {
            return None;
        }
        Some(Step {
            line: node.line,
            label,
            kind,
        })
    }

    fn play(&mut self, node: &Node, barge_in: bool) -> Option<Play> {
        let written = self.string(node, "play")?;
        let path = self.base_dir.join(&written);
        if let Err(e) = hound::WavReader::open(&path) {
            let reason = match e {
                hound::Error::IoError(io) => io.to_string(),
                other => format!("not a usable WAV file ({other})"),
            };
            self.error(
                node.line,
                Problem::BadAudioFile {
                    path: written,
                    reason,
                },
            );
            return None;
        }
        Some(Play { path, barge_in })
    }

    fn menu(&mut self, node: &Node) -> Option<Menu> {
        let map = self.mapping(node, "menu")?;
        let before = self.errors.len();
        self.check_keys(map, MENU_KEYS, "menu", &[]);
        let input = self.input_rules(node, map, "menu", true);
        let mut options = Vec::new();
        match get(map, "options") {
            None => self.missing(node, "options", "menu"),
            Some(opts) => match opts.as_map() {
                None => self.wrong_type(opts, "options", "a mapping of key to label"),
                Some([]) => self.error(opts.line, Problem::NoOptions),
                Some(entries) => options = self.key_options(entries, "options"),
            },
        }
        (self.errors.len() == before).then_some(Menu {
            input: input?,
            options,
        })
    }

    fn collect(&mut self, node: &Node) -> Option<Collect> {
        let map = self.mapping(node, "collect")?;
        let before = self.errors.len();
        self.check_keys(map, COLLECT_KEYS, "collect", &[]);
        let input = self.input_rules(node, map, "collect", false);
        let var = match get(map, "var") {
            Some(n) => self.var_name(n, "var"),
            None => {
                self.missing(node, "var", "collect");
                None
            }
        };
        let digits = self.digit_rules(node, map);
        if self.errors.len() > before {
            return None;
        }
        let (min_digits, max_digits, terminator) = digits?;
        Some(Collect {
            input: input?,
            var: var?,
            min_digits,
            max_digits,
            terminator,
        })
    }

    /// `min_digits`, `max_digits` and `terminator` of a `collect` or an `ask` capture.
    fn digit_rules(
        &mut self,
        node: &Node,
        map: &[(Node, Node)],
    ) -> Option<(usize, usize, Option<char>)> {
        let min = self.number_or(map, "min_digits", 1, 1, MAX_DIGITS_LIMIT);
        let max = self.number_or(map, "max_digits", DEFAULT_MAX_DIGITS, 1, MAX_DIGITS_LIMIT);
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                let line = get(map, "min_digits").map_or(node.line, |n| n.line);
                self.error(line, Problem::MinAboveMax { min, max });
            }
        }
        let terminator = match get(map, "terminator") {
            None => Some(None),
            Some(n) => match self.string(n, "terminator") {
                Some(t) if t == "#" || t == "*" => Some(t.chars().next()),
                Some(t) => {
                    self.error(n.line, Problem::BadTerminator(t));
                    None
                }
                None => None,
            },
        };
        if min? > max? {
            return None;
        }
        Some((
            usize::try_from(min?).ok()?,
            usize::try_from(max?).ok()?,
            terminator?,
        ))
    }

    /// `"1": label` entries of a menu's `options` or an ask's `keys`, named `{key}.{digit}` in
    /// errors.
    fn key_options(&mut self, entries: &[(Node, Node)], key: &str) -> Vec<(char, Target)> {
        let mut options = Vec::new();
        for (k, value) in entries {
            let digit = k.as_scalar().unwrap_or_default();
            let mut chars = digit.chars();
            let parsed = match (chars.next(), chars.next()) {
                (Some(c @ ('0'..='9' | '*' | '#')), None) => Some(c),
                _ => {
                    self.error(k.line, Problem::BadDigit(digit.to_owned()));
                    None
                }
            };
            let target = self.target(value, &format!("{key}.{digit}"));
            if let (Some(d), Some(t)) = (parsed, target) {
                options.push((d, t));
            }
        }
        options
    }

    fn input_rules(
        &mut self,
        node: &Node,
        map: &[(Node, Node)],
        context: &str,
        prompt_required: bool,
    ) -> Option<InputRules> {
        let prompt = match get(map, "prompt") {
            Some(n) => Some(self.template(n, "prompt")),
            None if prompt_required => {
                self.missing(node, "prompt", context);
                Some(None)
            }
            None => None,
        };
        let timeout = match get(map, "timeout") {
            Some(n) => self.duration(n, "timeout"),
            None => Some(DEFAULT_TIMEOUT),
        };
        let retries = self.number_or(map, "retries", DEFAULT_RETRIES, 0, MAX_RETRIES);
        let invalid = get(map, "invalid").map(|n| self.template(n, "invalid"));
        let on_timeout = get(map, "on_timeout").map(|n| self.target(n, "on_timeout"));
        let on_invalid = get(map, "on_invalid").map(|n| self.target(n, "on_invalid"));
        let barge_in = match get(map, "barge_in") {
            Some(n) => self.boolean(n, "barge_in"),
            None => Some(true),
        };
        Some(InputRules {
            prompt: prompt.map_or(Some(None), |p| p.map(Some))?,
            barge_in: barge_in?,
            timeout: timeout?,
            retries: u32::try_from(retries?).ok()?,
            invalid: invalid.map_or(Some(None), |t| t.map(Some))?,
            on_timeout: on_timeout.map_or(Some(None), |t| t.map(Some))?,
            on_invalid: on_invalid.map_or(Some(None), |t| t.map(Some))?,
        })
    }

    fn set(&mut self, node: &Node) -> Option<Vec<Assignment>> {
        let map = self.mapping(node, "set")?;
        if map.is_empty() {
            self.wrong_type(node, "set", "a non-empty mapping of variable to value");
            return None;
        }
        let mut assignments = Vec::new();
        for (key, value) in map {
            let var = self.var_name(key, "set");
            let value = self.template(value, &format!("set.{}", key.as_scalar().unwrap_or("")));
            if let (Some(var), Some(value)) = (var, value) {
                assignments.push(Assignment { var, value });
            }
        }
        (assignments.len() == map.len()).then_some(assignments)
    }

    fn transfer(&mut self, node: &Node) -> Option<Transfer> {
        let (target_node, on_failure) = match node.as_map() {
            Some(map) => {
                self.check_keys(map, TRANSFER_KEYS, "transfer", &[]);
                let on_failure = get(map, "on_failure").map(|n| self.target(n, "on_failure"));
                let Some(to) = get(map, "to") else {
                    self.missing(node, "to", "transfer");
                    return None;
                };
                (to, on_failure.map_or(Some(None), |t| t.map(Some))?)
            }
            None => (node, None),
        };
        let target = self.string(target_node, "transfer")?;
        if !is_transfer_uri(&target) {
            self.error(target_node.line, Problem::BadUri(target));
            return None;
        }
        Some(Transfer { target, on_failure })
    }

    fn ticket(&mut self, node: &Node) -> Option<TicketFields> {
        let map = self.mapping(node, "ticket")?;
        self.check_keys(map, TICKET_KEYS, "ticket", &[]);
        let priority = match get(map, "priority") {
            Some(n) => {
                let word = self.string(n, "priority")?;
                let priority = Priority::parse(&word);
                if priority.is_none() {
                    self.error(n.line, Problem::BadPriority(word));
                }
                Some(priority?)
            }
            None => None,
        };
        let subject = match get(map, "subject") {
            Some(n) => Some(self.template(n, "subject")?),
            None => None,
        };
        if priority.is_none() && subject.is_none() {
            self.missing(node, "priority` or `subject", "ticket");
            return None;
        }
        Some(TicketFields { priority, subject })
    }

    fn disposition(&mut self, node: &Node) -> Option<Disposition> {
        if node.is_null() {
            return Some(Disposition::Completed);
        }
        let text = self.string(node, "hangup")?;
        let parsed = Disposition::parse(&text);
        if parsed.is_none() {
            self.error(node.line, Problem::BadDisposition(text));
        }
        parsed
    }
}
