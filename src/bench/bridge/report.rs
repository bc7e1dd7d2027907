//! The printout of `voxdesk bench bridge`: pure formatting over the results, so it is testable.

use std::fmt::Write as _;

use super::media::MediaFigures;
use super::meter::LatencySummary;
use crate::bench::jitter::JitterSummary;
use crate::bench::machine::Machine;

/// Everything measured.
#[derive(Debug, Clone)]
pub struct BridgeReport {
    /// Where.
    pub machine: Machine,
    /// How voxdesk and SIPp were run, one line each.
    pub settings: Vec<String>,
    /// Calls asked for.
    pub calls: usize,
    /// Agents registered (SIPp's successful REGISTER calls).
    pub registered: u64,
    /// Calls bridged both ways before the window.
    pub bridged: usize,
    /// Calls SIPp's callers counted as failed by the end of the window.
    pub failed_calls: u64,
    /// Seconds measured.
    pub secs: u64,
    /// The wire figures.
    pub media: MediaFigures,
    /// voxdesk's CPU over the window, percent of one core.
    pub cpu_pct: Option<f64>,
    /// voxdesk's VmRSS with agents registered, before the calls, and with them bridged, KiB.
    pub rss_kib: (Option<u64>, Option<u64>),
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn latency_line(out: &mut String, what: &str, l: &LatencySummary) {
    let _ = writeln!(
        out,
        "bridge added latency {what}: p50 {} ms, p99 {} ms, max {} ms ({} frames matched, {} unmatched, {} misrouted, {} unmarked)",
        ms(l.p50_us),
        ms(l.p99_us),
        ms(l.max_us),
        l.matched,
        l.unmatched,
        l.misrouted,
        l.unmarked
    );
}

fn jitter_line(out: &mut String, what: &str, j: &JitterSummary) {
    let _ = writeln!(
        out,
        "jitter {what}: p50 {} ms, p99 {} ms, max {} ms ({} streams, {} intervals, {} gaps >= 40 ms, {} sequence gaps)",
        ms(j.p50_us),
        ms(j.p99_us),
        ms(j.max_us),
        j.streams,
        j.intervals,
        j.long_gaps,
        j.seq_gaps
    );
}

/// The whole printout.
pub fn render(r: &BridgeReport) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let files = m.open_files.map_or("?".into(), |n| n.to_string());
    let _ = writeln!(out, "voxdesk bench bridge  {}", m.date);
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, open files {files}, load {} at start, {}",
        m.cpus, m.cpu_model, m.load, m.sipp
    );
    for line in &r.settings {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\ncalls: {} asked, {} agents registered, {} bridged both ways, {} failed (SIPp callers); {} s measured",
        r.calls, r.registered, r.bridged, r.failed_calls, r.secs
    );
    latency_line(&mut out, "caller->agent", &r.media.to_agent);
    latency_line(&mut out, "agent->caller", &r.media.to_caller);
    jitter_line(
        &mut out,
        "voxdesk->agent (bridged stream)",
        &r.media.agent_jitter,
    );
    jitter_line(
        &mut out,
        "voxdesk->caller (bridged stream)",
        &r.media.caller_jitter,
    );
    jitter_line(
        &mut out,
        "bench->voxdesk (input, reference)",
        &r.media.sent_jitter,
    );
    let per_call = r
        .cpu_pct
        .filter(|_| r.bridged > 0)
        .map(|pct| pct / r.bridged as f64);
    let _ = writeln!(
        out,
        "CPU per bridged call: {} % of one core (voxdesk {} % of one core for {} bridged calls)",
        per_call.map_or("?".into(), |p| format!("{p:.3}")),
        r.cpu_pct.map_or("?".into(), |p| format!("{p:.1}")),
        r.bridged
    );
    let memory = match r.rss_kib {
        (Some(before), Some(with)) if r.bridged > 0 => format!(
            "{:.0} KiB per bridged call (VmRSS {before} -> {with} KiB)",
            (with as f64 - before as f64) / r.bridged as f64
        ),
        _ => "?".into(),
    };
    let _ = writeln!(out, "memory: {memory}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_line_is_printed() {
        let report = BridgeReport {
            machine: Machine {
                cpus: 2,
                cpu_model: "AMD EPYC".into(),
                open_files: Some(20_000),
                date: "2026-11-26T00:00:00Z".into(),
                sipp: "SIPp v3.6.1".into(),
                load: "0.50".into(),
            },
            settings: vec!["voxdesk: serve".into()],
            calls: 10,
            registered: 10,
            bridged: 10,
            failed_calls: 0,
            secs: 3,
            media: MediaFigures {
                to_agent: LatencySummary {
                    matched: 1500,
                    p50_us: 61_250,
                    p99_us: 79_900,
                    max_us: 80_000,
                    ..LatencySummary::default()
                },
                ..MediaFigures::default()
            },
            cpu_pct: Some(12.5),
            rss_kib: (Some(10_000), Some(10_500)),
        };
        let text = render(&report);
        for want in [
            "machine: 2 CPUs, AMD EPYC, open files 20000, load 0.50 at start, SIPp v3.6.1",
            "calls: 10 asked, 10 agents registered, 10 bridged both ways, 0 failed",
            "bridge added latency caller->agent: p50 61.25 ms, p99 79.90 ms, max 80.00 ms (1500 frames matched",
            "bridge added latency agent->caller: p50 0.00 ms",
            "jitter voxdesk->agent (bridged stream): p50 0.00 ms",
            "CPU per bridged call: 1.250 % of one core (voxdesk 12.5 %",
            "memory: 50 KiB per bridged call",
        ] {
            assert!(text.contains(want), "{want:?} missing in:\n{text}");
        }
    }
}
