//! A yes or no in a caller's answer to a confirmation ("Yes, that's correct.", "Nope.",
//! "Go ahead.", "That's not right.", "I'm not sure" → neither).

use crate::bot::normalize::tokens;

const YES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "yea",
    "correct",
    "sure",
    "right",
    "affirmative",
    "absolutely",
    "definitely",
    "certainly",
    "exactly",
    "okay",
    "ok",
    "alright",
    "perfect",
];
/// Several words that together mean yes ("go ahead"); a negator right after cancels them
/// ("please do not").
const YES_PHRASES: &[&[&str]] = &[
    &["go", "ahead"],
    &["please", "do"],
    &["sounds", "good"],
    &["why", "not"],
];
const NO: &[&str] = &["no", "nope", "nah", "wrong", "incorrect", "negative"];
const NEGATORS: &[&str] = &["not", "never"];
/// After a negator these make the answer unknown ("not sure", "don't know").
const UNSURE: &[&str] = &["sure", "know", "certain", "remember"];
/// Only intensify: "absolutely not" is a no.
const INTENSIFIERS: &[&str] = &["absolutely", "definitely", "certainly"];

/// A clear yes or no in `text`; `None` when there is neither, both ("yes no"), or doubt
/// ("I'm not sure"). "not" negates a yes-word or yes-phrase up to two words later ("that's
/// not right", "don't go ahead").
pub fn yes_no(text: &str) -> Option<bool> {
    let toks = tokens(text);
    let (mut yes, mut no) = (false, false);
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        let t = t.as_str();
        let next = toks.get(i + 1).map(String::as_str);
        if let Some(len) = yes_phrase_at(&toks, i) {
            yes = true;
            i += len;
            continue;
        }
        i += 1;
        if NEGATORS.contains(&t) {
            no = true;
            if toks
                .iter()
                .skip(i)
                .take(2)
                .any(|w| UNSURE.contains(&w.as_str()))
            {
                return None;
            }
            if let Some((k, len)) = (i..i + 2).find_map(|k| yes_at(&toks, k).map(|len| (k, len))) {
                i = k + len;
            }
        } else if INTENSIFIERS.contains(&t) && next.is_some_and(|n| NEGATORS.contains(&n)) {
            continue;
        } else if YES.contains(&t) {
            yes = true;
        } else if NO.contains(&t) {
            no = true;
        }
    }
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Length of the yes-word or yes-phrase at `i`, ignoring what follows.
fn yes_at(toks: &[String], i: usize) -> Option<usize> {
    if toks.get(i).is_some_and(|t| YES.contains(&t.as_str())) {
        return Some(1);
    }
    phrase_len_at(toks, i)
}

/// Length of the yes-phrase at `i` unless a negator follows it.
fn yes_phrase_at(toks: &[String], i: usize) -> Option<usize> {
    let len = phrase_len_at(toks, i)?;
    let negated = toks
        .get(i + len)
        .is_some_and(|t| NEGATORS.contains(&t.as_str()));
    (!negated).then_some(len)
}

fn phrase_len_at(toks: &[String], i: usize) -> Option<usize> {
    YES_PHRASES.iter().find_map(|phrase| {
        let words = toks.get(i..i + phrase.len())?;
        words
            .iter()
            .zip(phrase.iter())
            .all(|(w, p)| w == p)
            .then_some(phrase.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yes_no_table() {
        let cases: &[(&str, Option<bool>)] = &[
            ("Yes.", Some(true)),
            ("yeah", Some(true)),
            ("Yep, that's it.", Some(true)),
            ("That's right.", Some(true)),
            ("Yes, that's correct.", Some(true)),
            ("sure", Some(true)),
            ("Right.", Some(true)),
            ("affirmative", Some(true)),
            ("absolutely", Some(true)),
            ("No.", Some(false)),
            ("Nope.", Some(false)),
            ("no thanks", Some(false)),
            ("That's wrong.", Some(false)),
            ("incorrect", Some(false)),
            ("negative", Some(false)),
            ("That's not right.", Some(false)),
            ("not correct", Some(false)),
            ("absolutely not", Some(false)),
            ("No, it's not.", Some(false)),
            ("Correct.", Some(true)),
            ("Yeah, that's right.", Some(true)),
            ("Sure, go ahead.", Some(true)),
            ("Go ahead.", Some(true)),
            ("Please do.", Some(true)),
            ("Okay.", Some(true)),
            ("Absolutely!", Some(true)),
            ("Why not?", Some(true)),
            ("Nope, that's wrong.", Some(false)),
            ("That's not right.", Some(false)),
            ("Don't.", Some(false)),
            ("Please don't.", Some(false)),
            ("Don't go ahead.", Some(false)),
            ("No, don't do that.", Some(false)),
            ("yes no", None),
            ("No, that's right.", None),
            ("I'm not sure.", None),
            ("I don't know", None),
            ("maybe", None),
            ("my order number is 1234", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(yes_no(text), *want, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn yes_no_never_panics(text in "\\PC{0,300}") {
            let _ = yes_no(&text);
        }

        #[test]
        fn yes_no_word_soup_never_panics(words in proptest::collection::vec(
            "yes|no|not|go|ahead|please|do|why|sure|absolutely|don't|right", 0..40)) {
            let _ = yes_no(&words.join(" "));
        }
    }
}
