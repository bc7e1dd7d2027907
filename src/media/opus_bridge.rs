//! Opus ↔ G.711 transcoding for a browser leg: the browser speaks Opus at 48 kHz, the call
//! layer speaks 8 kHz G.711, and [`OpusBridge`] converts 20 ms frames between the two
//! (sans-IO: payloads in, payloads out; RTP framing stays in `webrtc.rs`).
//!
//! Opus itself is libopus through the `opus` crate. The 48 kHz ↔ 8 kHz resampling is a
//! hand-written polyphase FIR rather than `rubato`: the factor is the integer 6, so one
//! fixed windowed-sinc low-pass (anti-alias on the way down, anti-image on the way up)
//! computed only at the kept output phases does it exactly per 20 ms frame, without
//! rubato's chunk buffering, float conversion layers or allocation per call.

use std::collections::VecDeque;

use super::{Codec, FRAME_SAMPLES};

/// Opus's sample rate on the browser side (RFC 7587: the RTP clock is always 48 kHz).
pub const OPUS_RATE: u32 = 48_000;
/// 48 kHz samples per 8 kHz sample.
const FACTOR: usize = 6;
/// Samples in one 20 ms Opus frame (what is encoded towards the browser).
pub const OPUS_FRAME_SAMPLES: usize = FRAME_SAMPLES * FACTOR;
/// The longest Opus packet decodes to 120 ms.
const MAX_DECODED: usize = OPUS_FRAME_SAMPLES * 6;
/// Encoder bitrate towards the browser: plenty for narrowband speech.
const BITRATE: i32 = 24_000;
/// Largest encoded packet accepted from libopus (RFC 6716 allows 1275 bytes per frame).
const MAX_PACKET: usize = 1500;
/// FIR length at 48 kHz: a multiple of [`FACTOR`] so each polyphase branch is equal.
const TAPS: usize = 144;
/// Low-pass cutoff: keeps the telephone band (300–3400 Hz), attenuates by 4 kHz.
const CUTOFF_HZ: f32 = 3_500.0;
/// Most 8 kHz samples kept waiting for a full frame (a bound against odd packet sizes).
const MAX_PENDING: usize = FRAME_SAMPLES * 8;

/// Why a bridge could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpusBridgeError {
    /// libopus refused to create an encoder or decoder.
    #[error("opus: {0}")]
    Codec(#[from] ::opus::Error),
}

/// One browser leg's transcoder, one instance per leg (codec and filter state is per stream).
pub struct OpusBridge {
    g711: Codec,
    decoder: ::opus::Decoder,
    encoder: ::opus::Encoder,
    down: Decimator,
    up: Interpolator,
    /// Decoded 8 kHz samples not yet a whole G.711 frame.
    pending_8k: VecDeque<i16>,
    /// Upsampled 48 kHz samples not yet a whole Opus frame.
    pending_48k: VecDeque<i16>,
    decoded: Vec<i16>,
}

impl OpusBridge {
    /// A bridge between mono 48 kHz Opus and `g711` (the local RTP leg's codec).
    pub fn new(g711: Codec) -> Result<OpusBridge, OpusBridgeError> {
        let decoder = ::opus::Decoder::new(OPUS_RATE, ::opus::Channels::Mono)?;
        let mut encoder =
            ::opus::Encoder::new(OPUS_RATE, ::opus::Channels::Mono, ::opus::Application::Voip)?;
        encoder.set_bitrate(::opus::Bitrate::Bits(BITRATE))?;
        Ok(OpusBridge {
            g711,
            decoder,
            encoder,
            down: Decimator::new(),
            up: Interpolator::new(),
            pending_8k: VecDeque::new(),
            pending_48k: VecDeque::new(),
            decoded: vec![0; MAX_DECODED],
        })
    }

    /// Browser → call: one Opus payload in, the whole 20 ms G.711 frames it completes out.
    /// A payload libopus cannot decode (or an empty one) yields nothing.
    pub fn push_opus(&mut self, payload: &[u8]) -> Vec<Vec<u8>> {
        if payload.is_empty() {
            return Vec::new();
        }
        let Ok(count) = self.decoder.decode(payload, &mut self.decoded, false) else {
            return Vec::new();
        };
        let decoded = self.decoded.get(..count).unwrap_or_default();
        for chunk in decoded.chunks_exact(FACTOR) {
            self.pending_8k.push_back(self.down.push(chunk));
        }
        while self.pending_8k.len() > MAX_PENDING {
            self.pending_8k.pop_front();
        }
        let mut frames = Vec::new();
        while self.pending_8k.len() >= FRAME_SAMPLES {
            let frame: Vec<i16> = self.pending_8k.drain(..FRAME_SAMPLES).collect();
            frames.push(self.g711.encode(&frame));
        }
        frames
    }

    /// Call → browser: one G.711 payload in, an Opus payload out once 20 ms are complete
    /// (at most one per call: G.711 frames are 20 ms too; anything beyond is kept for later).
    pub fn push_g711(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        for sample in self.g711.decode(payload) {
            self.pending_48k.extend(self.up.push(sample));
        }
        while self.pending_48k.len() > MAX_PENDING * FACTOR {
            self.pending_48k.pop_front();
        }
        if self.pending_48k.len() < OPUS_FRAME_SAMPLES {
            return None;
        }
        let frame: Vec<i16> = self.pending_48k.drain(..OPUS_FRAME_SAMPLES).collect();
        self.encoder.encode_vec(&frame, MAX_PACKET).ok()
    }
}

/// The low-pass prototype at 48 kHz: a Blackman-windowed sinc with unity DC gain.
fn lowpass() -> [f32; TAPS] {
    let mut taps = [0f32; TAPS];
    let centre = (TAPS - 1) as f32 / 2.0;
    let cutoff = CUTOFF_HZ / OPUS_RATE as f32;
    let last = (TAPS - 1) as f32;
    for (n, tap) in taps.iter_mut().enumerate() {
        let t = n as f32 - centre;
        let sinc = if t == 0.0 {
            2.0 * cutoff
        } else {
            (2.0 * std::f32::consts::PI * cutoff * t).sin() / (std::f32::consts::PI * t)
        };
        let phase = 2.0 * std::f32::consts::PI * n as f32 / last;
        let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
        *tap = sinc * window;
    }
    let sum: f32 = taps.iter().sum();
    taps.iter_mut().for_each(|tap| *tap /= sum);
    taps
}

fn saturate(value: f32) -> i16 {
    value.round().clamp(i16::MIN.into(), i16::MAX.into()) as i16
}

/// 48 kHz → 8 kHz: filters and keeps every sixth sample, computing only the kept ones.
struct Decimator {
    taps: [f32; TAPS],
    /// The last [`TAPS`] input samples, oldest first.
    history: VecDeque<f32>,
}

impl Decimator {
    fn new() -> Decimator {
        Decimator {
            taps: lowpass(),
            history: std::iter::repeat_n(0.0, TAPS).collect(),
        }
    }

    /// Six 48 kHz samples in, one 8 kHz sample out.
    fn push(&mut self, samples: &[i16]) -> i16 {
        for &sample in samples {
            self.history.pop_front();
            self.history.push_back(f32::from(sample));
        }
        let sum: f32 = self
            .history
            .iter()
            .rev()
            .zip(self.taps.iter())
            .map(|(x, h)| x * h)
            .sum();
        saturate(sum)
    }
}

/// 8 kHz → 48 kHz: zero-stuffing and the same low-pass, as six polyphase branches.
struct Interpolator {
    /// `branches[p][k]` = `FACTOR * taps[k * FACTOR + p]` (the gain restores the level the
    /// five stuffed zeros take away).
    branches: [[f32; TAPS / FACTOR]; FACTOR],
    /// The last `TAPS / FACTOR` input samples, newest first.
    history: VecDeque<f32>,
}

impl Interpolator {
    fn new() -> Interpolator {
        let taps = lowpass();
        let mut branches = [[0f32; TAPS / FACTOR]; FACTOR];
        for (n, tap) in taps.iter().enumerate() {
            if let Some(slot) = branches
                .get_mut(n % FACTOR)
                .and_then(|branch| branch.get_mut(n / FACTOR))
            {
                *slot = tap * FACTOR as f32;
            }
        }
        Interpolator {
            branches,
            history: std::iter::repeat_n(0.0, TAPS / FACTOR).collect(),
        }
    }

    /// One 8 kHz sample in, six 48 kHz samples out.
    fn push(&mut self, sample: i16) -> [i16; FACTOR] {
        self.history.pop_back();
        self.history.push_front(f32::from(sample));
        let mut out = [0i16; FACTOR];
        for (slot, branch) in out.iter_mut().zip(self.branches.iter()) {
            let sum: f32 = self
                .history
                .iter()
                .zip(branch.iter())
                .map(|(x, h)| x * h)
                .sum();
            *slot = saturate(sum);
        }
        out
    }
}

#[cfg(test)]
#[path = "opus_bridge_tests.rs"]
mod tests;
