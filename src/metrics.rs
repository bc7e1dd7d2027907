//! Process-wide counters and their Prometheus text rendering.
//!
//! Hand-written on atomics because a dozen counters do not justify a metrics crate. Everything
//! is fixed-size (SIP methods are a small known set plus `other`, response codes a 100..=699
//! array), so recording never allocates or locks. Use [`global`] in the binary; tests build
//! their own [`Metrics`] so their numbers are not shared.
//!
//! Figures that live elsewhere (the ACD's agents and queues) are not mirrored into atomics:
//! the scrape handler reads them at scrape time and passes them to
//! [`Metrics::render_prometheus_with`] as [`GaugeFamily`]s.

#![warn(missing_docs, unreachable_pub)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Zero.
    pub const fn new() -> Self {
        Self(AtomicI64::new(0))
    }
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// Overwrites the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// SIP methods counted by name; anything else is counted as `other`.
pub const SIP_METHODS: [&str; 13] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
];
const OTHER_METHOD: usize = SIP_METHODS.len();
const FIRST_CODE: u16 = 100;
const LAST_CODE: u16 = 699;
const CODE_SLOTS: usize = (LAST_CODE - FIRST_CODE + 1) as usize;

/// The answer time a queued call must beat to count in `queue_answered_within_20s`.
pub const SERVICE_LEVEL_TARGET: Duration = Duration::from_secs(20);

/// A gauge family computed at scrape time, e.g. from the ACD's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeFamily {
    /// Name without the `voxdesk_` prefix.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// `(label name, label value)` and value per sample; label values are escaped on render.
    pub samples: Vec<(Option<(&'static str, String)>, f64)>,
}

/// Every counter voxdesk exports.
#[derive(Debug)]
pub struct Metrics {
    /// Calls in progress.
    pub calls_active: Gauge,
    /// Calls accepted since start.
    pub calls_total: Counter,
    /// INVITEs refused with 503 because a limit was reached.
    pub calls_rejected_503: Counter,
    /// Datagrams or stream bytes dropped as not SIP at all (no response possible).
    pub sip_junk_dropped: Counter,
    /// SIP requests answered with 400 because they were malformed.
    pub sip_malformed_400: Counter,
    /// RTP packets sent.
    pub rtp_packets_sent: Counter,
    /// RTP packets received.
    pub rtp_packets_received: Counter,
    /// RTP packets never received (sequence gaps).
    pub rtp_packets_lost: Counter,
    /// RTP packets that arrived after their playout time.
    pub rtp_packets_late: Counter,
    /// Ticket updates dropped because the write queue was full.
    pub ticket_updates_dropped: Counter,
    /// Ticket updates SQLite refused.
    pub ticket_write_errors: Counter,
    /// Caller utterances transcribed.
    pub asr_utterances: Counter,
    /// Utterances the ASR pool refused because its queue was full.
    pub asr_busy: Counter,
    /// Queued callers an agent answered.
    pub queue_calls_answered: Counter,
    /// Queued callers who hung up before an agent answered.
    pub queue_calls_abandoned: Counter,
    /// Queued callers who gave up waiting at the queue's timeout (sent on by the dialplan).
    pub queue_calls_timed_out: Counter,
    /// Of `queue_calls_answered`, those answered within [`SERVICE_LEVEL_TARGET`] of joining the
    /// queue: the service level's numerator.
    pub queue_answered_within_20s: Counter,
    /// Milliseconds agents spent connected to callers; add with [`Metrics::agent_talked`].
    /// Kept in milliseconds so short calls are not rounded away; rendered in seconds.
    pub agent_talk_millis: Counter,
    sip_requests: [Counter; SIP_METHODS.len() + 1],
    sip_responses: [Counter; CODE_SLOTS],
    sip_responses_out_of_range: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps `calls_active` raised while alive; see [`Metrics::call_started`].
#[derive(Debug)]
#[must_use = "the call counts as active only while this guard lives"]
pub struct ActiveCall<'a>(&'a Metrics);

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        self.0.calls_active.dec();
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static GLOBAL: Metrics = Metrics::new();
    &GLOBAL
}

impl Metrics {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            calls_active: Gauge::new(),
            calls_total: Counter::new(),
            calls_rejected_503: Counter::new(),
            sip_junk_dropped: Counter::new(),
            sip_malformed_400: Counter::new(),
            rtp_packets_sent: Counter::new(),
            rtp_packets_received: Counter::new(),
            rtp_packets_lost: Counter::new(),
            rtp_packets_late: Counter::new(),
            ticket_updates_dropped: Counter::new(),
            ticket_write_errors: Counter::new(),
            asr_utterances: Counter::new(),
            asr_busy: Counter::new(),
            queue_calls_answered: Counter::new(),
            queue_calls_abandoned: Counter::new(),
            queue_calls_timed_out: Counter::new(),
            queue_answered_within_20s: Counter::new(),
            agent_talk_millis: Counter::new(),
            sip_requests: [const { Counter::new() }; SIP_METHODS.len() + 1],
            sip_responses: [const { Counter::new() }; CODE_SLOTS],
            sip_responses_out_of_range: Counter::new(),
        }
    }

    /// Counts an accepted call (`calls_total`) and keeps it in `calls_active` until the guard
    /// drops, so every exit path of a call task decrements it.
    pub fn call_started(&self) -> ActiveCall<'_> {
        self.calls_total.inc();
        self.calls_active.inc();
        ActiveCall(self)
    }

    /// Adds one call's talk time to `agent_talk_millis` (a duration beyond `u64::MAX` ms, 584
    /// million years, counts as that).
    pub fn agent_talked(&self, talk: Duration) {
        self.agent_talk_millis
            .add(u64::try_from(talk.as_millis()).unwrap_or(u64::MAX));
    }

    /// Counts a received request by method (case-sensitive, as SIP methods are).
    pub fn sip_request_received(&self, method: &str) {
        self.request_slot(method).inc();
    }

    /// Requests received with this method (`other` for unknown ones).
    pub fn sip_requests_received(&self, method: &str) -> u64 {
        self.request_slot(method).get()
    }

    /// Counts a sent response by status code.
    pub fn sip_response_sent(&self, code: u16) {
        self.response_slot(code).inc();
    }

    /// Responses sent with this status code.
    pub fn sip_responses_sent(&self, code: u16) -> u64 {
        self.response_slot(code).get()
    }

    fn request_slot(&self, method: &str) -> &Counter {
        let index = SIP_METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(OTHER_METHOD);
        // `index` is at most SIP_METHODS.len(), the array's last slot.
        &self.sip_requests[index]
    }

    fn response_slot(&self, code: u16) -> &Counter {
        code.checked_sub(FIRST_CODE)
            .and_then(|i| self.sip_responses.get(usize::from(i)))
            .unwrap_or(&self.sip_responses_out_of_range)
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        self.render_prometheus_with(&[])
    }

    /// [`Metrics::render_prometheus`] followed by `extra` families.
    pub fn render_prometheus_with(&self, extra: &[GaugeFamily]) -> String {
        let mut out = String::with_capacity(4096);
        family(&mut out, "calls_active", "gauge", "Calls in progress.");
        sample(&mut out, "calls_active", "", self.calls_active.get());
        let counters: [(&str, &str, &Counter); 16] = [
            (
                "calls_total",
                "Calls accepted since start.",
                &self.calls_total,
            ),
            (
                "calls_rejected_503_total",
                "INVITEs refused with 503 because a limit was reached.",
                &self.calls_rejected_503,
            ),
            (
                "sip_junk_dropped_total",
                "Input dropped as not SIP at all.",
                &self.sip_junk_dropped,
            ),
            (
                "sip_malformed_400_total",
                "Malformed SIP requests answered with 400.",
                &self.sip_malformed_400,
            ),
            (
                "rtp_packets_sent_total",
                "RTP packets sent.",
                &self.rtp_packets_sent,
            ),
            (
                "rtp_packets_received_total",
                "RTP packets received.",
                &self.rtp_packets_received,
            ),
            (
                "rtp_packets_lost_total",
                "RTP packets never received (sequence gaps).",
                &self.rtp_packets_lost,
            ),
            (
                "rtp_packets_late_total",
                "RTP packets that arrived after their playout time.",
                &self.rtp_packets_late,
            ),
            (
                "ticket_updates_dropped_total",
                "Ticket updates dropped because the write queue was full.",
                &self.ticket_updates_dropped,
            ),
            (
                "ticket_write_errors_total",
                "Ticket updates SQLite refused.",
                &self.ticket_write_errors,
            ),
            (
                "asr_utterances_total",
                "Caller utterances transcribed.",
                &self.asr_utterances,
            ),
            (
                "asr_busy_total",
                "Utterances refused because the ASR queue was full.",
                &self.asr_busy,
            ),
            (
                "queue_calls_answered_total",
                "Queued callers an agent answered.",
                &self.queue_calls_answered,
            ),
            (
                "queue_calls_abandoned_total",
                "Queued callers who hung up before an agent answered.",
                &self.queue_calls_abandoned,
            ),
            (
                "queue_calls_timed_out_total",
                "Queued callers who reached the queue's timeout.",
                &self.queue_calls_timed_out,
            ),
            (
                "queue_answered_within_20s_total",
                "Queued callers answered within 20 seconds.",
                &self.queue_answered_within_20s,
            ),
        ];
        for (name, help, counter) in counters {
            family(&mut out, name, "counter", help);
            sample(&mut out, name, "", counter.get());
        }

        let name = "sip_requests_received_total";
        family(
            &mut out,
            name,
            "counter",
            "SIP requests received, by method.",
        );
        let methods = SIP_METHODS.iter().copied().chain(["other"]);
        for (method, counter) in methods.zip(&self.sip_requests) {
            sample(
                &mut out,
                name,
                &format!("method=\"{method}\""),
                counter.get(),
            );
        }

        let name = "sip_responses_sent_total";
        family(
            &mut out,
            name,
            "counter",
            "SIP responses sent, by status code.",
        );
        // Only codes seen so far: six hundred zero lines would drown the page.
        for (code, counter) in (FIRST_CODE..=LAST_CODE).zip(&self.sip_responses) {
            let n = counter.get();
            if n > 0 {
                sample(&mut out, name, &format!("code=\"{code}\""), n);
            }
        }
        let n = self.sip_responses_out_of_range.get();
        if n > 0 {
            sample(&mut out, name, "code=\"other\"", n);
        }

        let name = "agent_talk_seconds_total";
        family(
            &mut out,
            name,
            "counter",
            "Time agents spent connected to callers.",
        );
        // Millisecond counts stay exact in an f64 up to 2^53 ms (285 000 years).
        let seconds = self.agent_talk_millis.get() as f64 / 1000.0;
        sample(&mut out, name, "", seconds);

        for extra in extra {
            family(&mut out, extra.name, "gauge", extra.help);
            for (label, value) in &extra.samples {
                let labels = match label {
                    Some((key, value)) => format!("{key}=\"{}\"", escape_label(value)),
                    None => String::new(),
                };
                sample(&mut out, extra.name, &labels, value);
            }
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP voxdesk_{name} {help}\n# TYPE voxdesk_{name} {kind}"
    );
}

/// Escapes a label value as the text format requires (backslash, quote, newline).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = if labels.is_empty() {
        writeln!(out, "voxdesk_{name} {value}")
    } else {
        writeln!(out, "voxdesk_{name}{{{labels}}} {value}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_fixed_slots() {
        let m = Metrics::new();
        for method in ["INVITE", "INVITE", "BYE", "invite", "FOO", ""] {
            m.sip_request_received(method);
        }
        let cases = [
            ("INVITE", 2),
            ("BYE", 1),
            ("ACK", 0),
            ("other", 3),
            ("BAR", 3),
        ];
        for (method, want) in cases {
            assert_eq!(m.sip_requests_received(method), want, "{method}");
        }
    }

    #[test]
    fn codes_outside_sip_range_share_one_slot() {
        let m = Metrics::new();
        for code in [100, 200, 200, 699, 0, 99, 700, u16::MAX] {
            m.sip_response_sent(code);
        }
        let cases = [(100, 1), (200, 2), (699, 1), (486, 0), (0, 4), (700, 4)];
        for (code, want) in cases {
            assert_eq!(m.sip_responses_sent(code), want, "{code}");
        }
    }

    #[test]
    fn active_call_guard_decrements_on_drop() {
        let m = Metrics::new();
        let first = m.call_started();
        {
            let _second = m.call_started();
            assert_eq!(m.calls_active.get(), 2);
        }
        assert_eq!(m.calls_active.get(), 1);
        drop(first);
        assert_eq!(m.calls_active.get(), 0);
        assert_eq!(m.calls_total.get(), 2);
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        let _call = m.call_started();
        m.calls_rejected_503.add(3);
        m.sip_request_received("INVITE");
        m.sip_request_received("PUBLISH");
        m.sip_response_sent(200);
        m.sip_response_sent(486);
        m.sip_response_sent(486);
        m.sip_response_sent(42);
        m.ticket_updates_dropped.inc();
        let text = m.render_prometheus();
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "# HELP voxdesk_calls_active Calls in progress.",
            "# TYPE voxdesk_calls_active gauge",
            "voxdesk_calls_active 1",
            "# TYPE voxdesk_calls_total counter",
            "voxdesk_calls_total 1",
            "voxdesk_calls_rejected_503_total 3",
            "voxdesk_rtp_packets_lost_total 0",
            "voxdesk_ticket_updates_dropped_total 1",
            "# TYPE voxdesk_sip_requests_received_total counter",
            "voxdesk_sip_requests_received_total{method=\"INVITE\"} 1",
            "voxdesk_sip_requests_received_total{method=\"ACK\"} 0",
            "voxdesk_sip_requests_received_total{method=\"other\"} 1",
            "voxdesk_sip_responses_sent_total{code=\"200\"} 1",
            "voxdesk_sip_responses_sent_total{code=\"486\"} 2",
            "voxdesk_sip_responses_sent_total{code=\"other\"} 1",
        ] {
            assert!(lines.contains(&want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("code=\"404\""), "unseen codes are omitted");
    }

    #[test]
    fn every_sample_follows_its_help_and_type() {
        let text = Metrics::new().render_prometheus();
        let mut declared: Vec<String> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap_or_default();
                assert!(matches!(parts.next(), Some("counter" | "gauge")), "{line}");
                declared.push(name.to_owned());
            } else if !line.starts_with("# HELP voxdesk_") {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
                let value = line.rsplit(' ').next().unwrap_or_default();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
        assert_eq!(declared.len(), 20);
    }

    #[test]
    fn queue_counters_and_talk_time_render() {
        let m = Metrics::new();
        m.queue_calls_answered.add(2);
        m.queue_answered_within_20s.inc();
        m.agent_talked(Duration::from_millis(1500));
        m.agent_talked(Duration::from_millis(250));
        let text = m.render_prometheus();
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "voxdesk_queue_calls_answered_total 2",
            "voxdesk_queue_calls_abandoned_total 0",
            "voxdesk_queue_calls_timed_out_total 0",
            "voxdesk_queue_answered_within_20s_total 1",
            "# TYPE voxdesk_agent_talk_seconds_total counter",
        ] {
            assert!(lines.contains(&want), "missing {want:?} in\n{text}");
        }
        assert_eq!(m.agent_talk_millis.get(), 1750);
        let m = Metrics::new();
        m.agent_talked(Duration::MAX);
        assert_eq!(m.agent_talk_millis.get(), u64::MAX, "no panic converting");
        let m = Metrics::new();
        m.agent_talked(Duration::from_millis(1750));
        assert!(m
            .render_prometheus()
            .lines()
            .any(|l| l == "voxdesk_agent_talk_seconds_total 1.75"));
    }

    #[test]
    fn extra_families_escape_label_values() {
        let extra = [GaugeFamily {
            name: "queue_waiting",
            help: "Callers waiting.",
            samples: vec![
                (Some(("queue", "sales".to_owned())), 3.0),
                (Some(("queue", "a\"b\\c\nd".to_owned())), 0.5),
                (None, 1.0),
            ],
        }];
        let text = Metrics::new().render_prometheus_with(&extra);
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        assert_eq!(
            tail,
            [
                "voxdesk_queue_waiting 1",
                "voxdesk_queue_waiting{queue=\"a\\\"b\\\\c\\nd\"} 0.5",
                "voxdesk_queue_waiting{queue=\"sales\"} 3",
                "# TYPE voxdesk_queue_waiting gauge",
                "# HELP voxdesk_queue_waiting Callers waiting.",
            ]
        );
    }
}
