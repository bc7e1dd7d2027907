//! The printout: machine, settings, then one table per measurement with voxdesk and the SIPp
//! reference side by side. Pure formatting over the results, so it is testable.

use std::fmt::Write as _;

use super::jitter::JitterSummary;
use super::machine::Machine;
use super::sipp::{percentile, SippStats};

/// One signalling rate step against one answerer.
#[derive(Debug, Clone)]
pub struct Step {
    /// Offered calls/s.
    pub rate: u32,
    /// Calls placed by the step.
    pub calls: u64,
    /// SIPp's counters.
    pub stats: SippStats,
    /// INVITE to 200 per call, ms, ascending.
    pub answer_ms: Vec<u32>,
    /// Answerer CPU during the step, percent of one core.
    pub cpu_pct: Option<f64>,
    /// Datagrams dropped at the answerer's SIP socket during the step.
    pub udp_drops: Option<u64>,
}

impl Step {
    /// Every call completed and none failed.
    pub fn clean(&self) -> bool {
        self.stats.failed == 0 && self.stats.successful == self.calls
    }

    /// Clean, and SIPp never had to retransmit.
    pub fn spotless(&self) -> bool {
        self.clean() && self.stats.retransmissions == 0
    }
}

/// One RTP pacing and memory run against one answerer.
#[derive(Debug, Clone, Default)]
pub struct MediaRun {
    /// Calls asked for.
    pub calls: usize,
    /// Pacing figures over the measured window.
    pub jitter: JitterSummary,
    /// Answerer RSS before the calls, KiB.
    pub rss_before_kib: Option<u64>,
    /// Answerer RSS with the calls up, KiB.
    pub rss_with_kib: Option<u64>,
    /// Calls SIPp counted as failed by the end of the window.
    pub failed_calls: u64,
    /// Answerer CPU during the window, percent of one core.
    pub cpu_pct: Option<f64>,
    /// Datagrams dropped at the probe's sockets during the window.
    pub udp_drops: Option<u64>,
}

impl MediaRun {
    /// RSS growth per connected call, KiB.
    pub fn per_call_kib(&self) -> Option<f64> {
        let (before, with) = (self.rss_before_kib?, self.rss_with_kib?);
        let calls = self.jitter.streams.max(1) as f64;
        Some((with as f64 - before as f64) / calls)
    }
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where.
    pub machine: Machine,
    /// How voxdesk and the references were run, one line each.
    pub settings: Vec<String>,
    /// Signalling test header details.
    pub signalling_note: String,
    /// Steps against voxdesk, then against SIPp's UAS.
    pub signalling: Option<(Vec<Step>, Vec<Step>)>,
    /// RTP test header details.
    pub media_note: String,
    /// Per call count: voxdesk, SIPp.
    pub media: Vec<(MediaRun, MediaRun)>,
}

/// The whole printout.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let files = m.open_files.map_or("?".into(), |n| n.to_string());
    let _ = writeln!(out, "voxdesk bench sip  {}", m.date);
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, open files {files}, load {} at start, {}",
        m.cpus, m.cpu_model, m.load, m.sipp
    );
    for line in &r.settings {
        let _ = writeln!(out, "{line}");
    }
    if let Some((vox, sipp)) = &r.signalling {
        let _ = writeln!(out, "\n{}", r.signalling_note);
        render_signalling(&mut out, vox, sipp);
    }
    if !r.media.is_empty() {
        let _ = writeln!(out, "\n{}", r.media_note);
        render_media(&mut out, &r.media);
    }
    out
}

/// Which steps count towards a "highest rate" line.
type StepFilter = fn(&Step) -> bool;

fn render_signalling(out: &mut String, vox: &[Step], sipp: &[Step]) {
    let half = "  done/s failed  retr p50 p95 p99 cpu% drops";
    let _ = writeln!(out, "{:>6} |{:^45}|{:^45}", "", "voxdesk", "SIPp UAS");
    let _ = writeln!(out, "{:>6} |{half} |{half}", "rate");
    let mut rates: Vec<u32> = vox.iter().chain(sipp).map(|s| s.rate).collect();
    rates.sort_unstable();
    rates.dedup();
    for rate in rates {
        let cell = |steps: &[Step]| match steps.iter().find(|s| s.rate == rate) {
            Some(s) => step_cells(s),
            None => format!("{:>44}", "-"),
        };
        let _ = writeln!(out, "{rate:>6} |{} |{}", cell(vox), cell(sipp));
    }
    let best = |steps: &[Step], keep: StepFilter| {
        steps
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.stats.call_rate)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            })
    };
    let shown = |x: Option<f64>| x.map_or("none".into(), |r| format!("{r:.0} calls/s"));
    let summaries: [(&str, StepFilter); 2] = [
        ("zero failed calls", Step::clean),
        ("zero failed calls and no retransmission", Step::spotless),
    ];
    for (what, keep) in summaries {
        let (v, s) = (best(vox, keep), best(sipp, keep));
        let ratio = match (v, s) {
            (Some(v), Some(s)) if s > 0.0 => format!(", ratio {:.2}", v / s),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "highest rate with {what}: voxdesk {}, SIPp UAS {}{ratio}",
            shown(v),
            shown(s)
        );
    }
    let top = vox.iter().chain(sipp).map(|s| s.rate).max().unwrap_or(0);
    if vox.iter().chain(sipp).all(Step::clean) {
        let _ = writeln!(
            out,
            "(no step failed: the limit is above {top} calls/s; try --rates)"
        );
    }
}

fn step_cells(s: &Step) -> String {
    let p = |q| percentile(&s.answer_ms, q).map_or("-".into(), |v| v.to_string());
    let cpu = s.cpu_pct.map_or("-".into(), |c| format!("{c:.0}"));
    let drops = s.udp_drops.map_or("-".into(), |d| d.to_string());
    let failed = if s.clean() {
        "0".to_string()
    } else {
        // Calls that neither succeeded nor were counted as failed did not finish in time.
        let missing = s.calls.saturating_sub(s.stats.successful + s.stats.failed);
        format!("{}", s.stats.failed + missing)
    };
    format!(
        "{:>8.1} {failed:>6} {:>5} {:>3} {:>3} {:>3} {cpu:>4} {drops:>5}",
        s.stats.call_rate,
        s.stats.retransmissions,
        p(50),
        p(95),
        p(99)
    )
}

fn render_media(out: &mut String, runs: &[(MediaRun, MediaRun)]) {
    let half = " streams p50us p99us  maxus >=40ms lost fail cpu% drops";
    let _ = writeln!(
        out,
        "{:>5} |{:^55}|{:^55}",
        "", "voxdesk (dialplan prompt)", "SIPp UAS (pcap replay)"
    );
    let _ = writeln!(out, "{:>5} |{half} |{half}", "calls");
    for (vox, sipp) in runs {
        let _ = writeln!(
            out,
            "{:>5} |{} |{}",
            vox.calls,
            media_cells(vox),
            media_cells(sipp)
        );
    }
    let _ = writeln!(
        out,
        "\nMemory: answerer VmRSS before the calls (after one warm-up call) and with them connected"
    );
    let half = "  before MiB  with MiB per call KiB";
    let _ = writeln!(out, "{:>5} |{:^36}|{:^36}", "", "voxdesk", "SIPp UAS");
    let _ = writeln!(out, "{:>5} |{half} |{half}", "calls");
    for (vox, sipp) in runs {
        let _ = writeln!(
            out,
            "{:>5} |{} |{}",
            vox.calls,
            memory_cells(vox),
            memory_cells(sipp)
        );
    }
}

fn media_cells(r: &MediaRun) -> String {
    let j = &r.jitter;
    let cpu = r.cpu_pct.map_or("-".into(), |c| format!("{c:.0}"));
    let drops = r.udp_drops.map_or("-".into(), |d| d.to_string());
    format!(
        "{:>8} {:>5} {:>5} {:>6} {:>6} {:>4} {:>4} {cpu:>4} {drops:>5}",
        j.streams, j.p50_us, j.p99_us, j.max_us, j.long_gaps, j.seq_gaps, r.failed_calls
    )
}

fn memory_cells(r: &MediaRun) -> String {
    let mib = |kib: Option<u64>| kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0));
    let per = r.per_call_kib().map_or("-".into(), |k| format!("{k:.0}"));
    format!(
        "{:>11} {:>9} {per:>13}",
        mib(r.rss_before_kib),
        mib(r.rss_with_kib)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: u32, successful: u64, failed: u64, call_rate: f64) -> Step {
        Step {
            rate,
            calls: u64::from(rate) * 10,
            stats: SippStats {
                successful,
                failed,
                call_rate,
                ..SippStats::default()
            },
            answer_ms: vec![0, 0, 1, 3],
            cpu_pct: Some(42.0),
            udp_drops: Some(0),
        }
    }

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            open_files: Some(1024),
            date: "2026-01-01T00:00:00Z".into(),
            sipp: "SIPp v3.6.1".into(),
            load: "0.10".into(),
        }
    }

    #[test]
    fn tables_show_both_answerers_and_the_ratio() {
        let report = Report {
            machine: machine(),
            settings: vec!["voxdesk: settings".into()],
            signalling_note: "Signalling".into(),
            signalling: Some((
                vec![step(200, 2000, 0, 199.0), step(400, 3990, 10, 390.0)],
                vec![step(200, 2000, 0, 199.5), step(400, 4000, 0, 398.0)],
            )),
            media_note: "RTP".into(),
            media: vec![(
                MediaRun {
                    calls: 100,
                    rss_before_kib: Some(10 * 1024),
                    rss_with_kib: Some(20 * 1024),
                    jitter: JitterSummary {
                        streams: 100,
                        p50_us: 40,
                        ..JitterSummary::default()
                    },
                    ..MediaRun::default()
                },
                MediaRun::default(),
            )],
        };
        let text = render(&report);
        for want in [
            "2 CPUs, Test CPU, open files 1024",
            "zero failed calls: voxdesk 199 calls/s, SIPp UAS 398 calls/s, ratio 0.50",
            "   400 |   390.0     10",
            "  100 |     100    40",
            "10.0      20.0           102",
        ] {
            assert!(text.contains(want), "{want:?} missing in\n{text}");
        }
    }
}
