//! voxdesk: a self-hosted voice-bot call center in one binary.
//!
//! Data flows one way through a call: [`sip`] → [`call`] → ([`media`] ⇄ [`speech`]) →
//! [`dialplan`] → [`speech`] (TTS) → [`media`] → RTP out. [`call`] emits events that
//! [`tickets`] and [`api`] consume; nothing below `call` knows about tickets or HTTP.

pub mod acd;
pub mod api;
pub mod bench;
pub mod bot;
pub mod call;
pub mod config;
pub mod dialplan;
pub mod eval;
pub mod media;
pub mod metrics;
pub mod sdp;
pub mod server;
pub mod sip;
pub mod speech;
pub mod tickets;
mod yaml;
