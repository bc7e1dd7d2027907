//! Nothing is spoken before the call is answered and acknowledged: a hand-driven caller sends
//! the INVITE, holds back the ACK, and listens on its RTP port.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::Voxdesk;

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// Packets that arrive on `rtp` within `wait`.
fn rtp_packets(rtp: &UdpSocket, wait: Duration) -> Vec<Vec<u8>> {
    let until = Instant::now() + wait;
    let mut packets = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        if let Ok((n, _)) = rtp.recv_from(&mut buf) {
            packets.push(buf[..n].to_vec());
        }
    }
    packets
}

#[test]
fn first_rtp_packet_comes_after_the_ack_with_the_marker_bit() {
    let vox = Voxdesk::start_with_config(Some("[shutdown]\ngrace_secs = 1\n"));
    let sip = UdpSocket::bind("127.0.0.1:0").expect("bind sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind rtp");
    sip.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    rtp.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let (sip_addr, rtp_port) = (sip.local_addr().unwrap(), rtp.local_addr().unwrap().port());
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let invite = format!(
        "INVITE sip:support@{vox} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sip_addr};branch=z9hG4bK-ack-test\r\n\
         From: <sip:caller@127.0.0.1>;tag=c1\r\nTo: <sip:support@127.0.0.1>\r\n\
         Call-ID: ack-test\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{sip_addr}>\r\n\
         Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        vox = vox.sip
    );
    sip.send_to(invite.as_bytes(), vox.sip)
        .expect("send INVITE");
    let mut buf = [0u8; 4096];
    let ok = loop {
        let (n, _) = sip.recv_from(&mut buf).expect("a response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 200") {
            break text;
        }
    };

    // Answered but not acknowledged: silence on the wire.
    let early = rtp_packets(&rtp, Duration::from_millis(700));
    assert!(
        early.is_empty(),
        "{} RTP packets before the ACK",
        early.len()
    );

    let ack = format!(
        "ACK sip:voxdesk@{vox} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sip_addr};branch=z9hG4bK-ack-test-2\r\n\
         From: <sip:caller@127.0.0.1>;tag=c1\r\nTo: {to}\r\n\
         Call-ID: ack-test\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        vox = vox.sip,
        to = header(&ok, "To")
    );
    sip.send_to(ack.as_bytes(), vox.sip).expect("send ACK");
    let after = rtp_packets(&rtp, Duration::from_millis(1500));
    assert!(
        after.len() >= 40,
        "only {} RTP packets after the ACK",
        after.len()
    );
    for packet in &after {
        assert_eq!(packet[0] >> 6, 2, "RTP version 2");
        assert_eq!(packet[1] & 0x7f, 0, "PCMU, the codec offered first");
    }
    // The greeting's first packet carries the marker bit (RFC 3551 talk-spurt start). It
    // normally comes within a couple of frames; the bound is the whole window because a
    // starved 2-core CI machine once took 57 frames to synthesize it (speed is measured by
    // `voxdesk bench speech`, not asserted here).
    let greeting = after.iter().position(|p| p[1] & 0x80 != 0);
    assert!(
        greeting.is_some(),
        "no marked packet in {} packets",
        after.len()
    );
}
