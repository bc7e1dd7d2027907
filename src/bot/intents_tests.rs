use proptest::prelude::*;

use super::*;

/// The intent set `dialplans/default.yaml` ships; the names are a contract with it.
fn default_set() -> IntentSet {
    let spec: &[(&str, &[&str])] = &[
        (
            "order_status",
            &[
                "check my order",
                "where is my order",
                "order status",
                "status of my order",
                "track my package",
                "has my order shipped",
                "my delivery",
            ],
        ),
        (
            "returns",
            &[
                "return an item",
                "I want to return something",
                "refund",
                "send it back",
                "exchange a product",
                "return policy",
            ],
        ),
        (
            "opening_hours",
            &[
                "opening hours",
                "when are you open",
                "what time do you close",
                "are you open on sunday",
                "business hours",
            ],
        ),
        (
            "agent",
            &[
                "talk to a person",
                "speak to an agent",
                "human",
                "representative",
                "operator",
                "customer service",
                "a real person please",
            ],
        ),
        (
            "goodbye",
            &[
                "goodbye",
                "bye",
                "that's all",
                "nothing else",
                "no thanks",
                "hang up",
                "I'm done",
            ],
        ),
    ];
    let owned: Vec<(String, Vec<String>)> = spec
        .iter()
        .map(|(name, examples)| {
            let examples = examples.iter().map(|e| (*e).to_owned()).collect();
            ((*name).to_owned(), examples)
        })
        .collect();
    IntentSet::new(&owned)
}

/// How sure the match must be: `Clear` ≥ 0.6, `Loose` 0.4..0.6 and still the top intent,
/// `Unrelated` best < 0.3, `Below` best < the 0.5 threshold (shares a word, means something
/// else: the keyword fallback cannot tell, but must not be sure).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Clear(&'static str),
    Loose(&'static str),
    Unrelated,
    Below,
}
use Want::{Below, Clear, Loose, Unrelated};

const THRESHOLD: f32 = 0.5;

const UTTERANCES: &[(&str, Want)] = &[
    // order_status
    (
        "I want to check the status of my order.",
        Clear("order_status"),
    ),
    ("Where is my order?", Clear("order_status")),
    (
        "Um, yeah, so I'm calling about my order status.",
        Clear("order_status"),
    ),
    ("Has my package shipped yet?", Clear("order_status")),
    (
        "I'd like to track my package, please.",
        Clear("order_status"),
    ),
    (
        "Can you tell me where my delivery is?",
        Clear("order_status"),
    ),
    (
        "What's the status of order one two three four?",
        Clear("order_status"),
    ),
    ("My orders haven't arrived.", Clear("order_status")),
    ("Checking on an order.", Clear("order_status")),
    ("Has it shipped?", Loose("order_status")),
    (
        "I want to check the status of my other",
        Clear("order_status"),
    ),
    // returns
    ("I want to return something.", Clear("returns")),
    ("I'd like a refund.", Clear("returns")),
    ("Refund.", Clear("returns")),
    ("Can I send it back?", Clear("returns")),
    ("What is your return policy?", Clear("returns")),
    (
        "Yeah, so I need to return an item I bought.",
        Clear("returns"),
    ),
    (
        "I'd like to exchange this product for a bigger size.",
        Clear("returns"),
    ),
    ("How do I get my money refunded?", Clear("returns")),
    ("I want to exchange something", Loose("returns")),
    // opening_hours
    ("What are your opening hours?", Clear("opening_hours")),
    ("When are you open?", Clear("opening_hours")),
    ("Are you open on Sundays?", Clear("opening_hours")),
    ("What time do you close today?", Clear("opening_hours")),
    ("Um, what are your business hours?", Clear("opening_hours")),
    ("Are you open tomorrow?", Clear("opening_hours")),
    ("What time is it?", Loose("opening_hours")),
    // agent
    ("I want to talk to a person.", Clear("agent")),
    ("Can I speak to an agent please?", Clear("agent")),
    ("Human.", Clear("agent")),
    ("Representative!", Clear("agent")),
    ("Operator, operator.", Clear("agent")),
    ("Let me talk to customer service.", Clear("agent")),
    ("I'd like a real person, please.", Clear("agent")),
    ("Can I talk to somebody?", Loose("agent")),
    // goodbye
    ("Goodbye.", Clear("goodbye")),
    ("Okay, bye.", Clear("goodbye")),
    ("That's all, thanks.", Clear("goodbye")),
    ("No thanks.", Clear("goodbye")),
    ("Nothing else.", Clear("goodbye")),
    ("I'm done.", Clear("goodbye")),
    ("You can hang up now.", Clear("goodbye")),
    // nothing to do with the intents
    ("What's the weather like?", Unrelated),
    ("My name is John.", Unrelated),
    ("", Unrelated),
    ("Um, uh, yeah.", Unrelated),
    ("One two three four.", Unrelated),
    ("Do you sell bicycles?", Unrelated),
    ("The quick brown fox jumps over the lazy dog.", Unrelated),
    ("Thank you.", Unrelated),
    ("My back hurts.", Below),
    ("Could you speak a bit louder?", Below),
    (
        "Is there a human resources department I could write to about a job?",
        Below,
    ),
];

#[test]
fn utterance_table() {
    let set = default_set();
    let mut failures = Vec::new();
    for (text, want) in UTTERANCES {
        let ranked = set.classify(text);
        let top = ranked.first().cloned();
        let (name, conf) = top
            .as_ref()
            .map_or(("-", 0.0), |s| (s.intent.as_str(), s.confidence));
        let ok = match want {
            Clear(w) => name == *w && conf >= 0.6,
            Loose(w) => name == *w && (0.4..0.6).contains(&conf),
            Unrelated => conf < 0.3,
            Below => conf < THRESHOLD,
        };
        let matched = set.best(text, THRESHOLD).map(|s| s.intent);
        let threshold_ok = match want {
            Clear(w) => matched.as_deref() == Some(*w),
            Loose(_) => matched.is_some() == (conf >= THRESHOLD),
            Unrelated | Below => matched.is_none(),
        };
        if !ok || !threshold_ok {
            failures.push(format!("{text:?}: want {want:?}, got {name} {conf:.2}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn classify_ranks_every_intent_best_first() {
    let set = default_set();
    let ranked = set.classify("I want to return my package");
    assert_eq!(ranked.len(), 5);
    assert!(ranked
        .windows(2)
        .all(|w| w[0].confidence >= w[1].confidence));
    // Unrelated text: all zero, so declaration order is kept.
    let names: Vec<String> = set
        .classify("weather")
        .into_iter()
        .map(|s| s.intent)
        .collect();
    let declared = [
        "order_status",
        "returns",
        "opening_hours",
        "agent",
        "goodbye",
    ];
    assert_eq!(names, declared);
}

#[test]
fn verbatim_examples_score_one() {
    let set = default_set();
    for text in [
        "order status",
        "refund",
        "business hours",
        "operator",
        "that's all",
    ] {
        let best = set.best(text, 0.99);
        assert!(best.is_some_and(|b| b.confidence > 0.99), "{text}");
    }
}

#[test]
fn shared_words_count_less() {
    let examples = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let set = IntentSet::new(&[
        ("cancel".into(), examples(&["cancel my account"])),
        ("upgrade".into(), examples(&["upgrade my account"])),
        ("billing".into(), examples(&["account balance"])),
    ]);
    let top = set.classify("cancel account");
    assert_eq!(top.first().map(|s| s.intent.as_str()), Some("cancel"));
    // "account" is in every intent, so on its own it is weak.
    let weak = set.classify("account");
    assert!(weak.iter().all(|s| s.confidence < 0.5), "{weak:?}");
}

#[test]
fn hint_words_are_distinct_content_words_and_bounded() {
    let hints = default_set().hint_words();
    assert!(
        hints.starts_with("check, order, status, track, package"),
        "{hints}"
    );
    assert!(
        hints.contains("refund") && hints.contains("sunday"),
        "{hints}"
    );
    assert!(!hints.split(", ").any(is_stopword), "{hints}");
    let words: Vec<&str> = hints.split(", ").collect();
    let distinct: HashSet<&str> = words.iter().copied().collect();
    assert_eq!(words.len(), distinct.len());

    let many: Vec<String> = (0..500).map(|i| format!("word{i}")).collect();
    let big = IntentSet::new(&[("x".into(), many)]).hint_words();
    assert!(
        big.len() <= MAX_HINT_BYTES && big.len() > MAX_HINT_BYTES - 12,
        "{}",
        big.len()
    );
}

#[test]
fn empty_sets_and_examples_do_not_panic() {
    assert!(IntentSet::new(&[]).classify("hello").is_empty());
    assert_eq!(IntentSet::new(&[]).best("hello", 0.0), None);
    let set = IntentSet::new(&[("empty".into(), vec![String::new(), "!!".into()])]);
    assert_eq!(set.classify("anything")[0].confidence, 0.0);
    assert_eq!(set.hint_words(), "");
}

proptest! {
    #[test]
    fn classify_never_panics_and_stays_in_range(text in "\\PC{0,400}") {
        let set = default_set();
        let ranked = set.classify(&text);
        prop_assert_eq!(ranked.len(), 5);
        for s in &ranked {
            prop_assert!((0.0..=1.0).contains(&s.confidence), "{}", s.confidence);
        }
    }

    #[test]
    fn arbitrary_examples_never_panic(
        examples in proptest::collection::vec(("\\PC{0,12}", proptest::collection::vec("\\PC{0,30}", 0..4)), 0..6),
        text in "\\PC{0,80}",
    ) {
        let set = IntentSet::new(&examples);
        prop_assert!(set.hint_words().len() <= MAX_HINT_BYTES);
        for s in set.classify(&text) {
            prop_assert!((0.0..=1.0).contains(&s.confidence));
        }
    }
}
