//! Word error rate: (substitutions + deletions + insertions) / reference words, by word-level
//! Levenshtein distance after the same normalization on both sides.
//!
//! Normalization: lowercase; apostrophes dropped (`that's` = `thats`); every other character
//! that is not a letter or digit separates words; digits are spelled one by one (`1234` and
//! `one two three four` both become `one two three four`), because Whisper writes spoken digit
//! strings either way. References therefore spell numbers as single digits.

/// Digit words, indexed by the digit.
const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The words of `text` after normalization.
pub fn normalize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    for ch in text.chars() {
        if ch == '\'' || ch == '\u{2019}' {
            continue;
        }
        if let Some(digit) = ch.to_digit(10) {
            flush(&mut word, &mut words);
            let spelled = DIGITS.get(digit as usize).copied().unwrap_or("");
            words.push(spelled.to_string());
        } else if ch.is_alphanumeric() {
            word.extend(ch.to_lowercase());
        } else {
            flush(&mut word, &mut words);
        }
    }
    flush(&mut word, &mut words);
    words
}

/// Word-level edit distance between two word lists.
pub fn edit_distance(reference: &[String], hypothesis: &[String]) -> usize {
    // One row of the dynamic-programming table at a time: O(len) memory.
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut current = vec![0; hypothesis.len() + 1];
    for (i, ref_word) in reference.iter().enumerate() {
        current[0] = i + 1;
        for (j, hyp_word) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(ref_word != hyp_word);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[hypothesis.len()]
}

/// Errors and reference length of one utterance, to be summed over many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordErrors {
    /// Substitutions + deletions + insertions.
    pub errors: usize,
    /// Words in the normalized reference.
    pub reference_words: usize,
}

impl WordErrors {
    /// Compares one reference with one transcript.
    pub fn of(reference: &str, hypothesis: &str) -> WordErrors {
        let reference = normalize(reference);
        let hypothesis = normalize(hypothesis);
        WordErrors {
            errors: edit_distance(&reference, &hypothesis),
            reference_words: reference.len(),
        }
    }

    /// Adds another utterance's counts.
    pub fn add(self, other: WordErrors) -> WordErrors {
        WordErrors {
            errors: self.errors + other.errors,
            reference_words: self.reference_words + other.reference_words,
        }
    }

    /// The rate, or `None` with no reference words.
    pub fn rate(self) -> Option<f64> {
        (self.reference_words > 0).then(|| self.errors as f64 / self.reference_words as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn normalization_table() {
        let cases = [
            ("Hello, World!", "hello world"),
            ("That's all.", "thats all"),
            ("That\u{2019}s all", "thats all"),
            (
                "My order number is 1234.",
                "my order number is one two three four",
            ),
            ("order #1,234", "order one two three four"),
            ("A7", "a seven"),
            ("  ", ""),
            ("Où est-ce?", "où est ce"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), words(expected), "{input:?}");
        }
    }

    #[test]
    fn edit_distance_table() {
        let cases = [
            ("a b c", "a b c", 0),
            ("a b c", "a x c", 1),
            ("a b c", "a c", 1),
            ("a b c", "a b c d", 1),
            ("a b c", "", 3),
            ("", "a b", 2),
            ("", "", 0),
            ("kitten sitting", "sitting kitten", 2),
        ];
        for (reference, hypothesis, expected) in cases {
            assert_eq!(
                edit_distance(&words(reference), &words(hypothesis)),
                expected,
                "{reference:?} vs {hypothesis:?}"
            );
        }
    }

    #[test]
    fn rate_sums_over_utterances() {
        let first = WordErrors::of(
            "My order number is one two three four",
            "my order number is 1234",
        );
        assert_eq!(
            first,
            WordErrors {
                errors: 0,
                reference_words: 8
            }
        );
        let second = WordErrors::of(
            "I would like to return an item",
            "I like to return the item",
        );
        assert_eq!(
            second,
            WordErrors {
                errors: 2,
                reference_words: 7
            }
        );
        assert_eq!(first.add(second).rate(), Some(2.0 / 15.0));
        assert_eq!(WordErrors::default().rate(), None);
    }

    proptest! {
        #[test]
        fn distance_is_a_bounded_metric(a in "[a-c ]{0,12}", b in "[a-c ]{0,12}") {
            let (a, b) = (normalize(&a), normalize(&b));
            let d = edit_distance(&a, &b);
            prop_assert_eq!(d, edit_distance(&b, &a));
            prop_assert!(d <= a.len().max(b.len()));
            prop_assert_eq!(edit_distance(&a, &a), 0);
        }

        #[test]
        fn normalize_never_panics(text in any::<String>()) {
            let _ = normalize(&text);
        }
    }
}
