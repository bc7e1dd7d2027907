//! Speech recognition: a bounded pool of Whisper (whisper.cpp via whisper-rs) workers.
//!
//! One model ([`WhisperContext`]) is loaded once and shared; each worker is a dedicated std
//! thread with its own decoding state, because a transcription is seconds of blocking CPU work
//! that must never run on the tokio runtime. Jobs go through a bounded queue and
//! [`AsrPool::try_submit`] never waits: when the queue is full the caller gets [`AsrBusy`]
//! and degrades (e.g. falls back to DTMF) instead of stalling a call. Results come back on a
//! `tokio::sync::oneshot` channel, awaitable from async code; if a transcription fails its
//! sender is dropped, so the receiver yields an error.
//!
//! Utterances are short, so the encoder window (`audio_ctx`, 1500 positions = 30 s) is cut
//! to the utterance length plus headroom: about 2x faster on a 4 s utterance.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperError,
    WhisperState, WhisperTokenId,
};

use super::resample::{i16_to_f32, resample};

/// Whisper's input rate; call audio arrives at [`crate::media::SAMPLE_RATE`].
const WHISPER_HZ: u32 = 16_000;
/// Whisper sees at most 30 s; longer utterances are truncated.
const MAX_UTTERANCE_SECS: usize = 30;
/// Encoder positions per second of audio (1500 per 30 s window).
const AUDIO_CTX_PER_SEC: usize = 50;
const FULL_AUDIO_CTX: usize = 1500;
/// Extra encoder positions beyond the utterance: cutting the window exactly at the end of
/// speech makes the decoder drop or invent the last word.
const AUDIO_CTX_HEADROOM: usize = 64;
/// Silence put before and after an utterance, at 16 kHz (200 ms).
const EDGE_PAD_SAMPLES: usize = 3_200;
/// Whisper's text context is 448 tokens; half of it is the most one segment may use.
const MAX_TEXT_TOKENS: usize = 224;
/// Upper bound on waiting jobs (the channel allocates its buffer up front).
pub const MAX_QUEUE: usize = 1024;
/// Bounds the hint text handed to the decoder (its context is 448 tokens).
const MAX_PROMPT_BYTES: usize = 512;
/// Texts Whisper produces from silence or noise rather than from speech.
const HALLUCINATIONS: &[&str] = &[
    "thank you.",
    "thank you",
    "thanks for watching!",
    "[blank_audio]",
    "(silence)",
    "[silence]",
    "(music)",
    "[music]",
    // What tiny.en hears in digital silence (measured: confidence 0.23).
    "you",
    "you.",
];

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("loading Whisper model {path}: {source}")]
    Load { path: String, source: WhisperError },
    #[error("creating Whisper state: {0}")]
    State(WhisperError),
    #[error("starting ASR worker thread: {0}")]
    Spawn(std::io::Error),
}

/// The queue is full (or the pool is shutting down): the caller should degrade, not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ASR busy: transcription queue full")]
pub struct AsrBusy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsrConfig {
    /// Concurrent transcriptions (each holds its own Whisper state, ~tens of MB).
    pub workers: usize,
    /// whisper.cpp threads per transcription.
    pub threads_per_worker: usize,
    /// Jobs waiting for a worker beyond those being transcribed.
    pub queue: usize,
    /// Beam width; 1 decodes greedily (fastest).
    pub beam_size: usize,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            threads_per_worker: 2,
            queue: 4,
            beam_size: 1,
        }
    }
}

/// One utterance to transcribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsrJob {
    /// 8 kHz mono call audio.
    pub samples: Vec<i16>,
    /// Words likely to be said (menu options, names): biases the decoder towards them.
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Trimmed text; empty when nothing (or only a known hallucination) was heard.
    pub text: String,
    /// Mean probability of the text tokens, 0 when there are none.
    pub confidence: f32,
    /// Whisper's probability that the audio holds no speech.
    pub no_speech_prob: f32,
    /// Time spent transcribing (excluding queueing).
    pub elapsed: Duration,
}

/// Above this no-speech probability a low-confidence transcript is taken for noise.
const NO_SPEECH_THRESHOLD: f32 = 0.6;
/// Below this confidence a likely-silent transcript is taken for noise.
const NOISE_CONFIDENCE: f32 = 0.4;

impl Transcript {
    /// Whisper thinks there was no speech and is unsure of its words: treat as noise.
    pub fn is_noise(&self) -> bool {
        self.text.is_empty()
            || (self.no_speech_prob > NO_SPEECH_THRESHOLD && self.confidence < NOISE_CONFIDENCE)
    }
}

type Queued = (AsrJob, oneshot::Sender<Transcript>);

pub struct AsrPool {
    jobs: Option<SyncSender<Queued>>,
    workers: Vec<JoinHandle<()>>,
}

impl AsrPool {
    /// Loads the ggml model and starts the workers. Workers and threads are clamped to 1..=64
    /// and the queue to [`MAX_QUEUE`]; a zero queue accepts a job only while a worker is idle.
    pub fn new(model_path: &Path, config: AsrConfig) -> Result<Self, AsrError> {
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let path = model_path.to_string_lossy().into_owned();
        let context = WhisperContext::new_with_params(&path, params)
            .map_err(|source| AsrError::Load { path, source })?;
        let context = Arc::new(context);
        let threads = config.threads_per_worker.clamp(1, 64);
        let beam = config.beam_size.clamp(1, 8);
        let (jobs, queue) = mpsc::sync_channel::<Queued>(config.queue.min(MAX_QUEUE));
        let queue = Arc::new(Mutex::new(queue));
        let mut pool = Self {
            jobs: Some(jobs),
            workers: Vec::new(),
        };
        for index in 0..config.workers.clamp(1, 64) {
            let state = context.create_state().map_err(AsrError::State)?;
            let queue = Arc::clone(&queue);
            let context = Arc::clone(&context);
            let handle = std::thread::Builder::new()
                .name(format!("asr-{index}"))
                .spawn(move || run_worker(&context, state, threads, beam, &queue))
                .map_err(AsrError::Spawn)?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Queues `job` without blocking; the receiver resolves when it is transcribed.
    pub fn try_submit(&self, job: AsrJob) -> Result<oneshot::Receiver<Transcript>, AsrBusy> {
        let jobs = self.jobs.as_ref().ok_or(AsrBusy)?;
        let (reply, result) = oneshot::channel();
        match jobs.try_send((job, reply)) {
            Ok(()) => Ok(result),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(AsrBusy),
        }
    }
}

impl Drop for AsrPool {
    /// Lets queued jobs finish, then joins the workers.
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn run_worker(
    context: &WhisperContext,
    mut state: WhisperState,
    threads: usize,
    beam: usize,
    queue: &Mutex<Receiver<Queued>>,
) {
    loop {
        let next = {
            let queue = match queue.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            queue.recv()
        };
        let Ok((job, reply)) = next else {
            return;
        };
        if reply.is_closed() {
            continue;
        }
        match transcribe(context, &mut state, threads, beam, &job) {
            Ok(transcript) => {
                let _ = reply.send(transcript);
            }
            Err(e) => tracing::warn!("ASR transcription failed: {e}"),
        }
    }
}

fn transcribe(
    context: &WhisperContext,
    state: &mut WhisperState,
    threads: usize,
    beam: usize,
    job: &AsrJob,
) -> Result<Transcript, WhisperError> {
    let started = Instant::now();
    let max_samples = crate::media::SAMPLE_RATE as usize * MAX_UTTERANCE_SECS;
    let samples = job.samples.get(..max_samples).unwrap_or(&job.samples);
    let narrowband: Vec<f32> = samples.iter().copied().map(i16_to_f32).collect();
    // Both rates are fixed and valid, so resampling cannot fail; an empty job stays empty.
    let mut audio =
        resample(&narrowband, crate::media::SAMPLE_RATE, WHISPER_HZ).unwrap_or_default();
    let hints = hint_tokens(context, job.prompt.as_deref());
    let strategy = match i32::try_from(beam) {
        Ok(beam_size) if beam_size > 1 => SamplingStrategy::BeamSearch {
            beam_size,
            patience: -1.0,
        },
        _ => SamplingStrategy::Greedy { best_of: 1 },
    };
    let mut params = FullParams::new(strategy);
    params.set_n_threads(i32::try_from(threads).unwrap_or(1));
    params.set_language(Some("en"));
    params.set_no_timestamps(true);
    params.set_single_segment(true);
    params.set_no_context(true);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    params.set_audio_ctx(i32::try_from(audio_ctx(samples.len())).unwrap_or(0));
    // No re-decoding at higher temperatures: on a mishearing whisper.cpp's fallback loops
    // for seconds (measured: up to minutes on a busy machine), far worse than a no-match.
    params.set_temperature_inc(0.0);
    params.set_max_tokens(i32::try_from(max_tokens(samples.len())).unwrap_or(0));
    if !hints.is_empty() {
        params.set_tokens(&hints);
    }
    // Whisper drops first words that start right at the edge of its window (measured: 25 vs
    // 22 words missed in 72 with 300 ms of silence around the utterance).
    let pad = vec![0.0f32; EDGE_PAD_SAMPLES];
    audio.splice(0..0, pad.iter().copied());
    audio.extend(pad);
    // whisper.cpp skips input shorter than 1 s; pad with silence instead.
    if audio.len() < WHISPER_HZ as usize {
        audio.resize(WHISPER_HZ as usize, 0.0);
    }
    state.full(params, &audio)?;
    let mut text = String::new();
    let mut probability_sum = 0.0f32;
    let mut tokens = 0u32;
    let mut no_speech_prob = 0.0f32;
    let eot = context.token_eot();
    for segment in state.as_iter() {
        text.push_str(&segment.to_str_lossy()?);
        no_speech_prob = no_speech_prob.max(segment.no_speech_probability());
        for index in 0..segment.n_tokens() {
            let Some(token) = segment.get_token(index) else {
                continue;
            };
            // Ids from end-of-text on are special (start, language, timestamps), not words.
            if token.token_id() >= eot {
                continue;
            }
            probability_sum += token.token_probability();
            tokens += 1;
        }
    }
    // A decoder that ran into the token cap was looping, whatever the punctuation says.
    let looped = tokens as usize + 2 >= max_tokens(samples.len());
    let mut text = collapse_repeats(text.trim(), looped);
    if looped {
        text = squash_runs(&text);
    }
    let text = filter_hallucination(&text);
    let confidence = if text.is_empty() || tokens == 0 {
        0.0
    } else {
        probability_sum / tokens as f32
    };
    Ok(Transcript {
        text,
        confidence,
        no_speech_prob,
        elapsed: started.elapsed(),
    })
}

/// Text tokens an utterance of `samples` at 8 kHz may produce: fast speech is about four
/// tokens a second; the cap stops a decoder stuck repeating itself.
fn max_tokens(samples: usize) -> usize {
    let secs = samples.div_ceil(crate::media::SAMPLE_RATE as usize);
    (secs * 8 + 16).min(MAX_TEXT_TOKENS)
}

/// Encoder window for an utterance of `samples` at 8 kHz: its length plus headroom.
fn audio_ctx(samples: usize) -> usize {
    let rate = crate::media::SAMPLE_RATE as usize;
    let positions = samples.saturating_mul(AUDIO_CTX_PER_SEC).div_ceil(rate);
    (positions + AUDIO_CTX_HEADROOM).min(FULL_AUDIO_CTX)
}

/// The hint text as decoder prompt tokens. Tokenized here rather than through
/// `FullParams::set_initial_prompt`, which leaks its copy of the text on every call.
fn hint_tokens(context: &WhisperContext, prompt: Option<&str>) -> Vec<WhisperTokenId> {
    let Some(prompt) = prompt.map(sanitize_prompt).filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    // A token covers at least one byte, so this bound is never exceeded (whisper-rs only
    // handles the -1 overflow return correctly).
    let max_tokens = prompt.len() + 1;
    context.tokenize(&prompt, max_tokens).unwrap_or_default()
}

/// Drops NUL bytes (the C API cannot carry them; hints come from dialplan files) and bounds
/// the length.
fn sanitize_prompt(prompt: &str) -> String {
    let mut clean: String = prompt.chars().filter(|&c| c != '\0').collect();
    if clean.len() > MAX_PROMPT_BYTES {
        let mut end = MAX_PROMPT_BYTES;
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        clean.truncate(end);
    }
    clean
}

/// The first sentence(s) when the decoder got stuck repeating them (it does on short windows
/// with a hint prompt), else the text unchanged. A repeat must end a sentence unless the
/// decoder is known to have `looped`: "no no" or "1 2 1 2" may well be what was said.
fn collapse_repeats(text: &str, looped: bool) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bare = |w: &&str| w.trim_end_matches([',', '.', '?', '!']).to_string();
    let stems: Vec<String> = words.iter().map(bare).collect();
    for unit in 1..=words.len() / 2 {
        let ends_sentence = words
            .get(unit - 1)
            .is_some_and(|w| w.ends_with(['.', '?', '!']));
        let repeats = stems
            .iter()
            .enumerate()
            .all(|(i, w)| stems.get(i % unit) == Some(w));
        if (ends_sentence || looped) && repeats {
            let kept = words.get(..unit).unwrap_or_default().join(" ");
            return kept.trim_end_matches(',').to_string();
        }
    }
    text.to_string()
}

/// Drops immediate repeats of one to four words ("goodbye, goodbye, goodbye" → "goodbye,"):
/// what is left of a decoder loop that did not start at the first word.
fn squash_runs(text: &str) -> String {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let bare = |w: &str| w.trim_end_matches([',', '.', '?', '!']).to_lowercase();
    for n in (1..=4).rev() {
        let mut i = 0;
        while i + 2 * n <= words.len() {
            let same = (0..n).all(|k| {
                let (Some(a), Some(b)) = (words.get(i + k), words.get(i + n + k)) else {
                    return false;
                };
                bare(a) == bare(b)
            });
            if same {
                words.drain(i + n..i + 2 * n);
            } else {
                i += 1;
            }
        }
    }
    words.join(" ")
}

/// Empty for texts Whisper invents from non-speech, else the text unchanged.
fn filter_hallucination(text: &str) -> String {
    let only_punctuation = text
        .chars()
        .all(|c| c.is_ascii_punctuation() || c.is_whitespace());
    // "(speaking in foreign language)", "[MUSIC]": descriptions, not words.
    let trimmed = text.trim();
    let described = (trimmed.starts_with('(') && trimmed.ends_with(')'))
        || (trimmed.starts_with('[') && trimmed.ends_with(']'));
    let lower = text.to_lowercase();
    if only_punctuation || described || HALLUCINATIONS.contains(&lower.as_str()) {
        String::new()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
#[path = "asr_tests.rs"]
mod tests;
