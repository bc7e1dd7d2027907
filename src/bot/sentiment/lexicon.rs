//! The call-center emotion lexicon and its scorer: words and phrases a caller uses, each with
//! an emotion and a weight, plus negation, intensifiers, a "but" rule and a few punctuation
//! cues.
//!
//! The lexicon is hand-written for this project (its licence is ours): general emotion
//! lexicons are either non-free or tuned to prose, while callers say "I've been on hold for an
//! hour" and "this is a joke". Weights are 1 (a hint: "thanks", "unfortunately") to 3 (beyond
//! doubt: "furious", "passed away"). Two kinds of entries carry no emotion: *absorbers* claim
//! phrases such as "no thank you" or "no problem" so their words count for nothing, and
//! *trouble* phrases ("not working", "keeps crashing") report a problem without a feeling,
//! which the polarity uses when VADER sees no sentiment word.
//!
//! Scoring, over at most [`MAX_TOKENS`] tokens split into clauses at `, . ! ? ; :`:
//! - longest phrase first at each position (phrases and text are [`stem`]med alike, except
//!   the few words in [`KEEP_WHOLE`] whose stem would merge two meanings: "pleased"/"please");
//! - a negator (`not`, `never`, `no`, ...) up to [`NEGATION_WINDOW`] tokens before a match in
//!   the same clause turns joy into anger at [`NEGATED_JOY_AS_ANGER`] of its weight ("not
//!   happy with this") and cancels any other emotion ("not worried");
//! - an intensifier in the two tokens before multiplies by 1.5, a dampener by 0.6;
//! - before the first "but"/"however" weights halve, after it they grow by half, as in VADER
//!   ("thanks, but this is ridiculous" is anger);
//! - each `!` (up to three) adds 15 %; "really?", "what?" and "seriously?" add surprise.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::Emotion;
use crate::bot::normalize::{stem, tokens, MAX_TOKENS};

/// Tokens before a match in which a negator flips or cancels it.
pub(super) const NEGATION_WINDOW: usize = 3;
/// Share of a negated joy phrase's weight that counts as anger.
pub(super) const NEGATED_JOY_AS_ANGER: f32 = 0.7;
/// Evidence weight at which the top emotion's strength reaches one half.
const HALF_STRENGTH_WEIGHT: f32 = 1.5;
const INTENSIFIER_FACTOR: f32 = 1.5;
const DAMPENER_FACTOR: f32 = 0.6;
const BEFORE_BUT_FACTOR: f32 = 0.5;
const AFTER_BUT_FACTOR: f32 = 1.5;
const EXCLAMATION_BOOST: f32 = 0.15;
const MAX_EXCLAMATIONS: usize = 3;

/// The six emotions the lexicon scores, in the order of [`EmotionScores`].
pub(super) const SCORED: [Emotion; 6] = [
    Emotion::Anger,
    Emotion::Disgust,
    Emotion::Fear,
    Emotion::Joy,
    Emotion::Sadness,
    Emotion::Surprise,
];

const ANGER: &[(&str, f32)] = &[
    ("ridiculous", 2.0),
    ("unacceptable", 2.5),
    ("not acceptable", 2.5),
    ("furious", 3.0),
    ("fed up", 2.5),
    ("waiting for weeks", 2.0),
    ("waiting for ages", 2.0),
    ("waiting for months", 2.0),
    ("for an hour", 1.5),
    ("for hours", 1.5),
    ("useless", 2.0),
    ("sick of", 2.5),
    ("sick and tired", 3.0),
    ("joke", 1.5),
    ("angry", 2.5),
    ("mad", 2.0),
    ("annoyed", 2.0),
    ("annoying", 2.0),
    ("irritated", 2.0),
    ("frustrated", 2.0),
    ("frustrating", 2.0),
    ("livid", 3.0),
    ("fuming", 3.0),
    ("outrageous", 2.5),
    ("absurd", 2.0),
    ("pathetic", 2.0),
    ("incompetent", 2.5),
    ("disgrace", 2.5),
    ("worst", 2.0),
    ("waste of time", 2.0),
    ("waste of my time", 2.0),
    ("enough is enough", 2.5),
    ("had enough", 2.0),
    ("unfair", 1.5),
    ("not fair", 1.5),
    ("kidding me", 2.0),
    ("speak to a manager", 1.5),
    ("speak to your manager", 1.5),
    ("speak to a supervisor", 1.5),
    ("nobody cares", 2.0),
    ("nobody ever", 1.5),
    ("third time", 1.5),
    ("never showed up", 1.5),
    ("hold again", 1.0),
    ("excuses", 1.5),
    ("mess", 1.5),
    ("hate", 2.5),
    ("rude", 2.0),
    ("lied to me", 2.0),
    ("rip off", 2.5),
    ("hidden fees", 1.5),
    ("charged me twice", 1.5),
    ("not good enough", 2.0),
    ("why do i have to", 1.5),
    ("stop transferring", 1.5),
    ("cancel everything", 1.5),
    ("keep losing", 1.5),
];

const DISGUST: &[(&str, f32)] = &[
    ("disgusting", 3.0),
    ("disgusted", 3.0),
    ("gross", 2.5),
    ("appalling", 2.5),
    ("appalled", 2.5),
    ("revolting", 3.0),
    ("repulsive", 3.0),
    ("vile", 3.0),
    ("nasty", 2.5),
    ("filthy", 2.5),
    ("dirty", 1.5),
    ("rotten", 2.5),
    ("mold", 2.0),
    ("mould", 2.0),
    ("moldy", 2.5),
    ("smelled", 1.0),
    ("smell", 1.0),
    ("stink", 2.0),
    ("stinks", 2.0),
    ("sickening", 2.5),
    ("sick to my stomach", 3.0),
    ("yuck", 2.5),
    ("hair in", 2.0),
    ("bugs in", 2.0),
    ("cockroach", 2.5),
    ("maggots", 3.0),
    ("shameful", 2.0),
    ("shame on you", 2.5),
    ("sleazy", 2.0),
    ("horrid", 2.0),
    ("awful", 1.0),
];

const FEAR: &[(&str, f32)] = &[
    ("worried", 2.0),
    ("worry", 2.0),
    ("scared", 2.5),
    ("afraid", 2.0),
    ("frightened", 2.5),
    ("terrified", 3.0),
    ("anxious", 2.0),
    ("nervous", 2.0),
    ("panic", 2.5),
    ("panicking", 2.5),
    ("fraud", 2.0),
    ("fraudulent", 2.0),
    ("stolen", 2.0),
    ("stole", 2.0),
    ("hacked", 2.5),
    ("identity theft", 2.5),
    ("someone has access", 2.0),
    ("someone is using", 2.0),
    ("someone opened", 1.5),
    ("in my name", 1.0),
    ("suspicious", 1.5),
    ("phishing", 2.0),
    ("scam", 1.5),
    ("leaked", 2.0),
    ("concerned", 1.5),
    ("what if", 1.5),
    ("did not make", 1.5),
    ("evicted", 2.0),
    ("lose all", 1.5),
    ("lose my", 1.5),
    ("shut off", 1.5),
    ("cut off", 1.5),
    ("emergency", 1.5),
    ("unsafe", 2.0),
    ("not safe", 2.0),
    ("danger", 2.0),
    ("threatening", 2.0),
    ("login from", 1.0),
    ("deadline", 0.7),
];

const JOY: &[(&str, f32)] = &[
    ("thank you so much", 3.0),
    ("thanks so much", 3.0),
    ("thank you very much", 2.5),
    ("thanks a lot", 2.5),
    ("thank you", 1.2),
    ("thanks", 1.0),
    ("perfect", 2.5),
    ("great", 2.0),
    ("great news", 2.5),
    ("wonderful", 3.0),
    ("happy", 2.5),
    ("glad", 2.0),
    ("pleased", 2.5),
    ("delighted", 3.0),
    ("excellent", 2.5),
    ("fantastic", 3.0),
    ("awesome", 2.5),
    ("amazing", 2.0),
    ("brilliant", 2.5),
    ("lovely", 2.0),
    ("love", 2.0),
    ("appreciate", 2.0),
    ("helpful", 2.0),
    ("made my day", 3.0),
    ("lifesaver", 3.0),
    ("satisfied", 2.0),
    ("thrilled", 3.0),
    ("super", 1.5),
    ("sorted", 0.8),
    ("works now", 1.5),
    ("nice", 1.5),
    ("good", 1.0),
    ("cheers", 1.5),
    ("fabulous", 3.0),
    ("superb", 3.0),
    ("relieved", 2.0),
    ("that was quick", 1.5),
    ("so quickly", 1.0),
    ("exactly what i needed", 2.0),
];

const SADNESS: &[(&str, f32)] = &[
    ("sad", 2.5),
    ("sadly", 2.0),
    ("disappointed", 2.5),
    ("disappointing", 2.5),
    ("upset", 2.0),
    ("unhappy", 2.0),
    ("let down", 2.5),
    ("heartbroken", 3.0),
    ("devastated", 3.0),
    ("passed away", 3.0),
    ("died", 2.5),
    ("funeral", 2.5),
    ("lost my", 2.0),
    ("lost all", 2.0),
    ("lost my job", 3.0),
    ("unfortunately", 1.5),
    ("depressed", 2.5),
    ("depressing", 2.5),
    ("miserable", 2.5),
    ("can not afford", 2.0),
    ("cannot afford", 2.0),
    ("in the hospital", 1.5),
    ("terrible week", 2.0),
    ("hard time", 2.0),
    ("struggling", 2.0),
    ("lonely", 2.5),
    ("tired", 1.5),
    ("do not know what to do", 2.0),
    ("crying", 3.0),
    ("hopeless", 3.0),
    ("missed the", 1.5),
    ("expected better", 2.0),
    ("hurt", 1.5),
    ("it is a shame", 2.0),
    ("regret", 1.5),
    ("broke my heart", 3.0),
];

const SURPRISE: &[(&str, f32)] = &[
    ("surprised", 2.5),
    ("surprise", 2.0),
    ("surprising", 2.0),
    ("can not believe", 2.5),
    ("cannot believe", 2.5),
    ("unexpected", 2.5),
    ("unexpectedly", 2.5),
    ("wow", 2.5),
    ("suddenly", 2.0),
    ("shocked", 2.5),
    ("shocking", 2.5),
    ("amazed", 2.5),
    ("astonished", 3.0),
    ("no way", 2.0),
    ("out of nowhere", 2.5),
    ("out of the blue", 2.5),
    ("did not expect", 2.5),
    ("had no idea", 2.0),
    ("no idea", 1.5),
    ("did not know", 1.5),
    ("seriously", 1.0),
    ("without warning", 2.0),
    ("whoa", 2.5),
    ("all of a sudden", 2.5),
    ("nobody told me", 1.5),
    ("doubled", 1.0),
    ("blown away", 2.5),
    ("stunned", 3.0),
    ("speechless", 2.5),
    ("strange", 1.0),
    ("weird", 1.0),
    ("oh my god", 2.0),
];

/// Phrases that would otherwise trip negation or a lexicon word: matched and worth nothing.
const ABSORBERS: &[&str] = &[
    "no thank you",
    "no thanks",
    "no problem",
    "not a problem",
    "no worries",
    "do not worry",
    "never mind",
    "not sure",
    "good morning",
    "good afternoon",
    "good evening",
    "pretty good",
    "no rush",
];

/// Problems stated without an emotion: negative for the polarity, neutral for the emotion.
const TROUBLE: &[(&str, f32)] = &[
    ("not working", 1.0),
    ("not fixed", 1.0),
    ("still not", 1.0),
    ("not resolved", 1.0),
    ("stopped working", 1.0),
    ("does not work", 1.0),
    ("do not work", 1.0),
    ("is down", 1.0),
    ("been down", 1.0),
    ("keeps crashing", 1.0),
    ("crashed", 1.0),
    ("broken", 1.0),
    ("no signal", 1.0),
    ("no internet", 1.0),
    ("wrong amount", 1.0),
    ("wrong item", 1.0),
    ("never arrived", 1.0),
    ("has not arrived", 1.0),
    ("did not arrive", 1.0),
    ("still waiting", 1.0),
    ("error message", 1.0),
    ("not received", 1.0),
    ("overcharged", 1.0),
    ("damaged", 1.0),
    ("faulty", 1.0),
];

/// Words matched as written, not by stem, because their stem collides with an unrelated word.
const KEEP_WHOLE: &[&str] = &[
    "please", "pleased", "sorted", "amazing", "amazed", "tired", "tires", "tire",
];

/// Text cues that tokens lose: punctuation after a word.
const PUNCTUATION_CUES: &[(&str, Emotion, f32)] = &[
    ("really?", Emotion::Surprise, 2.0),
    ("what?", Emotion::Surprise, 2.0),
    ("seriously?", Emotion::Surprise, 1.5),
];

const NEGATORS: &[&str] = &[
    "not", "no", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "barely",
    "cannot",
];
const INTENSIFIERS: &[&str] = &[
    "very",
    "really",
    "so",
    "extremely",
    "absolutely",
    "totally",
    "completely",
    "incredibly",
    "utterly",
    "truly",
    "deeply",
    "terribly",
    "awfully",
    "too",
    "such",
    "highly",
];
const DAMPENERS: &[&str] = &[
    "slightly", "bit", "little", "somewhat", "kinda", "fairly", "mildly",
];
const CONTRASTS: &[&str] = &["but", "however"];

/// Evidence per scored emotion, in [`SCORED`] order.
pub(super) type EmotionScores = [f32; 6];

/// What the lexicon found in an utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Evidence {
    /// Weight per scored emotion.
    pub(super) emotions: EmotionScores,
    /// Weight of trouble phrases not negated.
    pub(super) trouble: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Emotion(Emotion),
    Trouble,
    Absorber,
}

#[derive(Debug)]
struct Entry {
    stems: Vec<String>,
    kind: Kind,
    weight: f32,
}

/// Entries by their first stem, longest first so the first full match is the longest.
static LEXICON: LazyLock<HashMap<String, Vec<Entry>>> = LazyLock::new(build);

fn build() -> HashMap<String, Vec<Entry>> {
    let tables = [ANGER, DISGUST, FEAR, JOY, SADNESS, SURPRISE];
    let scored = SCORED.iter().zip(tables).flat_map(|(&emotion, table)| {
        table
            .iter()
            .map(move |&(phrase, weight)| (phrase, Kind::Emotion(emotion), weight))
    });
    let trouble = TROUBLE.iter().map(|&(p, w)| (p, Kind::Trouble, w));
    let absorbed = ABSORBERS.iter().map(|&p| (p, Kind::Absorber, 0.0));
    let mut by_first: HashMap<String, Vec<Entry>> = HashMap::new();
    for (phrase, kind, weight) in scored.chain(trouble).chain(absorbed) {
        let stems: Vec<String> = tokens(phrase).iter().map(|t| key(t)).collect();
        if let Some(first) = stems.first() {
            by_first.entry(first.clone()).or_default().push(Entry {
                stems,
                kind,
                weight,
            });
        }
    }
    for entries in by_first.values_mut() {
        entries.sort_by_key(|e| std::cmp::Reverse(e.stems.len()));
    }
    by_first
}

/// The form a word is matched by: its stem, or itself if in [`KEEP_WHOLE`].
fn key(word: &str) -> String {
    if KEEP_WHOLE.contains(&word) {
        word.to_owned()
    } else {
        stem(word)
    }
}

/// One token of the utterance: its clause, its lowercased form and its stem.
struct Token {
    clause: usize,
    word: String,
    stem: String,
}

fn clause_tokens(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let clauses = text.split([',', '.', '!', '?', ';', ':']);
    for (clause, part) in clauses.enumerate() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        for word in tokens(part) {
            if out.len() >= MAX_TOKENS {
                break;
            }
            let stem = key(&word);
            out.push(Token { clause, word, stem });
        }
    }
    out
}

/// The lexicon's evidence in `text` (already cut to a bounded prefix by the caller).
pub(super) fn scores(text: &str) -> Evidence {
    let toks = clause_tokens(text);
    let but_at = toks
        .iter()
        .position(|t| CONTRASTS.contains(&t.word.as_str()));
    let mut out: EmotionScores = [0.0; 6];
    let mut trouble = 0.0;
    let mut i = 0;
    while i < toks.len() {
        let Some(entry) = longest_match(&toks, i) else {
            i += 1;
            continue;
        };
        let contrast = match but_at {
            Some(b) if i < b => BEFORE_BUT_FACTOR,
            Some(b) if i > b => AFTER_BUT_FACTOR,
            _ => 1.0,
        };
        match modified(&toks, i, entry) {
            (Kind::Emotion(emotion), weight) => add(&mut out, emotion, weight * contrast),
            (Kind::Trouble, weight) => trouble += weight * contrast,
            (Kind::Absorber, _) => {}
        }
        i += entry.stems.len();
    }
    let lower = text.to_lowercase();
    for &(cue, emotion, weight) in PUNCTUATION_CUES {
        if lower.contains(cue) {
            add(&mut out, emotion, weight);
        }
    }
    let exclamations = text.matches('!').take(MAX_EXCLAMATIONS).count();
    let boost = 1.0 + EXCLAMATION_BOOST * exclamations as f32;
    out.iter_mut().for_each(|s| *s *= boost);
    Evidence {
        emotions: out,
        trouble,
    }
}

fn longest_match(toks: &[Token], start: usize) -> Option<&'static Entry> {
    let first = toks.get(start)?;
    let clause = first.clause;
    LEXICON.get(&first.stem)?.iter().find(|entry| {
        entry.stems.iter().enumerate().all(|(k, s)| {
            toks.get(start + k)
                .is_some_and(|t| t.clause == clause && &t.stem == s)
        })
    })
}

/// The entry's kind and weight after negation and intensifiers before `start`.
fn modified(toks: &[Token], start: usize, entry: &Entry) -> (Kind, f32) {
    let clause = toks.get(start).map_or(0, |t| t.clause);
    let before = |n: usize| {
        toks[start.saturating_sub(n)..start]
            .iter()
            .filter(move |t| t.clause == clause)
            .map(|t| t.word.as_str())
    };
    let mut weight = entry.weight;
    if before(2).any(|w| INTENSIFIERS.contains(&w)) {
        weight *= INTENSIFIER_FACTOR;
    } else if before(2).any(|w| DAMPENERS.contains(&w)) {
        weight *= DAMPENER_FACTOR;
    }
    if before(NEGATION_WINDOW).any(|w| NEGATORS.contains(&w)) {
        return match entry.kind {
            Kind::Emotion(Emotion::Joy) => {
                (Kind::Emotion(Emotion::Anger), weight * NEGATED_JOY_AS_ANGER)
            }
            other => (other, 0.0),
        };
    }
    (entry.kind, weight)
}

fn add(scores: &mut EmotionScores, emotion: Emotion, weight: f32) {
    if let Some(k) = SCORED.iter().position(|&e| e == emotion) {
        scores[k] += weight;
    }
}

/// The strongest emotion and a confidence in 0..=1: `strength · (1 + purity) / 2`, where
/// strength is `top / (top + 1.5)` (one clear word ≈ 0.6) and purity is the top's share of all
/// evidence. `None` when there is no evidence at all.
pub(super) fn strongest(scores: &EmotionScores) -> Option<(Emotion, f32)> {
    let total: f32 = scores.iter().sum();
    let (k, &top) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if top <= 0.0 || !top.is_finite() || !total.is_finite() {
        return None;
    }
    let strength = top / (top + HALF_STRENGTH_WEIGHT);
    let purity = top / total;
    let emotion = SCORED.get(k).copied()?;
    Some((emotion, (strength * (1.0 + purity) / 2.0).clamp(0.0, 1.0)))
}

/// The lexicon's view as a distribution over [`Emotion::ALL`]: the confidence is shared among
/// the scored emotions by evidence, the rest is neutral.
pub(super) fn distribution(scores: &EmotionScores) -> [f32; 7] {
    let mut out = [0.0; 7];
    let Some((_, confidence)) = strongest(scores) else {
        out[6] = 1.0;
        return out;
    };
    let total: f32 = scores.iter().sum();
    for (k, s) in scores.iter().enumerate() {
        out[k] = confidence * s / total;
    }
    out[6] = 1.0 - confidence;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Option<Emotion> {
        strongest(&scores(text).emotions).map(|(e, _)| e)
    }

    #[test]
    fn every_phrase_tokenizes_and_is_reachable() {
        let entries: usize = LEXICON.values().map(Vec::len).sum();
        let declared = ANGER.len()
            + DISGUST.len()
            + FEAR.len()
            + JOY.len()
            + SADNESS.len()
            + SURPRISE.len()
            + TROUBLE.len()
            + ABSORBERS.len();
        assert_eq!(entries, declared);
        for table in [ANGER, DISGUST, FEAR, JOY, SADNESS, SURPRISE] {
            assert!((30..=60).contains(&table.len()), "{}", table.len());
            for &(phrase, weight) in table {
                assert!((0.5..=3.0).contains(&weight), "{phrase}");
                assert!(top(phrase).is_some(), "{phrase} scores nothing");
            }
        }
    }

    #[test]
    fn no_key_means_two_emotions() {
        let mut seen: HashMap<&[String], Kind> = HashMap::new();
        for entry in LEXICON.values().flatten() {
            let earlier = *seen.entry(&entry.stems).or_insert(entry.kind);
            assert_eq!(earlier, entry.kind, "{:?}", entry.stems);
        }
    }

    #[test]
    fn trouble_is_evidence_without_emotion() {
        let e = scores("My internet is not working again");
        assert_eq!((e.trouble, strongest(&e.emotions)), (1.0, None));
        assert_eq!(scores("the line is not broken").trouble, 0.0);
    }

    #[test]
    fn rules() {
        let cases: &[(&str, Option<Emotion>)] = &[
            ("I am happy", Some(Emotion::Joy)),
            ("I am not happy with this", Some(Emotion::Anger)),
            ("I'm not worried", None),
            ("No, that's great", Some(Emotion::Joy)),
            ("No thank you", None),
            ("no problem at all", None),
            ("Thanks, but this is ridiculous", Some(Emotion::Anger)),
            ("I can't believe it", Some(Emotion::Surprise)),
            ("Really? I had no clue", Some(Emotion::Surprise)),
            ("I want to check my order", None),
            ("Please transfer me", None),
            ("I'm amazed", Some(Emotion::Surprise)),
            ("What sort of plan is it", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(top(text), *want, "{text}");
        }
    }

    #[test]
    fn intensifier_and_dampener_scale_confidence() {
        let confidence = |t| strongest(&scores(t).emotions).map(|(_, c)| c);
        let plain = confidence("I am worried");
        let very = confidence("I am very worried");
        let bit = confidence("I am a bit worried");
        assert!(very > plain && plain > bit, "{very:?} {plain:?} {bit:?}");
    }

    #[test]
    fn distribution_sums_to_one() {
        for text in ["", "great, thanks", "this is a joke and I'm worried"] {
            let sum: f32 = distribution(&scores(text).emotions).iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{text}: {sum}");
        }
    }
}
