//! `voxdesk bench sip`: a benchmark that prints figures, not a test. It starts this same binary
//! as `voxdesk serve` and SIPp processes on free 127.0.0.1 ports, drives them, and prints
//! signalling throughput and answer latency, RTP pacing jitter and memory per call, each next
//! to SIPp's own UAS as the reference measured in the same run.
//!
//! Owns: the orchestration (`run`), SIPp command lines and result parsing (`sipp`), the child
//! processes (`procs`), the RTP probe (`probe` shell around the sans-IO `jitter` meter), the
//! reference pcap (`pcap`) and the printout (`report`). It talks to voxdesk only over SIP, RTP,
//! HTTP `/healthz` and `/proc`, exactly as an outside load generator would.

pub mod bridge;
mod jitter;
mod machine;
mod pcap;
mod probe;
mod procs;
mod report;
mod run;
mod sipp;
pub mod speech;

use std::path::PathBuf;

pub use bridge::{run_bridge, BridgeBenchArgs};
pub use run::run_sip;
pub use speech::{run_speech, SpeechBenchArgs};

/// Why the benchmark could not run (not: why voxdesk did badly; that is printed as a figure).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Files, sockets or threads.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A program could not be started.
    #[error("cannot start {0}: {1} (is it installed? SIPp is Debian's sip-tester)")]
    Spawn(String, std::io::Error),
    /// A server died or never became ready.
    #[error("{0}")]
    Died(String),
    /// SIPp's output was missing or unreadable.
    #[error("SIPp: {0}")]
    Sipp(String),
    /// No free local port after several tries.
    #[error("no free 127.0.0.1 port found")]
    NoFreePort,
    /// Bad command-line values.
    #[error("{0}")]
    Args(String),
}

/// Which measurements to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Signalling, then RTP pacing and memory.
    All,
    /// Calls per second and answer latency only.
    Signalling,
    /// RTP pacing and memory per call only.
    Media,
}

/// Flags of `voxdesk bench sip`.
#[derive(Debug, Clone, clap::Args)]
pub struct SipBenchArgs {
    /// Short run for smoke tests: rates 100, 1 s steps, 10 calls, 1 s of RTP.
    #[arg(long)]
    pub quick: bool,
    /// Call rates to step through (calls/s); stepping stops after the first rate with failures.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "200,400,800,1000,1500,2000,3000,4000"
    )]
    pub rates: Vec<u32>,
    /// Seconds per rate step.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Milliseconds between ACK and BYE in the signalling test.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// Concurrent calls for the RTP pacing and memory test (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100,300")]
    pub calls: Vec<usize>,
    /// Seconds of RTP measured per call count, after all calls are up and a 2 s warm-up.
    #[arg(long, default_value_t = 10)]
    pub rtp_secs: u64,
    /// New calls per second while setting up the RTP test's calls.
    #[arg(long, default_value_t = 100)]
    pub setup_rate: u32,
    /// Record every call to WAV during the RTP test (`[media] record`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub record: bool,
    /// Which measurements to run.
    #[arg(long, value_enum, default_value_t = Part::All)]
    pub only: Part,
    /// voxdesk's RTP port range.
    #[arg(long, default_value = "20000-29999")]
    pub rtp_ports: String,
    /// voxdesk's log filter (RUST_LOG); `info` logs two lines per call.
    #[arg(long, default_value = "warn")]
    pub log: String,
    /// The SIPp program.
    #[arg(long, default_value = "sipp")]
    pub sipp: PathBuf,
    /// Keep the working directory (configs, logs, SIPp statistics) and print its path.
    #[arg(long)]
    pub keep: bool,
}

impl SipBenchArgs {
    /// Applies `--quick` and checks ranges.
    fn effective(&self) -> Result<SipBenchArgs, BenchError> {
        let mut args = self.clone();
        if args.quick {
            args.rates = vec![100];
            args.duration = 1;
            args.calls = vec![10];
            args.rtp_secs = 1;
        }
        let bad = |what: &str| Err(BenchError::Args(what.into()));
        if args.rates.is_empty() || args.rates.iter().any(|r| !(1..=20_000).contains(r)) {
            return bad("--rates must be 1..=20000 calls/s");
        }
        if !(1..=600).contains(&args.duration) || !(1..=600).contains(&args.rtp_secs) {
            return bad("--duration and --rtp-secs must be 1..=600 s");
        }
        if args.calls.is_empty() || args.calls.iter().any(|c| !(1..=2000).contains(c)) {
            return bad("--calls must be 1..=2000");
        }
        if !(1..=1000).contains(&args.setup_rate) || args.hold_ms > 60_000 {
            return bad("--setup-rate must be 1..=1000 and --hold-ms at most 60000");
        }
        crate::config::parse_port_range(&args.rtp_ports)
            .map_err(|e| BenchError::Args(e.to_string()))?;
        Ok(args)
    }
}
