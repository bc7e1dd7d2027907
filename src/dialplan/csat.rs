//! The `csat` step: the after-call satisfaction survey, a score from 1 to 5 keyed or spoken.
//!
//! Owns the step's model ([`CsatStep`]) and how an answer reads as a score ([`csat_key`],
//! [`csat_spoken`]). Spoken answers go through the bot's number reader, so "four", "4" and
//! "four out of five" all score 4; words like "excellent" are not scores. A survey must never
//! trap a caller: when the attempts run out the call simply goes on, with nothing recorded.

use super::model::{InputRules, Target};
use crate::bot::entities::digits;

/// Lowest and highest score.
pub const CSAT_SCORES: std::ops::RangeInclusive<u8> = 1..=5;
/// Variable holding the score once given.
pub const CSAT_VAR: &str = "csat";
/// Words the recogniser should expect.
pub const CSAT_HINTS: &str = "one, two, three, four, five";

/// `csat`: ask for a score, then go on whatever the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CsatStep {
    /// Prompt, timeout and retries; `on_timeout` and `on_invalid` are never set.
    pub input: InputRules,
    /// Where the call goes afterwards, scored or not; `None` = the next step.
    pub next: Option<Target>,
}

/// The score a key gives: `1`..=`5`.
pub fn csat_key(key: char) -> Option<u8> {
    let score = u8::try_from(key.to_digit(10)?).ok()?;
    CSAT_SCORES.contains(&score).then_some(score)
}

/// The score a transcript gives: its longest spoken or written number, if that is one digit
/// from 1 to 5 ("four out of five" reads as the first of two equally long runs: 4).
pub fn csat_spoken(text: &str) -> Option<u8> {
    let number = digits(text)?;
    let mut chars = number.chars();
    match (chars.next(), chars.next()) {
        (Some(key), None) => csat_key(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_one_to_five_are_scores() {
        let scored: Vec<_> = "0123456789*#A".chars().filter_map(csat_key).collect();
        assert_eq!(scored, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn spoken_scores() {
        let cases: &[(&str, Option<u8>)] = &[
            ("five", Some(5)),
            ("Four.", Some(4)),
            ("4", Some(4)),
            ("I'd say a three", Some(3)),
            ("four out of five", Some(4)),
            ("one", Some(1)),
            ("zero", None),
            ("six", None),
            ("ten out of ten", None),
            ("forty five", None),
            ("excellent", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(csat_spoken(text), *want, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_reads_as_nothing_or_a_score(text in "\\PC{0,200}") {
            if let Some(score) = csat_spoken(&text) {
                proptest::prop_assert!(CSAT_SCORES.contains(&score));
            }
        }
    }
}
