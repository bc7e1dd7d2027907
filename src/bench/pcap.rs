//! Writes the reference audio that SIPp's `play_pcap_audio` replays: a classic libpcap file of
//! Ethernet/IPv4/UDP/RTP frames, one 20 ms PCMA packet every 20 ms exactly.
//!
//! Hand-written because it is 40 lines and the stock `/usr/share/sip-tester/g711a.pcap` does not
//! fit: it carries 30 ms packets captured with ±2–5 ms of network jitter baked into their
//! timestamps, and SIPp replays those timestamps, so measuring it would measure the capture.

use std::time::Duration;

use crate::media::rtp::{RtpSender, SeqNo};
use crate::media::{Codec, FRAME_SAMPLES};

const FRAME: Duration = Duration::from_millis(20);
/// PCMA.
const PAYLOAD_TYPE: u8 = 8;
const ETHERNET_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

/// The pcap bytes for `duration` of a quiet 400 Hz tone, PCMA, 20 ms packets.
pub fn reference_audio(duration: Duration) -> Vec<u8> {
    let frames = duration.as_millis() / FRAME.as_millis();
    let mut rtp = match RtpSender::with_state(PAYLOAD_TYPE, 0x5150_5000, SeqNo(1), 0) {
        Ok(sender) => sender,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    // Global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, linktype Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for word in [0u32, 0, 65_535, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for index in 0..frames {
        let samples: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| {
                let t = (index as f64 * FRAME_SAMPLES as f64 + i as f64) / 8000.0;
                (2000.0 * (t * 400.0 * std::f64::consts::TAU).sin()) as i16
            })
            .collect();
        let payload = Codec::Pcma.encode(&samples);
        let packet = rtp.next(&payload, FRAME_SAMPLES as u32, index == 0);
        let at = FRAME * u32::try_from(index).unwrap_or(u32::MAX);
        push_frame(&mut out, at, &packet);
    }
    out
}

fn push_frame(out: &mut Vec<u8>, at: Duration, rtp: &[u8]) {
    let udp_len = UDP_HEADER + rtp.len();
    let ip_len = IPV4_HEADER + udp_len;
    let frame_len = ETHERNET_HEADER + ip_len;
    let frame_len32 = u32::try_from(frame_len).unwrap_or(u32::MAX);
    out.extend_from_slice(&u32::try_from(at.as_secs()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&at.subsec_micros().to_le_bytes());
    out.extend_from_slice(&frame_len32.to_le_bytes());
    out.extend_from_slice(&frame_len32.to_le_bytes());
    // Ethernet: zero MACs, EtherType IPv4.
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&[0x08, 0x00]);
    // IPv4: no options, TTL 64, UDP, 127.0.0.1 -> 127.0.0.1 (SIPp rewrites addresses).
    let ip_len16 = u16::try_from(ip_len).unwrap_or(u16::MAX);
    let mut ip = [0u8; IPV4_HEADER];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
    let checksum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&ip);
    // UDP: ports and checksum are rewritten by SIPp.
    out.extend_from_slice(&6000u16.to_be_bytes());
    out.extend_from_slice(&6000u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(rtp);
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpPacket;

    #[test]
    fn frames_are_20ms_apart_and_carry_pcma() {
        let bytes = reference_audio(Duration::from_millis(100));
        let record = 16 + ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + 12 + FRAME_SAMPLES;
        assert_eq!(bytes.len(), 24 + 5 * record);
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
        let second = &bytes[24 + record..24 + 2 * record];
        assert_eq!(
            &second[..8],
            &[0, 0, 0, 0, 0x20, 0x4e, 0, 0],
            "0 s + 20000 us"
        );
        let ip = &second[16 + ETHERNET_HEADER..16 + ETHERNET_HEADER + IPV4_HEADER];
        assert_eq!(ipv4_checksum(ip), 0, "a valid header sums to zero");
        let rtp = RtpPacket::parse(&second[16 + 42..]).unwrap();
        assert_eq!(
            (rtp.payload_type, rtp.seq, rtp.timestamp),
            (8, SeqNo(2), 160)
        );
    }
}
