//! Browser-leg tests: the pure offer check, packet conversions and state rule, then a real
//! webrtc-rs peer connection on 127.0.0.1 playing the browser against [`WebrtcLeg`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ::webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use ::webrtc::media_stream::track_local::TrackLocal;
use ::webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use ::webrtc::media_stream::MediaStreamTrack;
use ::webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
};
use proptest::prelude::*;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::media::rtp::RtpPacket;

const CHROMIUM_AUDIO: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n";

#[test]
fn offered_g711_picks_pcmu_then_pcma() {
    let cases: &[(&str, &str, Option<Codec>)] = &[
        ("chromium audio", CHROMIUM_AUDIO, Some(Codec::Pcmu)),
        (
            "pcma only",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 8\r\na=rtpmap:111 opus/48000/2\r\n",
            Some(Codec::Pcma),
        ),
        (
            "static types without rtpmap",
            "m=audio 5004 RTP/AVP 8 0",
            Some(Codec::Pcmu),
        ),
        (
            "opus only",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n",
            None,
        ),
        (
            "pt 0 remapped",
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 opus/48000/2\r\n",
            None,
        ),
        (
            "pcmu remapped, pcma kept",
            "m=audio 9 RTP/AVP 0 8\na=rtpmap:0 PCMU/16000\na=rtpmap:8 pcma/8000\n",
            Some(Codec::Pcma),
        ),
        ("rejected m-line", "m=audio 0 UDP/TLS/RTP/SAVPF 0 8", None),
        ("video only", "m=video 9 UDP/TLS/RTP/SAVPF 0 96", None),
        (
            "rtpmap of another section",
            "m=audio 9 RTP/AVP 0\nm=video 9 RTP/AVP 96\na=rtpmap:0 VP8/90000\n",
            Some(Codec::Pcmu),
        ),
        ("not rtp", "m=audio 9 udp 0", None),
        ("empty", "", None),
        ("garbage", "hello\nm=\nm=audio\nm=audio x", None),
    ];
    for (name, sdp, expected) in cases {
        assert_eq!(offered_g711(sdp), *expected, "{name}");
    }
}

#[test]
fn offered_codec_prefers_opus_then_g711() {
    let opus = |payload_type| Some(BrowserCodec::Opus { payload_type });
    let cases: &[(&str, &str, Option<BrowserCodec>)] = &[
        ("chromium audio", CHROMIUM_AUDIO, opus(111)),
        (
            "opus only",
            "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 OPUS/48000/2\r\n",
            opus(96),
        ),
        (
            "opus rtpmap not on the m-line",
            "m=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=rtpmap:111 opus/48000/2\r\n",
            Some(BrowserCodec::G711(Codec::Pcma)),
        ),
        (
            "opus mono is not the RFC 7587 form",
            "m=audio 9 RTP/AVP 111 0\na=rtpmap:111 opus/48000\n",
            Some(BrowserCodec::G711(Codec::Pcmu)),
        ),
        (
            "static type remapped to opus",
            "m=audio 9 RTP/AVP 0\na=rtpmap:0 opus/48000/2\n",
            None,
        ),
        (
            "opus on a rejected m-line",
            "m=audio 0 RTP/AVP 111\na=rtpmap:111 opus/48000/2\nm=audio 9 RTP/AVP 0\n",
            Some(BrowserCodec::G711(Codec::Pcmu)),
        ),
        ("empty", "", None),
    ];
    for (name, sdp, expected) in cases {
        assert_eq!(offered_codec(sdp), *expected, "{name}");
    }
}

proptest! {
    #[test]
    fn offered_codec_never_panics(sdp in "(m=audio [0-9]{1,6} [A-Z/]{0,12}( [0-9]{1,4}){0,4}\n|a=rtpmap:[0-9]{1,3} [A-Za-z]{0,5}/[0-9]{0,5}(/2)?\n|.{0,20}\n){0,8}") {
        let _ = offered_codec(&sdp);
    }

    #[test]
    fn offered_g711_never_panics(sdp in "(m=audio [0-9]{1,6} [A-Z/]{0,12}( [0-9]{1,4}){0,4}\n|a=rtpmap:[0-9]{1,3} [A-Za-z]{0,5}/[0-9]{0,5}\n|.{0,20}\n){0,8}") {
        let _ = offered_g711(&sdp);
    }

    #[test]
    fn plain_to_browser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = plain_to_browser(&bytes, Codec::Pcmu, 7);
    }
}

#[test]
fn plain_to_browser_restamps_ssrc_and_drops_other_payloads() {
    let frame = RtpPacket {
        payload_type: 0,
        marker: true,
        seq: SeqNo(41),
        timestamp: 3200,
        ssrc: 0xDEAD_BEEF,
        payload: vec![0x7F; 160],
    };
    let bytes = frame.to_bytes().expect("valid packet");
    let packet = plain_to_browser(&bytes, Codec::Pcmu, 99).expect("PCMU passes");
    assert_eq!(packet.header.ssrc, 99);
    assert_eq!(packet.header.payload_type, 0);
    assert_eq!(packet.header.sequence_number, 41);
    assert_eq!(packet.header.timestamp, 3200);
    assert!(packet.header.marker);
    assert_eq!(&packet.payload[..], &[0x7F; 160][..]);

    assert!(
        plain_to_browser(&bytes, Codec::Pcma, 99).is_none(),
        "pt 0 on a PCMA leg"
    );
    let event = RtpPacket {
        payload_type: 101,
        ..frame.clone()
    };
    let event = event.to_bytes().expect("valid packet");
    assert!(plain_to_browser(&event, Codec::Pcmu, 99).is_none());
    assert!(plain_to_browser(b"\x00\x01STUN-ish garbage", Codec::Pcmu, 99).is_none());
    assert!(
        plain_to_browser(&bytes[..12], Codec::Pcmu, 99).is_none(),
        "no payload"
    );
}

#[test]
fn browser_to_plain_strips_to_a_plain_header() {
    let mut packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type: 8,
            sequence_number: 65535,
            timestamp: 160,
            ssrc: 5,
            ..Default::default()
        },
        payload: Bytes::from_static(b"alaw"),
    };
    let bytes = browser_to_plain(&packet, Codec::Pcma).expect("PCMA passes");
    assert_eq!(bytes.len(), 12 + 4);
    let parsed = RtpPacket::parse(&bytes).expect("plain RTP");
    assert_eq!(parsed.payload_type, 8);
    assert_eq!(parsed.seq, SeqNo(65535));
    assert_eq!(parsed.timestamp, 160);
    assert_eq!(parsed.ssrc, 5);
    assert_eq!(parsed.payload, b"alaw");
    assert!(browser_to_plain(&packet, Codec::Pcmu).is_none());
    packet.header.payload_type = 126;
    assert!(browser_to_plain(&packet, Codec::Pcma).is_none());
}

#[test]
fn only_the_call_legs_socket_may_feed_the_relay() {
    let leg: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
    let wildcard: SocketAddr = "0.0.0.0:4000".parse().expect("addr");
    let cases = [
        (leg, "127.0.0.1:4000", true),
        (leg, "127.0.0.1:4001", false),
        (leg, "10.0.0.1:4000", false),
        (wildcard, "10.0.0.1:4000", true),
        (wildcard, "10.0.0.1:4001", false),
    ];
    for (rtp_peer, from, expected) in cases {
        let from: SocketAddr = from.parse().expect("addr");
        assert_eq!(
            from_call_leg(from, rtp_peer),
            expected,
            "{from} vs {rtp_peer}"
        );
    }
}

#[test]
fn leg_state_follows_the_peer_connection_and_closed_is_final() {
    use LegState::*;
    let mapping = [
        (RTCPeerConnectionState::New, None),
        (RTCPeerConnectionState::Connecting, None),
        (RTCPeerConnectionState::Connected, Some(Connected)),
        (RTCPeerConnectionState::Disconnected, None),
        (RTCPeerConnectionState::Failed, Some(Closed)),
        (RTCPeerConnectionState::Closed, Some(Closed)),
    ];
    for (pc, expected) in mapping {
        assert_eq!(leg_state_for(pc), expected, "{pc}");
    }
    let transitions = [
        (Connecting, Connected, Connected),
        (Connected, Closed, Closed),
        (Connecting, Closed, Closed),
        (Closed, Connected, Closed),
        (Closed, Connecting, Closed),
    ];
    for (from, next, expected) in transitions {
        assert_eq!(transition(from, next), expected, "{from:?} + {next:?}");
    }
}

// ---- a webrtc-rs peer playing the browser ----

const WAIT: Duration = Duration::from_secs(10);
const CLIENT_SSRC: u32 = 0x0B0B_0B0B;

fn loopback() -> WebrtcConfig {
    WebrtcConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

fn audio_codec(mime_type: &str, clock_rate: u32, channels: u16) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime_type.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Everything a test learns from the browser's side.
struct Browser {
    peer: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    connected: watch::Receiver<bool>,
    heard: mpsc::Receiver<Bytes>,
}

struct BrowserEvents {
    gathered: watch::Sender<bool>,
    connected: watch::Sender<bool>,
    heard: mpsc::Sender<Bytes>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for BrowserEvents {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.connected
            .send_replace(state == RTCPeerConnectionState::Connected);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let heard = self.heard.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    // Full queue: the test has what it needs, later packets may go.
                    let _ = heard.try_send(packet.payload);
                }
            }
        });
    }
}

/// A browser-like offerer with the given audio codecs (pt, codec); returns it and its offer
/// after gathering completed.
async fn browser(codecs: &[(u8, RTCRtpCodec)]) -> (Browser, String) {
    let mut media = MediaEngine::default();
    for (payload_type, codec) in codecs {
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec.clone(),
                    payload_type: *payload_type,
                },
                RtpCodecKind::Audio,
            )
            .expect("register codec");
    }
    let (gathered_tx, mut gathered) = watch::channel(false);
    let (connected_tx, connected) = watch::channel(false);
    let (heard_tx, heard) = mpsc::channel(256);
    let peer = PeerConnectionBuilder::new()
        .with_media_engine(media)
        .with_handler(Arc::new(BrowserEvents {
            gathered: gathered_tx,
            connected: connected_tx,
            heard: heard_tx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("browser peer");
    let peer: Arc<dyn PeerConnection> = Arc::new(peer);
    let first = codecs.first().map(|(_, codec)| codec.clone());
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "browser-stream".to_owned(),
        "browser-mic".to_owned(),
        "browser mic".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(CLIENT_SSRC),
                ..Default::default()
            },
            codec: first.unwrap_or_else(|| audio_codec(MIME_TYPE_PCMU, 8000, 1)),
            ..Default::default()
        }],
    )));
    peer.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .expect("add track");
    let offer = peer.create_offer(None).await.expect("offer");
    peer.set_local_description(offer).await.expect("set offer");
    tokio::time::timeout(WAIT, gathered.wait_for(|done| *done))
        .await
        .expect("browser gathering in time")
        .expect("browser alive");
    let sdp = peer.local_description().await.expect("offer set").sdp;
    let browser = Browser {
        peer,
        track,
        connected,
        heard,
    };
    (browser, sdp)
}

fn g711_browser_codecs() -> Vec<(u8, RTCRtpCodec)> {
    vec![
        (0, audio_codec(MIME_TYPE_PCMU, 8000, 1)),
        (8, audio_codec(MIME_TYPE_PCMA, 8000, 1)),
        (111, audio_codec(MIME_TYPE_OPUS, 48000, 2)),
    ]
}

async fn wait_for_state(state: &mut watch::Receiver<LegState>, wanted: LegState) {
    tokio::time::timeout(WAIT, state.wait_for(|state| *state == wanted))
        .await
        .unwrap_or_else(|_| panic!("leg never reached {wanted:?}"))
        .expect("state sender alive");
}

/// Gives the browser the leg's answer and waits until both ends are connected; the leg's
/// state, for the test to follow further.
async fn connect(browser: &mut Browser, answer: &WebrtcAnswer) -> watch::Receiver<LegState> {
    let mut state = answer.leg.state();
    browser
        .peer
        .set_remote_description(RTCSessionDescription::answer(answer.sdp.clone()).expect("sdp"))
        .await
        .expect("browser takes the answer");
    wait_for_state(&mut state, LegState::Connected).await;
    tokio::time::timeout(WAIT, browser.connected.wait_for(|up| *up))
        .await
        .expect("browser connected in time")
        .expect("browser alive");
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_leg_relays_g711_both_ways_and_closes() {
    let call_leg = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("call leg socket");
    let rtp_peer = call_leg.local_addr().expect("call leg addr");
    let (mut browser, offer) = browser(&g711_browser_codecs()).await;

    let answer = WebrtcLeg::answer(&offer, rtp_peer, &loopback())
        .await
        .unwrap_or_else(|err| panic!("{err} answering\n{offer}"));
    assert_eq!(answer.codec, Codec::Pcmu);
    assert!(answer.relay.ip().is_loopback());
    assert!(answer.sdp.contains("a=candidate:"), "gathering complete");
    assert!(answer.sdp.contains("127.0.0.1"), "loopback host candidate");
    assert_eq!(audio_formats(&answer.sdp), ["0"], "only PCMU answered");
    let candidates: Vec<&str> = answer
        .sdp
        .lines()
        .filter(|line| line.starts_with("a=candidate:"))
        .collect();
    assert!(
        candidates
            .iter()
            .all(|line| line.contains(" 127.0.0.1 ") && line.contains(" typ host")),
        "only host candidates on bind_ip: {candidates:?}"
    );
    let mut state = connect(&mut browser, &answer).await;

    // (1) Call leg → browser.
    let mut to_browser = vec![0xD5; 160];
    to_browser[..4].copy_from_slice(b"VOXD");
    let heard = async {
        for seq in 0u16.. {
            let frame = RtpPacket {
                payload_type: 0,
                marker: seq == 0,
                seq: SeqNo(seq),
                timestamp: u32::from(seq) * 160,
                ssrc: 1234,
                payload: to_browser.clone(),
            };
            let bytes = frame.to_bytes().expect("frame");
            call_leg.send_to(&bytes, answer.relay).await.expect("send");
            // Odd traffic on the relay is dropped, not fatal.
            call_leg
                .send_to(b"not rtp", answer.relay)
                .await
                .expect("send");
            if let Ok(Some(payload)) =
                tokio::time::timeout(Duration::from_millis(20), browser.heard.recv()).await
            {
                return payload;
            }
        }
        unreachable!("u16 range is longer than the timeout")
    };
    let payload = tokio::time::timeout(WAIT, heard)
        .await
        .expect("browser hears the call leg");
    assert_eq!(&payload[..], &to_browser[..]);

    // (2) Browser → call leg.
    let mut from_browser = vec![0x55; 160];
    from_browser[..4].copy_from_slice(b"BRWS");
    let received = async {
        let mut buf = vec![0u8; 1500];
        for seq in 0u16.. {
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: 0,
                    sequence_number: seq,
                    timestamp: u32::from(seq) * 160,
                    ssrc: CLIENT_SSRC,
                    ..Default::default()
                },
                payload: Bytes::from(from_browser.clone()),
            };
            browser
                .track
                .write_rtp(packet)
                .await
                .expect("browser writes");
            if let Ok(Ok((len, from))) =
                tokio::time::timeout(Duration::from_millis(20), call_leg.recv_from(&mut buf)).await
            {
                return (buf[..len].to_vec(), from);
            }
        }
        unreachable!("u16 range is longer than the timeout")
    };
    let (datagram, from) = tokio::time::timeout(WAIT, received)
        .await
        .expect("call leg hears the browser");
    assert_eq!(
        from, answer.relay,
        "sent from the relay socket (symmetric RTP)"
    );
    let packet = RtpPacket::parse(&datagram).expect("plain RTP");
    assert_eq!(packet.payload_type, 0);
    assert_eq!(packet.payload, from_browser);

    // (3) close → Closed.
    answer.leg.close().await;
    assert_eq!(*state.borrow_and_update(), LegState::Closed);
    let _ = browser.peer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_leg_closes_it() {
    let (browser, offer) = browser(&g711_browser_codecs()).await;
    let answer = WebrtcLeg::answer(&offer, "127.0.0.1:9".parse().expect("addr"), &loopback())
        .await
        .expect("answered");
    let state = answer.leg.state();
    assert_eq!(*state.borrow(), LegState::Connecting);
    drop(answer);
    assert_eq!(*state.borrow(), LegState::Closed);
    let _ = browser.peer.close().await;
}

/// The payload types of the first `m=audio` line.
fn audio_formats(sdp: &str) -> Vec<String> {
    sdp.lines()
        .find_map(|line| line.strip_prefix("m=audio "))
        .map(|media| {
            media
                .split_whitespace()
                .skip(2)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_style_codec_list_is_answered_with_opus_alone() {
    let (browser, offer) = browser(&g711_browser_codecs()).await;
    // webrtc-rs offers only its track's codec; rewrite the m-line the way Chromium lists its
    // audio codecs, Opus first.
    let chromium_codecs = CHROMIUM_AUDIO
        .lines()
        .filter(|line| line.starts_with("a=rtpmap:"))
        .filter(|line| !line.starts_with("a=rtpmap:0 "))
        .fold(String::new(), |all, line| all + line + "\r\n");
    let offer = offer
        .replace(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n",
        )
        .replace(
            "a=rtpmap:0 PCMU/8000/1\r\n",
            &format!("a=rtpmap:0 PCMU/8000\r\n{chromium_codecs}"),
        );
    assert!(offer.contains("111 63 9 0 8"), "offer rewritten:\n{offer}");
    let answer = WebrtcLeg::answer(&offer, "127.0.0.1:9".parse().expect("addr"), &loopback())
        .await
        .unwrap_or_else(|err| panic!("{err} answering\n{offer}"));
    assert_eq!(answer.codec, Codec::Pcmu, "the relay side stays PCMU");
    assert_eq!(
        answer.browser_codec,
        BrowserCodec::Opus { payload_type: 111 }
    );
    assert_eq!(
        audio_formats(&answer.sdp),
        ["111"],
        "answer:\n{}",
        answer.sdp
    );
    assert!(
        answer.sdp.contains("a=rtpmap:111 opus/48000/2"),
        "{}",
        answer.sdp
    );
    answer.leg.close().await;
    let _ = browser.peer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_only_offer_is_answered_with_pcma() {
    let (browser, offer) = browser(&[(8, audio_codec(MIME_TYPE_PCMA, 8000, 1))]).await;
    let answer = WebrtcLeg::answer(&offer, "127.0.0.1:9".parse().expect("addr"), &loopback())
        .await
        .expect("answered");
    assert_eq!(answer.codec, Codec::Pcma);
    assert_eq!(audio_formats(&answer.sdp), ["8"]);
    answer.leg.close().await;
    let _ = browser.peer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_offers_are_refused() {
    let (browser, _) = browser(&[(8, audio_codec(MIME_TYPE_PCMA, 8000, 1))]).await;
    let rtp_peer: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let offers = [
        (
            "g722 only",
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 9\r\n\
             a=rtpmap:9 G722/8000\r\n",
        ),
        ("garbage", "this is not SDP\r\n"),
        ("empty", ""),
        ("g711 in a broken sdp", "m=audio 9 RTP/AVP 0\r\n"),
    ];
    for (name, offer) in offers {
        match WebrtcLeg::answer(offer, rtp_peer, &loopback()).await {
            Err(WebrtcError::Offer(_)) => {}
            Err(other) => panic!("{name}: wrong error {other}"),
            Ok(_) => panic!("{name}: answered"),
        }
    }
    let huge = "a".repeat(MAX_OFFER_LEN + 1);
    assert!(matches!(
        WebrtcLeg::answer(&huge, rtp_peer, &loopback()).await,
        Err(WebrtcError::Offer(_))
    ));
    let _ = browser.peer.close().await;
}

/// A 1 kHz tone as `frames` 20 ms PCMU frames.
fn tone_frames(frames: usize) -> Vec<Vec<u8>> {
    (0..frames * crate::media::FRAME_SAMPLES)
        .map(|n| (8000.0 * (2.0 * std::f32::consts::PI * n as f32 / 8.0).sin()) as i16)
        .collect::<Vec<_>>()
        .chunks(crate::media::FRAME_SAMPLES)
        .map(|pcm| Codec::Pcmu.encode(pcm))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_leg_transcodes_opus_both_ways() {
    let call_leg = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("call leg socket");
    let rtp_peer = call_leg.local_addr().expect("call leg addr");
    let (mut browser, offer) = browser(&[(111, audio_codec(MIME_TYPE_OPUS, 48000, 2))]).await;
    let answer = WebrtcLeg::answer(&offer, rtp_peer, &loopback())
        .await
        .unwrap_or_else(|err| panic!("{err} answering\n{offer}"));
    assert_eq!(
        answer.browser_codec,
        BrowserCodec::Opus { payload_type: 111 }
    );
    assert_eq!(answer.codec, Codec::Pcmu);
    let mut state = connect(&mut browser, &answer).await;

    // (1) Call leg → browser: PCMU in, Opus out that decodes to the tone's level.
    let tone = tone_frames(2000);
    let heard = async {
        let mut decoder = ::opus::Decoder::new(48_000, ::opus::Channels::Mono).expect("decoder");
        let mut pcm = vec![0i16; 5760];
        let mut loud = 0;
        for (seq, frame) in (0u16..).zip(tone.iter()) {
            let bytes = RtpPacket {
                payload_type: 0,
                marker: seq == 0,
                seq: SeqNo(seq),
                timestamp: u32::from(seq) * 160,
                ssrc: 1234,
                payload: frame.clone(),
            }
            .to_bytes()
            .expect("frame");
            call_leg.send_to(&bytes, answer.relay).await.expect("send");
            if let Ok(Some(payload)) =
                tokio::time::timeout(Duration::from_millis(20), browser.heard.recv()).await
            {
                let count = decoder
                    .decode(&payload, &mut pcm, false)
                    .expect("valid Opus");
                assert_eq!(count, 960, "20 ms at 48 kHz");
                let peak = pcm[..count]
                    .iter()
                    .map(|s| s.unsigned_abs())
                    .max()
                    .unwrap_or(0);
                if peak > 4000 {
                    loud += 1;
                    if loud == 5 {
                        return;
                    }
                }
            }
        }
        panic!("the browser never heard the tone");
    };
    tokio::time::timeout(WAIT, heard)
        .await
        .expect("browser hears the call leg");

    // (2) Browser → call leg: Opus in, 20 ms PCMU frames with fresh numbering out.
    let mut encoder =
        ::opus::Encoder::new(48_000, ::opus::Channels::Mono, ::opus::Application::Voip)
            .expect("encoder");
    let received = async {
        let mut buf = vec![0u8; 1500];
        let mut packets = Vec::new();
        for seq in 0u16.. {
            let pcm: Vec<i16> = (0..960)
                .map(|n| {
                    let t = (u32::from(seq) * 960 + n) as f32 / 48_000.0;
                    (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()) as i16
                })
                .collect();
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: 111,
                    sequence_number: seq,
                    timestamp: u32::from(seq) * 960,
                    ssrc: CLIENT_SSRC,
                    ..Default::default()
                },
                payload: Bytes::from(encoder.encode_vec(&pcm, 1500).expect("encode")),
            };
            browser
                .track
                .write_rtp(packet)
                .await
                .expect("browser writes");
            if let Ok(Ok((len, from))) =
                tokio::time::timeout(Duration::from_millis(20), call_leg.recv_from(&mut buf)).await
            {
                assert_eq!(from, answer.relay);
                packets.push(RtpPacket::parse(&buf[..len]).expect("plain RTP"));
                if packets.len() == 50 {
                    return packets;
                }
            }
        }
        unreachable!("u16 range is longer than the timeout")
    };
    let packets = tokio::time::timeout(WAIT, received)
        .await
        .expect("call leg hears the browser");
    for pair in packets.windows(2) {
        assert_eq!(pair[1].seq.0, pair[0].seq.0.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
    }
    assert!(packets
        .iter()
        .all(|p| p.payload_type == 0 && p.payload.len() == 160));
    let last = Codec::Pcmu.decode(&packets[49].payload);
    let peak = last.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 4000, "the tone arrives as PCMU: peak {peak}");

    answer.leg.close().await;
    assert_eq!(*state.borrow_and_update(), LegState::Closed);
    let _ = browser.peer.close().await;
}
