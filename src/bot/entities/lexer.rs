//! Transcript → tokens for amounts, dates and identifiers: the words of
//! [`crate::bot::normalize::tokens`], plus what that tokenizer drops and these entities need.
//!
//! Currency symbols become their own tokens (`$`, `£`, `€`), and written numbers keep the
//! punctuation that gives them meaning: `20.50` (decimal, one or two places), `1,250`
//! (thousands commas, removed: `1250`), `14:30` (clock) and `2026-12-05` (ISO date). Anything
//! else splits, so "555-123-4567" and "1, 2, 3, 4." stay separate digit tokens as in
//! `normalize`. Bounded like `normalize`: at most [`MAX_CHARS`] characters are read and at
//! most [`MAX_TOKENS`] tokens of at most [`MAX_TOKEN_CHARS`] characters are returned.

use crate::bot::normalize::{tokens, MAX_TOKENS, MAX_TOKEN_CHARS};

/// Characters of the transcript read; the rest is ignored.
pub(super) const MAX_CHARS: usize = 4096;

/// Tokens of `text`, lowercased (see the module doc).
pub(super) fn lex(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().take(MAX_CHARS).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if let Some(symbol) = currency_symbol(c) {
            out.push(symbol.to_owned());
            i += 1;
        } else if c.is_ascii_digit() {
            let (token, next) = numeral(&chars, i);
            out.push(token);
            i = next;
        } else if c.is_alphabetic() {
            let end = word_end(&chars, i);
            let word: String = chars.get(i..end).unwrap_or_default().iter().collect();
            out.extend(tokens(&word));
            i = end;
        } else {
            i += 1;
        }
    }
    out.truncate(MAX_TOKENS);
    out
}

fn currency_symbol(c: char) -> Option<&'static str> {
    match c {
        '$' => Some("$"),
        '£' => Some("£"),
        '€' => Some("€"),
        _ => None,
    }
}

/// End of a word starting at `i`: letters (and digits after a letter, as in "a123"), with
/// apostrophes inside.
fn word_end(chars: &[char], i: usize) -> usize {
    let mut j = i;
    while let Some(&c) = chars.get(j) {
        let apostrophe_inside =
            (c == '\'' || c == '\u{2019}') && chars.get(j + 1).is_some_and(|n| n.is_alphanumeric());
        if !(c.is_alphanumeric() || apostrophe_inside) {
            break;
        }
        j += 1;
    }
    j
}

/// The numeral at `i` (an ASCII digit) and the index after it.
fn numeral(chars: &[char], i: usize) -> (String, usize) {
    let (lead, mut j) = digit_run(chars, i);
    let mut token = lead.clone();
    if let Some((iso, next)) = iso_date(chars, &lead, j) {
        return (iso, next);
    }
    if lead.len() <= 2 && chars.get(j) == Some(&':') {
        let (minutes, next) = digit_run(chars, j + 1);
        if minutes.len() == 2 {
            return (format!("{lead}:{minutes}"), next);
        }
    }
    if lead.len() <= 3 {
        while chars.get(j) == Some(&',') {
            let (group, next) = digit_run(chars, j + 1);
            if group.len() != 3 {
                break;
            }
            token.push_str(&group);
            j = next;
        }
    }
    let after_dot = i
        .checked_sub(2)
        .is_some_and(|p| chars.get(p).is_some_and(char::is_ascii_digit))
        && i.checked_sub(1).and_then(|p| chars.get(p)) == Some(&'.');
    if chars.get(j) == Some(&'.') && !after_dot {
        let (fraction, next) = digit_run(chars, j + 1);
        let another_dot =
            chars.get(next) == Some(&'.') && chars.get(next + 1).is_some_and(char::is_ascii_digit);
        if (1..=2).contains(&fraction.len()) && !another_dot {
            token.push('.');
            token.push_str(&fraction);
            j = next;
        }
    }
    token.truncate(MAX_TOKEN_CHARS);
    (token, j)
}

/// ASCII digits from `i` (at most [`MAX_TOKEN_CHARS`] kept, all consumed) and the index after.
fn digit_run(chars: &[char], i: usize) -> (String, usize) {
    let mut out = String::new();
    let mut j = i;
    while let Some(c) = chars.get(j).filter(|c| c.is_ascii_digit()) {
        if out.len() < MAX_TOKEN_CHARS {
            out.push(*c);
        }
        j += 1;
    }
    (out, j)
}

/// "2026-12-05" after the year digits `lead` (ending at `j`).
fn iso_date(chars: &[char], lead: &str, j: usize) -> Option<(String, usize)> {
    if lead.len() != 4 || chars.get(j) != Some(&'-') {
        return None;
    }
    let (month, k) = digit_run(chars, j + 1);
    if month.len() != 2 || chars.get(k) != Some(&'-') {
        return None;
    }
    let (day, end) = digit_run(chars, k + 1);
    (day.len() == 2).then(|| (format!("{lead}-{month}-{day}"), end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lex_table() {
        let cases: &[(&str, &[&str])] = &[
            ("$20.50", &["$", "20.50"]),
            ("£1,250.", &["£", "1250"]),
            ("€5", &["€", "5"]),
            ("It's 1, 2, 3, 4.", &["it", "is", "1", "2", "3", "4"]),
            ("555-123-4567", &["555", "123", "4567"]),
            ("at 14:30", &["at", "14:30"]),
            ("on 2026-12-05.", &["on", "2026-12-05"]),
            ("3 p.m.", &["3", "p", "m"]),
            ("3pm", &["3", "pm"]),
            ("December 5th", &["december", "5", "th"]),
            ("12/05", &["12", "05"]),
            ("1.2.3.4", &["1", "2", "3", "4"]),
            ("20.505", &["20", "505"]),
            ("1,23", &["1", "23"]),
            ("I'd like", &["i", "would", "like"]),
            ("twelve thirty-four", &["twelve", "thirty", "four"]),
        ];
        for (text, want) in cases {
            assert_eq!(lex(text), *want, "{text:?}");
        }
    }

    #[test]
    fn lex_is_bounded() {
        assert_eq!(lex(&"7".repeat(1000)), vec!["7".repeat(MAX_TOKEN_CHARS)]);
        assert_eq!(lex(&"$1 ".repeat(1000)).len(), MAX_TOKENS);
    }

    proptest! {
        #[test]
        fn lex_never_panics_and_stays_bounded(text in "\\PC{0,600}") {
            let toks = lex(&text);
            prop_assert!(toks.len() <= MAX_TOKENS);
            for t in &toks {
                prop_assert!(!t.is_empty() && t.chars().count() <= MAX_TOKEN_CHARS);
            }
        }
    }
}
