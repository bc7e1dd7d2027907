//! The bot's understanding of a caller's words: intents matched against example phrases and
//! entities (digit strings, order/account/phone numbers, amounts, dates and times, yes/no).
//! Pure functions over text; `dialplan/` calls them.
//!
//! Input is a transcript from the speech recognizer (Whisper tiny.en: "I want to check the
//! status of my order.", "One, two, three, four.", "twelve thirty-four"), so everything here
//! treats text as untrusted and bounded, never panics, and does no I/O apart from
//! [`embed`]'s model load: no tokio, no clock.
//!
//! - [`normalize`]: tokens, a light stemmer and stopwords shared by the other two.
//! - [`intents`]: an [`IntentSet`] built once per dialplan scores an utterance against each
//!   intent's example phrases by weighted keyword overlap: the fallback when no embedding
//!   model is loaded, and the baseline `voxdesk eval` prints.
//! - [`semantic`]: the same [`IntentScore`] contract from embeddings (k-NN over examples).
//! - [`faq`]: knowledge files (Markdown Q&A) a dialplan attaches.
//! - [`understand`]: the [`Bot`] that reads one turn into an [`Analysis`] (intents, entities,
//!   sentiment, closest article) and a [`Decision`].
//! - [`embed`]: on-device sentence embeddings (all-MiniLM-L6-v2 on candle) for semantic
//!   matching; the one part that reads files (the model directory, once, at load).
//! - [`entities`]: [`digits`] ("my order number is one two three four" → "1234"), order,
//!   account and phone numbers by their cue words, an [`Amount`] ("twelve dollars fifty"), a
//!   date or time ("tomorrow at 3 p.m.", against a [`CivilDate`] the caller passes in) and
//!   [`yes_no`], collected into [`Entities`] by [`extract`], [`extract_for`] (the [`Slot`] the
//!   dialplan asked for takes a bare answer) and [`extract_at`] (with today's date).
//! - [`sentiment`]: per-turn polarity (VADER) and basic emotion (our own call-center lexicon,
//!   or emotion prototypes in the caller's embedding space) via [`SentimentModel`], and the
//!   call-level roll-up [`summarize`] into [`CallSentiment`] for the ticket.

#![warn(missing_docs, unreachable_pub)]

pub mod embed;
pub mod entities;
pub mod faq;
pub mod intents;
pub mod normalize;
pub mod semantic;
pub mod sentiment;
pub mod understand;

pub use entities::{
    digits, extract, extract_at, extract_for, yes_no, Amount, CivilDate, Entities, Slot, Weekday,
};
pub use faq::Faq;
pub use intents::{IntentScore, IntentSet};
pub use sentiment::{summarize, CallSentiment, Emotion, Polarity, Sentiment, SentimentModel};
pub use understand::{Analysis, Bot, Decision};
