//! Media: RTP sessions, pacing, jitter buffer, G.711, RFC 4733 DTMF, recording, bridging legs.
//!
//! Owns everything about audio packets of a call's legs, and bridges legs together. Knows
//! nothing of SIP dialogs, dialplans, tickets or HTTP: `call/` drives it with commands and reads
//! its events.

/// The narrowband codecs voxdesk speaks (both 8 kHz, 20 ms = 160 samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The rtpmap encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// Samples per second of every narrowband leg.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

impl Codec {
    /// The codec with this static payload type, if voxdesk speaks it.
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|codec| codec.payload_type() == payload_type)
    }
}

pub mod bridge;
pub mod dtmf;
pub mod g711;
pub mod histogram;
pub mod hold;
pub mod jitter;
pub mod opus_bridge;
pub mod ports;
pub mod recorder;
pub mod rtp;
pub mod session;
pub mod webrtc;

pub use bridge::{bridge, BridgeHandle, Conference, Frame, FrameQueue, Party, SupervisorMode};
pub use dtmf::{parse_dtmf_relay, DtmfReceiver};
pub use jitter::{JitterBuffer, JitterStats};
pub use ports::PortAllocator;
pub use recorder::{CallRecorder, RecorderError};
pub use rtp::{RtpError, RtpPacket, RtpSender, SeqNo};
pub use session::{
    InputId, MediaCommand, MediaConfig, MediaError, MediaEvent, MediaHandle, MediaSession,
    MediaStats,
};

#[cfg(test)]
mod tests {
    use super::Codec;

    #[test]
    fn codec_from_payload_type() {
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(101), None);
    }
}
