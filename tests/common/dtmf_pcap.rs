//! RFC 4733 DTMF as pcap files for SIPp's `play_pcap_audio`. Hand-written: a pcap of a few
//! Ethernet/IPv4/UDP/RTP packets is a hundred bytes of headers.
//!
//! Why not SIPp's shipped `dtmf_2833_N.pcap`: each is a capture cut out of one call, so playing
//! the same digit twice sends the same RTP timestamp and sequence numbers twice, and a correct
//! receiver drops the second key press as a retransmission. These files continue one stream:
//! one SSRC, sequence numbers and timestamps that only go up, across all files of a call.

use std::io;
use std::path::Path;

/// The telephone-event payload type the scenarios offer (`a=rtpmap:101 telephone-event/8000`).
pub const PAYLOAD_TYPE: u8 = 101;
/// Wall-clock milliseconds from one key press to the next within a file.
const KEY_PERIOD_MS: u32 = 400;
/// How long a key is held, in 20 ms packets.
const TONE_PACKETS: u32 = 8;
/// End-of-event packets are sent three times (RFC 4733 2.5.1.4).
const END_REPEATS: u32 = 3;
const SAMPLES_PER_MS: u32 = 8;
/// SIPp rewrites the UDP ports; it only needs every packet's destination to be the same.
const PCAP_DST_PORT: u16 = 10_000;
const PCAP_SRC_PORT: u16 = 49_000;

/// The files the scenarios play, written into `dir` (next to the scenario copy):
/// `dtmf_1.pcap` then `dtmf_1234pound.pcap` in one call (dtmf_order_status.xml), and
/// `dtmf_0.pcap` (refer_transfer.xml).
pub fn write_scenario_pcaps(dir: &Path) -> io::Result<()> {
    let mut order_call = DtmfStream::new(0x7ac0_0001, 1000, 160_000);
    std::fs::write(dir.join("dtmf_1.pcap"), order_call.pcap("1"))?;
    std::fs::write(dir.join("dtmf_1234pound.pcap"), order_call.pcap("1234#"))?;
    let mut transfer_call = DtmfStream::new(0x7ac0_0002, 2000, 320_000);
    std::fs::write(dir.join("dtmf_0.pcap"), transfer_call.pcap("0"))?;
    Ok(())
}

/// One RTP stream of telephone events; each `pcap` call continues where the last one ended.
pub struct DtmfStream {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
}

/// One decoded telephone-event packet, for checking files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Capture time in milliseconds from the file's first packet.
    pub at_ms: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp (the event's start).
    pub timestamp: u32,
    /// RTP SSRC.
    pub ssrc: u32,
    /// Event code (0-9, 10 = *, 11 = #).
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Duration in samples.
    pub duration: u16,
}

impl DtmfStream {
    /// A stream starting at these RTP header values.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> DtmfStream {
        DtmfStream {
            ssrc,
            seq,
            timestamp,
        }
    }

    /// The events for `digits` (0-9, *, #) as the packets of one pcap file.
    pub fn packets(&mut self, digits: &str) -> Vec<EventPacket> {
        let mut out = Vec::new();
        for (index, digit) in digits.chars().enumerate() {
            let Some(event) = event_code(digit) else {
                panic!("not a DTMF digit: {digit:?}");
            };
            let start_ms = index as u32 * KEY_PERIOD_MS;
            for n in 0..TONE_PACKETS + END_REPEATS {
                let sent = n.min(TONE_PACKETS);
                out.push(EventPacket {
                    at_ms: start_ms + sent * 20,
                    marker: n == 0,
                    payload_type: PAYLOAD_TYPE,
                    seq: self.seq,
                    timestamp: self.timestamp,
                    ssrc: self.ssrc,
                    event,
                    end: n >= TONE_PACKETS,
                    duration: ((sent + 1) * 20 * SAMPLES_PER_MS) as u16,
                });
                // Repeated end packets are retransmissions: same sequence number.
                if n < TONE_PACKETS || n + 1 == TONE_PACKETS + END_REPEATS {
                    self.seq = self.seq.wrapping_add(1);
                }
            }
            self.timestamp = self.timestamp.wrapping_add(KEY_PERIOD_MS * SAMPLES_PER_MS);
        }
        // The next file is played some seconds later; keep the timestamps roughly real.
        self.timestamp = self.timestamp.wrapping_add(4_000 * SAMPLES_PER_MS);
        out
    }

    /// The events for `digits` as a pcap file (Ethernet link type).
    pub fn pcap(&mut self, digits: &str) -> Vec<u8> {
        encode_pcap(&self.packets(digits))
    }
}

fn event_code(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => digit.to_digit(10).map(|d| d as u8),
        '*' => Some(10),
        '#' => Some(11),
        _ => None,
    }
}

/// A pcap file (little-endian, microsecond timestamps, Ethernet) of these packets.
pub fn encode_pcap(packets: &[EventPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
    out.extend_from_slice(&0u32.to_le_bytes()); // accuracy
    out.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for pkt in packets {
        let frame = frame(pkt);
        out.extend_from_slice(&(pkt.at_ms / 1000).to_le_bytes());
        out.extend_from_slice(&((pkt.at_ms % 1000) * 1000).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

fn frame(pkt: &EventPacket) -> Vec<u8> {
    let mut rtp = vec![0x80, (u8::from(pkt.marker) << 7) | pkt.payload_type];
    rtp.extend_from_slice(&pkt.seq.to_be_bytes());
    rtp.extend_from_slice(&pkt.timestamp.to_be_bytes());
    rtp.extend_from_slice(&pkt.ssrc.to_be_bytes());
    rtp.push(pkt.event);
    rtp.push((u8::from(pkt.end) << 7) | 10); // volume -10 dBm0
    rtp.extend_from_slice(&pkt.duration.to_be_bytes());

    let udp_len = (8 + rtp.len()) as u16;
    let ip_len = 20 + udp_len;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ];
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    let checksum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());

    let mut frame = vec![0u8; 12]; // destination and source MAC
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&PCAP_SRC_PORT.to_be_bytes());
    frame.extend_from_slice(&PCAP_DST_PORT.to_be_bytes());
    frame.extend_from_slice(&udp_len.to_be_bytes());
    frame.extend_from_slice(&[0, 0]); // SIPp computes the UDP checksum when it sends
    frame.extend_from_slice(&rtp);
    frame
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| {
            u32::from(u16::from_be_bytes([
                pair[0],
                pair.get(1).copied().unwrap_or(0),
            ]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads back the telephone-event packets of a file written by [`encode_pcap`].
pub fn decode_pcap(data: &[u8]) -> Option<Vec<EventPacket>> {
    let mut rest = data.get(24..)?;
    if data.get(..4)? != 0xa1b2_c3d4u32.to_le_bytes() {
        return None;
    }
    let mut out = Vec::new();
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    while !rest.is_empty() {
        let (secs, micros, len) = (u32_at(rest, 0)?, u32_at(rest, 4)?, u32_at(rest, 8)?);
        let frame = rest.get(16..16 + len as usize)?;
        rest = &rest[16 + len as usize..];
        let rtp = frame.get(14 + 20 + 8..)?;
        let event = rtp.get(12..16)?;
        out.push(EventPacket {
            at_ms: secs * 1000 + micros / 1000,
            marker: rtp[1] & 0x80 != 0,
            payload_type: rtp[1] & 0x7f,
            seq: u16::from_be_bytes([rtp[2], rtp[3]]),
            timestamp: u32::from_be_bytes(rtp.get(4..8)?.try_into().ok()?),
            ssrc: u32::from_be_bytes(rtp.get(8..12)?.try_into().ok()?),
            event: event[0],
            end: event[1] & 0x80 != 0,
            duration: u16::from_be_bytes([event[2], event[3]]),
        });
    }
    Some(out)
}
