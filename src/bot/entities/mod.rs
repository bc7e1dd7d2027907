//! Entities in a caller's words: digit strings, order/account/phone numbers, money amounts,
//! dates and times, and yes/no.
//!
//! Hand-written because callers say these the way people do ("twelve thirty-four", "double
//! five", "twelve dollars fifty", "the day after tomorrow at half past two") and Whisper writes
//! them in every style ("1, 2, 3, 4.", "$20.50", "Tomorrow at 3 p.m."), which no crate in the
//! tree reads. Everything is a pure function of the text (plus the reference date and the slot
//! the dialplan asked for): no clock, no I/O, bounded work, and an entity is left out rather
//! than guessed when the words do not say it.
//!
//! - `numbers`: [`digits`] and the spoken-number reader shared by the others.
//! - `lexer`: tokens that keep `$`, `20.50`, `1,250`, `14:30` and `2026-12-05` intact.
//! - `ids`: order/account/phone numbers by the cue words around a digit run.
//! - `amount`: [`Amount`]. `date` and `clock`: dates and times of day. `civil`: [`CivilDate`].
//! - `yes_no`: [`yes_no`].
//!
//! Numbers inside an amount or a date are not identifiers ("pay $20 for order 12345" has order
//! number 12345 only); [`Entities::digits`] is still the longest digit run of the whole text,
//! as the dialplan's digit capture has always read it.

use serde::Serialize;

mod amount;
mod civil;
mod clock;
mod date;
mod ids;
mod lexer;
mod numbers;
mod yes_no;

#[cfg(test)]
mod tests;

pub use amount::Amount;
pub use civil::{today_utc, CivilDate, Weekday};
pub use numbers::{digits, is_number_word, MAX_DIGITS};
pub use yes_no::yes_no;

/// What a caller said, as far as the bot's entities go. Serialized, absent fields are left
/// out: `{"digits":"1234","order_number":"1234"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entities {
    /// The longest digit string spoken or written, if any (see [`digits`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<String>,
    /// A clear yes (`true`) or no (`false`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yes_no: Option<bool>,
    /// Digits of an order, tracking or parcel reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// Digits of an account, card or membership number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    /// Digits of a phone number (7..=15, no `+`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// A money amount (boxed: rarely there, and `Entities` travels inline in every
    /// `dialplan::TurnRecord`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Box<Amount>>,
    /// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM` when a time was said with the date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// `HH:MM` (24-hour) when a time was said without a (resolvable) date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// The entity a dialplan step is asking for: a bare answer goes to it ("1234" after "what is
/// your account number?" is the account number; "fifty" after "how much?" is an amount; "three
/// thirty" after "when?" is a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// An order, tracking or parcel number.
    OrderNumber,
    /// An account, card or membership number.
    AccountNumber,
    /// A phone number.
    PhoneNumber,
    /// A money amount.
    Amount,
    /// A date and/or time.
    Date,
    /// Any digit string (no change: [`Entities::digits`] is always filled).
    Digits,
    /// Yes or no (no change: [`Entities::yes_no`] is always filled).
    YesNo,
}

/// All entities in `text`, with no slot asked for and no reference date.
pub fn extract(text: &str) -> Entities {
    extract_for(text, None)
}

/// All entities in `text` when the dialplan asked for `expected`. No reference date: relative
/// dates ("tomorrow", "Monday", "December 5th") are left out and only dates with a year
/// resolve; a time said with them is still reported in [`Entities::time`]. Use
/// [`extract_at`] to resolve them.
pub fn extract_for(text: &str, expected: Option<Slot>) -> Entities {
    extract_with(text, expected, None)
}

/// All entities in `text` when the dialplan asked for `expected`, resolving relative dates
/// against `today` (the caller's local date, read by the shell).
pub fn extract_at(text: &str, expected: Option<Slot>, today: CivilDate) -> Entities {
    extract_with(text, expected, Some(today))
}

fn extract_with(text: &str, expected: Option<Slot>, today: Option<CivilDate>) -> Entities {
    let toks = lexer::lex(text);
    let when = date::find(&toks, today, expected == Some(Slot::Date));
    let mut taken = when.spans.clone();
    let amount = amount::find(&toks, &taken, expected == Some(Slot::Amount));
    let amount = amount.map(|(amount, span)| {
        taken.push(span);
        Box::new(amount)
    });
    let ids = ids::assign(&toks, &taken, expected);
    let clock = |(h, m): (u8, u8)| format!("{h:02}:{m:02}");
    let (date, time) = match (when.date, when.time) {
        (Some(d), Some(t)) => (Some(format!("{d}T{}", clock(t))), None),
        (Some(d), None) => (Some(d.to_string()), None),
        (None, t) => (None, t.map(clock)),
    };
    Entities {
        digits: digits(text),
        yes_no: yes_no(text),
        order_number: ids.order,
        account_number: ids.account,
        phone_number: ids.phone,
        amount,
        date,
        time,
    }
}
