//! SDP: RFC 4566 session descriptions and RFC 3264 offer/answer for G.711 audio calls with
//! RFC 4733 telephone-events.
//!
//! Owns turning a remote body into a [`Negotiated`] media setup ([`answer`],
//! [`accept_answer`]) and writing our own bodies ([`offer`], the answer text), plus the `o=`
//! version bookkeeping of one dialog ([`SessionOrigin`]). Pure functions over strings: no
//! sockets, no clock, no tokio. `sip/` hands bodies in and maps [`SdpError::sip_status`] to a
//! response; `media/` consumes [`Negotiated`].
//!
//! # Why the parser is hand-written
//!
//! The `sdp` crate (webrtc-rs, a port of pion/sdp) parses with a state machine that enforces
//! RFC 4566's line order and fails the whole body on a line out of place: it reports
//! `SdpInvalidSyntax: a=` for a LIVE555 body with `a=` before `t=` (scottlamb/retina#26),
//! and pion/sdp rejects `c=` after `t=` (pion/sdp#163). SIP devices send such bodies, and a
//! 488 for a caller whose SDP is merely untidy is worse than ignoring order. We read about ten
//! fields and skip the rest, which is a short line scanner (`parse.rs`), and it
//! needs no dependency.

mod negotiate;
mod parse;
mod write;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};

use crate::media::Codec;

pub use negotiate::{accept_answer, answer, offer, offer_directed};

/// What we put on the wire, and how we want to receive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address of our RTP socket, written to `o=` and `c=`.
    pub addr: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// Codecs we accept; their order is our preference in offers. Empty means both G.711.
    pub codecs: Vec<Codec>,
    /// telephone-event payload type for our own offers (dynamic, 96-127; 101 by habit).
    pub dtmf_pt: u8,
    /// Packetization time we ask for when the remote side names none.
    pub ptime_ms: u32,
}

/// An RFC 3264 media direction, seen from the side that wrote the SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sends and receives (the default when no attribute is present).
    SendRecv,
    /// Only sends.
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The direction an answerer uses for this offered direction (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            same => same,
        }
    }

    /// Whether the side this direction describes sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side this direction describes receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The SDP attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// The outcome of one offer/answer exchange, as `media/` needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The one audio codec both sides use.
    pub codec: Codec,
    /// RTP payload type of `codec` on this call: the static 0/8 unless the offer mapped the
    /// codec to a dynamic number, which RFC 3264 §6.1 says the answer keeps.
    pub codec_pt: u8,
    /// Where to send RTP; `None` when the remote address is `0.0.0.0` (old-style hold) or
    /// the stream has port 0.
    pub remote_rtp: Option<SocketAddr>,
    /// telephone-event/8000 payload type, if both sides do RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// Direction the remote side declared (with `c=0.0.0.0` counted as not receiving).
    pub remote_direction: Direction,
    /// Our direction.
    pub local_direction: Direction,
    /// Packetization time in milliseconds.
    pub ptime_ms: u32,
}

impl Negotiated {
    /// Whether we send RTP.
    pub fn sends(&self) -> bool {
        self.local_direction.sends() && self.remote_rtp.is_some()
    }

    /// Whether we expect RTP from the remote side.
    pub fn receives(&self) -> bool {
        self.local_direction.receives()
    }
}

/// Why a remote session description could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not SDP we can read.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// No audio stream with a codec both sides support.
    #[error("no common audio codec")]
    NoCommonCodec,
}

impl SdpError {
    /// The SIP response for an INVITE whose offer fails this way (RFC 3261 §13.3.1.1).
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::Malformed(_) => 400,
            SdpError::NoCommonCodec => 488,
        }
    }
}

/// The `o=` line of one dialog: the session id stays, the version increases whenever the
/// body we send differs from the previous one (RFC 3264 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOrigin {
    session_id: u64,
    version: u64,
    last_body: Option<String>,
}

impl SessionOrigin {
    /// Starts a dialog's origin; the version starts equal to the id. A `u32` keeps both far
    /// below the 2^62 RFC 3264 §5 asks for, and inside what 32-bit parsers in old phones read.
    pub fn new(session_id: u32) -> Self {
        SessionOrigin {
            session_id: u64::from(session_id),
            version: u64::from(session_id),
            last_body: None,
        }
    }

    /// The `o=` session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version of the last body sent (or of the first one to be sent).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version for `body` (everything but `v=`/`o=`), bumped if it changed.
    fn version_for(&mut self, body: &str) -> u64 {
        match &self.last_body {
            Some(last) if last == body => {}
            Some(_) => {
                self.version = self.version.wrapping_add(1);
                self.last_body = Some(body.to_owned());
            }
            None => self.last_body = Some(body.to_owned()),
        }
        self.version
    }
}

/// Packetization we use: the offered value when sane, else 20 ms (RFC 3551's G.711 default).
fn sane_ptime(ms: Option<u32>) -> u32 {
    match ms {
        Some(ms) if ms > 0 => (ms.clamp(10, 60) / 10) * 10,
        _ => 20,
    }
}
