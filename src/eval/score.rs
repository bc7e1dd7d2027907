//! Tallies of `voxdesk eval`: what the bot predicted for each case against its labels, summed
//! into the figures the report prints (fractions 0..1).

use std::collections::BTreeMap;

use serde::Serialize;

use super::cases::Case;
use crate::bench::speech::wer::WordErrors;

/// What the bot made of one case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prediction {
    /// The text the bot read: the transcript on the audio path, else the case text.
    pub heard: String,
    /// `None`: no match (including an answer from the knowledge base).
    pub intent: Option<String>,
    /// The two best intents were too close; `intent` is the first.
    pub ambiguous: bool,
    /// Entity values by case key, for the keys the bot found.
    pub entities: BTreeMap<String, String>,
    pub sentiment: Option<String>,
    pub emotion: Option<String>,
}

/// Summed figures over a set of cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub cases: usize,
    pub intent_accuracy: f64,
    /// Over expected entity values; `None` when no case labels entities.
    pub entity_accuracy: Option<f64>,
    pub no_match_rate: f64,
    /// Word error rate of the transcripts; `None` on the text path.
    pub wer: Option<f64>,
    pub sentiment_accuracy: Option<f64>,
    pub emotion_accuracy: Option<f64>,
    /// Cases where two intents were too close to call.
    pub ambiguous: usize,
    /// Wrong intents, most frequent first.
    pub confusion: Vec<Confusion>,
}

/// One kind of intent error and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// The label (`None` = no intent expected).
    pub expected: Option<String>,
    pub predicted: Option<String>,
    pub count: usize,
    /// The first case's text, to look at.
    pub example: String,
    /// What the bot read for that case when it was a transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard: Option<String>,
}

/// Fraction, or `None` for an empty denominator.
fn ratio(hits: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// Scores `predictions` (one per case, same order); `transcribed` says whether `heard` is a
/// transcript to compute WER on.
pub fn score(cases: &[Case], predictions: &[Prediction], transcribed: bool) -> Figures {
    let mut intent_hits = 0;
    let mut no_match = 0;
    let (mut entity_hits, mut entity_total) = (0, 0);
    let (mut sentiment_hits, mut sentiment_total) = (0, 0);
    let (mut emotion_hits, mut emotion_total) = (0, 0);
    let mut words = WordErrors::default();
    let mut ambiguous = 0;
    type Example = (usize, String, Option<String>);
    let mut confusion: BTreeMap<(Option<String>, Option<String>), Example> = BTreeMap::new();
    for (case, predicted) in cases.iter().zip(predictions) {
        if case.intent == predicted.intent {
            intent_hits += 1;
        } else {
            let entry = confusion
                .entry((case.intent.clone(), predicted.intent.clone()))
                .or_insert_with(|| {
                    let heard = transcribed.then(|| predicted.heard.clone());
                    (0, case.text.clone(), heard)
                });
            entry.0 += 1;
        }
        no_match += usize::from(predicted.intent.is_none());
        ambiguous += usize::from(predicted.ambiguous);
        for (key, expected) in &case.entities {
            entity_total += 1;
            let found = predicted.entities.get(key);
            entity_hits += usize::from(found.is_some_and(|v| same_entity(key, expected, v)));
        }
        if let Some(expected) = &case.sentiment {
            sentiment_total += 1;
            sentiment_hits += usize::from(predicted.sentiment.as_ref() == Some(expected));
        }
        if let Some(expected) = &case.emotion {
            emotion_total += 1;
            emotion_hits += usize::from(predicted.emotion.as_ref() == Some(expected));
        }
        if transcribed {
            words = words.add(WordErrors::of(&case.text, &predicted.heard));
        }
    }
    let mut confusion: Vec<Confusion> = confusion
        .into_iter()
        .map(
            |((expected, predicted), (count, example, heard))| Confusion {
                expected,
                predicted,
                count,
                example,
                heard,
            },
        )
        .collect();
    confusion.sort_by_key(|c| std::cmp::Reverse(c.count));
    let n = cases.len();
    Figures {
        cases: n,
        intent_accuracy: ratio(intent_hits, n).unwrap_or(0.0),
        entity_accuracy: ratio(entity_hits, entity_total),
        no_match_rate: ratio(no_match, n).unwrap_or(0.0),
        wer: transcribed.then(|| words.rate()).flatten(),
        sentiment_accuracy: ratio(sentiment_hits, sentiment_total),
        emotion_accuracy: ratio(emotion_hits, emotion_total),
        ambiguous,
        confusion,
    }
}

/// Amounts compare as numbers ("20" = "20.00"); everything else as text.
fn same_entity(key: &str, expected: &str, found: &str) -> bool {
    if key == "amount" {
        if let (Ok(a), Ok(b)) = (expected.parse::<f64>(), found.parse::<f64>()) {
            return (a - b).abs() < 0.005;
        }
    }
    expected == found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(text: &str, intent: Option<&str>, entities: &[(&str, &str)]) -> Case {
        Case {
            line: 1,
            text: text.into(),
            intent: intent.map(Into::into),
            entities: entities
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            sentiment: Some("neutral".into()),
            emotion: None,
            audio: None,
            dialplan: None,
        }
    }

    fn predicted(heard: &str, intent: Option<&str>, entities: &[(&str, &str)]) -> Prediction {
        Prediction {
            heard: heard.into(),
            intent: intent.map(Into::into),
            entities: entities
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            sentiment: Some("neutral".into()),
            ..Prediction::default()
        }
    }

    #[test]
    fn figures_over_cases() {
        let cases = [
            case(
                "where is order one two",
                Some("order_status"),
                &[("order_number", "12")],
            ),
            case("return it", Some("returns"), &[("amount", "20")]),
            case("nice weather", None, &[]),
            case("refund please", Some("returns"), &[]),
        ];
        let predictions = [
            predicted(
                "where is order 12",
                Some("order_status"),
                &[("order_number", "12")],
            ),
            predicted("return it", Some("returns"), &[("amount", "20.00")]),
            predicted("nice weather", Some("returns"), &[]),
            predicted("refund", None, &[]),
        ];
        let f = score(&cases, &predictions, true);
        assert_eq!(f.cases, 4);
        assert_eq!(f.intent_accuracy, 0.5);
        assert_eq!(f.entity_accuracy, Some(1.0));
        assert_eq!(f.no_match_rate, 0.25);
        assert_eq!(f.sentiment_accuracy, Some(1.0));
        assert_eq!(f.emotion_accuracy, None);
        // 1 deleted word ("please") of 11.
        let wer = f.wer.unwrap();
        assert!((wer - 1.0 / 11.0).abs() < 1e-9, "{wer}");
        assert_eq!(f.confusion.len(), 2);
        assert!(f
            .confusion
            .iter()
            .any(|c| c.expected.is_none() && c.predicted.as_deref() == Some("returns")));
        assert_eq!(score(&cases, &predictions, false).wer, None);
    }

    #[test]
    fn a_missing_or_different_entity_is_wrong() {
        let cases = [case(
            "x",
            None,
            &[("order_number", "12"), ("date", "2026-12-05")],
        )];
        let predictions = [predicted("x", None, &[("order_number", "13")])];
        assert_eq!(
            score(&cases, &predictions, false).entity_accuracy,
            Some(0.0)
        );
    }
}
