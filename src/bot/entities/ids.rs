//! Which digit string is an order, account or phone number, by the words around it.
//!
//! A cue word at most [`CUE_BEFORE`] words before a digit run or [`CUE_AFTER`] after it names
//! it, the nearer cue winning (before on a tie); scanning stops at another number so a cue
//! belongs to the run it is next to ("my account is 5555 and the order 1234"):
//!
//! - order: "order", "tracking", "reference", "parcel", "package", "shipment";
//! - account: "account", "card", "member", "customer number";
//! - phone: "phone", "mobile", "cell", "call me", "number to call", "reach me", "text me".
//!
//! Order and account numbers need at least [`MIN_ID_DIGITS`] digits, so "one" in "I want one
//! order" is not one; phone numbers need 7..=15 (E.164 allows 15). A run with no cue stays a
//! plain digit string, except that it goes to the slot the dialplan asked for, and a 7..=15
//! digit run becomes the phone number when the caller talks about a phone anywhere in the text,
//! and 10 or 11 digits starting with 0 are a (national) phone number even without a cue.
//! "my number is ..." alone is not a cue: it may be any of the three.

use std::ops::{Range, RangeInclusive};

use super::numbers::{digit_runs, is_number_word, DigitRun, MAX_DIGITS};
use super::Slot;

/// Fewest digits of an order or account number.
pub(super) const MIN_ID_DIGITS: usize = 3;
/// Digits of a phone number.
const PHONE_DIGITS: RangeInclusive<usize> = 7..=15;
/// Digits of a national number with its trunk 0 (UK, much of Europe, Australia).
const NATIONAL_PHONE_DIGITS: RangeInclusive<usize> = 10..=11;
/// Farthest a cue word may be before a digit run.
const CUE_BEFORE: usize = 5;
/// Farthest a cue word may be after a digit run ("1234 is my account number").
const CUE_AFTER: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Order,
    Account,
    Phone,
}

/// The identifiers found; each is a string of ASCII digits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Identifiers {
    pub(super) order: Option<String>,
    pub(super) account: Option<String>,
    pub(super) phone: Option<String>,
}

impl Identifiers {
    fn slot(&mut self, kind: Kind) -> &mut Option<String> {
        match kind {
            Kind::Order => &mut self.order,
            Kind::Account => &mut self.account,
            Kind::Phone => &mut self.phone,
        }
    }
}

/// Whether `token` names an identifier regardless of context ("order", "account", "number").
pub(super) fn is_identifier_word(token: &str) -> bool {
    token == "number" || token == "customer" || word_kind(token).is_some()
}

/// Order, account and phone numbers among the digit runs of `toks` outside `taken` (amounts,
/// dates); `expected` is the slot the dialplan asked for.
pub(super) fn assign(
    toks: &[String],
    taken: &[Range<usize>],
    expected: Option<Slot>,
) -> Identifiers {
    let runs = digit_runs(toks).into_iter().filter(|r| {
        r.digits.len() <= MAX_DIGITS
            && !taken
                .iter()
                .any(|t| t.start < r.span.end && r.span.start < t.end)
    });
    let mut ids = Identifiers::default();
    let mut bare: Vec<DigitRun> = Vec::new();
    for run in runs {
        match nearest_cue(toks, &run.span) {
            Some(kind) if fits(kind, &run.digits) => {
                ids.slot(kind).get_or_insert(run.digits);
            }
            Some(_) => {}
            None => bare.push(run),
        }
    }
    let asked = match expected {
        Some(Slot::OrderNumber) => Some(Kind::Order),
        Some(Slot::AccountNumber) => Some(Kind::Account),
        Some(Slot::PhoneNumber) => Some(Kind::Phone),
        _ => None,
    };
    // A bare 10 or 11 digits with a trunk 0 is written like a national phone number
    // ("07700 900123", "0113 496 0123"), whatever the words around it.
    if ids.phone.is_none() {
        ids.phone = bare
            .iter()
            .find(|r| r.digits.starts_with('0') && NATIONAL_PHONE_DIGITS.contains(&r.digits.len()))
            .map(|r| r.digits.clone());
    }
    let phone_talk = (0..toks.len()).any(|j| cue_at(toks, j) == Some(Kind::Phone));
    let fallback = asked.or(phone_talk.then_some(Kind::Phone));
    if let Some(kind) = fallback {
        let slot = ids.slot(kind);
        if slot.is_none() {
            *slot = longest_fitting(&bare, kind);
        }
    }
    ids
}

fn fits(kind: Kind, digits: &str) -> bool {
    match kind {
        Kind::Order | Kind::Account => digits.len() >= MIN_ID_DIGITS,
        Kind::Phone => PHONE_DIGITS.contains(&digits.len()),
    }
}

/// The longest run that fits `kind`, the first of equals.
fn longest_fitting(runs: &[DigitRun], kind: Kind) -> Option<String> {
    let mut best: Option<&DigitRun> = None;
    for run in runs.iter().filter(|r| fits(kind, &r.digits)) {
        if best.is_none_or(|b| run.digits.len() > b.digits.len()) {
            best = Some(run);
        }
    }
    best.map(|r| r.digits.clone())
}

fn nearest_cue(toks: &[String], span: &Range<usize>) -> Option<Kind> {
    let before = (1..=CUE_BEFORE)
        .map_while(|d| span.start.checked_sub(d))
        .take_while(|&j| toks.get(j).is_some_and(|t| !is_number_word(t)))
        .enumerate()
        .find_map(|(d, j)| cue_at(toks, j).map(|k| (d, k)));
    let after = (span.end..span.end + CUE_AFTER)
        .take_while(|&j| toks.get(j).is_some_and(|t| !is_number_word(t)))
        .enumerate()
        .find_map(|(d, j)| cue_at(toks, j).map(|k| (d, k)));
    match (before, after) {
        (Some((db, kb)), Some((da, ka))) => Some(if da < db { ka } else { kb }),
        (Some((_, k)), None) | (None, Some((_, k))) => Some(k),
        (None, None) => None,
    }
}

/// The identifier word at `j`, looking at its neighbours for two-word cues ("call me").
fn cue_at(toks: &[String], j: usize) -> Option<Kind> {
    let t = toks.get(j)?.as_str();
    let next = toks.get(j + 1).map(String::as_str);
    let prev = j
        .checked_sub(1)
        .and_then(|p| toks.get(p))
        .map(String::as_str);
    if let Some(kind) = word_kind(t) {
        return Some(kind);
    }
    match t {
        "customer" if matches!(next, Some("number" | "id")) => Some(Kind::Account),
        "call" | "text" | "reach" | "ring"
            if matches!(next, Some("me" | "back" | "us")) || prev == Some("to") =>
        {
            Some(Kind::Phone)
        }
        _ => None,
    }
}

fn word_kind(token: &str) -> Option<Kind> {
    match token {
        "order" | "orders" | "tracking" | "reference" | "ref" | "parcel" | "package"
        | "shipment" | "consignment" => Some(Kind::Order),
        "account" | "card" | "member" | "membership" => Some(Kind::Account),
        "phone" | "telephone" | "mobile" | "cell" | "cellphone" | "landline" | "callback" => {
            Some(Kind::Phone)
        }
        _ => None,
    }
}
