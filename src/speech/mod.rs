//! Speech: everything between call audio and words.
//!
//! Owns, for `call/`:
//! - VAD + endpointing and the ASR worker pool (whisper-rs): **not built yet**, the next issue
//!   puts them here as `endpoint` (a sans-IO state machine) and `asr` (the worker pool);
//! - TTS ([`tts`], in-process espeak-ng), prompt files ([`wav`]) and the prompt cache
//!   ([`prompt`]), which turn dialplan text and WAV files into 8 kHz mono `i16` audio ready
//!   for `media/` to packetise; [`resample`] brings any source rate to 8 kHz.
//!
//! Must not import `sip/`, `dialplan/`, `tickets/` or `api/`: callers hand in text or paths
//! and get samples back.

pub mod ct2;
mod espeak;
pub mod prompt;
pub mod resample;
pub mod tts;
pub mod wav;

pub use prompt::{PromptCache, PromptCacheLimits};
pub use tts::TtsError;
