//! Sentiment tests: named cases, accuracy floors on the labelled sets, the prototype plumbing
//! with a toy embedder, the call roll-up and hostile input.

use std::convert::Infallible;

use proptest::prelude::*;
use serde::Deserialize;

use super::*;

/// Utterances used to tune the lexicon, weights and thresholds.
const DEV: &str = include_str!("dev.jsonl");
/// Utterances written with the dev set, before the lexicon; its wording did leak into the
/// lexicon, so it is a second dev set rather than a clean test.
const HOLDOUT: &str = include_str!("holdout.jsonl");
/// Utterances in wording deliberately unlike the others, written once the first version ran
/// and scored only after tuning stopped: the most honest figure here.
const FRESH: &str = include_str!("fresh.jsonl");

#[derive(Deserialize)]
struct Labelled {
    text: String,
    polarity: String,
    emotion: String,
}

fn load(jsonl: &str) -> Vec<(String, Polarity, Emotion)> {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let row: Labelled = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let polarity = Polarity::parse(&row.polarity).unwrap_or_else(|| panic!("{l}"));
            let emotion = Emotion::parse(&row.emotion).unwrap_or_else(|| panic!("{l}"));
            (row.text, polarity, emotion)
        })
        .collect()
}

/// (polarity accuracy, emotion accuracy) of `model` on `set`, printing each miss, how often a
/// reported emotion (not neutral) is right, and polarity accuracy at other thresholds.
fn accuracy(
    model: &SentimentModel,
    set: &[(String, Polarity, Emotion)],
    embed: impl Fn(&str) -> Option<Vec<f32>>,
) -> (f32, f32) {
    let (mut polarity_hits, mut emotion_hits) = (0, 0);
    let (mut reported, mut reported_right) = (0, 0);
    let thresholds = [0.02f32, 0.05, 0.1, 0.2];
    let mut at_threshold = [0usize; 4];
    for (text, polarity, emotion) in set {
        let embedding = embed(text);
        let got = model.analyze(text, embedding.as_deref());
        polarity_hits += usize::from(got.polarity == *polarity);
        emotion_hits += usize::from(got.emotion == *emotion);
        if got.emotion != Emotion::Neutral {
            reported += 1;
            reported_right += usize::from(got.emotion == *emotion);
        }
        for (hits, t) in at_threshold.iter_mut().zip(thresholds) {
            let p = if got.score >= t {
                Polarity::Positive
            } else if got.score <= -t {
                Polarity::Negative
            } else {
                Polarity::Neutral
            };
            *hits += usize::from(p == *polarity);
        }
        if got.polarity != *polarity || got.emotion != *emotion {
            println!(
                "miss: {text:?} want {}/{} got {}/{} ({:.2}, {:.2})",
                polarity.name(),
                emotion.name(),
                got.polarity.name(),
                got.emotion.name(),
                got.score,
                got.emotion_confidence
            );
        }
    }
    let n = set.len().max(1) as f32;
    println!(
        "reported emotions right: {reported_right}/{reported}; polarity at thresholds {thresholds:?}: {:?}",
        at_threshold.map(|h| h as f32 / n)
    );
    (polarity_hits as f32 / n, emotion_hits as f32 / n)
}

#[test]
fn named_utterances() {
    let model = SentimentModel::lexicon();
    let cases = [
        (
            "This is ridiculous, I've been waiting for weeks",
            Polarity::Negative,
            Emotion::Anger,
        ),
        (
            "This is unacceptable, I want to speak to a manager now",
            Polarity::Negative,
            Emotion::Anger,
        ),
        (
            "Thank you so much, that's perfect",
            Polarity::Positive,
            Emotion::Joy,
        ),
        (
            "I want to check my order",
            Polarity::Neutral,
            Emotion::Neutral,
        ),
        (
            "I'm worried my card was stolen",
            Polarity::Negative,
            Emotion::Fear,
        ),
        (
            "I'm not happy with this at all",
            Polarity::Negative,
            Emotion::Anger,
        ),
    ];
    for (text, polarity, emotion) in cases {
        let got = model.analyze(text, None);
        assert_eq!((got.polarity, got.emotion), (polarity, emotion), "{text}");
        assert!((-1.0..=1.0).contains(&got.score), "{got:?}");
        assert!((0.0..=1.0).contains(&got.emotion_confidence), "{got:?}");
    }
}

#[test]
fn lexicon_accuracy_on_dev_set() {
    let dev = load(DEV);
    assert!(dev.len() >= 100, "{}", dev.len());
    let (polarity, emotion) = accuracy(&SentimentModel::lexicon(), &dev, |_| None);
    println!("dev: polarity {polarity:.3}, emotion {emotion:.3}");
    assert!(polarity >= DEV_POLARITY_FLOOR, "polarity {polarity}");
    assert!(emotion >= DEV_EMOTION_FLOOR, "emotion {emotion}");
}

#[test]
fn lexicon_accuracy_on_holdout_set() {
    let holdout = load(HOLDOUT);
    let (polarity, emotion) = accuracy(&SentimentModel::lexicon(), &holdout, |_| None);
    println!("holdout: polarity {polarity:.3}, emotion {emotion:.3}");
    assert!(polarity >= HOLDOUT_POLARITY_FLOOR, "polarity {polarity}");
    assert!(emotion >= HOLDOUT_EMOTION_FLOOR, "emotion {emotion}");
}

#[test]
fn lexicon_accuracy_on_fresh_set() {
    let fresh = load(FRESH);
    let (polarity, emotion) = accuracy(&SentimentModel::lexicon(), &fresh, |_| None);
    println!("fresh: polarity {polarity:.3}, emotion {emotion:.3}");
    assert!(polarity >= FRESH_POLARITY_FLOOR, "polarity {polarity}");
    assert!(emotion >= FRESH_EMOTION_FLOOR, "emotion {emotion}");
}

// Floors a little under the measured figures (see the module doc of `sentiment`).
const DEV_POLARITY_FLOOR: f32 = 0.90;
const DEV_EMOTION_FLOOR: f32 = 0.95;
const HOLDOUT_POLARITY_FLOOR: f32 = 0.90;
const HOLDOUT_EMOTION_FLOOR: f32 = 0.95;
const FRESH_POLARITY_FLOOR: f32 = 0.75;
const FRESH_EMOTION_FLOOR: f32 = 0.40;

/// Deterministic stand-in for the sentence embedder: words hashed into 384 buckets, unit
/// length. Only checks the plumbing; it knows nothing of meaning.
fn toy_embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    for word in crate::bot::normalize::tokens(text) {
        let h = word.bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
        v[h as usize % 384] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn toy_model() -> SentimentModel {
    let built = SentimentModel::with_prototypes(|texts: &[&str]| {
        Ok::<_, Infallible>(texts.iter().map(|t| toy_embed(t)).collect())
    });
    match built {
        Ok(model) => model,
        Err(never) => match never {},
    }
}

#[test]
fn prototypes_are_embedded_once_and_used() {
    let calls = std::cell::Cell::new(0);
    let model = SentimentModel::with_prototypes(|texts: &[&str]| {
        calls.set(calls.get() + 1);
        Ok::<_, Infallible>(texts.iter().map(|t| toy_embed(t)).collect())
    });
    assert_eq!(calls.get(), 1);
    assert!(model.is_ok_and(|m| m.has_prototypes()));
    let model = toy_model();
    // A prototype sentence itself is its own nearest neighbour.
    let text = "I'm disgusted by your staff's behaviour.";
    let got = model.analyze(text, Some(&toy_embed(text)));
    assert_eq!(got.emotion, Emotion::Disgust, "{got:?}");
    // A wrong dimension falls back to the lexicon alone.
    let text = "Thank you so much, that's perfect";
    let lexical = SentimentModel::lexicon().analyze(text, None);
    assert_eq!(model.analyze(text, Some(&[1.0, 0.0])), lexical);
    assert_eq!(model.analyze(text, None), lexical);
}

#[test]
fn prototype_plumbing_on_dev_set_with_toy_embedder() {
    let dev = load(DEV);
    let (polarity, emotion) = accuracy(&toy_model(), &dev, |t| Some(toy_embed(t)));
    println!("dev, toy prototypes: polarity {polarity:.3}, emotion {emotion:.3}");
    assert!(emotion > 0.3, "{emotion}");
}

#[test]
fn embedder_errors_and_garbage_are_handled() {
    let failed = SentimentModel::with_prototypes(|_: &[&str]| Err::<Vec<Vec<f32>>, _>("down"));
    assert_eq!(failed.err(), Some("down"));
    let garbage = SentimentModel::with_prototypes(|_: &[&str]| {
        Ok::<_, Infallible>(vec![vec![f32::NAN; 3], vec![]])
    });
    assert!(garbage.is_ok_and(|m| !m.has_prototypes()));
}

#[test]
fn names_parse_and_serialize() {
    for e in Emotion::ALL {
        assert_eq!(Emotion::parse(e.name()), Some(e));
        assert_eq!(Emotion::parse(&e.name().to_uppercase()), Some(e));
        let json = serde_json::to_string(&e).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", e.name()));
    }
    for p in [Polarity::Negative, Polarity::Neutral, Polarity::Positive] {
        assert_eq!(Polarity::parse(&format!(" {} ", p.name())), Some(p));
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", p.name()));
    }
    assert_eq!(Emotion::parse("angry"), None);
    assert_eq!(Polarity::parse(""), None);
}

#[test]
fn model_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SentimentModel>();
}

fn turn(score: f32, emotion: Emotion, confidence: f32) -> Sentiment {
    Sentiment {
        polarity: Polarity::of_score(score),
        score,
        emotion,
        emotion_confidence: confidence,
    }
}

#[test]
fn summarize_rolls_up_a_call() {
    let call = [
        turn(0.0, Emotion::Neutral, 1.0),
        turn(-0.6, Emotion::Anger, 0.7),
        turn(-0.8, Emotion::Anger, 0.8),
        turn(0.1, Emotion::Neutral, 0.9),
        turn(-0.3, Emotion::Sadness, 0.6),
        turn(-0.2, Emotion::Fear, 0.9),
    ];
    let s = summarize(&call);
    assert_eq!(s.turns, 6);
    assert_eq!(
        (s.negative_turns, s.neutral_turns, s.positive_turns),
        (4, 1, 1)
    );
    assert!(
        (s.mean_score - (-1.8 / 6.0)).abs() < 1e-6,
        "{}",
        s.mean_score
    );
    assert_eq!(s.worst_score, -0.8);
    assert_eq!(s.worst_polarity, Polarity::Negative);
    assert_eq!(s.last_polarity, Polarity::Negative);
    assert_eq!(s.longest_negative_streak, 2);
    assert_eq!(s.trailing_negative_turns, 2);
    assert_eq!(s.emotions.anger, 2);
    assert_eq!(s.emotions.get(Emotion::Neutral), 2);
    assert_eq!(s.dominant_emotion, Emotion::Anger);
}

#[test]
fn summarize_edge_cases() {
    let empty = summarize(&[]);
    assert_eq!(empty.turns, 0);
    assert_eq!(empty.mean_score, 0.0);
    assert_eq!(empty.dominant_emotion, Emotion::Neutral);
    assert_eq!(empty.last_polarity, Polarity::Neutral);
    // Tie on count: higher summed confidence wins.
    let tie = [turn(-0.5, Emotion::Fear, 0.5), turn(0.5, Emotion::Joy, 0.9)];
    assert_eq!(summarize(&tie).dominant_emotion, Emotion::Joy);
    // Non-finite and out-of-range values do not poison the mean.
    let odd = [
        turn(f32::NAN, Emotion::Neutral, f32::NAN),
        turn(-7.0, Emotion::Anger, 2.0),
    ];
    let s = summarize(&odd);
    assert_eq!(s.mean_score, -0.5);
    assert_eq!(s.worst_score, -1.0);
}

proptest! {
    #[test]
    fn analyze_never_panics_and_stays_in_range(text in any::<String>()) {
        let got = SentimentModel::lexicon().analyze(&text, None);
        prop_assert!((-1.0..=1.0).contains(&got.score));
        prop_assert!((0.0..=1.0).contains(&got.emotion_confidence));
        prop_assert_eq!(got.polarity, Polarity::of_score(got.score));
    }

    #[test]
    fn analyze_handles_wordy_punctuated_input(
        words in proptest::collection::vec(
            "(not|never|so|but|thanks|ridiculous|can't|I|!|\\?|,|wow|[a-zA-Z']{1,12}|[\\PC]{1,3})",
            0..400,
        )
    ) {
        let text = words.join(" ");
        let model = toy_model();
        let got = model.analyze(&text, Some(&toy_embed(&text)));
        prop_assert!((-1.0..=1.0).contains(&got.score));
        prop_assert!((0.0..=1.0).contains(&got.emotion_confidence));
    }

    #[test]
    fn only_the_bounded_prefix_matters(head in "[a-z ,.!?']{0,200}", tail in "[a-z ,.!?']{0,200}") {
        let padding = "x ".repeat(MAX_TEXT_BYTES);
        let model = SentimentModel::lexicon();
        let short = model.analyze(&format!("{head} {padding}"), None);
        let long = model.analyze(&format!("{head} {padding}{tail}"), None);
        prop_assert_eq!(short, long);
    }
}

#[test]
fn huge_input_is_cheap() {
    let model = SentimentModel::lexicon();
    let huge = "this is ridiculous and I am furious! ".repeat(200_000);
    let one_word = "a".repeat(5_000_000);
    let start = std::time::Instant::now();
    let got = model.analyze(&huge, None);
    let _ = model.analyze(&one_word, None);
    assert_eq!(got.emotion, Emotion::Anger);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}
