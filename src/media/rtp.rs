//! RTP packets (RFC 3550): parsing into an owned [`RtpPacket`], serialisation, wrapping
//! sequence numbers ([`SeqNo`]) and a sans-IO [`RtpSender`] that stamps outgoing packets.
//!
//! Parsing goes through rtp-rs's `RtpReader` (it validates version, CSRC list, extension and
//! padding lengths). Serialisation is hand-written: voxdesk only ever sends the fixed 12-byte
//! header (no CSRCs, extensions or padding), which is a dozen infallible lines with one
//! allocation, whereas `RtpPacketBuilder::build` returns a `Result` on every packet for a
//! payload-type check we do once, when the sender is created.

use rtp_rs::{RtpReader, RtpReaderError};

use super::Codec;

/// Size of the fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// Why bytes are not an RTP packet, or a packet cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer than 12 bytes.
    #[error("packet too short for an RTP header: {0} bytes")]
    TooShort(usize),
    /// Version field is not 2 (e.g. STUN or garbage on the port).
    #[error("unsupported RTP version {0}")]
    Version(u8),
    /// CSRC list or header extension runs past the end of the packet.
    #[error("RTP header claims {header_len} bytes, packet has {packet_len}")]
    Truncated {
        /// Bytes the header says it needs.
        header_len: usize,
        /// Bytes actually present.
        packet_len: usize,
    },
    /// Padding count is zero or larger than the payload.
    #[error("invalid RTP padding length {0}")]
    Padding(u8),
    /// Payload types are 7 bits.
    #[error("RTP payload type {0} is out of range 0..=127")]
    PayloadType(u8),
}

impl From<RtpReaderError> for RtpError {
    fn from(err: RtpReaderError) -> Self {
        match err {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort(len),
            RtpReaderError::UnsupportedVersion(v) => RtpError::Version(v),
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::Truncated {
                header_len,
                packet_len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(len) => RtpError::Padding(len),
        }
    }
}

/// An RTP sequence number. Deliberately not `Ord`: comparison only makes sense for numbers
/// less than half the space apart, so it goes through [`SeqNo::diff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// The number after this one (65535 wraps to 0).
    pub fn next(self) -> SeqNo {
        SeqNo(self.0.wrapping_add(1))
    }

    /// `self + n`, wrapping.
    pub fn wrapping_add(self, n: u16) -> SeqNo {
        SeqNo(self.0.wrapping_add(n))
    }

    /// Signed distance from `earlier` to `self` along the shorter way round the circle:
    /// positive when `self` is newer. `SeqNo(0).diff(SeqNo(65535)) == 1`.
    pub fn diff(self, earlier: SeqNo) -> i32 {
        i32::from(self.0.wrapping_sub(earlier.0) as i16)
    }

    /// Whether `self` comes after `other` (RFC 3550 A.1 style, modulo 2^16).
    pub fn is_newer_than(self, other: SeqNo) -> bool {
        self.diff(other) > 0
    }
}

/// One RTP packet, owned, without CSRCs, extension or padding (which voxdesk ignores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// 7-bit payload type.
    pub payload_type: u8,
    /// Marker bit (start of a talk spurt for audio, start of an event for RFC 4733).
    pub marker: bool,
    /// Sequence number.
    pub seq: SeqNo,
    /// Media timestamp in the payload's clock (8 kHz here).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload bytes after header, CSRCs and extension, without padding.
    pub payload: Vec<u8>,
}

impl RtpPacket {
    /// Parses untrusted bytes.
    pub fn parse(bytes: &[u8]) -> Result<RtpPacket, RtpError> {
        let reader = RtpReader::new(bytes)?;
        Ok(RtpPacket {
            payload_type: reader.payload_type(),
            marker: reader.mark(),
            seq: SeqNo(u16::from(reader.sequence_number())),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            payload: reader.payload().to_vec(),
        })
    }

    /// Serialises with a plain 12-byte header.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        if self.payload_type > 0x7F {
            return Err(RtpError::PayloadType(self.payload_type));
        }
        Ok(write_packet(
            self.payload_type,
            self.marker,
            self.seq,
            self.timestamp,
            self.ssrc,
            &self.payload,
        ))
    }
}

/// Callers guarantee `payload_type <= 127`.
fn write_packet(
    payload_type: u8,
    marker: bool,
    seq: SeqNo,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(RTP_HEADER_LEN + payload.len());
    out.push(0x80); // version 2, no padding, no extension, no CSRCs
    out.push(payload_type | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&seq.0.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Stamps one outgoing RTP stream: owns its SSRC, sequence number and timestamp.
#[derive(Debug, Clone)]
pub struct RtpSender {
    payload_type: u8,
    ssrc: u32,
    seq: SeqNo,
    timestamp: u32,
}

impl RtpSender {
    /// A stream with random SSRC, starting sequence number and timestamp (RFC 3550 5.1).
    pub fn new(payload_type: u8) -> Result<RtpSender, RtpError> {
        RtpSender::with_state(
            payload_type,
            rand::random(),
            SeqNo(rand::random()),
            rand::random(),
        )
    }

    /// A random-start stream for one of voxdesk's codecs (whose payload types are valid).
    pub fn for_codec(codec: Codec) -> RtpSender {
        RtpSender {
            payload_type: codec.payload_type() & 0x7F,
            ssrc: rand::random(),
            seq: SeqNo(rand::random()),
            timestamp: rand::random(),
        }
    }

    /// A stream with the given starting state (for deterministic tests).
    pub fn with_state(
        payload_type: u8,
        ssrc: u32,
        seq: SeqNo,
        timestamp: u32,
    ) -> Result<RtpSender, RtpError> {
        if payload_type > 0x7F {
            return Err(RtpError::PayloadType(payload_type));
        }
        Ok(RtpSender {
            payload_type,
            ssrc,
            seq,
            timestamp,
        })
    }

    /// Builds the next packet carrying `samples` samples, then advances the sequence number by
    /// one and the timestamp by `samples`.
    pub fn next(&mut self, payload: &[u8], samples: u32, marker: bool) -> Vec<u8> {
        let packet = write_packet(
            self.payload_type,
            marker,
            self.seq,
            self.timestamp,
            self.ssrc,
            payload,
        );
        self.seq = self.seq.next();
        self.timestamp = self.timestamp.wrapping_add(samples);
        packet
    }

    /// Advances the timestamp without sending, so the receiver sees a pause rather than a burst
    /// (used when the pacer fell far behind).
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// This stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet will carry.
    pub fn next_seq(&self) -> SeqNo {
        self.seq
    }

    /// The timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seq_diff_wraps() {
        let cases = [
            (0u16, 65535u16, 1),
            (65535, 0, -1),
            (10, 5, 5),
            (5, 10, -5),
            (32767, 0, 32767),
            (0, 32768, -32768),
        ];
        for (a, b, want) in cases {
            assert_eq!(SeqNo(a).diff(SeqNo(b)), want, "{a} - {b}");
            assert_eq!(SeqNo(a).is_newer_than(SeqNo(b)), want > 0, "{a} > {b}");
        }
        assert_eq!(SeqNo(65535).next(), SeqNo(0));
        assert_eq!(SeqNo(65530).wrapping_add(10), SeqNo(4));
    }

    #[test]
    fn parses_a_known_packet() {
        let bytes = [
            0x80, 0x88, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3,
        ];
        let pkt = RtpPacket::parse(&bytes).expect("valid packet");
        assert_eq!(
            pkt,
            RtpPacket {
                payload_type: 8,
                marker: true,
                seq: SeqNo(0x1234),
                timestamp: 320,
                ssrc: 0xDEAD_BEEF,
                payload: vec![1, 2, 3],
            }
        );
    }

    #[test]
    fn maps_reader_errors() {
        let cases: [(&[u8], RtpError); 4] = [
            (&[0x80; 5], RtpError::TooShort(5)),
            (&[0x40; 12], RtpError::Version(1)),
            // CC = 2 needs 8 more bytes.
            (
                &[0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2],
                RtpError::Truncated {
                    header_len: 20,
                    packet_len: 14,
                },
            ),
            // padding flag with a pad count of 9 but only 1 payload byte
            (
                &[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
                RtpError::Padding(9),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(RtpPacket::parse(bytes), Err(want));
        }
    }

    #[test]
    fn strips_padding() {
        let bytes = [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 0, 3];
        let pkt = RtpPacket::parse(&bytes).expect("valid padded packet");
        assert_eq!(pkt.payload, vec![7]);
    }

    #[test]
    fn sender_advances_seq_and_timestamp_with_wrap() {
        let mut tx = RtpSender::with_state(0, 42, SeqNo(65535), u32::MAX - 100).expect("pt ok");
        let first = RtpPacket::parse(&tx.next(&[0xFF; 160], 160, true)).expect("parse");
        let second = RtpPacket::parse(&tx.next(&[0xFF; 160], 160, false)).expect("parse");
        assert_eq!(
            (first.seq, first.timestamp, first.marker),
            (SeqNo(65535), u32::MAX - 100, true)
        );
        assert_eq!(
            (second.seq, second.timestamp, second.marker),
            (SeqNo(0), 59, false)
        );
        assert_eq!(second.ssrc, 42);
        assert_eq!(second.payload.len(), 160);
    }

    #[test]
    fn rejects_out_of_range_payload_type() {
        assert_eq!(RtpSender::new(128).err(), Some(RtpError::PayloadType(128)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RtpPacket::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_version_2(mut bytes in proptest::collection::vec(any::<u8>(), 12..200)) {
            bytes[0] = 0x80 | (bytes[0] & 0x3F);
            let _ = RtpPacket::parse(&bytes);
        }

        #[test]
        fn build_then_parse_round_trips(
            payload_type in 0u8..=127,
            marker: bool,
            seq: u16,
            timestamp: u32,
            ssrc: u32,
            payload in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let pkt = RtpPacket { payload_type, marker, seq: SeqNo(seq), timestamp, ssrc, payload };
            let bytes = pkt.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(RtpPacket::parse(&bytes), Ok(pkt));
        }
    }
}
