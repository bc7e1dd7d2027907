//! Negotiation tables, body checks, o= versions and real-world fixtures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::media::Codec::{Pcma, Pcmu};

pub(super) fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
        port: 30000,
        codecs: vec![Pcmu, Pcma],
        dtmf_pt: 101,
        ptime_ms: 20,
    }
}

/// Joins lines with CRLF, as a SIP UA would send them.
pub(super) fn sdp(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

const HEAD: [&str; 5] = [
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 198.51.100.7",
    "s=-",
    "c=IN IP4 198.51.100.7",
    "t=0 0",
];

fn offer_with(media: &[&str]) -> String {
    let lines: Vec<&str> = HEAD.iter().chain(media).copied().collect();
    sdp(&lines)
}

fn rtp(port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
        port,
    ))
}

/// SIPp's built-in `uac` scenario body, with its keywords substituted.
pub(super) const SIPP_UAC: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// SIPp's `uac_pcap` scenario body: PCMA plus DTMF events 0-11 and flash.
const SIPP_UAC_PCAP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-11,16\r\n";

/// Shaped like baresip with video enabled: bare LF, opus first, extra attributes, a video line.
pub(super) const BARESIP: &str = "v=0\n\
o=- 1565283470 2054826466 IN IP4 192.168.1.20\n\
s=-\n\
c=IN IP4 192.168.1.20\n\
t=0 0\n\
a=tool:baresip 3.10.1\n\
m=audio 10970 RTP/AVP 96 9 0 8 101\n\
b=AS:128\n\
a=rtpmap:96 opus/48000/2\n\
a=fmtp:96 stereo=1;sprop-stereo=1\n\
a=rtpmap:9 G722/8000\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=rtcp-rsize\n\
a=sendrecv\n\
a=label:1\n\
a=ssrc:1234567 cname:7a2b@example\n\
a=ptime:20\n\
m=video 11554 RTP/AVP 100\n\
a=rtpmap:100 H264/90000\n\
a=fmtp:100 packetization-mode=0;profile-level-id=42e01f\n\
a=sendrecv\n";

struct Case {
    name: &'static str,
    offer: String,
    expect: Result<Negotiated, SdpError>,
}

fn ok(codec: Codec, pt: u8, dtmf: Option<u8>, remote: Option<SocketAddr>) -> Negotiated {
    Negotiated {
        codec,
        codec_pt: pt,
        remote_rtp: remote,
        dtmf_pt: dtmf,
        remote_direction: Direction::SendRecv,
        local_direction: Direction::SendRecv,
        ptime_ms: 20,
    }
}

fn with_dirs(mut n: Negotiated, remote: Direction, local: Direction) -> Negotiated {
    n.remote_direction = remote;
    n.local_direction = local;
    n
}

fn cases() -> Vec<Case> {
    use Direction::*;
    let te101 = ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"];
    vec![
        Case {
            name: "PCMU first",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0 8 101", te101[0], te101[1]]),
            expect: Ok(ok(Pcmu, 0, Some(101), rtp(4000))),
        },
        Case {
            name: "PCMA first wins although we prefer PCMU",
            offer: offer_with(&["m=audio 4000 RTP/AVP 8 0"]),
            expect: Ok(ok(Pcma, 8, None, rtp(4000))),
        },
        Case {
            name: "unsupported codecs skipped",
            offer: offer_with(&["m=audio 4000 RTP/AVP 18 9 8", "a=rtpmap:18 G729/8000"]),
            expect: Ok(ok(Pcma, 8, None, rtp(4000))),
        },
        Case {
            name: "only unsupported codecs",
            offer: offer_with(&[
                "m=audio 4000 RTP/AVP 18 9 101",
                "a=rtpmap:18 G729/8000",
                te101[0],
            ]),
            expect: Err(SdpError::NoCommonCodec),
        },
        Case {
            name: "no audio at all",
            offer: offer_with(&["m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000"]),
            expect: Err(SdpError::NoCommonCodec),
        },
        Case {
            name: "codec by rtpmap name on a dynamic PT",
            offer: offer_with(&["m=audio 4000 RTP/AVP 97", "a=rtpmap:97 pcmu/8000"]),
            expect: Ok(ok(Pcmu, 97, None, rtp(4000))),
        },
        Case {
            name: "rtpmap overrides a static number",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0 8", "a=rtpmap:0 G729/8000"]),
            expect: Ok(ok(Pcma, 8, None, rtp(4000))),
        },
        Case {
            name: "dynamic telephone-event PT 96",
            offer: offer_with(&[
                "m=audio 4000 RTP/AVP 0 96",
                "a=rtpmap:96 telephone-event/8000",
            ]),
            expect: Ok(ok(Pcmu, 0, Some(96), rtp(4000))),
        },
        Case {
            name: "telephone-event at 48000 and 8000 picks 8000",
            offer: offer_with(&[
                "m=audio 4000 RTP/AVP 0 110 101",
                "a=rtpmap:110 telephone-event/48000",
                "a=rtpmap:101 telephone-event/8000",
            ]),
            expect: Ok(ok(Pcmu, 0, Some(101), rtp(4000))),
        },
        Case {
            name: "rtpmap for an unlisted PT is ignored",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", te101[0]]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "sendonly offer (hold)",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=sendonly"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, rtp(4000)), SendOnly, RecvOnly)),
        },
        Case {
            name: "recvonly offer",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=recvonly"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, rtp(4000)), RecvOnly, SendOnly)),
        },
        Case {
            name: "inactive offer",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=inactive"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, rtp(4000)), Inactive, Inactive)),
        },
        Case {
            name: "session-level direction applies",
            offer: offer_with(&["a=sendonly", "m=audio 4000 RTP/AVP 0"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, rtp(4000)), SendOnly, RecvOnly)),
        },
        Case {
            name: "media-level direction overrides session-level",
            offer: offer_with(&["a=inactive", "m=audio 4000 RTP/AVP 0", "a=sendrecv"]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "c=0.0.0.0 is hold",
            offer: sdp(&["v=0", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, None), SendOnly, RecvOnly)),
        },
        Case {
            name: "c=0.0.0.0 with recvonly is inactive",
            offer: sdp(&[
                "v=0",
                "c=IN IP4 0.0.0.0",
                "m=audio 4000 RTP/AVP 0",
                "a=recvonly",
            ]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, None), Inactive, Inactive)),
        },
        Case {
            name: "audio port 0 stays off",
            offer: offer_with(&["m=audio 0 RTP/AVP 0"]),
            expect: Ok(with_dirs(ok(Pcmu, 0, None, None), Inactive, Inactive)),
        },
        Case {
            name: "active audio preferred over a disabled one",
            offer: offer_with(&["m=audio 0 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"]),
            expect: Ok(ok(Pcma, 8, None, rtp(4002))),
        },
        Case {
            name: "missing c=",
            offer: sdp(&[
                "v=0",
                "o=- 1 1 IN IP4 1.2.3.4",
                "s=-",
                "t=0 0",
                "m=audio 4000 RTP/AVP 0",
            ]),
            expect: Err(SdpError::Malformed(
                "no c= line for the audio stream".into(),
            )),
        },
        Case {
            name: "media-level c= only",
            offer: sdp(&[
                "v=0",
                "t=0 0",
                "m=audio 4000 RTP/AVP 0",
                "c=IN IP4 198.51.100.7",
            ]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "media-level c= overrides session-level",
            offer: sdp(&[
                "v=0",
                "c=IN IP4 192.0.2.1",
                "m=audio 4000 RTP/AVP 0",
                "c=IN IP4 198.51.100.7",
            ]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "c= after t= and a= before c= are fine",
            offer: sdp(&[
                "v=0",
                "t=0 0",
                "a=tool:x",
                "c=IN IP4 198.51.100.7",
                "m=audio 4000 RTP/AVP 0",
            ]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "IPv6 c=",
            offer: sdp(&["v=0", "c=IN IP6 2001:db8::7", "m=audio 4000 RTP/AVP 0"]),
            expect: Ok(ok(
                Pcmu,
                0,
                None,
                "[2001:db8::7]:4000".parse::<SocketAddr>().ok(),
            )),
        },
        Case {
            name: "LF-only line endings",
            offer: offer_with(&["m=audio 4000 RTP/AVP 8"]).replace("\r\n", "\n"),
            expect: Ok(ok(Pcma, 8, None, rtp(4000))),
        },
        Case {
            name: "ptime echoed",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=ptime:30"]),
            expect: Ok(Negotiated {
                ptime_ms: 30,
                ..ok(Pcmu, 0, None, rtp(4000))
            }),
        },
        Case {
            name: "absurd ptime clamped",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=ptime:1000"]),
            expect: Ok(Negotiated {
                ptime_ms: 60,
                ..ok(Pcmu, 0, None, rtp(4000))
            }),
        },
        Case {
            name: "ptime 0 means default",
            offer: offer_with(&["m=audio 4000 RTP/AVP 0", "a=ptime:0"]),
            expect: Ok(ok(Pcmu, 0, None, rtp(4000))),
        },
        Case {
            name: "SRTP audio is not offered audio we can take",
            offer: offer_with(&["m=audio 4000 RTP/SAVP 0"]),
            expect: Err(SdpError::NoCommonCodec),
        },
        Case {
            name: "second audio line used when the first has nothing common",
            offer: offer_with(&["m=audio 4000 RTP/AVP 18", "m=audio 4002 RTP/AVP 8"]),
            expect: Ok(ok(Pcma, 8, None, rtp(4002))),
        },
    ]
}

#[test]
fn answer_negotiates_table() {
    for case in cases() {
        let mut origin = SessionOrigin::new(7);
        let got = answer(&case.offer, &local(), &mut origin).map(|(n, _)| n);
        assert_eq!(got, case.expect, "case: {}", case.name);
    }
}

#[test]
fn answer_honours_our_codec_list() {
    let only_pcma = LocalMedia {
        codecs: vec![Pcma],
        ..local()
    };
    let offer = offer_with(&["m=audio 4000 RTP/AVP 0 8"]);
    let (n, _) = answer(&offer, &only_pcma, &mut SessionOrigin::new(1)).expect("PCMA offered");
    assert_eq!(n.codec, Pcma);
    let pcmu_only = offer_with(&["m=audio 4000 RTP/AVP 0"]);
    let err = answer(&pcmu_only, &only_pcma, &mut SessionOrigin::new(1));
    assert_eq!(err, Err(SdpError::NoCommonCodec));
}

#[test]
fn malformed_bodies_are_rejected() {
    let bodies = [
        "",
        "\r\n\r\n",
        "hello world",
        "o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
        "v=1\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000\r\n",
        "v=0\r\nc=IN IP4 pbx.example.com\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 2001:db8::1\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\nc=ATM NSAP 1\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\n=oops\r\nm=audio 4000 RTP/AVP 0\r\n",
    ];
    for body in bodies {
        let got = answer(body, &local(), &mut SessionOrigin::new(1));
        assert!(
            matches!(got, Err(SdpError::Malformed(_))),
            "{body:?} gave {got:?}"
        );
    }
    let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(parse::MAX_SDP_LEN));
    assert!(matches!(
        answer(&huge, &local(), &mut SessionOrigin::new(1)),
        Err(SdpError::Malformed(_))
    ));
    let many: Vec<String> = (0..=parse::MAX_MEDIA)
        .map(|i| format!("m=audio {} RTP/AVP 0", 4000 + i))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        answer(&offer_with(&many), &local(), &mut SessionOrigin::new(1)),
        Err(SdpError::Malformed(_))
    ));
}

#[test]
fn errors_map_to_sip_status() {
    assert_eq!(SdpError::NoCommonCodec.sip_status(), 488);
    assert_eq!(SdpError::Malformed("x".into()).sip_status(), 400);
}

/// The answer body line by line, without the `o=` line (its numbers are checked elsewhere).
fn answer_lines(offer: &str) -> Vec<String> {
    let (_, body) = answer(offer, &local(), &mut SessionOrigin::new(42)).expect("answerable");
    assert!(body.ends_with("\r\n"), "body must end with CRLF");
    assert!(
        !body.replace("\r\n", "").contains('\n'),
        "bare LF in {body:?}"
    );
    body.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with("o="))
        .map(str::to_owned)
        .collect()
}

#[test]
fn answer_body_lists_only_the_chosen_codec_and_events() {
    let offer = offer_with(&[
        "m=audio 4000 RTP/AVP 18 8 0 96",
        "a=rtpmap:18 G729/8000",
        "a=rtpmap:96 telephone-event/8000",
        "a=ptime:30",
    ]);
    assert_eq!(
        answer_lines(&offer),
        [
            "v=0",
            "s=voxdesk",
            "c=IN IP4 10.0.0.5",
            "t=0 0",
            "m=audio 30000 RTP/AVP 8 96",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:96 telephone-event/8000",
            "a=fmtp:96 0-16",
            "a=ptime:30",
            "a=sendrecv",
        ]
    );
}

#[test]
fn answer_declines_other_streams_in_order() {
    let offer = offer_with(&[
        "m=video 5000 RTP/AVP 96 97",
        "a=rtpmap:96 H264/90000",
        "m=audio 4000 RTP/AVP 0",
        "m=application 5002 UDP/BFCP *",
        "m=audio 4002 RTP/AVP 8",
    ]);
    let m_lines: Vec<String> = answer_lines(&offer)
        .into_iter()
        .filter(|l| l.starts_with("m="))
        .collect();
    assert_eq!(
        m_lines,
        [
            "m=video 0 RTP/AVP 96 97",
            "m=audio 30000 RTP/AVP 0",
            "m=application 0 UDP/BFCP *",
            "m=audio 0 RTP/AVP 8",
        ]
    );
}

#[test]
fn answer_directions_in_body() {
    let table = [
        ("a=sendonly", "a=recvonly"),
        ("a=recvonly", "a=sendonly"),
        ("a=inactive", "a=inactive"),
        ("a=sendrecv", "a=sendrecv"),
    ];
    for (offered, answered) in table {
        let lines = answer_lines(&offer_with(&["m=audio 4000 RTP/AVP 0", offered]));
        assert_eq!(
            lines.last().map(String::as_str),
            Some(answered),
            "{offered}"
        );
    }
}

#[test]
fn answer_uses_ipv6_origin_and_connection_for_an_ipv6_local_address() {
    let v6 = LocalMedia {
        addr: "2001:db8::5".parse().expect("literal"),
        ..local()
    };
    let (_, body) = answer(SIPP_UAC, &v6, &mut SessionOrigin::new(3)).expect("answerable");
    assert!(
        body.contains("o=voxdesk 3 3 IN IP6 2001:db8::5\r\n"),
        "{body}"
    );
    assert!(body.contains("c=IN IP6 2001:db8::5\r\n"), "{body}");
}

fn origin_version(body: &str) -> Option<u64> {
    let origin = body.split("\r\n").find(|l| l.starts_with("o="))?;
    origin.split(' ').nth(2)?.parse().ok()
}

#[test]
fn version_increments_only_when_our_body_changes() {
    let talking = offer_with(&["m=audio 4000 RTP/AVP 0", "a=sendrecv"]);
    let held = offer_with(&["m=audio 4000 RTP/AVP 0", "a=sendonly"]);
    let old_hold = sdp(&["v=0", "c=IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0"]);
    let mut origin = SessionOrigin::new(1000);
    let mut versions = Vec::new();
    for offer in [
        &talking, &talking, &held, &held, &talking, &old_hold, &talking,
    ] {
        let (_, body) = answer(offer, &local(), &mut origin).expect("answerable");
        assert!(body.contains("o=voxdesk 1000 "), "{body}");
        versions.push(origin_version(&body));
    }
    let expected = [1000, 1000, 1001, 1001, 1002, 1003, 1004].map(Some);
    assert_eq!(versions, expected);
    assert_eq!(origin.version(), 1004);
}

#[test]
fn offer_lists_our_codecs_events_ptime_and_direction() {
    let body = offer(&local(), &mut SessionOrigin::new(9));
    assert_eq!(
        body,
        sdp(&[
            "v=0",
            "o=voxdesk 9 9 IN IP4 10.0.0.5",
            "s=voxdesk",
            "c=IN IP4 10.0.0.5",
            "t=0 0",
            "m=audio 30000 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ])
    );
}

#[test]
fn offer_sanitizes_local_settings() {
    let odd = LocalMedia {
        codecs: vec![Pcma, Pcma],
        dtmf_pt: 8,
        ptime_ms: 0,
        ..local()
    };
    let body = offer(&odd, &mut SessionOrigin::new(1));
    assert!(body.contains("m=audio 30000 RTP/AVP 8 101\r\n"), "{body}");
    assert!(body.contains("a=ptime:20\r\n"), "{body}");
    let none = LocalMedia {
        codecs: vec![],
        ..local()
    };
    let body = offer(&none, &mut SessionOrigin::new(1));
    assert!(body.contains("m=audio 30000 RTP/AVP 0 8 101\r\n"), "{body}");
}

#[test]
fn offer_then_answer_round_trip() {
    let callee = LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
        port: 40000,
        codecs: vec![Pcma, Pcmu],
        dtmf_pt: 120,
        ptime_ms: 20,
    };
    let our_offer = offer(&local(), &mut SessionOrigin::new(1));
    let (theirs, their_answer) =
        answer(&our_offer, &callee, &mut SessionOrigin::new(2)).expect("answerable");
    let ours = accept_answer(&their_answer, &local()).expect("acceptable");
    assert_eq!(
        theirs.codec, Pcmu,
        "the answerer follows the offerer's order"
    );
    assert_eq!(ours.codec, Pcmu);
    assert_eq!(ours.dtmf_pt, Some(101));
    assert_eq!(theirs.dtmf_pt, Some(101));
    assert_eq!(ours.remote_rtp, "192.0.2.9:40000".parse().ok());
    assert_eq!(theirs.remote_rtp, "10.0.0.5:30000".parse().ok());
    assert!(ours.sends() && ours.receives());
}

#[test]
fn accept_answer_cases() {
    let pcmu_only = LocalMedia {
        codecs: vec![Pcmu],
        ..local()
    };
    type Outcome = Result<(Codec, Direction), SdpError>;
    let table: [(&str, Vec<&str>, Outcome); 5] = [
        (
            "PCMA answered",
            vec!["m=audio 5000 RTP/AVP 8"],
            Ok((Pcma, Direction::SendRecv)),
        ),
        (
            "answerer on hold",
            vec!["m=audio 5000 RTP/AVP 0", "a=recvonly"],
            Ok((Pcmu, Direction::SendOnly)),
        ),
        (
            "codec we never offered",
            vec!["m=audio 5000 RTP/AVP 18", "a=rtpmap:18 G729/8000"],
            Err(SdpError::NoCommonCodec),
        ),
        (
            "audio refused",
            vec!["m=audio 0 RTP/AVP 0"],
            Err(SdpError::NoCommonCodec),
        ),
        (
            "garbage c=",
            vec!["m=audio 5000 RTP/AVP 0", "c=IN IP4 nowhere"],
            Err(SdpError::Malformed(
                "c= IP4 address is not an IPv4 literal".into(),
            )),
        ),
    ];
    for (name, media, expect) in table {
        let got =
            accept_answer(&offer_with(&media), &local()).map(|n| (n.codec, n.local_direction));
        assert_eq!(got, expect, "{name}");
    }
    let pcma = offer_with(&["m=audio 5000 RTP/AVP 8"]);
    assert_eq!(
        accept_answer(&pcma, &pcmu_only),
        Err(SdpError::NoCommonCodec)
    );
}

#[test]
fn negotiated_sends_and_receives() {
    let table = [
        (Direction::SendRecv, rtp(1), true, true),
        (Direction::SendOnly, rtp(1), true, false),
        (Direction::RecvOnly, rtp(1), false, true),
        (Direction::Inactive, rtp(1), false, false),
        (Direction::SendRecv, None, false, true),
    ];
    for (local_direction, remote, sends, receives) in table {
        let n = Negotiated {
            local_direction,
            ..ok(Pcmu, 0, None, remote)
        };
        assert_eq!(
            (n.sends(), n.receives()),
            (sends, receives),
            "{local_direction:?}"
        );
    }
}

#[test]
fn sipp_default_offer() {
    let (n, body) = answer(SIPP_UAC, &local(), &mut SessionOrigin::new(5)).expect("answerable");
    assert_eq!(n, ok(Pcmu, 0, None, "127.0.0.1:6000".parse().ok()));
    assert!(body.contains("m=audio 30000 RTP/AVP 0\r\n"), "{body}");
    assert!(!body.contains("telephone-event"), "{body}");
}

#[test]
fn sipp_pcap_offer() {
    let (n, body) = answer(SIPP_UAC_PCAP, &local(), &mut SessionOrigin::new(5)).expect("ok");
    assert_eq!(n, ok(Pcma, 8, Some(101), "127.0.0.1:6000".parse().ok()));
    assert!(body.contains("m=audio 30000 RTP/AVP 8 101\r\n"), "{body}");
}

#[test]
fn baresip_offer() {
    let (n, body) = answer(BARESIP, &local(), &mut SessionOrigin::new(5)).expect("answerable");
    assert_eq!(n, ok(Pcmu, 0, Some(101), "192.168.1.20:10970".parse().ok()));
    assert!(body.contains("m=audio 30000 RTP/AVP 0 101\r\n"), "{body}");
    assert!(body.contains("m=video 0 RTP/AVP 100\r\n"), "{body}");
    assert!(!body.contains("opus"), "{body}");
}

#[test]
fn directed_offers_hold_and_resume_and_move_the_version_on() {
    use Direction::*;
    let mut origin = SessionOrigin::new(77);
    let mut last_version = origin_version(&offer(&local(), &mut origin));
    // (our offer, what the answerer's side then says, whether we still send)
    let table = [
        (SendOnly, RecvOnly, true),
        (Inactive, Inactive, false),
        (SendRecv, SendRecv, true),
    ];
    for (ours, theirs, we_send) in table {
        let body = offer_directed(&local(), ours, &mut origin);
        assert!(
            body.contains(&format!("a={}\r\n", ours.attribute())),
            "{body}"
        );
        let version = origin_version(&body);
        assert!(version > last_version, "{ours:?}: {version:?}");
        last_version = version;
        let (answered, _) =
            answer(&body, &local(), &mut SessionOrigin::new(5)).expect("answerable");
        assert_eq!(answered.local_direction, theirs, "{ours:?}");
        assert_eq!(answered.remote_direction, ours, "{ours:?}");
        assert_eq!(answered.receives(), we_send, "{ours:?}");
    }
}
