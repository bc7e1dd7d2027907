//! Money amounts: "$20.50", "£1,250", "20 dollars", "fifty dollars", "twelve dollars fifty",
//! "a hundred and twenty pounds", "fifty cents", "five grand", "a tenner", and with a money cue
//! ("pay", "top up", "refund", "add", "borrow", ...) also bare numbers: "pay twelve fifty",
//! "top up two thousand five hundred".
//!
//! A number is an amount only when money is said: a currency symbol or word next to it, or a
//! money cue at most [`CUE_WINDOW`] words before it with no identifier word ("order",
//! "account", "number", ...) in between, so "pay my bill for order 12345" is no amount. A
//! number followed by another number word is a digit string, not an amount. "twelve fifty" is
//! 12.50 (the way prices are read), never 1250. "pound" may be a weight: only the words decide.

use std::ops::Range;

use serde::Serialize;

use super::ids::is_identifier_word;
use super::numbers::{cardinal_at, is_number_word};

/// Most words between a money cue and the amount ("pay [the] [full] [balance] [of] fifty").
const CUE_WINDOW: usize = 4;

/// Money said by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// Decimal digits: "50", "12.50", "1250". Whole amounts have no decimals ("$20.00" → "20");
    /// others exactly two.
    pub value: String,
    /// ISO 4217 code ("USD", "GBP", "EUR") when a symbol or currency word says which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

const MONEY_CUES: &[&str] = &[
    "pay",
    "paid",
    "paying",
    "payment",
    "topup",
    "charge",
    "charged",
    "refund",
    "refunded",
    "balance",
    "cost",
    "costs",
    "price",
    "owe",
    "owed",
    "spend",
    "spent",
    "transfer",
    "deposit",
    "withdraw",
    "bill",
    "fee",
    "total",
    "amount",
    "add",
    "borrow",
    "borrowed",
    "borrowing",
    "lend",
    "loan",
];

/// The first amount in `toks` outside the `taken` spans, and the tokens it covers.
/// `cued_everywhere`: the dialplan asked for an amount, so a bare number is one.
pub(super) fn find(
    toks: &[String],
    taken: &[Range<usize>],
    cued_everywhere: bool,
) -> Option<(Amount, Range<usize>)> {
    (0..toks.len()).find_map(|i| {
        if let Some(amount) = toks.get(i).and_then(|t| slang_note(t)) {
            return Some((amount, i..i + 1));
        }
        let cue = if cued_everywhere {
            Cue::Asked
        } else if money_cue_before(toks, i) {
            Cue::Word
        } else {
            Cue::None
        };
        let (amount, end) = amount_at(toks, i, cue)?;
        let free = !taken.iter().any(|t| t.start < end && i < t.end);
        free.then_some((amount, i..end))
    })
}

/// What, besides a currency, makes a number money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    None,
    /// A money word before it: a bare number is money if it is at least [`MIN_CUED`] or has
    /// cents ("pay for two" is a count).
    Word,
    /// The dialplan asked for an amount.
    Asked,
}

/// Smallest bare whole number a money word makes an amount.
const MIN_CUED: u64 = 10;

fn amount_at(toks: &[String], i: usize, cue: Cue) -> Option<(Amount, usize)> {
    let cued = cue != Cue::None;
    let mut j = i;
    let mut currency = toks.get(j).and_then(|t| symbol_currency(t));
    if currency.is_some() {
        j += 1;
    }
    let (mut major, mut minor, spoken, next) = number_at(toks, j)?;
    j = next;
    // "five grand": thousands of the local currency, whatever it is.
    let grand = toks.get(j).is_some_and(|t| t == "grand" || t == "k") && minor.is_none();
    if grand {
        major = major.saturating_mul(1000);
        j += 1;
    }
    if minor.is_none() && spoken && (1..=99).contains(&major) {
        if let Some((cents, after)) = spoken_cents_at(toks, j) {
            let currency_follows = toks.get(after).and_then(|t| word_currency(t)).is_some();
            if cued || currency.is_some() || currency_follows {
                minor = Some(cents);
                j = after;
            }
        }
    }
    if let Some(code) = toks.get(j).and_then(|t| word_currency(t)) {
        currency.get_or_insert(code);
        j += 1;
        if minor.is_none() {
            if let Some((cents, after)) = minor_after_currency(toks, j) {
                minor = Some(cents);
                j = after;
            }
        }
    } else if minor.is_none() && currency.is_none() && major < 100 {
        if let Some(code) = toks.get(j).and_then(|t| minor_unit(t)) {
            let amount = Amount {
                value: format_value(0, Some(major)),
                currency: code.map(str::to_owned),
            };
            return Some((amount, j + 1));
        }
    }
    let part_of_digit_string = toks.get(j).is_some_and(|t| is_number_word(t));
    let bare_ok = grand
        || match cue {
            Cue::Asked => true,
            Cue::Word => major >= MIN_CUED || minor.is_some(),
            Cue::None => false,
        };
    if (currency.is_none() && !bare_ok) || part_of_digit_string {
        return None;
    }
    let amount = Amount {
        value: format_value(major, minor),
        currency: currency.map(str::to_owned),
    };
    Some((amount, j))
}

/// A number at `j`: written decimal ("20.50" → 20, 50), written or spoken cardinal; whether it
/// was spoken; the index after it.
fn number_at(toks: &[String], j: usize) -> Option<(u64, Option<u64>, bool, usize)> {
    let token = toks.get(j)?;
    if let Some((whole, fraction)) = token.split_once('.') {
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) || whole.len() > 12 {
            return None;
        }
        let cents: u64 = fraction.parse().ok()?;
        let cents = if fraction.len() == 1 {
            cents * 10
        } else {
            cents
        };
        return Some((whole.parse().ok()?, Some(cents), false, j + 1));
    }
    let (value, next) = cardinal_at(toks, j)?;
    let spoken = !token.bytes().all(|b| b.is_ascii_digit());
    Some((value, None, spoken, next))
}

/// The "fifty" of "twelve fifty": a spoken 10..=99.
fn spoken_cents_at(toks: &[String], j: usize) -> Option<(u64, usize)> {
    let token = toks.get(j)?;
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    cardinal_at(toks, j).filter(|(v, _)| (10..=99).contains(v))
}

/// The cents of "twelve dollars fifty" / "twelve dollars and five cents".
fn minor_after_currency(toks: &[String], j: usize) -> Option<(u64, usize)> {
    let k = if toks.get(j).is_some_and(|t| t == "and") {
        j + 1
    } else {
        j
    };
    let (cents, after) = cardinal_at(toks, k).filter(|(v, _)| *v < 100)?;
    let unit = toks.get(after).and_then(|t| minor_unit(t)).is_some();
    if unit {
        Some((cents, after + 1))
    } else if cents >= 10 && !toks.get(after).is_some_and(|t| is_number_word(t)) {
        Some((cents, after))
    } else {
        None
    }
}

fn money_cue_before(toks: &[String], i: usize) -> bool {
    for k in (i.saturating_sub(CUE_WINDOW)..i).rev() {
        let Some(t) = toks.get(k) else { continue };
        if is_identifier_word(t) {
            return false;
        }
        let top_up = t == "up" && k > 0 && toks.get(k - 1).is_some_and(|p| p == "top");
        if top_up || MONEY_CUES.contains(&t.as_str()) {
            return true;
        }
    }
    false
}

fn symbol_currency(token: &str) -> Option<&'static str> {
    match token {
        "$" => Some("USD"),
        "£" => Some("GBP"),
        "€" => Some("EUR"),
        _ => None,
    }
}

/// British notes by name: "a tenner", "a fiver".
fn slang_note(token: &str) -> Option<Amount> {
    let value = match token {
        "fiver" => "5",
        "tenner" => "10",
        _ => return None,
    };
    Some(Amount {
        value: value.to_owned(),
        currency: Some("GBP".to_owned()),
    })
}

fn word_currency(token: &str) -> Option<&'static str> {
    match token {
        "dollar" | "dollars" | "buck" | "bucks" | "usd" => Some("USD"),
        "pound" | "pounds" | "quid" | "gbp" | "sterling" => Some("GBP"),
        "euro" | "euros" | "eur" => Some("EUR"),
        _ => None,
    }
}

/// "cents" (currency unknown: dollars and euros both have them), "pence"/"p" (GBP).
fn minor_unit(token: &str) -> Option<Option<&'static str>> {
    match token {
        "cent" | "cents" => Some(None),
        "penny" | "pence" | "p" => Some(Some("GBP")),
        _ => None,
    }
}

fn format_value(major: u64, minor: Option<u64>) -> String {
    match minor {
        Some(cents) if cents > 0 => format!("{major}.{cents:02}"),
        _ => major.to_string(),
    }
}
