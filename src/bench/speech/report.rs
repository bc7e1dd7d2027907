//! The printout: machine, settings, how each figure is measured, one row per concurrency level,
//! and the largest level within the latency target.

use std::fmt::Write as _;

use super::figures::{largest_within, Level, Spread};
use super::script::Timing;
use crate::bench::machine::Machine;

/// Everything printed.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How voxdesk and the callers were set up.
    pub settings: Vec<String>,
    /// One per concurrency level, in run order.
    pub levels: Vec<Level>,
    /// Voice-to-voice p95 target, ms.
    pub limit_ms: f64,
}

const METHOD: &str = "\
method: each call sends RTP every 20 ms (µ-law silence when not speaking), waits for the greeting and {quiet_ms} ms of quiet, then says one espeak-ng clip in real time (trailing silence trimmed) and waits for the reply, 2-3 clips per call;
  v2v = arrival of the first reply packet (RTP marker bit; first voiced packet if no marker came) - send time of the clip's last voiced packet, so it includes voxdesk's endpointing silence;
  ASR = ticket turn timings.asr_ms; RTF = sum ASR / sum audio given to Whisper (timings.speech_ms); WER = word Levenshtein / reference words after lowercasing, dropping punctuation and spelling digits (untranscribed clips count every word);
  intent = turns whose intent matches the sentence's label, over labelled transcribed clips; fail = calls that did not finish / clips never answered / clips with no speech turn";

/// The report as text.
pub fn render(r: &Report) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(out, "voxdesk bench speech");
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, load {} at start, {}",
        m.cpus, m.cpu_model, m.load, m.date
    );
    for line in &r.settings {
        let _ = writeln!(out, "{line}");
    }
    let quiet_ms = Timing::default().quiet.as_millis().to_string();
    let _ = writeln!(out, "{}\n", METHOD.replace("{quiet_ms}", &quiet_ms));
    let _ = writeln!(
        out,
        "{:>4} {:>5} {:>5} | {:>21} | {:>13} | {:>5} | {:>6} | {:>7} | {:>9}",
        "conc",
        "calls",
        "clips",
        "v2v ms p50/p95/max",
        "ASR ms p50/p95",
        "RTF",
        "WER",
        "intent",
        "fail"
    );
    for level in &r.levels {
        let _ = writeln!(out, "{}", row(level));
    }
    let by_voice: usize = r.levels.iter().map(|l| l.by_voice).sum();
    let replies: usize = r.levels.iter().map(|l| l.utterances - l.unanswered).sum();
    let _ = writeln!(
        out,
        "\nreplies found by their first voiced packet because no marker came first: {by_voice} of {replies}"
    );
    let verdict = match largest_within(&r.levels, r.limit_ms) {
        Some(c) => c.to_string(),
        None => "none of the levels run".into(),
    };
    let _ = writeln!(
        out,
        "largest concurrency with voice-to-voice p95 <= {:.1} s, every call completed and every clip answered: {verdict}",
        r.limit_ms / 1000.0
    );
    out
}

fn row(l: &Level) -> String {
    let spread = |s: Option<Spread>, max: bool| match s {
        Some(s) if max => format!("{:.0}/{:.0}/{:.0}", s.p50, s.p95, s.max),
        Some(s) => format!("{:.0}/{:.0}", s.p50, s.p95),
        None => "-".into(),
    };
    let ratio = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    let wer = l.words.rate().map(|r| r * 100.0);
    let intent = match l.intents {
        (_, 0) => "-".to_string(),
        (right, of) => format!("{right}/{of}"),
    };
    format!(
        "{:>4} {:>5} {:>5} | {:>21} | {:>13} | {:>5} | {:>5}% | {:>7} | {:>9}",
        l.concurrency,
        l.calls,
        l.utterances,
        spread(l.latency_ms, true),
        spread(l.asr_ms, false),
        ratio(l.rtf, 2),
        ratio(wer, 1),
        intent,
        format!("{}/{}/{}", l.failed_calls, l.unanswered, l.untranscribed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::speech::wer::WordErrors;

    #[test]
    fn rows_show_measured_figures_and_dashes_for_none() {
        let level = |concurrency, p95: Option<f64>| Level {
            concurrency,
            calls: 24,
            failed_calls: 0,
            utterances: 60,
            unanswered: 0,
            untranscribed: 1,
            by_voice: 0,
            latency_ms: p95.map(|p95| Spread {
                p50: 900.0,
                p95,
                max: 1800.0,
            }),
            asr_ms: None,
            rtf: Some(0.25),
            words: WordErrors {
                errors: 3,
                reference_words: 400,
            },
            intents: (40, 44),
        };
        let report = Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                open_files: None,
                date: "2024-01-01T00:00:00.000Z".into(),
                sipp: String::new(),
                load: "0.10".into(),
            },
            settings: vec!["settings line".into()],
            levels: vec![
                level(1, Some(1200.0)),
                level(2, Some(1600.0)),
                level(4, None),
            ],
            limit_ms: 1500.0,
        };
        let text = render(&report);
        assert!(
            text.contains("machine: 2 CPUs, Test CPU, load 0.10"),
            "{text}"
        );
        assert!(text.contains("   1    24    60 |         900/1200/1800 |             - |  0.25 |   0.8% |   40/44 |     0/0/1"), "{text}");
        assert!(
            text.contains("p95 <= 1.5 s, every call completed and every clip answered: 1\n"),
            "{text}"
        );
    }
}
