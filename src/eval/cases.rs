//! The labelled cases `voxdesk eval` reads: JSON Lines, one case a line (a contract: outside
//! evaluation sets use it).
//!
//! `{"text": "...", "intent": "order_status" | null, "entities": {"order_number": "1234"},
//! "sentiment": "negative", "emotion": "anger", "audio": "clip.wav"}`: `text` and `intent` are
//! required (`null` = the utterance should match nothing), the rest optional; unknown fields
//! are ignored so sets can carry their own notes. A file may mix dialplans: a case with
//! `"dialplan": "bank"` is only used when evaluating a dialplan file named `bank.*`. Blank lines and lines starting with `#` are
//! skipped. Every bad line is reported as `file:line: what is wrong`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Most cases read from one file.
pub const MAX_CASES: usize = 100_000;
/// Longest line, in bytes.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Entity keys a case may label.
pub const ENTITY_KEYS: [&str; 5] = [
    "order_number",
    "account_number",
    "phone_number",
    "amount",
    "date",
];

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// 1-based line in the cases file.
    pub line: usize,
    pub text: String,
    /// `None`: the bot should find no intent.
    pub intent: Option<String>,
    /// Expected entities by key (see [`ENTITY_KEYS`]).
    pub entities: BTreeMap<String, String>,
    pub sentiment: Option<String>,
    pub emotion: Option<String>,
    /// Recorded audio to use instead of synthesizing `text`, resolved against the cases file.
    pub audio: Option<PathBuf>,
    /// The dialplan (file stem) the case is for, in files that mix several.
    pub dialplan: Option<String>,
}

#[derive(Deserialize)]
struct RawCase {
    text: String,
    // `Option<Option<_>>` tells a missing `intent` (an error) from an explicit `null`.
    #[serde(default, deserialize_with = "present")]
    intent: Option<Option<String>>,
    #[serde(default)]
    entities: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    sentiment: Option<String>,
    #[serde(default)]
    emotion: Option<String>,
    #[serde(default)]
    audio: Option<String>,
    #[serde(default)]
    dialplan: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

const SENTIMENTS: [&str; 3] = ["negative", "neutral", "positive"];
const EMOTIONS: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral",
];

/// Reads a cases file; all problems at once as `file:line: message` lines.
pub fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse_cases(file, &name, base)
}

/// Parses cases from `reader`; `name` prefixes errors and `base` resolves `audio` paths.
pub fn parse_cases(reader: impl Read, name: &str, base: &Path) -> Result<Vec<Case>, String> {
    let mut reader = BufReader::new(reader.take((MAX_CASES * MAX_LINE_BYTES) as u64));
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("{name}: {e}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        if buf.len() > MAX_LINE_BYTES {
            errors.push(format!(
                "{name}:{number}: line longer than {MAX_LINE_BYTES} bytes"
            ));
            // Skip the rest of the overlong line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if cases.len() >= MAX_CASES {
            errors.push(format!("{name}:{number}: more than {MAX_CASES} cases"));
            break;
        }
        match parse_case(line, number, base) {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(format!("{name}:{number}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    if cases.is_empty() {
        return Err(format!("{name}: no cases"));
    }
    Ok(cases)
}

fn parse_case(line: &str, number: usize, base: &Path) -> Result<Case, String> {
    let raw: RawCase = serde_json::from_str(line).map_err(|e| format!("not a case: {e}"))?;
    if raw.text.trim().is_empty() {
        return Err("`text` is empty".into());
    }
    let intent = raw
        .intent
        .ok_or("`intent` is missing (use null for no intent)")?;
    let mut entities = BTreeMap::new();
    for (key, value) in raw.entities {
        if !ENTITY_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "unknown entity `{key}` (expected one of {})",
                ENTITY_KEYS.join(", ")
            ));
        }
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(format!("entity `{key}` must be a string, not {other}")),
        };
        entities.insert(key, value);
    }
    check_label("sentiment", raw.sentiment.as_deref(), &SENTIMENTS)?;
    check_label("emotion", raw.emotion.as_deref(), &EMOTIONS)?;
    Ok(Case {
        line: number,
        text: raw.text,
        intent,
        entities,
        sentiment: raw.sentiment,
        emotion: raw.emotion,
        audio: raw.audio.map(|a| base.join(a)),
        dialplan: raw.dialplan,
    })
}

fn check_label(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), String> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(format!(
            "`{field}` is `{v}`, expected one of {}",
            allowed.join(", ")
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Case>, String> {
        parse_cases(text.as_bytes(), "cases.jsonl", Path::new("sets"))
    }

    #[test]
    fn cases_with_and_without_optional_fields() {
        let cases = parse(concat!(
            "# a comment\n",
            r#"{"text": "where is my order 1234", "intent": "order_status", "entities": {"order_number": "1234"}, "sentiment": "neutral", "emotion": "neutral", "note": "kept out"}"#,
            "\n\n",
            r#"{"text": "what's the weather", "intent": null, "audio": "w.wav", "entities": {"amount": 20}}"#,
            "\n",
        ))
        .unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].line, 2);
        assert_eq!(cases[0].intent.as_deref(), Some("order_status"));
        assert_eq!(cases[0].entities["order_number"], "1234");
        assert_eq!(cases[1].intent, None);
        assert_eq!(cases[1].audio, Some(PathBuf::from("sets/w.wav")));
        assert_eq!(cases[1].entities["amount"], "20");
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let err = parse(concat!(
            r#"{"text": "no intent field"}"#,
            "\n",
            "not json\n",
            r#"{"text": "x", "intent": "a", "entities": {"colour": "red"}}"#,
            "\n",
            r#"{"text": "x", "intent": "a", "emotion": "boredom"}"#,
            "\n",
            r#"{"text": " ", "intent": "a"}"#,
            "\n",
        ))
        .unwrap_err();
        for needle in [
            "cases.jsonl:1: `intent` is missing",
            "cases.jsonl:2: not a case",
            "cases.jsonl:3: unknown entity `colour`",
            "cases.jsonl:4: `emotion` is `boredom`",
            "cases.jsonl:5: `text` is empty",
        ] {
            assert!(err.contains(needle), "{needle} in {err}");
        }
        assert_eq!(parse("\n# nothing\n").unwrap_err(), "cases.jsonl: no cases");
    }

    #[test]
    fn an_overlong_line_is_an_error_not_a_hang() {
        let long = format!(
            "{}\n{}\n",
            "x".repeat(MAX_LINE_BYTES + 10),
            r#"{"text":"a","intent":null}"#
        );
        let err = parse(&long).unwrap_err();
        assert!(err.contains("cases.jsonl:1: line longer"), "{err}");
        assert!(!err.contains(":2:"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }
    }
}
