//! The bot's understanding of a caller's words: intents matched against example phrases and
//! entities (spoken numbers, yes/no). Pure functions over text; `dialplan/` calls them.
//!
//! Input is a transcript from the speech recognizer (Whisper tiny.en: "I want to check the
//! status of my order.", "One, two, three, four.", "twelve thirty-four"), so everything here
//! treats text as untrusted and bounded, never panics, and does no I/O: no tokio, no files, no
//! clock.
//!
//! - [`normalize`]: tokens, a light stemmer and stopwords shared by the other two.
//! - [`intents`]: an [`IntentSet`] built once per dialplan scores an utterance against each
//!   intent's example phrases by weighted keyword overlap. This is the fallback: semantic
//!   (embedding) matching comes later and will keep the same [`IntentScore`] contract, with
//!   this matcher as the answer when no model is loaded.
//! - [`entities`]: [`digits`] ("my order number is one two three four" → "1234") and
//!   [`yes_no`], collected by [`extract`] into [`Entities`].
//! - [`sentiment`]: per-turn polarity (VADER) and basic emotion (our own call-center lexicon,
//!   or emotion prototypes in the caller's embedding space) via [`SentimentModel`], and the
//!   call-level roll-up [`summarize`] into [`CallSentiment`] for the ticket.

#![warn(missing_docs, unreachable_pub)]

pub mod entities;
pub mod intents;
pub mod normalize;
pub mod sentiment;

pub use entities::{digits, extract, yes_no, Entities};
pub use intents::{IntentScore, IntentSet};
pub use sentiment::{summarize, CallSentiment, Emotion, Polarity, Sentiment, SentimentModel};
