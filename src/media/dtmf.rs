//! DTMF digits: receiving RFC 4733 telephone-event packets ([`DtmfReceiver`]) and SIP INFO
//! bodies ([`parse_dtmf_relay`]), and sending them as telephone events (`DtmfSender`, which
//! passes a bridged caller's keys on to the agent and back). Sans-IO.
//!
//! Hand-written: the telephone-event payload is four bytes and the INFO bodies are one line.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rtp::RtpPacket;
use super::FRAME_SAMPLES;

/// How many recent events are remembered, so a retransmitted end packet of an older event
/// that arrives after a newer event has started is still recognised.
const REMEMBERED_EVENTS: usize = 8;
/// Longest SIP INFO body we bother to read.
const MAX_RELAY_BODY: usize = 1024;

/// Turns RFC 4733 telephone-event packets into digits, exactly one per event.
///
/// An event is identified by its RTP timestamp (all packets of one event share the timestamp
/// of its start) together with its event code. The digit is emitted on the first packet of an
/// event that was not seen before, whatever that packet is: the marked start, an unmarked
/// continuation, or one of the end packets when the start was lost.
///
/// Not handled: events longer than 8 s, which RFC 4733 2.5.1.3 splits into segments with new
/// timestamps, are reported once per segment.
#[derive(Debug, Default, Clone)]
pub struct DtmfReceiver {
    /// Ring of recently seen events.
    seen: [Option<SeenEvent>; REMEMBERED_EVENTS],
    next_slot: usize,
}

/// An event key and when its last packet arrived.
#[derive(Debug, Clone, Copy)]
struct SeenEvent {
    timestamp: u32,
    code: u8,
    last_packet: Instant,
}

/// Packets of one event (continuations, end retransmits) arrive every ~50 ms at most; the
/// same (timestamp, code) after this much silence is a new key press. Replayed captures (SIPp
/// `play_pcap_audio` of the same digit twice) reuse timestamps, and must count twice.
pub const SAME_EVENT_GAP: Duration = Duration::from_millis(1000);

impl DtmfReceiver {
    /// A receiver that has seen no events.
    pub fn new() -> DtmfReceiver {
        DtmfReceiver::default()
    }

    /// Handles one telephone-event packet (the caller has checked the payload type); returns the
    /// digit if this packet starts an event not seen before. Malformed payloads give `None`.
    pub fn handle(&mut self, pkt: &RtpPacket, now: Instant) -> Option<char> {
        let event = *pkt.payload.first()?;
        if pkt.payload.len() < 4 {
            return None;
        }
        let known = self
            .seen
            .iter_mut()
            .flatten()
            .find(|e| e.timestamp == pkt.timestamp && e.code == event);
        if let Some(seen) = known {
            let gap = now.saturating_duration_since(seen.last_packet);
            seen.last_packet = now;
            if gap <= SAME_EVENT_GAP {
                return None;
            }
            return event_char(event);
        }
        if let Some(slot) = self.seen.get_mut(self.next_slot) {
            *slot = Some(SeenEvent {
                timestamp: pkt.timestamp,
                code: event,
                last_packet: now,
            });
        }
        self.next_slot = (self.next_slot + 1) % REMEMBERED_EVENTS;
        event_char(event)
    }
}

/// The character for a DTMF event code (RFC 4733 3.2); `None` for non-DTMF events.
pub fn event_char(event: u8) -> Option<char> {
    match event {
        0..=9 => char::from_digit(u32::from(event), 10),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + (event - 12))),
        _ => None,
    }
}

/// Reads the digit from a SIP INFO body: `application/dtmf-relay` (`Signal=5\r\nDuration=160`)
/// or `application/dtmf` (`5`). Digits may be given as characters or as event codes (`11` = `#`).
pub fn parse_dtmf_relay(body: &str) -> Option<char> {
    if body.len() > MAX_RELAY_BODY {
        return None;
    }
    let signal = body.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        key.trim().eq_ignore_ascii_case("signal").then_some(value)
    });
    match signal {
        Some(value) => digit_from_text(value),
        None if !body.contains('=') => digit_from_text(body),
        None => None,
    }
}

fn digit_from_text(text: &str) -> Option<char> {
    let text = text.trim();
    if let Ok(code) = text.parse::<u8>() {
        return event_char(code);
    }
    let mut chars = text.chars();
    let digit = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() {
        return None;
    }
    matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D').then_some(digit)
}

// Sending: the call layer passes a bridged leg's keys on to the other leg.

/// Outgoing DTMF digits waiting behind the one being sent.
pub(crate) const MAX_QUEUED_DIGITS: usize = 16;
/// Volume of sent telephone events, in -dBm0 (RFC 4733 2.3.4).
pub(crate) const DTMF_VOLUME: u8 = 10;
/// Longest digit sent: the 16-bit duration field holds 8.19 s of 8 kHz samples.
pub(crate) const MAX_DTMF_FRAMES: u32 = 400;
/// Sending ticks of one frame (as in the session's pacer).
const FRAME_MS: u32 = 20;

/// One RFC 4733 telephone-event packet due this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventPacket {
    pub(crate) payload: [u8; 4],
    pub(crate) marker: bool,
    pub(crate) timestamp: u32,
}

#[derive(Debug, Clone, Copy)]
struct ActiveDigit {
    code: u8,
    frames: u32,
    timestamp: u32,
    sent: u32,
}

/// Outgoing DTMF as RFC 4733 events, one packet per tick: updates with growing duration, the
/// first marked, then the end packet three times (RFC 4733 2.5.1.4), all with the timestamp
/// of the event's start.
#[derive(Debug, Default)]
pub(crate) struct DtmfSender {
    queued: VecDeque<(u8, u32)>,
    active: Option<ActiveDigit>,
}

impl DtmfSender {
    /// Queues a digit; `false` if it is not one or the queue is full.
    pub(crate) fn queue(&mut self, digit: char, duration_ms: u32) -> bool {
        let Some(code) = dtmf_event_code(digit) else {
            return false;
        };
        if self.queued.len() >= MAX_QUEUED_DIGITS {
            return false;
        }
        let frames = duration_ms.div_ceil(FRAME_MS);
        self.queued
            .push_back((code, frames.clamp(1, MAX_DTMF_FRAMES)));
        true
    }

    /// The packet for this tick, if a digit is being sent; `timestamp` is the stream's
    /// current timestamp, used when a new digit starts.
    pub(crate) fn next(&mut self, timestamp: u32) -> Option<EventPacket> {
        if self.active.is_none() {
            let (code, frames) = self.queued.pop_front()?;
            self.active = Some(ActiveDigit {
                code,
                frames,
                timestamp,
                sent: 0,
            });
        }
        let digit = self.active.as_mut()?;
        digit.sent += 1;
        let end = digit.sent >= digit.frames;
        let samples = digit.sent.min(digit.frames) * FRAME_SAMPLES as u32;
        let [hi, lo] = u16::try_from(samples).unwrap_or(u16::MAX).to_be_bytes();
        let flags = if end { 0x80 | DTMF_VOLUME } else { DTMF_VOLUME };
        let packet = EventPacket {
            payload: [digit.code, flags, hi, lo],
            marker: digit.sent == 1,
            timestamp: digit.timestamp,
        };
        if digit.sent >= digit.frames + 2 {
            self.active = None;
        }
        Some(packet)
    }
}

/// The RFC 4733 event code of a DTMF digit (the inverse of `dtmf::event_char`).
pub(crate) fn dtmf_event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        '*' => Some(10),
        '#' => Some(11),
        letter @ 'A'..='D' => Some(12 + (letter as u8 - b'A')),
        other => other.to_digit(10).and_then(|d| u8::try_from(d).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::SeqNo;

    const DTMF_PT: u8 = 101;

    /// One telephone-event packet: (seq, timestamp, marker, event, end, duration).
    fn pkt(
        seq: u16,
        timestamp: u32,
        marker: bool,
        event: u8,
        end: bool,
        duration: u16,
    ) -> RtpPacket {
        let [d0, d1] = duration.to_be_bytes();
        RtpPacket {
            payload_type: DTMF_PT,
            marker,
            seq: SeqNo(seq),
            timestamp,
            ssrc: 7,
            payload: vec![event, if end { 0x80 | 10 } else { 10 }, d0, d1],
        }
    }

    /// A whole event as a sender emits it: start, continuations, three end packets.
    fn event(seq: u16, timestamp: u32, marker: bool, code: u8) -> Vec<RtpPacket> {
        let mut out = vec![pkt(seq, timestamp, marker, code, false, 160)];
        for i in 1..4u16 {
            out.push(pkt(
                seq.wrapping_add(i),
                timestamp,
                false,
                code,
                false,
                160 * (i + 1),
            ));
        }
        for i in 4..7u16 {
            out.push(pkt(seq.wrapping_add(i), timestamp, false, code, true, 800));
        }
        out
    }

    fn run(packets: &[RtpPacket]) -> String {
        let mut rx = DtmfReceiver::new();
        let start = Instant::now();
        packets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| rx.handle(p, start + Duration::from_millis(20 * i as u64)))
            .collect()
    }

    fn short_payload(len: usize) -> RtpPacket {
        let mut p = pkt(1, 1, true, 5, false, 160);
        p.payload.truncate(len);
        p
    }

    #[test]
    fn one_digit_per_event() {
        let lost_start: Vec<RtpPacket> = event(10, 1000, true, 3).split_off(4);
        let same_digit_twice = [event(10, 1000, true, 5), event(17, 2600, true, 5)].concat();
        let late_end_of_previous = {
            let mut first = event(10, 1000, true, 1);
            let straggler = first.pop().into_iter();
            [first, event(17, 2600, true, 2), straggler.collect()].concat()
        };
        let cases: Vec<(&str, Vec<RtpPacket>, &str)> = vec![
            ("normal event with marker", event(10, 1000, true, 5), "5"),
            ("no marker", event(10, 1000, false, 7), "7"),
            ("lost start, only end packets", lost_start, "3"),
            (
                "three end retransmits only",
                vec![pkt(1, 50, false, 11, true, 800); 3],
                "#",
            ),
            ("two consecutive same digits", same_digit_twice, "55"),
            (
                "seq wraps inside the event",
                event(65533, 9000, true, 10),
                "*",
            ),
            (
                "end of earlier event after next one",
                late_end_of_previous,
                "12",
            ),
            (
                "letters",
                [event(1, 10, true, 12), event(8, 900, true, 15)].concat(),
                "AD",
            ),
            ("flash is ignored", event(1, 10, true, 16), ""),
            (
                "garbage",
                vec![short_payload(0), short_payload(1), short_payload(3)],
                "",
            ),
        ];
        for (name, packets, want) in cases {
            assert_eq!(run(&packets), want, "{name}");
        }
    }

    #[test]
    fn remembers_a_bounded_number_of_events() {
        let mut rx = DtmfReceiver::new();
        let now = Instant::now();
        for i in 0..100u32 {
            assert_eq!(
                rx.handle(&pkt(i as u16, i * 1000, true, 1, false, 160), now),
                Some('1')
            );
        }
        // The newest events are still known, the oldest have been forgotten.
        assert_eq!(rx.handle(&pkt(200, 99_000, false, 1, true, 800), now), None);
        assert_eq!(rx.handle(&pkt(201, 0, false, 1, true, 800), now), Some('1'));
    }

    #[test]
    fn a_replayed_event_after_a_pause_is_a_new_press() {
        // SIPp's play_pcap_audio replays identical timestamps for the same digit.
        let mut rx = DtmfReceiver::new();
        let t0 = Instant::now();
        let first: String = event(10, 1000, true, 1)
            .iter()
            .enumerate()
            .filter_map(|(i, p)| rx.handle(p, t0 + Duration::from_millis(20 * i as u64)))
            .collect();
        let t1 = t0 + Duration::from_secs(2);
        let again: String = event(10, 1000, true, 1)
            .iter()
            .enumerate()
            .filter_map(|(i, p)| rx.handle(p, t1 + Duration::from_millis(20 * i as u64)))
            .collect();
        assert_eq!((first.as_str(), again.as_str()), ("1", "1"));
        // A late end retransmit well within the gap is still the same event.
        let late = pkt(17, 1000, false, 1, true, 800);
        assert_eq!(rx.handle(&late, t1 + Duration::from_millis(400)), None);
    }

    #[test]
    fn parses_info_bodies() {
        let cases = [
            ("Signal=5\r\nDuration=160\r\n", Some('5')),
            ("Signal= #\r\nDuration=100", Some('#')),
            ("signal=*\nduration=250", Some('*')),
            ("Duration=160\r\nSignal=11\r\n", Some('#')),
            ("Signal=d\r\n", Some('D')),
            ("5", Some('5')),
            ("5\r\n", Some('5')),
            ("10", Some('*')),
            ("Signal=16", None),
            ("Signal=\r\n", None),
            ("Signal=55", None),
            ("Duration=160", None),
            ("", None),
            ("hello", None),
            ("x", None),
        ];
        for (body, want) in cases {
            assert_eq!(parse_dtmf_relay(body), want, "{body:?}");
        }
        assert_eq!(parse_dtmf_relay(&"5".repeat(5000)), None);
    }

    proptest::proptest! {
        #[test]
        fn relay_parser_never_panics(body in ".{0,64}") {
            let _ = parse_dtmf_relay(&body);
        }

        #[test]
        fn receiver_never_panics(payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..16)) {
            let mut p = pkt(1, 1, true, 0, false, 0);
            p.payload = payload;
            let _ = DtmfReceiver::new().handle(&p, Instant::now());
        }
    }
}
