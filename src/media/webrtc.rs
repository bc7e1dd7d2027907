//! Browser legs: a WebRTC peer connection (ICE host candidates, DTLS-SRTP) whose audio is
//! relayed as plain 8 kHz G.711 RTP to and from a local UDP socket, so the call layer treats a
//! browser agent like any RTP leg (its own `MediaSession`, the same bridge and recorder).
//!
//! INTERFACE SKELETON: the bodies are filled in by the WebRTC work; signatures are agreed.

use std::net::{IpAddr, SocketAddr};

use tokio::sync::watch;

use super::Codec;

/// Where browser legs listen.
#[derive(Debug, Clone)]
pub struct WebrtcConfig {
    /// The address of ICE host candidates and of the relay's RTP socket (loopback in tests).
    pub bind_ip: IpAddr,
}

/// Life of a browser leg's peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// ICE/DTLS under way.
    Connecting,
    /// Media can flow.
    Connected,
    /// Failed, closed by either side, or ICE lost: the leg is over.
    Closed,
}

/// Why a browser leg could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebrtcError {
    /// The browser's SDP offer was unusable (no audio, no G.711, malformed).
    #[error("unusable offer: {0}")]
    Offer(String),
    /// The WebRTC stack failed.
    #[error("webrtc: {0}")]
    Stack(String),
    /// A local socket could not be bound.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// An answered browser leg.
pub struct WebrtcAnswer {
    /// The leg; dropping it or calling [`WebrtcLeg::close`] ends the peer connection.
    pub leg: WebrtcLeg,
    /// The SDP answer for the browser (ICE gathering complete: no trickle needed).
    pub sdp: String,
    /// The relay's local RTP address: what the call leg sends its audio to.
    pub relay: SocketAddr,
    /// The G.711 codec negotiated with the browser (and used on the relay).
    pub codec: Codec,
}

/// One browser leg.
pub struct WebrtcLeg {
    state: watch::Receiver<LegState>,
}

impl WebrtcLeg {
    /// Answers a browser's offer. The browser's audio goes as RTP to `rtp_peer` (the call leg's
    /// RTP socket); RTP arriving at the returned relay address goes to the browser.
    pub async fn answer(
        offer_sdp: &str,
        rtp_peer: SocketAddr,
        cfg: &WebrtcConfig,
    ) -> Result<WebrtcAnswer, WebrtcError> {
        let _ = (offer_sdp, rtp_peer, cfg);
        Err(WebrtcError::Stack("not built yet".into()))
    }

    /// Follows the connection's state; `Closed` is final.
    pub fn state(&self) -> watch::Receiver<LegState> {
        self.state.clone()
    }

    /// Closes the peer connection and the relay.
    pub async fn close(self) {}
}
