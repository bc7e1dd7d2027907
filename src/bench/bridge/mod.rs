//! `voxdesk bench bridge`: figures for N concurrent bridged calls (caller ⇄ voxdesk ⇄ agent).
//! A benchmark that prints numbers, not a test.
//!
//! Setup: this binary as `voxdesk serve` with a generated agents file (N agents
//! `bench001…`, all in queue `bench`, longest-idle, 1 s wrap-up), a two-step dialplan that
//! queues every call, `[agents] challenge = ["MD5"]` and recording off. One SIPp registers
//! all N agents (sipp-scenarios/bench_agent_register.xml, user and digest credentials from an
//! injection file), all with the Contact of one SIPp that answers every agent leg
//! (bench_agent_uas.xml, PCMU). One SIPp caller (bench_uac.xml) places the N calls.
//!
//! How it measures: on the wire, with the bench itself as the RTP endpoint of both legs (the
//! callers' SDP and the agent phone's SDP answer name bench sockets, one per leg). Each leg
//! sends voxdesk a 20 ms PCMU frame every 20 ms whose payload marks which socket sent it and
//! its frame number; both legs are PCMU, so voxdesk's decode → bridge → encode returns the
//! bytes unchanged and the marked frame is recognised when it leaves voxdesk on the other
//! leg (see `meter`). Added latency = arrival on the other leg − send time, both stamped in
//! the bench on 127.0.0.1, so it is voxdesk's time from packet in to packet out plus two
//! loopback hops (microseconds). It includes voxdesk's receive jitter buffer
//! (`[media] jitter_depth`, 3 frames by default), the bridge's frame queue and the wait for
//! the other leg's 20 ms send tick. Jitter of the bridged stream = per packet |arrival gap −
//! 20 ms| at the agent legs' sockets (the same meter as `bench sip`), next to the same figure
//! for what the bench itself sent (the input's pacing). CPU per bridged call = voxdesk's
//! utime + stime from /proc over the window / window / bridged calls.

mod media;
mod meter;
mod report;
mod run;

use std::path::PathBuf;

pub use run::run_bridge;

use super::BenchError;

/// Flags of `voxdesk bench bridge`.
#[derive(Debug, Clone, clap::Args)]
pub struct BridgeBenchArgs {
    /// Concurrent bridged calls.
    #[arg(long, default_value_t = 200)]
    pub calls: usize,
    /// Seconds measured once every call is bridged and a warm-up has passed.
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// New calls (and agent registrations) per second while setting up.
    #[arg(long, default_value_t = 50)]
    pub setup_rate: u32,
    /// Short run for smoke tests: 10 calls, 3 s measured.
    #[arg(long)]
    pub quick: bool,
    /// voxdesk's RTP port range (two ports per bridged call).
    #[arg(long, default_value = "20000-29999")]
    pub rtp_ports: String,
    /// voxdesk's log filter (RUST_LOG).
    #[arg(long, default_value = "warn")]
    pub log: String,
    /// The SIPp program.
    #[arg(long, default_value = "sipp")]
    pub sipp: PathBuf,
    /// Keep the working directory (configs, logs, SIPp statistics) and print its path.
    #[arg(long)]
    pub keep: bool,
}

impl BridgeBenchArgs {
    /// Applies `--quick` and checks ranges.
    fn effective(&self) -> Result<BridgeBenchArgs, BenchError> {
        let mut args = self.clone();
        if args.quick {
            args.calls = 10;
            args.secs = 3;
        }
        let bad = |what: &str| Err(BenchError::Args(what.into()));
        if !(1..=2000).contains(&args.calls) {
            return bad("--calls must be 1..=2000");
        }
        if !(1..=600).contains(&args.secs) {
            return bad("--secs must be 1..=600");
        }
        if !(1..=500).contains(&args.setup_rate) {
            return bad("--setup-rate must be 1..=500");
        }
        crate::config::parse_port_range(&args.rtp_ports)
            .map_err(|e| BenchError::Args(e.to_string()))?;
        Ok(args)
    }
}
