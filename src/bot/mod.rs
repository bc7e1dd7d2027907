//! The bot's understanding of a caller's words: intents matched against example phrases and
//! entities (digit strings, order/account/phone numbers, amounts, dates and times, yes/no).
//! Pure functions over text; `dialplan/` calls them.
//!
//! Input is a transcript from the speech recognizer (Whisper tiny.en: "I want to check the
//! status of my order.", "One, two, three, four.", "twelve thirty-four"), so everything here
//! treats text as untrusted and bounded, never panics, and does no I/O: no tokio, no files, no
//! clock (relative dates resolve against a [`CivilDate`] the caller passes in).
//!
//! - [`normalize`]: tokens, a light stemmer and stopwords shared by the other two.
//! - [`intents`]: an [`IntentSet`] built once per dialplan scores an utterance against each
//!   intent's example phrases by weighted keyword overlap. This is the fallback: semantic
//!   (embedding) matching comes later and will keep the same [`IntentScore`] contract, with
//!   this matcher as the answer when no model is loaded.
//! - [`entities`]: [`digits`] ("my order number is one two three four" → "1234"), order,
//!   account and phone numbers by their cue words, an [`Amount`] ("twelve dollars fifty"), a
//!   date or time ("tomorrow at 3 p.m.") and [`yes_no`], collected into [`Entities`] by
//!   [`extract`], [`extract_for`] (the [`Slot`] the dialplan asked for takes a bare answer) and
//!   [`extract_at`] (with today's date).

#![warn(missing_docs, unreachable_pub)]

pub mod entities;
pub mod intents;
pub mod normalize;

pub use entities::{
    digits, extract, extract_at, extract_for, yes_no, Amount, CivilDate, Entities, Slot, Weekday,
};
pub use intents::{IntentScore, IntentSet};
