//! Spoken and written numbers: digit strings ([`digits`]) and cardinals for amounts and dates.
//!
//! Hand-written because callers read numbers the way people do ("twelve thirty-four",
//! "double five", "two thousand and five") and Whisper writes them in every style ("1, 2, 3,
//! 4.", "1-2-3-4", "12 34", "four to five six"). [`digits`] turns the longest run of number
//! words into ASCII digits; filler ("and", "uh", "um", commas) inside a run is skipped, so runs
//! separated only by filler join. "to"/"too"/"for"/"won" are read as 2/2/4/1 only between two
//! other number words, and "oh" as 0 only next to one (or alone), so "I want to pay for two"
//! stays "2". Results longer than [`MAX_DIGITS`] are rejected rather than truncated: a cut
//! account number is worse than asking again.

use std::ops::Range;

use crate::bot::normalize::tokens;

/// Longest digit string [`digits`] returns.
pub const MAX_DIGITS: usize = 32;

/// Largest cardinal [`cardinal_at`] reads from written digits; longer ones are identifiers.
const MAX_CARDINAL: u64 = 999_999_999_999;

/// One token's role in a spoken number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Num {
    /// zero..nine.
    Unit(u64),
    /// ten..nineteen.
    Teen(u64),
    /// twenty, thirty, .. ninety.
    Tens(u64),
    Hundred,
    Thousand,
    /// "double" / "triple": the next digit repeated.
    Repeat(usize),
    /// Digits as written ("1234").
    Written(String),
    /// Skipped inside a run ("and", "uh").
    Filler,
    /// A word that can be a digit, decided by its neighbours ("to", "for", "oh", "a").
    Maybe(Ambiguous),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ambiguous {
    /// "to", "too", "for", "won": only between two number words.
    Between(u64),
    /// "oh": next to a number word, or alone.
    Oh,
    /// "a": one, before "hundred"/"thousand".
    Article,
}

fn classify(token: &str) -> Num {
    const UNITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const TEENS: [&str; 10] = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let position = |table: &[&str]| table.iter().position(|w| *w == token).map(|i| i as u64);
    if let Some(d) = position(&UNITS) {
        return Num::Unit(d);
    }
    if let Some(d) = position(&TEENS) {
        return Num::Teen(10 + d);
    }
    if let Some(d) = position(&TENS) {
        return Num::Tens(20 + 10 * d);
    }
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        return Num::Written(token.to_owned());
    }
    match token {
        "hundred" => Num::Hundred,
        "thousand" => Num::Thousand,
        "double" => Num::Repeat(2),
        "triple" => Num::Repeat(3),
        "fourty" => Num::Tens(40),
        "and" | "uh" | "um" | "er" | "erm" | "ah" | "hmm" | "mm" => Num::Filler,
        "to" | "too" => Num::Maybe(Ambiguous::Between(2)),
        "for" => Num::Maybe(Ambiguous::Between(4)),
        "won" => Num::Maybe(Ambiguous::Between(1)),
        "oh" => Num::Maybe(Ambiguous::Oh),
        "a" => Num::Maybe(Ambiguous::Article),
        _ => Num::Other,
    }
}

fn is_number(n: &Num) -> bool {
    !matches!(n, Num::Filler | Num::Maybe(_) | Num::Other)
}

/// Whether `token` is a number word or written digits ("seven", "hundred", "42").
pub fn is_number_word(token: &str) -> bool {
    is_number(&classify(token))
}

/// The digit string in `text`: "one two three four", "1, 2, 3, 4.", "twelve thirty-four",
/// "double five" and "two thousand and five" all work. The longest run of number words wins
/// (the first of equals); `None` if there is none or it is longer than [`MAX_DIGITS`].
pub fn digits(text: &str) -> Option<String> {
    let mut best: Option<DigitRun> = None;
    for run in digit_runs(&tokens(text)) {
        if best
            .as_ref()
            .is_none_or(|b| run.digits.len() > b.digits.len())
        {
            best = Some(run);
        }
    }
    best.map(|b| b.digits)
        .filter(|d| !d.is_empty() && d.len() <= MAX_DIGITS)
}

/// One run of number words read as digits, and where it sits among the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DigitRun {
    /// Token indices from the first to the last number word.
    pub(super) span: Range<usize>,
    /// The digits read (possibly longer than [`MAX_DIGITS`]; callers filter).
    pub(super) digits: String,
}

/// Every run of number words in `toks`, in order; filler between number words joins a run.
pub(super) fn digit_runs(toks: &[String]) -> Vec<DigitRun> {
    let nums = resolve(toks.iter().map(|t| classify(t)).collect());
    let mut runs = Vec::new();
    let mut current: Vec<Num> = Vec::new();
    let mut span = 0..0;
    for (i, n) in nums.iter().enumerate() {
        if is_number(n) {
            if current.is_empty() {
                span.start = i;
            }
            span.end = i + 1;
            current.push(n.clone());
        } else if *n != Num::Filler && !current.is_empty() {
            runs.push(finish_run(&mut current, span.clone()));
        }
    }
    if !current.is_empty() {
        runs.push(finish_run(&mut current, span));
    }
    runs.retain(|r| !r.digits.is_empty());
    runs
}

fn finish_run(current: &mut Vec<Num>, span: Range<usize>) -> DigitRun {
    let digits = read_run(current);
    current.clear();
    DigitRun { span, digits }
}

/// A cardinal starting at token `start` ("fifty", "a hundred and twenty", "two thousand five
/// hundred", "1250"): its value and the index after it. "and" is skipped between number words;
/// written digits longer than 12 are not a cardinal.
pub(super) fn cardinal_at(toks: &[String], start: usize) -> Option<(u64, usize)> {
    const MAX_WORDS: usize = 10;
    let mut nums = Vec::new();
    let mut ends = Vec::new();
    let mut i = start;
    while let Some(t) = toks.get(i) {
        if nums.len() >= MAX_WORDS {
            break;
        }
        let next = toks.get(i + 1).map(|t| classify(t));
        let num = match classify(t) {
            Num::Maybe(Ambiguous::Article)
                if matches!(next, Some(Num::Hundred | Num::Thousand)) =>
            {
                Num::Unit(1)
            }
            Num::Filler
                if t == "and" && !nums.is_empty() && next.as_ref().is_some_and(is_number) =>
            {
                i += 1;
                continue;
            }
            Num::Repeat(_) => break,
            n if is_number(&n) => n,
            _ => break,
        };
        nums.push(num);
        i += 1;
        ends.push(i);
    }
    if let Some((value, used)) = cardinal(&nums, 0) {
        let end = used.checked_sub(1).and_then(|k| ends.get(k)).copied()?;
        return Some((value, end));
    }
    match nums.first() {
        Some(Num::Written(w)) if w.len() <= 12 => {
            let value: u64 = w.parse().ok()?;
            (value <= MAX_CARDINAL).then_some((value, start + 1))
        }
        _ => None,
    }
}

/// Decides each ambiguous word from its unambiguous neighbours.
fn resolve(nums: Vec<Num>) -> Vec<Num> {
    let only_one = nums.len() == 1;
    let number_at = |i: Option<usize>| i.and_then(|i| nums.get(i)).is_some_and(is_number);
    let mut out = Vec::with_capacity(nums.len());
    for (i, n) in nums.iter().enumerate() {
        let (before, after) = (number_at(i.checked_sub(1)), number_at(Some(i + 1)));
        let next = nums.get(i + 1);
        out.push(match n {
            Num::Maybe(Ambiguous::Between(d)) if before && after => Num::Unit(*d),
            Num::Maybe(Ambiguous::Oh) if before || after || only_one => Num::Unit(0),
            Num::Maybe(Ambiguous::Article)
                if matches!(next, Some(Num::Hundred | Num::Thousand)) =>
            {
                Num::Unit(1)
            }
            Num::Maybe(_) => Num::Other,
            other => other.clone(),
        });
    }
    out
}

/// Digits of one run of number tokens (no filler, no other words).
fn read_run(run: &[Num]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < run.len() && out.len() <= MAX_DIGITS {
        if let Some((value, next)) = cardinal(run, i) {
            out.push_str(&value.to_string());
            i = next;
            continue;
        }
        match (run.get(i), run.get(i + 1)) {
            (Some(Num::Repeat(times)), Some(Num::Unit(d))) => {
                out.push_str(&d.to_string().repeat(*times));
                i += 2;
            }
            (Some(Num::Repeat(times)), Some(Num::Written(w))) if w.len() == 1 => {
                out.push_str(&w.repeat(*times));
                i += 2;
            }
            (Some(Num::Written(w)), _) => {
                out.push_str(w);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// A cardinal at `i` ("twelve", "thirty four", "one hundred five", "two thousand five"):
/// its value and the index after it.
fn cardinal(run: &[Num], i: usize) -> Option<(u64, usize)> {
    let (group, mut j) = hundreds(run, i)?;
    if run.get(j) != Some(&Num::Thousand) {
        return Some((group, j));
    }
    j += 1;
    let mut total = group.max(1) * 1000;
    if let Some((rest, next)) = hundreds(run, j) {
        total += rest;
        j = next;
    }
    Some((total, j))
}

/// 0..=99999 at `i`: below-hundred, optionally times "hundred" plus below-hundred.
fn hundreds(run: &[Num], i: usize) -> Option<(u64, usize)> {
    let (mut value, mut j) = match below_hundred(run, i) {
        Some(found) => found,
        None if run.get(i) == Some(&Num::Hundred) => (1, i),
        None => return None,
    };
    if run.get(j) == Some(&Num::Hundred) {
        value = value.max(1) * 100;
        j += 1;
        if let Some((rest, next)) = below_hundred(run, j) {
            value += rest;
            j = next;
        }
    }
    Some((value, j))
}

/// "seven", "twelve", "thirty", "thirty four", or written digits (≤ 999) before a multiplier.
fn below_hundred(run: &[Num], i: usize) -> Option<(u64, usize)> {
    match (run.get(i)?, run.get(i + 1)) {
        (Num::Tens(t), Some(Num::Unit(u))) if *u > 0 => Some((t + u, i + 2)),
        (Num::Tens(v) | Num::Teen(v) | Num::Unit(v), _) => Some((*v, i + 1)),
        (Num::Written(w), Some(Num::Hundred | Num::Thousand)) if w.len() <= 3 => {
            w.parse().ok().map(|v| (v, i + 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("one two three four", Some("1234")),
            ("One, two, three, four.", Some("1234")),
            ("1234", Some("1234")),
            ("1, 2, 3, 4.", Some("1234")),
            ("1-2-3-4", Some("1234")),
            ("12 34", Some("1234")),
            ("twelve thirty four", Some("1234")),
            ("twelve thirty-four", Some("1234")),
            ("Twelve, thirty-four.", Some("1234")),
            ("oh", Some("0")),
            ("zero", Some("0")),
            ("double five", Some("55")),
            ("triple seven", Some("777")),
            ("double oh seven", Some("007")),
            ("one hundred", Some("100")),
            ("a hundred", Some("100")),
            ("one hundred and five", Some("105")),
            ("three hundred forty two", Some("342")),
            ("nineteen eighty four", Some("1984")),
            ("nineteen hundred eighty four", Some("1984")),
            ("two thousand and five", Some("2005")),
            ("two thousand twenty four", Some("2024")),
            ("twenty twenty four", Some("2024")),
            ("five hundred thousand", Some("500000")),
            ("ten thousand", Some("10000")),
            ("5 hundred", Some("500")),
            ("my order number is one two three four", Some("1234")),
            ("My order number is 1234.", Some("1234")),
            ("four to five six", Some("4256")),
            ("one two for five", Some("1245")),
            ("three too nine", Some("329")),
            ("I want to pay for two", Some("2")),
            ("one two, uh, three four", Some("1234")),
            ("one two and three four", Some("1234")),
            ("it's one oh five", Some("105")),
            ("Oh, it's 1234.", Some("1234")),
            ("I have 2 orders, number 98765", Some("98765")),
            ("order 12 or 345", Some("345")),
            ("thirty", Some("30")),
            ("seventy seven", Some("77")),
            ("thirty oh five", Some("3005")),
            ("no numbers here", None),
            ("", None),
            ("for to too", None),
            ("and uh", None),
            ("a lot", None),
            ("double", None),
        ];
        for (text, want) in cases {
            assert_eq!(digits(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn digits_longer_than_the_cap_are_rejected() {
        let at_cap = "1".repeat(MAX_DIGITS);
        assert_eq!(digits(&at_cap), Some(at_cap.clone()));
        assert_eq!(digits(&format!("{at_cap} 2")), None);
        assert_eq!(digits(&"nine ".repeat(MAX_DIGITS + 1)), None);
        // Tokens are cut at 40 characters, so one long written number is over the cap too.
        assert_eq!(digits(&"7".repeat(100)), None);
    }

    #[test]
    fn number_words() {
        for w in ["seven", "twelve", "ninety", "hundred", "42", "double"] {
            assert!(is_number_word(w), "{w}");
        }
        for w in ["to", "for", "oh", "and", "order", ""] {
            assert!(!is_number_word(w), "{w}");
        }
    }

    proptest! {
        #[test]
        fn digits_never_panic_and_are_ascii_digits(text in "\\PC{0,300}") {
            if let Some(d) = digits(&text) {
                prop_assert!(!d.is_empty() && d.len() <= MAX_DIGITS);
                prop_assert!(d.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn spoken_digit_words_read_back(ds in proptest::collection::vec(0usize..10, 1..MAX_DIGITS)) {
            const WORDS: [&str; 10] =
                ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
            let text: Vec<&str> = ds.iter().filter_map(|&d| WORDS.get(d).copied()).collect();
            let want: String = ds.iter().map(|d| d.to_string()).collect();
            prop_assert_eq!(digits(&text.join(", ")), Some(want));
        }

        #[test]
        fn number_word_soup_never_panics(words in proptest::collection::vec(
            "one|two|twelve|thirty|hundred|thousand|and|uh|to|for|oh|a|double|triple|7|123", 0..60)) {
            if let Some(d) = digits(&words.join(" ")) {
                prop_assert!(d.len() <= MAX_DIGITS);
            }
        }
    }
}
