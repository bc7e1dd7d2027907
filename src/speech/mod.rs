//! Speech: everything between call audio and words.
//!
//! Owns, for `call/`:
//! - voice activity detection ([`vad`]) and endpointing ([`endpoint`], a sans-IO state machine
//!   that cuts caller audio into utterances) and the ASR worker pool ([`asr`], whisper-rs),
//!   loading ggml Whisper models that [`ct2`] converts from CTranslate2 format
//!   (`voxdesk models import-ct2`) and [`verify`] checks end to end (`voxdesk models verify`).
//!   None of this is wired into calls yet;
//! - TTS ([`tts`], in-process espeak-ng), prompt files ([`wav`]) and the prompt cache
//!   ([`prompt`]), which turn dialplan text and WAV files into 8 kHz mono `i16` audio ready
//!   for `media/` to packetise; [`resample`] brings any source rate to 8 kHz.
//!
//! Must not import `sip/`, `dialplan/`, `tickets/` or `api/`: callers hand in text or paths
//! and get samples back.

pub mod asr;
pub mod ct2;
pub mod endpoint;
mod espeak;
pub mod prompt;
pub mod resample;
pub mod tts;
pub mod vad;
pub mod verify;
pub mod wav;

pub use prompt::{PromptCache, PromptCacheLimits};
pub use tts::TtsError;
