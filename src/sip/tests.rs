//! Endpoint scenarios in virtual time: a scripted peer sends bytes, the endpoint answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::endpoint::{CallKey, Endpoint, EndpointConfig, Peer, SipEvent};
use super::message::{parse, Message, Response};

const CALLER: &str = "127.0.0.1:5061";

fn caller() -> Peer {
    Peer::Udp(CALLER.parse().unwrap())
}

fn invite(branch: &str, call_id: &str, sdp: bool) -> String {
    let body = if sdp {
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
    } else {
        ""
    };
    format!(
        "INVITE sip:support@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {CALLER};branch={branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:support@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{CALLER}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn in_dialog(method: &str, call_id: &str, to_tag: &str, cseq: u32, branch: &str) -> String {
    format!(
        "{method} sip:voxdesk@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {CALLER};branch={branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:support@127.0.0.1>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

struct Net {
    ep: Endpoint,
    now: Instant,
    start: Instant,
}

impl Net {
    fn new(max_calls: usize) -> Net {
        let now = Instant::now();
        Net {
            ep: Endpoint::new(EndpointConfig {
                max_calls,
                ..EndpointConfig::default()
            }),
            now,
            start: now,
        }
    }

    fn send(&mut self, text: &str) {
        self.ep.handle_input(text.as_bytes(), caller(), self.now);
    }

    fn send_from(&mut self, text: &str, from: &str) {
        let peer = Peer::Udp(from.parse::<SocketAddr>().unwrap());
        self.ep.handle_input(text.as_bytes(), peer, self.now);
    }

    /// Responses sent so far as (code, first line of CSeq).
    fn responses(&mut self) -> Vec<Response> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .filter_map(|t| match parse(&t.bytes, 65535) {
                Ok(Message::Response(r)) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn requests(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .filter_map(|t| match parse(&t.bytes, 65535) {
                Ok(Message::Request(r)) => Some(r.method.to_string()),
                _ => None,
            })
            .collect()
    }

    fn codes(&mut self) -> Vec<u16> {
        self.responses().iter().map(|r| r.code).collect()
    }

    fn events(&mut self) -> Vec<SipEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Steps virtual time through each deadline until `total` has passed since start.
    fn advance_to(&mut self, total: Duration) -> Vec<(Duration, String)> {
        let mut sent = Vec::new();
        while let Some(at) = self.ep.poll_timeout() {
            if at > self.start + total {
                break;
            }
            self.now = at.max(self.now);
            self.ep.handle_timeout(self.now);
            while let Some(t) = self.ep.poll_transmit() {
                let line = String::from_utf8_lossy(&t.bytes)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                sent.push((self.now - self.start, line));
            }
        }
        self.now = self.start + total;
        sent
    }

    fn incoming(&mut self) -> CallKey {
        match self.events().as_slice() {
            [SipEvent::IncomingCall(call)] => call.key,
            other => panic!("expected one IncomingCall, got {other:?}"),
        }
    }

    fn answered_to_tag(&mut self, key: CallKey) -> String {
        self.ep.answer(key, "v=0\r\n", self.now);
        let rsp = self.responses();
        let ok = rsp.iter().find(|r| r.code == 200).expect("200 sent");
        super::message::param(ok.headers.get("To").unwrap(), "tag")
            .unwrap()
            .to_string()
    }
}

#[test]
fn no_ack_retransmits_200_then_sends_bye_at_timer_h() {
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", true));
    assert_eq!(net.codes(), vec![100]);
    let key = net.incoming();
    net.answered_to_tag(key);
    let sent = net.advance_to(Duration::from_secs(33));
    let ok_times: Vec<u128> = sent
        .iter()
        .filter(|(_, l)| l.starts_with("SIP/2.0 200"))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(ok_times[..4], [500, 1500, 3500, 7500]);
    assert!(
        sent.iter()
            .any(|(t, l)| l.starts_with("BYE ") && *t == Duration::from_secs(32)),
        "BYE at 64*T1: {sent:?}"
    );
    assert!(net.events().contains(&SipEvent::AckTimeout(key)));
}

#[test]
fn ack_from_another_address_still_confirms_the_call() {
    // The classic bug: matching the ACK by source address drops every call after 32 s.
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", true));
    net.codes();
    let key = net.incoming();
    let tag = net.answered_to_tag(key);
    net.now += Duration::from_millis(100);
    let ack = in_dialog("ACK", "c1", &tag, 1, "z9hG4bKproxy");
    net.send_from(&ack, "10.9.9.9:5070");
    assert_eq!(net.events(), vec![SipEvent::Acked { key, answer: None }]);
    let sent = net.advance_to(Duration::from_secs(60));
    assert!(sent.is_empty(), "nothing after ACK: {sent:?}");
    assert_eq!(net.ep.active_calls(), 1);
}

#[test]
fn retransmitted_invite_gets_last_response_and_no_second_call() {
    let mut net = Net::new(10);
    let inv = invite("z9hG4bK1", "c1", true);
    net.send(&inv);
    net.codes();
    let key = net.incoming();
    net.send(&inv);
    assert_eq!(net.codes(), vec![100]);
    net.answered_to_tag(key);
    net.send(&inv);
    assert_eq!(net.codes(), vec![200]);
    assert!(net.events().is_empty());
}

#[test]
fn cancel_before_answer_gets_200_and_487() {
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", true));
    net.codes();
    let key = net.incoming();
    let cancel = "CANCEL sip:support@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n\
        From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:support@127.0.0.1>\r\n\
        Call-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    net.send(cancel);
    let rsp = net.responses();
    let pairs: Vec<(u16, String)> = rsp.iter().map(|r| (r.code, r.cseq().unwrap().1)).collect();
    assert_eq!(pairs, vec![(200, "CANCEL".into()), (487, "INVITE".into())]);
    assert_eq!(
        net.events(),
        vec![SipEvent::Cancelled(key), SipEvent::Ended(key)]
    );
    assert_eq!(net.ep.active_calls(), 0);
}

#[test]
fn stateless_answers_table() {
    let cases: Vec<(String, u16)> = vec![
        (in_dialog("BYE", "nope", "zz", 2, "z9hG4bKb"), 481),
        (
            in_dialog("BYE", "nope", "zz", 2, "z9hG4bKb").replace(";tag=zz", ""),
            481,
        ),
        (
            in_dialog("MESSAGE", "c9", "zz", 2, "z9hG4bKm").replace(";tag=zz", ""),
            405,
        ),
        (
            in_dialog("FOO", "c9", "zz", 2, "z9hG4bKf").replace(";tag=zz", ""),
            405,
        ),
        (
            invite("z9hG4bK1", "c1", true).replace("Call-ID: c1\r\n", ""),
            400,
        ),
        (
            invite("z9hG4bK1", "c1", true).replace("Max-Forwards: 70", "Max-Forwards: 0"),
            483,
        ),
        (
            {
                let inv = invite("z9hG4bK1", "c1", true);
                let (head, body) = inv.split_once("\r\n\r\n").unwrap();
                format!("{head}\r\n\r\n{}", &body[..10])
            },
            400,
        ),
        (
            invite("z9hG4bK1", "c1", true).replace("application/sdp", "text/plain"),
            415,
        ),
    ];
    for (msg, code) in cases {
        let mut net = Net::new(10);
        net.send(&msg);
        let rsp = net.responses();
        assert_eq!(
            rsp.iter().map(|r| r.code).collect::<Vec<_>>(),
            vec![code],
            "{msg}"
        );
        if code == 405 {
            assert!(rsp[0].headers.get("Allow").is_some());
        }
        if code == 400 {
            assert_ne!(rsp[0].reason, "Bad Request", "reason says what is wrong");
        }
    }
}

#[test]
fn options_lists_capabilities() {
    let mut net = Net::new(10);
    net.send(&in_dialog("OPTIONS", "o1", "x", 1, "z9hG4bKo").replace(";tag=x", ""));
    let rsp = net.responses();
    assert_eq!(rsp[0].code, 200);
    for h in ["Allow", "Accept", "Supported"] {
        assert!(rsp[0].headers.get(h).is_some(), "{h}");
    }
}

#[test]
fn over_the_call_limit_gets_503_with_retry_after() {
    let mut net = Net::new(1);
    net.send(&invite("z9hG4bK1", "c1", true));
    net.send(&invite("z9hG4bK2", "c2", true));
    let rsp = net.responses();
    assert_eq!(
        rsp.iter().map(|r| r.code).collect::<Vec<_>>(),
        vec![100, 503]
    );
    assert_eq!(rsp[1].headers.get("Retry-After"), Some("5"));
    net.ep.set_draining(true);
    net.send(&invite("z9hG4bK3", "c3", true));
    assert_eq!(net.codes(), vec![503]);
}

#[test]
fn junk_is_dropped_and_counted() {
    let mut net = Net::new(1);
    net.send("GET / HTTP/1.1\r\n\r\n");
    net.send("\u{0}\u{1}garbage");
    assert!(net.responses().is_empty());
    assert_eq!(net.ep.stats().junk_dropped, 2);
}

#[test]
fn bye_ends_call_and_info_delivers_dtmf() {
    let mut net = Net::new(10);
    let (key, tag) = confirmed_call(&mut net);
    let info = in_dialog("INFO", "c1", &tag, 2, "z9hG4bKi").replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/dtmf-relay\r\nContent-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n",
    );
    net.send(&info);
    assert_eq!(net.codes(), vec![200]);
    assert_eq!(
        net.events(),
        vec![SipEvent::Info {
            key,
            content_type: "application/dtmf-relay".into(),
            body: "Signal=5\r\nDuration=160\r\n".into()
        }]
    );
    // An old CSeq is refused.
    net.send(&in_dialog("BYE", "c1", &tag, 2, "z9hG4bKold"));
    assert_eq!(net.codes(), vec![500]);
    net.send(&in_dialog("BYE", "c1", &tag, 3, "z9hG4bKb"));
    assert_eq!(net.codes(), vec![200]);
    assert_eq!(
        net.events(),
        vec![SipEvent::RemoteBye(key), SipEvent::Ended(key)]
    );
}

#[test]
fn hangup_sends_bye_and_call_ends_on_its_200() {
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", true));
    net.codes();
    let key = net.incoming();
    let tag = net.answered_to_tag(key);
    // Hangup before the ACK waits for it (RFC 3261 §15).
    net.ep.hangup(key, net.now);
    assert!(net.requests().is_empty());
    net.send(&in_dialog("ACK", "c1", &tag, 1, "z9hG4bKa"));
    let bye = std::iter::from_fn(|| net.ep.poll_transmit())
        .find_map(|t| match parse(&t.bytes, 65535) {
            Ok(Message::Request(r)) => Some(r),
            _ => None,
        })
        .expect("BYE sent after ACK");
    assert_eq!(bye.uri, format!("sip:alice@{CALLER}"));
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: c1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        bye.headers.get("Via").unwrap(),
        bye.headers.get("From").unwrap(),
        bye.headers.get("To").unwrap()
    );
    net.send(&ok);
    let events = net.events();
    assert!(events.contains(&SipEvent::Ended(key)), "{events:?}");
    assert_eq!(net.ep.active_calls(), 0);
}

#[test]
fn reinvite_for_hold_is_answered_by_the_call_layer() {
    let mut net = Net::new(10);
    let (key, tag) = confirmed_call(&mut net);
    let reinvite = in_dialog("INVITE", "c1", &tag, 2, "z9hG4bKr").replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/sdp\r\nContent-Length: 12\r\n\r\na=sendonly\r\n",
    );
    net.send(&reinvite);
    assert_eq!(net.codes(), vec![100]);
    assert_eq!(
        net.events(),
        vec![SipEvent::ReInvite {
            key,
            offer: Some("a=sendonly\r\n".into())
        }]
    );
    net.ep
        .answer_reinvite(key, Ok("v=0\r\na=recvonly\r\n"), net.now);
    let rsp = net.responses();
    assert_eq!(rsp[0].code, 200);
    assert_eq!(rsp[0].cseq(), Some((2, "INVITE".into())));
    net.send(&in_dialog("ACK", "c1", &tag, 2, "z9hG4bKa2"));
    let sent = net.advance_to(Duration::from_secs(40));
    assert!(sent.is_empty(), "re-INVITE 200 acknowledged: {sent:?}");
}

#[test]
fn invite_without_sdp_gets_answer_from_ack() {
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", false));
    net.codes();
    let key = match net.events().as_slice() {
        [SipEvent::IncomingCall(call)] if call.offer.is_none() => call.key,
        other => panic!("{other:?}"),
    };
    let tag = net.answered_to_tag(key);
    let ack = in_dialog("ACK", "c1", &tag, 1, "z9hG4bKa").replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
    );
    net.send(&ack);
    assert_eq!(
        net.events(),
        vec![SipEvent::Acked {
            key,
            answer: Some("v=0\r\n".into())
        }]
    );
}

#[test]
fn oversized_request_gets_513() {
    let mut net = Net::new(10);
    net.ep = Endpoint::new(EndpointConfig {
        max_message_size: 1024,
        ..EndpointConfig::default()
    });
    let big = invite("z9hG4bK1", "c1", false).replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\nX-Pad: {}\r\n", "a".repeat(2000)),
    );
    net.send(&big);
    assert_eq!(net.codes(), vec![513]);
    assert!(net.events().is_empty());
}

fn mutate(text: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for &(pos, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let pos = pos % bytes.len();
        match byte % 3 {
            0 => bytes[pos] = byte,
            1 => {
                bytes.remove(pos);
            }
            _ => bytes.insert(pos, byte),
        }
    }
    bytes
}

proptest::proptest! {
    /// Any sequence of (possibly mangled) dialog messages and clock steps leaves the endpoint
    /// without a panic and with every call either live or ended exactly once.
    #[test]
    fn endpoint_survives_mangled_dialogs(
        script in proptest::collection::vec(
            (0u8..8, proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 0..4), 0u64..40_000),
            1..25,
        )
    ) {
        let mut net = Net::new(3);
        let mut tag = String::from("none");
        let mut ended = std::collections::HashSet::new();
        for (kind, edits, step_ms) in script {
            let text = match kind {
                0 => invite("z9hG4bK1", "c1", true),
                1 => invite("z9hG4bK2", "c2", false),
                2 => in_dialog("ACK", "c1", &tag, 1, "z9hG4bKa"),
                3 => in_dialog("BYE", "c1", &tag, 2, "z9hG4bKb"),
                4 => in_dialog("CANCEL", "c1", "", 1, "z9hG4bK1").replace(";tag=", ""),
                5 => in_dialog("INVITE", "c1", &tag, 3, "z9hG4bKr"),
                6 => in_dialog("INFO", "c1", &tag, 4, "z9hG4bKi"),
                _ => "SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\nVia: x;branch=y\r\n\r\n".to_string(),
            };
            let bytes = mutate(&text, &edits);
            net.ep.handle_input(&bytes, caller(), net.now);
            for ev in net.events() {
                match ev {
                    SipEvent::IncomingCall(call) => {
                        let key = call.key;
                        net.ep.answer(key, "v=0\r\n", net.now);
                    }
                    SipEvent::Ended(key) => proptest::prop_assert!(ended.insert(key), "ended twice"),
                    SipEvent::ReInvite { key, .. } => net.ep.answer_reinvite(key, Err(488), net.now),
                    _ => {}
                }
            }
            for rsp in net.responses() {
                if let Some(t) = rsp.headers.get("To").and_then(|to| super::message::param(to, "tag")) {
                    if rsp.code == 200 { tag = t.to_string(); }
                }
            }
            net.now += Duration::from_millis(step_ms);
            net.ep.handle_timeout(net.now);
            net.responses();
        }
        proptest::prop_assert!(net.ep.active_calls() <= 3);
    }
}

/// Sets up an answered, acknowledged call; returns its key and our tag.
fn confirmed_call(net: &mut Net) -> (CallKey, String) {
    net.send(&invite("z9hG4bK1", "c1", true));
    net.codes();
    let key = net.incoming();
    let tag = net.answered_to_tag(key);
    net.send(&in_dialog("ACK", "c1", &tag, 1, "z9hG4bKa"));
    net.events();
    (key, tag)
}

fn reinvite(tag: &str, cseq: u32, branch: &str) -> String {
    in_dialog("INVITE", "c1", tag, cseq, branch).replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/sdp\r\nContent-Length: 12\r\n\r\na=sendonly\r\n",
    )
}

#[test]
fn cancelled_reinvite_gets_487_and_the_call_goes_on() {
    let mut net = Net::new(10);
    let (key, tag) = confirmed_call(&mut net);
    net.send(&reinvite(&tag, 2, "z9hG4bKr"));
    net.codes();
    net.events();
    let cancel = in_dialog("CANCEL", "c1", &tag, 2, "z9hG4bKr");
    net.send(&cancel);
    let pairs: Vec<(u16, String)> = net
        .responses()
        .iter()
        .map(|r| (r.code, r.cseq().unwrap().1))
        .collect();
    assert_eq!(pairs, vec![(200, "CANCEL".into()), (487, "INVITE".into())]);
    assert!(net.events().is_empty(), "the call is not cancelled");
    assert_eq!(net.ep.active_calls(), 1);
    // The call layer's late answer is a no-op.
    net.ep.answer_reinvite(key, Ok("v=0\r\n"), net.now);
    assert!(net.responses().is_empty());
}

#[test]
fn bye_while_a_reinvite_is_pending_answers_it_487() {
    let mut net = Net::new(10);
    let (key, tag) = confirmed_call(&mut net);
    net.send(&reinvite(&tag, 2, "z9hG4bKr"));
    net.codes();
    net.send(&in_dialog("BYE", "c1", &tag, 3, "z9hG4bKb"));
    let pairs: Vec<(u16, String)> = net
        .responses()
        .iter()
        .map(|r| (r.code, r.cseq().unwrap().1))
        .collect();
    assert!(pairs.contains(&(200, "BYE".into())), "{pairs:?}");
    assert!(pairs.contains(&(487, "INVITE".into())), "{pairs:?}");
    assert!(net.events().contains(&SipEvent::Ended(key)));
    // The re-INVITE's transaction finishes on its own: nothing is retransmitted forever.
    let sent = net.advance_to(Duration::from_secs(120));
    assert!(
        sent.iter().all(|(t, _)| *t < Duration::from_secs(40)),
        "{sent:?}"
    );
    assert_eq!(net.ep.poll_timeout(), None, "no transaction left");
}

#[test]
fn ack_carries_the_invite_cseq_even_after_other_requests() {
    let mut net = Net::new(10);
    net.send(&invite("z9hG4bK1", "c1", true));
    net.codes();
    let key = net.incoming();
    net.ep.ringing(key, net.now);
    let ringing = net.responses();
    let tag = super::message::param(ringing[0].headers.get("To").unwrap(), "tag")
        .unwrap()
        .to_string();
    // An INFO (CSeq 2) arrives while ringing, then we answer and the ACK says CSeq 1.
    net.send(&in_dialog("INFO", "c1", &tag, 2, "z9hG4bKi"));
    net.responses();
    net.ep.answer(key, "v=0\r\n", net.now);
    net.responses();
    net.send(&in_dialog("ACK", "c1", &tag, 1, "z9hG4bKa"));
    assert_eq!(net.events(), vec![SipEvent::Acked { key, answer: None }]);
    assert!(net.advance_to(Duration::from_secs(40)).is_empty());
}

#[test]
fn top_via_gets_received_and_rport() {
    let mut net = Net::new(10);
    let options = in_dialog("OPTIONS", "o1", "x", 1, "z9hG4bKo")
        .replace(";tag=x", "")
        .replace(
            &format!("SIP/2.0/UDP {CALLER};branch=z9hG4bKo"),
            "SIP/2.0/UDP 10.0.0.7:5060;rport;branch=z9hG4bKo",
        );
    net.send(&options);
    let rsp = net.responses();
    assert_eq!(
        rsp[0].headers.get("Via"),
        Some("SIP/2.0/UDP 10.0.0.7:5060;rport=5061;branch=z9hG4bKo;received=127.0.0.1")
    );
}

#[test]
fn ack_timeout_after_our_bye_sends_no_second_bye() {
    let mut net = Net::new(10);
    let (key, tag) = confirmed_call(&mut net);
    net.send(&reinvite(&tag, 2, "z9hG4bKr"));
    net.codes();
    net.ep.answer_reinvite(key, Ok("v=0\r\n"), net.now);
    net.responses();
    net.now += Duration::from_secs(1);
    net.ep.hangup(key, net.now);
    let sent = net.advance_to(Duration::from_secs(60));
    let byes: std::collections::HashSet<String> = sent
        .iter()
        .filter(|(_, l)| l.starts_with("BYE "))
        .map(|(_, l)| l.clone())
        .collect();
    let bye_sends = sent.iter().filter(|(_, l)| l.starts_with("BYE ")).count();
    assert_eq!(byes.len(), 1);
    assert!(
        bye_sends <= 11,
        "one BYE transaction only: {bye_sends} sends"
    );
}
