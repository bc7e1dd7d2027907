//! `voxdesk bench speech`: a benchmark that prints figures, not a test. It starts this same
//! binary as `voxdesk serve` with dialplans/bench-speech.yaml on free 127.0.0.1 ports and
//! calls it from a small built-in SIP/RTP caller that speaks espeak-ng sentences, measuring
//! voice-to-voice latency on the wire and reading ASR time, transcripts and intents back from
//! the tickets over HTTP, at increasing numbers of concurrent calls.
//!
//! Owns: the sentences and their audio (`corpus`), the caller's conversation core (`script`,
//! sans-IO) and SIP core (`uac`, sans-IO, hand-written: see there), the socket shell around
//! them (`caller`), reading tickets (`tickets`), word error rate (`wer`), aggregation
//! (`figures`), the printout (`report`) and the orchestration (`run`). Reuses `bench`'s child
//! process guard and machine line.

mod caller;
mod corpus;
mod figures;
mod report;
mod run;
mod script;
mod tickets;
mod uac;
pub(crate) mod wer;

use std::path::PathBuf;

pub use run::run_speech;

use super::BenchError;
use crate::speech::TtsError;

/// Why the benchmark could not run (poor figures are printed, not errors).
#[derive(Debug, thiserror::Error)]
pub enum SpeechBenchError {
    /// Processes, ports, files.
    #[error("{0}")]
    Bench(#[from] BenchError),
    /// The callers' sentences could not be synthesized.
    #[error("espeak-ng: {0}")]
    Tts(#[from] TtsError),
    /// Bad command-line values.
    #[error("{0}")]
    Args(String),
}

impl From<std::io::Error> for SpeechBenchError {
    fn from(e: std::io::Error) -> Self {
        SpeechBenchError::Bench(BenchError::Io(e))
    }
}

/// Flags of `voxdesk bench speech`.
#[derive(Debug, Clone, clap::Args)]
pub struct SpeechBenchArgs {
    /// Calls per concurrency level (each says 2-3 sentences).
    #[arg(long, default_value_t = 24)]
    pub calls: usize,
    /// Concurrent calls to step through (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,6,8")]
    pub concurrency: Vec<usize>,
    /// Whisper model for voxdesk (`serve --model`) [default: voxdesk's, models/ggml-tiny.en.bin].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Parallel transcriptions in voxdesk (`[speech] asr_workers`) [default: voxdesk's].
    #[arg(long)]
    pub asr_workers: Option<usize>,
    /// CPU threads per transcription (`[speech] asr_threads`) [default: voxdesk's].
    #[arg(long)]
    pub asr_threads: Option<usize>,
    /// Voice-to-voice p95 target for the "largest concurrency" line, ms.
    #[arg(long, default_value_t = 1500.0)]
    pub target_ms: f64,
    /// voxdesk's RTP port range.
    #[arg(long, default_value = "20000-29999")]
    pub rtp_ports: String,
    /// voxdesk's log filter (RUST_LOG).
    #[arg(long, default_value = "warn")]
    pub log: String,
    /// Keep the working directory (config, voxdesk.log, tickets, utterances-cN.tsv with every
    /// reference and transcript) and print its path.
    #[arg(long)]
    pub keep: bool,
}

impl SpeechBenchArgs {
    fn check(&self) -> Result<(), SpeechBenchError> {
        let bad = |what: &str| Err(SpeechBenchError::Args(what.into()));
        if !(1..=1000).contains(&self.calls) {
            return bad("--calls must be 1..=1000");
        }
        if self.concurrency.is_empty() || self.concurrency.iter().any(|c| !(1..=200).contains(c)) {
            return bad("--concurrency must list values in 1..=200");
        }
        let pool = [self.asr_workers, self.asr_threads];
        if pool.iter().flatten().any(|n| !(1..=64).contains(n)) {
            return bad("--asr-workers and --asr-threads must be 1..=64");
        }
        if !(self.target_ms > 0.0 && self.target_ms < 600_000.0) {
            return bad("--target-ms must be between 0 and 600000");
        }
        crate::config::parse_port_range(&self.rtp_ports)
            .map_err(|e| SpeechBenchError::Args(e.to_string()))?;
        Ok(())
    }
}
