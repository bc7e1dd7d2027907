//! Intent matching by weighted keyword overlap: the fallback the bot uses before (and
//! without) semantic embeddings.
//!
//! Both the utterance and each example phrase become *content terms*: [`tokens`], minus
//! stopwords and number words, [`stem`]med, deduplicated. Each term gets an IDF-like weight
//! `w(t) = (1 + ln(N / df)) / (1 + ln N)`, where `N` is the number of intents and `df` the
//! number of intents whose examples use `t`: a term unique to one intent weighs 1, a term every
//! intent uses weighs `1 / (1 + ln N)`, and words the set never saw weigh 1.
//!
//! For an intent with vocabulary `V` (the terms of all its examples) and utterance terms `U`:
//!
//! - `x` = weight of `U` outside `V` (words that say something else),
//! - `s` = weight of `U` inside `V`,
//! - for each phrase `P` that shares a term with `U`: `m` = weight of `P ∩ U`, `p` = weight of
//!   `P`, and the phrase's coverage `R = (m + s') / (p + s')` with `s' = s - m`: the phrase's
//!   own words matched, where utterance words from the intent's *other* examples count as
//!   extra evidence ("has my package shipped" covers "track my package" more than half).
//! - `confidence = R^0.8 · s / (s + 0.3·x) · min(1, s)^0.5`, for the best phrase.
//!
//! `R^0.8` rewards covering the phrase (recall) while half a two-word phrase still lands at
//! ~0.55, a plausible match. `s / (s + 0.3·x)` penalizes unrelated words lightly: callers pad
//! ("I'm calling because ...") and one unknown word beside one strong word costs ~25%. The
//! last factor keeps a match on a word every intent shares from looking certain. Phrases made
//! only of stopwords ("that's all", "no thanks") match when their words appear in order, with
//! `R = 1` and evidence weight 1. Unrelated text shares no term and scores 0.
//!
//! Calibration (checked by the table tests): a clear match is ≥ 0.6, a loose but plausible
//! one 0.4–0.6, unrelated text < 0.3.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::entities::is_number_word;
use super::normalize::{is_stopword, stem, tokens};

/// Most intents an [`IntentSet`] keeps; the rest are ignored.
pub const MAX_INTENTS: usize = 256;
/// Most example phrases kept per intent.
pub const MAX_PHRASES: usize = 256;
/// Longest [`IntentSet::hint_words`] result, in bytes.
pub const MAX_HINT_BYTES: usize = 400;

const RECALL_EXPONENT: f32 = 0.8;
const UNRELATED_PENALTY: f32 = 0.3;

/// Intents and their example phrases, preprocessed once per dialplan.
#[derive(Debug, Clone)]
pub struct IntentSet {
    intents: Vec<Intent>,
    weights: HashMap<String, f32>,
    hints: String,
}

/// One intent's confidence for an utterance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentScore {
    /// The intent's name as declared.
    pub intent: String,
    /// 0.0 (unrelated) ..= 1.0 (an example said verbatim).
    pub confidence: f32,
}

#[derive(Debug, Clone)]
struct Intent {
    name: String,
    phrases: Vec<Phrase>,
    vocab: HashSet<String>,
}

#[derive(Debug, Clone)]
enum Phrase {
    /// Distinct content terms.
    Terms(Vec<String>),
    /// A phrase of stopwords only ("that's all"): its tokens, matched in order.
    Words(Vec<String>),
}

/// Distinct stemmed content terms of a token list.
fn content_terms(toks: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in toks {
        if is_stopword(t) || is_number_word(t) {
            continue;
        }
        let s = stem(t);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

impl IntentSet {
    /// Builds the set from `(name, example phrases)` in declaration order (which breaks ties).
    pub fn new(intents: &[(String, Vec<String>)]) -> IntentSet {
        let declared = &intents[..intents.len().min(MAX_INTENTS)];
        let intents: Vec<Intent> = declared
            .iter()
            .map(|(name, examples)| Intent::new(name, examples))
            .collect();
        let mut df: HashMap<&str, usize> = HashMap::new();
        for term in intents.iter().flat_map(|i| i.vocab.iter()) {
            *df.entry(term).or_default() += 1;
        }
        let n = intents.len().max(1) as f32;
        let weights = df
            .into_iter()
            .map(|(t, d)| {
                let idf = (1.0 + (n / d.max(1) as f32).ln()) / (1.0 + n.ln());
                (t.to_owned(), idf)
            })
            .collect();
        let hints = hint_list(declared.iter().flat_map(|(_, examples)| examples));
        IntentSet {
            intents,
            weights,
            hints,
        }
    }

    /// Every intent's confidence for `text`, best first; equal scores keep declaration order.
    pub fn classify(&self, text: &str) -> Vec<IntentScore> {
        let toks = tokens(text);
        let terms = content_terms(&toks);
        let mut scores: Vec<IntentScore> = self
            .intents
            .iter()
            .map(|intent| IntentScore {
                intent: intent.name.clone(),
                confidence: self.score(intent, &toks, &terms),
            })
            .collect();
        scores.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        scores
    }

    /// The best intent for `text` if its confidence is at least `threshold`.
    pub fn best(&self, text: &str, threshold: f32) -> Option<IntentScore> {
        self.classify(text)
            .into_iter()
            .next()
            .filter(|s| s.confidence >= threshold)
    }

    /// Distinct content words of the examples, comma-separated, at most [`MAX_HINT_BYTES`]:
    /// an initial prompt that biases the recognizer towards the words the intents expect.
    pub fn hint_words(&self) -> String {
        self.hints.clone()
    }

    fn weight(&self, term: &str) -> f32 {
        self.weights.get(term).copied().unwrap_or(1.0)
    }

    fn score(&self, intent: &Intent, toks: &[String], terms: &[String]) -> f32 {
        let (mut inside, mut outside) = (0.0f32, 0.0f32);
        for t in terms {
            if intent.vocab.contains(t) {
                inside += self.weight(t);
            } else {
                outside += self.weight(t);
            }
        }
        let mut best = 0.0f32;
        for phrase in &intent.phrases {
            let (coverage, evidence) = match phrase {
                Phrase::Terms(words) => {
                    let (mut matched, mut total) = (0.0f32, 0.0f32);
                    for w in words {
                        let weight = self.weight(w);
                        total += weight;
                        if terms.contains(w) {
                            matched += weight;
                        }
                    }
                    if matched <= 0.0 {
                        continue;
                    }
                    let others = (inside - matched).max(0.0);
                    ((matched + others) / (total + others), inside)
                }
                Phrase::Words(words) => {
                    if !contains_run(toks, words) {
                        continue;
                    }
                    (1.0, inside + 1.0)
                }
            };
            let precision = evidence / (evidence + UNRELATED_PENALTY * outside);
            let strength = evidence.min(1.0).sqrt();
            best = best.max(coverage.powf(RECALL_EXPONENT) * precision * strength);
        }
        if best.is_finite() {
            best.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Intent {
    fn new(name: &str, examples: &[String]) -> Intent {
        let phrases: Vec<Phrase> = examples
            .iter()
            .take(MAX_PHRASES)
            .filter_map(|e| {
                let toks = tokens(e);
                let terms = content_terms(&toks);
                if !terms.is_empty() {
                    Some(Phrase::Terms(terms))
                } else if !toks.is_empty() {
                    Some(Phrase::Words(toks))
                } else {
                    None
                }
            })
            .collect();
        let vocab = phrases
            .iter()
            .flat_map(|p| match p {
                Phrase::Terms(t) => t.as_slice(),
                Phrase::Words(_) => &[],
            })
            .cloned()
            .collect();
        Intent {
            name: name.to_owned(),
            phrases,
            vocab,
        }
    }
}

/// Whether `needle` occurs in `hay` as consecutive tokens.
fn contains_run(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn hint_list<'a>(examples: impl Iterator<Item = &'a String>) -> String {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = String::new();
    for example in examples {
        for word in tokens(example) {
            if is_stopword(&word) || is_number_word(&word) || !seen.insert(word.clone()) {
                continue;
            }
            let sep = if out.is_empty() { "" } else { ", " };
            if out.len() + sep.len() + word.len() > MAX_HINT_BYTES {
                return out;
            }
            out.push_str(sep);
            out.push_str(&word);
        }
    }
    out
}

#[cfg(test)]
#[path = "intents_tests.rs"]
mod tests;
