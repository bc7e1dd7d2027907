//! Text normalization shared by intent matching and entity extraction: transcript → tokens,
//! a light stemmer and the stopword list.
//!
//! Transcripts come from Whisper ("I'd like to check my order.", "twelve thirty-four"), so
//! tokens are lowercased words with punctuation dropped, hyphens split and common English
//! contractions expanded ("i'd" → "i would"). Input is untrusted: at most [`MAX_TOKENS`]
//! tokens of at most [`MAX_TOKEN_CHARS`] characters each are produced.
//!
//! The stemmer is hand-written because only a few English suffix rules are needed and no
//! stemming crate is in the tree. It follows the first and last steps of Porter's algorithm
//! (plural `-s`/`-es`/`-ies`, `-ed`/`-ing`, final silent `e`), which is enough for "closed",
//! "closing" and "close" to meet while leaving short words and "-ss"/"-us"/"-is" endings alone.

/// Most tokens [`tokens`] returns; the rest of the text is ignored.
pub const MAX_TOKENS: usize = 200;
/// Longest token [`tokens`] returns, in characters; longer words are cut.
pub const MAX_TOKEN_CHARS: usize = 40;

/// Contractions whose expansion is not the generic suffix rule in [`expand`].
const IRREGULAR_CONTRACTIONS: &[(&str, &[&str])] = &[
    ("won't", &["will", "not"]),
    ("can't", &["can", "not"]),
    ("shan't", &["shall", "not"]),
    ("ain't", &["is", "not"]),
    ("let's", &["let", "us"]),
    ("y'all", &["you", "all"]),
    ("ma'am", &["madam"]),
    ("o'clock", &["o'clock"]),
];

/// Generic contraction suffixes; `'s` is "is" after these pronouns and a possessive otherwise.
const CONTRACTION_SUFFIXES: &[(&str, &str)] = &[
    ("n't", "not"),
    ("'re", "are"),
    ("'ve", "have"),
    ("'ll", "will"),
    ("'m", "am"),
    ("'d", "would"),
];

/// Words whose `'s` means "is" ("what's" → "what is"); on other words it is a possessive.
const IS_CONTRACTORS: &[&str] = &[
    "it", "that", "what", "where", "who", "how", "there", "here", "he", "she", "this", "when",
    "why",
];

/// Function words and fillers that carry no intent: dropped before scoring.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "actually",
    "ah",
    "all",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "er",
    "erm",
    "for",
    "from",
    "get",
    "go",
    "going",
    "got",
    "had",
    "has",
    "have",
    "he",
    "hello",
    "her",
    "here",
    "hey",
    "hi",
    "him",
    "his",
    "hmm",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "kind",
    "know",
    "let",
    "like",
    "me",
    "mm",
    "my",
    "need",
    "of",
    "oh",
    "okay",
    "ok",
    "on",
    "or",
    "our",
    "please",
    "really",
    "she",
    "should",
    "so",
    "some",
    "someone",
    "something",
    "sort",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "uh",
    "um",
    "us",
    "very",
    "want",
    "wanted",
    "was",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yeah",
    "yes",
    "you",
    "your",
    "no",
];

/// Lowercased words of `text`: punctuation dropped, hyphens split, contractions expanded.
///
/// An apostrophe (`'` or `’`) is kept only between two letters or digits, so quotes vanish.
/// At most [`MAX_TOKENS`] tokens of at most [`MAX_TOKEN_CHARS`] characters are returned.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut word_chars = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                if word_chars < MAX_TOKEN_CHARS {
                    word.push(lower);
                    word_chars += 1;
                }
            }
            continue;
        }
        let is_apostrophe = c == '\'' || c == '\u{2019}';
        let inside_word = !word.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric());
        if is_apostrophe && inside_word {
            if word_chars < MAX_TOKEN_CHARS {
                word.push('\'');
                word_chars += 1;
            }
            continue;
        }
        flush(&mut word, &mut out);
        word_chars = 0;
    }
    flush(&mut word, &mut out);
    out.truncate(MAX_TOKENS);
    out
}

fn flush(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    for part in expand(word) {
        if !part.is_empty() {
            out.push(part);
        }
    }
    word.clear();
}

/// One word with apostrophes → its expansion (a word without one is returned as is).
fn expand(word: &str) -> Vec<String> {
    if !word.contains('\'') {
        return vec![word.to_owned()];
    }
    if let Some((_, parts)) = IRREGULAR_CONTRACTIONS.iter().find(|(w, _)| *w == word) {
        return parts.iter().map(|p| (*p).to_owned()).collect();
    }
    for (suffix, full) in CONTRACTION_SUFFIXES {
        if let Some(head) = word.strip_suffix(suffix) {
            return vec![without_apostrophes(head), (*full).to_owned()];
        }
    }
    if let Some(head) = word.strip_suffix("'s") {
        let head = without_apostrophes(head);
        if IS_CONTRACTORS.contains(&head.as_str()) {
            return vec![head, "is".to_owned()];
        }
        return vec![head];
    }
    vec![without_apostrophes(word)]
}

fn without_apostrophes(word: &str) -> String {
    word.chars().filter(|&c| c != '\'').collect()
}

/// Whether `token` (already lowercased) is a function word or filler with no intent.
pub fn is_stopword(token: &str) -> bool {
    STOPWORDS.contains(&token)
}

/// The stem of a lowercased ASCII word: "orders" → "order", "shipped" → "ship",
/// "deliveries" → "delivery", "closing" → "close". Words shorter than four letters and
/// anything that is not all ASCII letters are returned unchanged.
pub fn stem(token: &str) -> String {
    if token.len() < 4 || !token.bytes().all(|b| b.is_ascii_lowercase()) {
        return token.to_owned();
    }
    let mut w: Vec<u8> = token.as_bytes().to_vec();
    strip_plural(&mut w);
    strip_ed_ing(&mut w);
    strip_final_e(&mut w);
    // Only ASCII lowercase bytes were ever pushed, so this is valid UTF-8.
    String::from_utf8(w).unwrap_or_else(|_| token.to_owned())
}

fn strip_plural(w: &mut Vec<u8>) {
    if w.ends_with(b"sses") {
        w.truncate(w.len() - 2);
    } else if w.len() >= 5 && w.ends_with(b"ies") {
        w.truncate(w.len() - 3);
        w.push(b'y');
    } else if w.ends_with(b"s") && !(w.ends_with(b"ss") || w.ends_with(b"us") || w.ends_with(b"is"))
    {
        w.pop();
    }
}

fn strip_ed_ing(w: &mut Vec<u8>) {
    if w.ends_with(b"eed") {
        return;
    }
    if w.len() >= 5 && w.ends_with(b"ied") {
        w.truncate(w.len() - 3);
        w.push(b'y');
        return;
    }
    let suffix_len = if w.ends_with(b"ing") {
        3
    } else if w.ends_with(b"ed") {
        2
    } else {
        return;
    };
    let stem_len = w.len() - suffix_len;
    let stem = &w[..stem_len];
    if stem.len() < 2 || !(0..stem.len()).any(|i| is_vowel(stem, i)) {
        return;
    }
    w.truncate(stem_len);
    if ends_with_double_consonant(w) && !matches!(w.last(), Some(b'l' | b's' | b'z')) {
        w.pop();
    } else if measure(w) == 1 && ends_cvc(w) {
        w.push(b'e');
    }
}

fn strip_final_e(w: &mut Vec<u8>) {
    if w.len() < 4 || !w.ends_with(b"e") {
        return;
    }
    let head = &w[..w.len() - 1];
    let m = measure(head);
    if m > 1 || (m == 1 && !ends_cvc(head)) {
        w.pop();
    }
}

/// Porter's vowel: a, e, i, o, u, and y after a consonant.
fn is_vowel(w: &[u8], i: usize) -> bool {
    match w.get(i) {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => true,
        Some(b'y') => i > 0 && !is_vowel(w, i - 1),
        _ => false,
    }
}

/// Porter's measure: the number of vowel-run→consonant-run transitions.
fn measure(w: &[u8]) -> usize {
    let mut m = 0;
    let mut prev_vowel = false;
    for i in 0..w.len() {
        let v = is_vowel(w, i);
        if prev_vowel && !v {
            m += 1;
        }
        prev_vowel = v;
    }
    m
}

fn ends_with_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && !is_vowel(w, n - 1)
}

/// Consonant-vowel-consonant at the end, the last not w, x or y ("hop", "clos").
fn ends_cvc(w: &[u8]) -> bool {
    let n = w.len();
    n >= 3
        && !is_vowel(w, n - 3)
        && is_vowel(w, n - 2)
        && !is_vowel(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "I want to check the status of my order.",
                &[
                    "i", "want", "to", "check", "the", "status", "of", "my", "order",
                ],
            ),
            ("One, two, three, four.", &["one", "two", "three", "four"]),
            ("twelve thirty-four", &["twelve", "thirty", "four"]),
            ("1-2-3-4", &["1", "2", "3", "4"]),
            ("I'd like that", &["i", "would", "like", "that"]),
            ("What's the weather?", &["what", "is", "the", "weather"]),
            ("I don't know", &["i", "do", "not", "know"]),
            ("I'm done.", &["i", "am", "done"]),
            ("That's all", &["that", "is", "all"]),
            ("I won't", &["i", "will", "not"]),
            ("can't", &["can", "not"]),
            (
                "we're here, you've been",
                &["we", "are", "here", "you", "have", "been"],
            ),
            ("John's order", &["john", "order"]),
            ("it\u{2019}s OK", &["it", "is", "ok"]),
            ("'quoted' words'", &["quoted", "words"]),
            ("  ", &[]),
            ("...!?", &[]),
            ("Café ÜBER", &["café", "über"]),
            ("order #1234, please", &["order", "1234", "please"]),
        ];
        for (text, want) in cases {
            assert_eq!(tokens(text), *want, "{text:?}");
        }
    }

    #[test]
    fn tokens_are_bounded() {
        let long_word = "a".repeat(1000);
        assert_eq!(tokens(&long_word), vec!["a".repeat(MAX_TOKEN_CHARS)]);
        let many = "word ".repeat(1000);
        assert_eq!(tokens(&many).len(), MAX_TOKENS);
        let contractions = "don't ".repeat(300);
        assert_eq!(tokens(&contractions).len(), MAX_TOKENS);
    }

    #[test]
    fn stem_table() {
        let cases = [
            ("orders", "order"),
            ("order", "order"),
            ("packages", "packag"),
            ("package", "packag"),
            ("deliveries", "delivery"),
            ("delivery", "delivery"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("status", "status"),
            ("business", "business"),
            ("this", "this"),
            ("hours", "hour"),
            ("shipped", "ship"),
            ("shipping", "ship"),
            ("ship", "ship"),
            ("closing", "close"),
            ("closed", "close"),
            ("close", "close"),
            ("opening", "open"),
            ("returned", "return"),
            ("returning", "return"),
            ("calling", "call"),
            ("received", "receiv"),
            ("receive", "receiv"),
            ("replied", "reply"),
            ("thing", "thing"),
            ("bring", "bring"),
            ("need", "need"),
            ("agreed", "agreed"),
            ("bus", "bus"),
            ("yes", "yes"),
            ("one", "one"),
            ("1234", "1234"),
            ("café", "café"),
            ("o'clock", "o'clock"),
            ("", ""),
        ];
        for (word, want) in cases {
            assert_eq!(stem(word), want, "{word:?}");
        }
    }

    #[test]
    fn stopwords_cover_fillers_not_content() {
        for w in ["um", "uh", "the", "my", "please", "yeah", "want"] {
            assert!(is_stopword(w), "{w}");
        }
        for w in ["order", "return", "open", "person", "bye", "nothing"] {
            assert!(!is_stopword(w), "{w}");
        }
    }

    proptest! {
        #[test]
        fn tokens_never_panic_and_stay_bounded(text in "\\PC{0,600}") {
            let toks = tokens(&text);
            prop_assert!(toks.len() <= MAX_TOKENS);
            for t in &toks {
                prop_assert!(!t.is_empty());
                prop_assert!(t.chars().count() <= MAX_TOKEN_CHARS);
                prop_assert!(!t.contains(char::is_whitespace));
            }
        }

        #[test]
        fn stem_never_panics_or_grows(word in "[a-z']{0,20}|\\PC{0,10}") {
            let s = stem(&word);
            prop_assert!(s.len() <= word.len() + 1);
        }
    }
}
