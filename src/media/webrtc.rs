//! Browser legs: a WebRTC peer connection (ICE host candidates, DTLS-SRTP) whose audio is
//! relayed as plain 8 kHz G.711 RTP to and from a local UDP socket, so the call layer treats a
//! browser agent like any RTP leg (its own `MediaSession`, the same bridge and recorder).
//!
//! Opus (`opus/48000/2`, what browsers offer first) is preferred: the relay then transcodes
//! each direction through an [`OpusBridge`] (Opus 48 kHz ↔ PCMU 8 kHz, 20 ms frames, its own
//! RTP sequence numbers, timestamps and SSRC on each side; lost or undecodable browser packets
//! are skipped, not concealed). Without Opus in the offer, G.711 is answered as before —
//! PCMU preferred, PCMA accepted — and the relay copies payloads without transcoding. An offer
//! with none of the three is refused.
//!
//! The WebRTC stack is webrtc-rs (`webrtc` over the sans-IO `rtc` core). This file is its shell:
//! the offer check, the packet conversions and the state rule are plain functions; the
//! peer connection, the relay socket and two relay tasks are the I/O around them.
//!
//! ICE is host-only and non-trickle: candidates come from one UDP socket on
//! [`WebrtcConfig::bind_ip`] (webrtc-rs 0.21 derives host candidates from the sockets it binds;
//! its IP/interface filters are not wired up), no STUN/TURN servers, mDNS off, and the answer
//! is returned only once gathering is complete.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use ::webrtc::media_stream::track_local::TrackLocal;
use ::webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use ::webrtc::media_stream::MediaStreamTrack;
use ::webrtc::peer_connection::{
    configure_rtcp_reports, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::{debug, info, trace};

use super::opus_bridge::{OpusBridge, OPUS_FRAME_SAMPLES, OPUS_RATE};
use super::rtp::{RtpPacket, RtpSender, SeqNo};
use super::{Codec, FRAME_SAMPLES, SAMPLE_RATE};

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;

/// Longest wait for ICE gathering (host candidates only: normally milliseconds).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the peer connection to shut down in [`WebrtcLeg::close`].
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest offer accepted; browser offers are a few kilobytes.
const MAX_OFFER_LEN: usize = 64 * 1024;
/// Receive buffer of the relay socket; larger datagrams are truncated and then fail to parse
/// or carry a wrong payload, so they are dropped either way.
const MAX_DATAGRAM: usize = 2048;

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

/// The codec spoken with the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserCodec {
    /// Opus under the browser's dynamic payload type; the relay transcodes to PCMU.
    Opus {
        /// The payload type of `opus/48000/2` in the browser's offer (and our answer).
        payload_type: u8,
    },
    /// G.711 end to end: the relay copies payloads.
    G711(Codec),
}

impl BrowserCodec {
    /// The payload type on the browser side.
    pub fn payload_type(self) -> u8 {
        match self {
            BrowserCodec::Opus { payload_type } => payload_type,
            BrowserCodec::G711(codec) => codec.payload_type(),
        }
    }

    /// The rtpmap encoding name.
    pub fn name(self) -> &'static str {
        match self {
            BrowserCodec::Opus { .. } => "opus",
            BrowserCodec::G711(codec) => codec.name(),
        }
    }

    /// The G.711 codec of the relay's plain RTP side.
    pub fn relay_codec(self) -> Codec {
        match self {
            BrowserCodec::Opus { .. } => Codec::Pcmu,
            BrowserCodec::G711(codec) => codec,
        }
    }
}

/// The codec to answer an offer with: Opus if offered, else G.711 as [`offered_g711`] picks.
pub fn offered_codec(sdp: &str) -> Option<BrowserCodec> {
    offered_opus(sdp)
        .map(|payload_type| BrowserCodec::Opus { payload_type })
        .or_else(|| offered_g711(sdp).map(BrowserCodec::G711))
}

/// An answered browser leg.
pub struct WebrtcAnswer {
    /// The leg; dropping it or calling [`WebrtcLeg::close`] ends the peer connection.
    pub leg: WebrtcLeg,
    /// The SDP answer for the browser (ICE gathering complete: no trickle needed).
    pub sdp: String,
    /// The relay's local RTP address: what the call leg sends its audio to. Only datagrams
    /// from `rtp_peer` are accepted here, and the browser's audio is sent from it.
    pub relay: SocketAddr,
    /// The G.711 codec of the relay's plain RTP (what the call leg must speak).
    pub codec: Codec,
    /// The codec negotiated with the browser.
    pub browser_codec: BrowserCodec,
}

/// One browser leg.
pub struct WebrtcLeg {
    state: watch::Receiver<LegState>,
    state_tx: Arc<watch::Sender<LegState>>,
    /// `None` once closed; `Drop` closes it in the background otherwise.
    peer: Option<Arc<dyn PeerConnection>>,
}

impl WebrtcLeg {
    /// Answers a browser's offer. The browser's audio goes as RTP to `rtp_peer` (the call leg's
    /// RTP socket); RTP arriving at the returned relay address goes to the browser.
    pub async fn answer(
        offer_sdp: &str,
        rtp_peer: SocketAddr,
        cfg: &WebrtcConfig,
    ) -> Result<WebrtcAnswer, WebrtcError> {
        if offer_sdp.len() > MAX_OFFER_LEN {
            return Err(WebrtcError::Offer(format!(
                "{} bytes, more than {MAX_OFFER_LEN}",
                offer_sdp.len()
            )));
        }
        let browser_codec = offered_codec(offer_sdp).ok_or_else(|| {
            WebrtcError::Offer("no audio m-line offering Opus, PCMU or PCMA".into())
        })?;
        let codec = browser_codec.relay_codec();
        let mut transcoders = match browser_codec {
            BrowserCodec::Opus { .. } => {
                let bridge =
                    || OpusBridge::new(codec).map_err(|e| WebrtcError::Stack(e.to_string()));
                (Some(bridge()?), Some(bridge()?))
            }
            BrowserCodec::G711(_) => (None, None),
        };
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|err| WebrtcError::Offer(err.to_string()))?;

        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(cfg.bind_ip, 0)).await?);
        let relay = socket.local_addr()?;
        let (state_tx, state) = watch::channel(LegState::Connecting);
        let state_tx = Arc::new(state_tx);
        let (gathered_tx, mut gathered) = watch::channel(false);
        let events = LegEvents {
            state: Arc::clone(&state_tx),
            gathered: gathered_tx,
            inbound_claimed: AtomicBool::new(false),
            socket: Arc::clone(&socket),
            rtp_peer,
            codec: browser_codec,
            from_browser: std::sync::Mutex::new(transcoders.0.take()),
        };
        let peer = build_peer(browser_codec, cfg.bind_ip, events).await?;
        // From here on an early return drops `leg`, which closes the peer connection.
        let leg = WebrtcLeg {
            state,
            state_tx: Arc::clone(&state_tx),
            peer: Some(Arc::clone(&peer)),
        };

        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("voxdesk-{ssrc:08x}"),
            format!("voxdesk-audio-{ssrc:08x}"),
            "voxdesk agent audio".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: rtp_codec(browser_codec),
                ..Default::default()
            }],
        )));
        peer.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(stack)?;
        peer.set_remote_description(offer)
            .await
            .map_err(|err| WebrtcError::Offer(err.to_string()))?;
        let answer = peer.create_answer(None).await.map_err(stack)?;
        peer.set_local_description(answer).await.map_err(stack)?;
        match tokio::time::timeout(GATHER_TIMEOUT, gathered.wait_for(|done| *done)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(WebrtcError::Stack("peer connection went away".into())),
            Err(_) => return Err(WebrtcError::Stack("ICE gathering timed out".into())),
        }
        let sdp = peer
            .local_description()
            .await
            .ok_or_else(|| WebrtcError::Stack("no local description".into()))?
            .sdp;
        if offered_codec(&sdp) != Some(browser_codec) {
            return Err(WebrtcError::Offer(format!(
                "answer does not carry {}",
                browser_codec.name()
            )));
        }
        info!(codec = browser_codec.name(), %relay, "browser leg answered");

        let to_browser = ToBrowser {
            codec: browser_codec,
            ssrc,
            transcoder: transcoders.1.take(),
            seq: rand::random(),
            timestamp: rand::random(),
        };
        tokio::spawn(relay_to_browser(
            socket,
            track,
            to_browser,
            rtp_peer,
            state_tx.subscribe(),
        ));
        Ok(WebrtcAnswer {
            leg,
            sdp,
            relay,
            codec,
            browser_codec,
        })
    }

    /// Follows the connection's state; `Closed` is final.
    pub fn state(&self) -> watch::Receiver<LegState> {
        self.state.clone()
    }

    /// Closes the peer connection and the relay.
    pub async fn close(mut self) {
        advance(&self.state_tx, LegState::Closed);
        if let Some(peer) = self.peer.take() {
            match tokio::time::timeout(CLOSE_TIMEOUT, peer.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => debug!(%err, "closing browser leg"),
                Err(_) => debug!("closing browser leg timed out"),
            }
        }
    }
}

impl Drop for WebrtcLeg {
    fn drop(&mut self) {
        // Ends both relay tasks, which watch for `Closed`.
        advance(&self.state_tx, LegState::Closed);
        // A dropped webrtc-rs connection keeps its driver running until closed; `close` is
        // async, so it runs on the runtime if there still is one.
        if let Some(peer) = self.peer.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, peer.close()).await;
                });
            }
        }
    }
}

fn stack(err: ::webrtc::error::Error) -> WebrtcError {
    WebrtcError::Stack(err.to_string())
}

/// A peer connection that can negotiate only `codec`, with host candidates only on `bind_ip`.
async fn build_peer(
    codec: BrowserCodec,
    bind_ip: IpAddr,
    events: LegEvents,
) -> Result<Arc<dyn PeerConnection>, WebrtcError> {
    let mut media = MediaEngine::default();
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: rtp_codec(codec),
                payload_type: codec.payload_type(),
            },
            RtpCodecKind::Audio,
        )
        .map_err(stack)?;
    let network = if bind_ip.is_ipv4() {
        NetworkType::Udp4
    } else {
        NetworkType::Udp6
    };
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_network_types(vec![network])
        .build();
    let peer = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(configure_rtcp_reports(Registry::new()))
        .with_handler(Arc::new(events))
        .with_udp_addrs(vec![SocketAddr::new(bind_ip, 0)])
        .build()
        .await
        .map_err(stack)?;
    Ok(Arc::new(peer))
}

fn rtp_codec(codec: BrowserCodec) -> RTCRtpCodec {
    let (mime_type, clock_rate, channels, fmtp) = match codec {
        BrowserCodec::Opus { .. } => (MIME_TYPE_OPUS, OPUS_RATE, 2, "minptime=10;useinbandfec=1"),
        BrowserCodec::G711(Codec::Pcmu) => (MIME_TYPE_PCMU, SAMPLE_RATE, 1, ""),
        BrowserCodec::G711(Codec::Pcma) => (MIME_TYPE_PCMA, SAMPLE_RATE, 1, ""),
    };
    RTCRtpCodec {
        mime_type: mime_type.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Callbacks of one leg's peer connection (run on its driver task).
struct LegEvents {
    state: Arc<watch::Sender<LegState>>,
    gathered: watch::Sender<bool>,
    /// Set by the first remote audio track: only one is relayed.
    inbound_claimed: AtomicBool,
    socket: Arc<UdpSocket>,
    rtp_peer: SocketAddr,
    codec: BrowserCodec,
    /// The inbound transcoder (Opus only), taken by the first remote audio track.
    from_browser: std::sync::Mutex<Option<OpusBridge>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for LegEvents {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        debug!(%state, "browser leg peer connection");
        if let Some(next) = leg_state_for(state) {
            advance(&self.state, next);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await != RtpCodecKind::Audio
            || self.inbound_claimed.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let transcoder = self
            .from_browser
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        let from_browser = FromBrowser {
            codec: self.codec,
            transcoder,
            plain: RtpSender::for_codec(self.codec.relay_codec()),
            first: true,
        };
        tokio::spawn(relay_from_browser(
            track,
            Arc::clone(&self.socket),
            self.rtp_peer,
            from_browser,
            self.state.subscribe(),
        ));
    }
}

/// The leg state a peer connection state leads to; `None` keeps the current one
/// (`Disconnected` may recover, and turns into `Failed` if it does not).
fn leg_state_for(state: RTCPeerConnectionState) -> Option<LegState> {
    match state {
        RTCPeerConnectionState::Connected => Some(LegState::Connected),
        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => Some(LegState::Closed),
        _ => None,
    }
}

/// The state after `next` is reported in `current`: `Closed` is final.
fn transition(current: LegState, next: LegState) -> LegState {
    if current == LegState::Closed {
        LegState::Closed
    } else {
        next
    }
}

fn advance(state: &watch::Sender<LegState>, next: LegState) {
    state.send_if_modified(|current| {
        let after = transition(*current, next);
        let changed = after != *current;
        *current = after;
        changed
    });
}

/// Resolves once the leg is closed (or its state sender is gone).
async fn closed(mut state: watch::Receiver<LegState>) {
    let _ = state.wait_for(|state| *state == LegState::Closed).await;
}

/// Browser → call leg: each packet of the remote track, as plain G.711 RTP to `rtp_peer`.
async fn relay_from_browser(
    track: Arc<dyn TrackRemote>,
    socket: Arc<UdpSocket>,
    rtp_peer: SocketAddr,
    mut from_browser: FromBrowser,
    state: watch::Receiver<LegState>,
) {
    let closed = closed(state);
    tokio::pin!(closed);
    loop {
        let event = tokio::select! {
            _ = &mut closed => break,
            event = track.poll() => event,
        };
        match event {
            None | Some(TrackRemoteEvent::OnEnded) => break,
            Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                let datagrams = from_browser.push(&packet);
                if datagrams.is_empty() {
                    trace!(
                        pt = packet.header.payload_type,
                        "no plain packet from browser packet"
                    );
                }
                for bytes in datagrams {
                    if let Err(err) = socket.send_to(&bytes, rtp_peer).await {
                        debug!(%err, "relay send to call leg failed");
                    }
                }
            }
            Some(_) => {}
        }
    }
}

/// Call leg → browser: plain RTP from `rtp_peer` onto the local track, restamped with its SSRC.
async fn relay_to_browser(
    socket: Arc<UdpSocket>,
    track: Arc<TrackLocalStaticRTP>,
    mut to_browser: ToBrowser,
    rtp_peer: SocketAddr,
    state: watch::Receiver<LegState>,
) {
    let closed = closed(state);
    tokio::pin!(closed);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            _ = &mut closed => break,
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, from) = match received {
            Ok(received) => received,
            Err(err) => {
                debug!(%err, "relay recv failed");
                continue;
            }
        };
        if !from_call_leg(from, rtp_peer) {
            trace!(%from, "dropped datagram from a stranger");
            continue;
        }
        let Some(packet) = to_browser.push(buf.get(..len).unwrap_or_default()) else {
            trace!(len, "no browser packet from datagram");
            continue;
        };
        // Fails until DTLS is up (track not bound yet) and after close: drop and go on.
        if let Err(err) = track.write_rtp(packet).await {
            trace!(%err, "write to browser track failed");
        }
    }
}

/// Whether a datagram comes from the call leg's socket. A call leg bound to a wildcard
/// address is matched on its port alone.
fn from_call_leg(from: SocketAddr, rtp_peer: SocketAddr) -> bool {
    from.port() == rtp_peer.port() && (rtp_peer.ip().is_unspecified() || from.ip() == rtp_peer.ip())
}

/// Browser → call conversion state of one leg.
struct FromBrowser {
    codec: BrowserCodec,
    /// Set with Opus.
    transcoder: Option<OpusBridge>,
    /// Stamps the transcoded packets (Opus only; G.711 keeps the browser's numbering).
    plain: RtpSender,
    first: bool,
}

impl FromBrowser {
    /// The plain RTP datagrams for one browser packet (none if it is not the negotiated codec
    /// or does not decode; several for an Opus packet longer than 20 ms).
    fn push(&mut self, packet: &rtc::rtp::Packet) -> Vec<Vec<u8>> {
        if packet.header.payload_type != self.codec.payload_type() {
            return Vec::new();
        }
        let Some(transcoder) = self.transcoder.as_mut() else {
            return browser_to_plain(packet, self.codec.relay_codec())
                .into_iter()
                .collect();
        };
        transcoder
            .push_opus(&packet.payload)
            .iter()
            .map(|frame| {
                let marker = std::mem::take(&mut self.first);
                self.plain.next(frame, FRAME_SAMPLES as u32, marker)
            })
            .collect()
    }
}

/// Call → browser conversion state of one leg.
struct ToBrowser {
    codec: BrowserCodec,
    /// The browser track's SSRC (the track sends only under it).
    ssrc: u32,
    /// Set with Opus.
    transcoder: Option<OpusBridge>,
    /// Next sequence number and 48 kHz timestamp of transcoded packets.
    seq: u16,
    timestamp: u32,
}

impl ToBrowser {
    /// The browser packet for one datagram from the call leg, if it completes one.
    fn push(&mut self, datagram: &[u8]) -> Option<rtc::rtp::Packet> {
        let relay = self.codec.relay_codec();
        let Some(transcoder) = self.transcoder.as_mut() else {
            return plain_to_browser(datagram, relay, self.ssrc);
        };
        let packet = RtpPacket::parse(datagram).ok()?;
        if packet.payload_type != relay.payload_type() {
            return None;
        }
        let opus = transcoder.push_g711(&packet.payload)?;
        let out = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: packet.marker,
                payload_type: self.codec.payload_type(),
                sequence_number: self.seq,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: Bytes::from(opus),
        };
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(OPUS_FRAME_SAMPLES as u32);
        Some(out)
    }
}

/// A packet of the browser's track as plain RTP (12-byte header, no extensions), or `None`
/// when it is not the negotiated G.711 payload.
fn browser_to_plain(packet: &rtc::rtp::Packet, codec: Codec) -> Option<Vec<u8>> {
    if packet.header.payload_type != codec.payload_type() {
        return None;
    }
    RtpPacket {
        payload_type: packet.header.payload_type,
        marker: packet.header.marker,
        seq: SeqNo(packet.header.sequence_number),
        timestamp: packet.header.timestamp,
        ssrc: packet.header.ssrc,
        payload: packet.payload.to_vec(),
    }
    .to_bytes()
    .ok()
}

/// A datagram from the call leg as a packet for the browser track (which only sends under
/// its own `ssrc`), or `None` when it is not RTP carrying the negotiated G.711 payload.
fn plain_to_browser(datagram: &[u8], codec: Codec, ssrc: u32) -> Option<rtc::rtp::Packet> {
    let packet = RtpPacket::parse(datagram).ok()?;
    if packet.payload_type != codec.payload_type() || packet.payload.is_empty() {
        return None;
    }
    Some(rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            marker: packet.marker,
            payload_type: packet.payload_type,
            sequence_number: packet.seq.0,
            timestamp: packet.timestamp,
            ssrc,
            ..Default::default()
        },
        payload: Bytes::from(packet.payload),
    })
}

/// The G.711 codec to answer an offer with: PCMU if an accepted audio m-line offers it, else
/// PCMA, else `None`. Only the static payload types count (what browsers send), and an
/// `a=rtpmap` that maps 0 or 8 to something else disqualifies it.
pub fn offered_g711(sdp: &str) -> Option<Codec> {
    let mut offered = Vec::new();
    let mut section: Option<AudioSection> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            if let Some(done) = section.take() {
                offered.extend(done.g711());
            }
            section = AudioSection::parse(media);
        } else if let (Some(current), Some(rtpmap)) =
            (section.as_mut(), line.strip_prefix("a=rtpmap:"))
        {
            current.rtpmap(rtpmap);
        }
    }
    if let Some(done) = section {
        offered.extend(done.g711());
    }
    [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .find(|codec| offered.contains(codec))
}

/// The payload type of `opus/48000/2` on an accepted audio m-line of `sdp`, if any.
pub fn offered_opus(sdp: &str) -> Option<u8> {
    let mut section: Option<AudioSection> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            if let Some(pt) = section.take().and_then(|done| done.opus) {
                return Some(pt);
            }
            section = AudioSection::parse(media);
        } else if let (Some(current), Some(rtpmap)) =
            (section.as_mut(), line.strip_prefix("a=rtpmap:"))
        {
            current.rtpmap(rtpmap);
        }
    }
    section.and_then(|done| done.opus)
}

/// An accepted `m=audio` section while its attributes are read.
struct AudioSection {
    /// Offered static G.711 payload types not (yet) contradicted by an rtpmap.
    codecs: Vec<Codec>,
    /// Every payload type on the m-line.
    formats: Vec<u8>,
    /// The first m-line payload type mapped to `opus/48000/2`.
    opus: Option<u8>,
}

impl AudioSection {
    /// From the part after `m=`; `None` unless audio over RTP with a non-zero port.
    fn parse(media: &str) -> Option<AudioSection> {
        let mut fields = media.split_ascii_whitespace();
        if fields.next()? != "audio" {
            return None;
        }
        let port = fields.next()?.split('/').next()?;
        if port.parse::<u16>().ok()? == 0 {
            return None;
        }
        if !fields.next()?.contains("RTP") {
            return None;
        }
        let formats: Vec<u8> = fields
            .filter_map(|format| format.parse::<u8>().ok())
            .collect();
        let codecs = formats
            .iter()
            .copied()
            .filter_map(Codec::from_payload_type)
            .collect();
        Some(AudioSection {
            codecs,
            formats,
            opus: None,
        })
    }

    /// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`, after the prefix.
    fn rtpmap(&mut self, rtpmap: &str) {
        let Some((pt, encoding)) = rtpmap.split_once(' ') else {
            return;
        };
        if let Ok(dynamic) = pt.parse::<u8>() {
            let is_opus = encoding.trim().eq_ignore_ascii_case("opus/48000/2");
            if is_opus && self.opus.is_none() && dynamic >= 96 && self.formats.contains(&dynamic) {
                self.opus = Some(dynamic);
            }
        }
        let Some(codec) = pt.parse::<u8>().ok().and_then(Codec::from_payload_type) else {
            return;
        };
        let mut parts = encoding.trim().split('/');
        let name_matches = parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(codec.name()));
        let rate_matches = parts.next() == Some("8000");
        if !(name_matches && rate_matches) {
            self.codecs.retain(|offered| *offered != codec);
        }
    }

    fn g711(self) -> Vec<Codec> {
        self.codecs
    }
}
