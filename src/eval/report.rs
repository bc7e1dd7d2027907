//! The printout of `voxdesk eval`: a short text report, or one JSON object (`--json`) whose
//! fields `cases`, `intent_accuracy`, `entity_accuracy`, `no_match_rate`, `wer`,
//! `sentiment_accuracy` and `emotion_accuracy` (fractions 0..1, `null` when not measured) are
//! a contract for outside tooling.

use std::fmt::Write;

use super::score::Figures;
use super::Evaluation;

/// Confusions listed in the text report.
const CONFUSIONS_SHOWN: usize = 12;

/// One JSON object, newline-terminated.
pub fn json(evaluation: &Evaluation) -> String {
    let mut out =
        serde_json::to_string(evaluation).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    out.push('\n');
    out
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// The human-readable report.
pub fn text(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "voxdesk eval {} {}", e.dialplan, e.cases_file);
    let _ = writeln!(
        out,
        "path: {} ({}), intents by {}, threshold {:.2}, {} cases",
        e.path,
        if e.path == "audio" {
            "espeak-ng voices en-us/en-gb/en-us+f3 at 150/165/180 wpm -> G.711 -> endpointer -> Whisper -> bot"
        } else {
            "case text straight to the bot"
        },
        e.method,
        e.threshold,
        e.figures.cases
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<22}{:>10}{:>18}", "", "bot", "keyword baseline");
    type Row = (&'static str, fn(&Figures) -> Option<f64>);
    let rows: [Row; 6] = [
        ("intent accuracy", |f| Some(f.intent_accuracy)),
        ("entity accuracy", |f| f.entity_accuracy),
        ("no-match rate", |f| Some(f.no_match_rate)),
        ("word error rate", |f| f.wer),
        ("sentiment accuracy", |f| f.sentiment_accuracy),
        ("emotion accuracy", |f| f.emotion_accuracy),
    ];
    for (name, get) in rows {
        let _ = writeln!(
            out,
            "{:<22}{:>10}{:>18}",
            name,
            percent(get(&e.figures)),
            percent(get(&e.baseline))
        );
    }
    let _ = writeln!(
        out,
        "{:<22}{:>10}{:>18}",
        "ambiguous (asked)", e.figures.ambiguous, e.baseline.ambiguous
    );
    if !e.figures.confusion.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "confusions (expected -> predicted, count, first example):"
        );
        for c in e.figures.confusion.iter().take(CONFUSIONS_SHOWN) {
            let _ = writeln!(
                out,
                "  {} -> {}  x{}  \"{}\"",
                c.expected.as_deref().unwrap_or("(none)"),
                c.predicted.as_deref().unwrap_or("(none)"),
                c.count,
                c.example
            );
            if let Some(heard) = &c.heard {
                let _ = writeln!(out, "      heard \"{heard}\"");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score::Confusion;

    fn evaluation() -> Evaluation {
        let figures = Figures {
            cases: 4,
            intent_accuracy: 0.75,
            entity_accuracy: None,
            no_match_rate: 0.25,
            wer: Some(0.125),
            sentiment_accuracy: None,
            emotion_accuracy: Some(0.5),
            ambiguous: 1,
            confusion: vec![Confusion {
                expected: Some("returns".into()),
                predicted: None,
                count: 1,
                example: "send it back".into(),
                heard: Some("send it bag".into()),
            }],
        };
        Evaluation {
            dialplan: "d.yaml".into(),
            cases_file: "c.jsonl".into(),
            path: "audio",
            method: "keywords",
            threshold: 0.5,
            baseline: figures.clone(),
            figures,
        }
    }

    #[test]
    fn json_carries_the_contract_fields() {
        let value: serde_json::Value = serde_json::from_str(&json(&evaluation())).unwrap();
        assert_eq!(value["cases"], 4);
        assert_eq!(value["intent_accuracy"], 0.75);
        assert!(value["entity_accuracy"].is_null());
        assert_eq!(value["no_match_rate"], 0.25);
        assert_eq!(value["wer"], 0.125);
        assert_eq!(value["emotion_accuracy"], 0.5);
        assert_eq!(value["baseline"]["intent_accuracy"], 0.75);
    }

    #[test]
    fn text_shows_figures_and_confusions() {
        let text = text(&evaluation());
        assert!(text.contains("intent accuracy"));
        assert!(text.contains("75.0%"));
        assert!(text.contains("returns -> (none)  x1  \"send it back\""));
        assert!(text.contains("heard \"send it bag\""));
    }
}
