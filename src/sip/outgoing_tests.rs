//! Outgoing-call scenarios in virtual time: the endpoint places a call, a scripted agent phone
//! answers with bytes, and we check what goes out and what the call layer is told.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::endpoint::{CallKey, Endpoint, EndpointConfig, OutgoingInvite, Peer, SipEvent};
use super::message::{param, parse, response_to, Message, Request, Response};

const AGENT: &str = "192.0.2.5:5062";
const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\nm=audio 9000 RTP/AVP 0\r\n";

fn agent() -> Peer {
    Peer::Udp(AGENT.parse().unwrap())
}

fn outgoing(destination: Peer) -> OutgoingInvite {
    OutgoingInvite {
        request_uri: format!("sip:agent7@{AGENT}"),
        destination,
        from_user: "+4930 123".into(),
        from_display: Some("Caller \"Jane\"".into()),
        to_uri: "sip:agent7@voxdesk.test".into(),
        sdp: OFFER.into(),
        extra_headers: vec![
            ("X-Voxdesk-Ticket".into(), "T-42\r\nX-Injected: 1".into()),
            (
                "Call-Info".into(),
                "<http://127.0.0.1/t/42>;purpose=info".into(),
            ),
            ("Via".into(), "SIP/2.0/UDP 6.6.6.6".into()),
            ("Bad Name".into(), "x".into()),
        ],
    }
}

struct Uac {
    ep: Endpoint,
    now: Instant,
    start: Instant,
}

impl Uac {
    fn new(max_calls: usize) -> Uac {
        let now = Instant::now();
        Uac {
            ep: Endpoint::new(EndpointConfig {
                max_calls,
                ..EndpointConfig::default()
            }),
            now,
            start: now,
        }
    }

    /// Places a call to the agent; returns its key and the INVITE that went out.
    fn call(&mut self) -> (CallKey, Request) {
        let key = self.ep.invite(outgoing(agent()), self.now);
        let sent = self.sent();
        match sent.as_slice() {
            [(peer, Message::Request(invite))] if *peer == agent() => (key, invite.clone()),
            other => panic!("expected one INVITE to the agent, got {other:?}"),
        }
    }

    fn sent(&mut self) -> Vec<(Peer, Message)> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| match parse(&t.bytes, 65535) {
                Ok(msg) => (t.peer, msg),
                Err(e) => panic!("we sent something unparsable: {e}"),
            })
            .collect()
    }

    fn sent_requests(&mut self) -> Vec<(Peer, Request)> {
        self.sent()
            .into_iter()
            .filter_map(|(peer, m)| match m {
                Message::Request(r) => Some((peer, r)),
                Message::Response(_) => None,
            })
            .collect()
    }

    fn sent_responses(&mut self) -> Vec<Response> {
        self.sent()
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r),
                Message::Request(_) => None,
            })
            .collect()
    }

    fn events(&mut self) -> Vec<SipEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    fn input(&mut self, bytes: &[u8]) {
        self.ep.handle_input(bytes, agent(), self.now);
    }

    /// The agent's response to `req`, with `tag` on To and `extra` headers.
    fn reply(&mut self, req: &Request, code: u16, tag: Option<&str>, extra: &[(&str, &str)]) {
        let mut rsp = response_to(req, code, "Reason", tag);
        for (name, value) in extra {
            rsp.headers.push(*name, *value);
        }
        if code == 200 && req.method.is(rsip::Method::Invite) {
            rsp.headers.push("Content-Type", "application/sdp");
            rsp.body = ANSWER.as_bytes().to_vec();
        }
        self.input(&rsp.to_bytes());
    }

    /// Steps virtual time through each deadline until `total` has passed since start.
    fn advance_to(&mut self, total: Duration) -> Vec<(Duration, Message)> {
        let mut sent = Vec::new();
        while let Some(at) = self.ep.poll_timeout() {
            if at > self.start + total {
                break;
            }
            self.now = at.max(self.now);
            self.ep.handle_timeout(self.now);
            for (_, msg) in self.sent() {
                sent.push((self.now - self.start, msg));
            }
        }
        self.now = self.start + total;
        sent
    }

    /// A call answered by the agent (tag `ag1`, private Contact, `extra` on the 200).
    fn answered(&mut self, extra: &[(&str, &str)]) -> (CallKey, Request) {
        let (key, invite) = self.call();
        let mut headers = vec![("Contact", "<sip:agent7@10.1.1.5:5062>")];
        headers.extend_from_slice(extra);
        self.reply(&invite, 200, Some("ag1"), &headers);
        self.sent();
        assert!(matches!(
            self.events().as_slice(),
            [SipEvent::Answered { .. }]
        ));
        (key, invite)
    }

    /// A request from the agent inside the dialog of `invite` (answered with tag `ag1`).
    fn agent_sends(&mut self, method: &str, invite: &Request, cseq: u32, extra: &str) {
        let text = format!(
            "{method} sip:voxdesk@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {AGENT};branch=z9hG4bKag{cseq}\r\n\
             From: <sip:agent7@voxdesk.test>;tag=ag1\r\nTo: {}\r\n\
             Call-ID: {}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            invite.headers.get("From").unwrap(),
            invite.call_id()
        );
        self.input(text.as_bytes());
    }
}

fn tag(header: Option<&str>) -> Option<&str> {
    header.and_then(|h| param(h, "tag"))
}

fn only_request(sent: Vec<(Peer, Request)>, method: &str) -> (Peer, Request) {
    let mut matching: Vec<(Peer, Request)> = sent
        .into_iter()
        .filter(|(_, r)| r.method.to_string() == method)
        .collect();
    assert_eq!(matching.len(), 1, "one {method}");
    matching.remove(0)
}

#[test]
fn invite_is_well_formed_and_the_answer_is_acked() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.call();
    let h = &invite.headers;
    assert_eq!(invite.uri, format!("sip:agent7@{AGENT}"));
    assert_eq!(h.get_all("Via").len(), 1, "extra Via dropped");
    let via = h.get("Via").unwrap();
    assert!(
        via.starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"),
        "{via}"
    );
    assert_eq!(h.get("Max-Forwards"), Some("70"));
    let from = h.get("From").unwrap();
    assert!(from.starts_with("\"Caller Jane\" <sip:+4930%20123@127.0.0.1:5060>;tag="));
    assert_eq!(h.get("To"), Some("<sip:agent7@voxdesk.test>"));
    assert_eq!(h.get("CSeq"), Some("1 INVITE"));
    assert!(!invite.call_id().is_empty());
    assert_eq!(h.get("Contact"), Some("<sip:voxdesk@127.0.0.1:5060>"));
    assert!(h.get("Allow").unwrap().contains("REFER"));
    assert_eq!(h.get("Content-Type"), Some("application/sdp"));
    assert_eq!(h.get("X-Voxdesk-Ticket"), Some("T-42  X-Injected: 1"));
    assert_eq!(h.get("X-Injected"), None, "no header injection");
    assert!(h.get("Call-Info").is_some());
    assert!(h.iter().all(|(n, _)| n != "Bad Name"));
    assert_eq!(invite.body, OFFER.as_bytes());
    assert_eq!(uac.ep.active_calls(), 1, "counts for max_calls");

    uac.reply(&invite, 100, None, &[]);
    uac.reply(&invite, 180, Some("ag1"), &[]);
    assert_eq!(uac.events(), vec![SipEvent::Progress { key, code: 180 }]);
    uac.reply(
        &invite,
        200,
        Some("ag1"),
        &[("Contact", "<sip:agent7@10.1.1.5:5062>")],
    );
    assert_eq!(
        uac.events(),
        vec![SipEvent::Answered {
            key,
            sdp: Some(ANSWER.into())
        }]
    );
    let (peer, ack) = only_request(uac.sent_requests(), "ACK");
    assert_eq!(
        peer,
        agent(),
        "no route set: the flow, not the private Contact"
    );
    assert_eq!(
        ack.uri, "sip:agent7@10.1.1.5:5062",
        "Request-URI is the remote target"
    );
    assert_ne!(
        ack.branch(),
        invite.branch(),
        "a 2xx ACK is a new transaction"
    );
    assert_eq!(ack.headers.get("CSeq"), Some("1 ACK"));
    assert_eq!(tag(ack.headers.get("To")), Some("ag1"));
    assert_eq!(ack.headers.get("From"), invite.headers.get("From"));

    // A retransmitted 200 (our ACK was lost) gets the very same ACK, and no new event.
    uac.now += Duration::from_millis(500);
    uac.reply(&invite, 200, Some("ag1"), &[]);
    let (_, again) = only_request(uac.sent_requests(), "ACK");
    assert_eq!(again, ack);
    assert!(uac.events().is_empty());
    assert!(uac.advance_to(Duration::from_secs(60)).is_empty());
    assert_eq!(uac.ep.poll_timeout(), None, "timer M ended the transaction");
    assert_eq!(uac.ep.active_calls(), 1);
}

#[test]
fn a_contact_that_cannot_be_a_request_uri_keeps_the_old_target() {
    // Found by `outgoing_call_survives_any_script`: a space in the 200's Contact went into
    // the ACK's start line.
    let mut uac = Uac::new(10);
    let (_, invite) = uac.call();
    uac.reply(
        &invite,
        200,
        Some("ag1"),
        &[("Contact", "<sip:agent7@10.1 .1.5:5062>")],
    );
    let (_, ack) = only_request(uac.sent_requests(), "ACK");
    assert_eq!(ack.uri, invite.uri);
}

#[test]
fn busy_is_acked_on_the_invite_branch_and_rejected() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.call();
    uac.reply(&invite, 486, Some("busy"), &[]);
    let (peer, ack) = only_request(uac.sent_requests(), "ACK");
    assert_eq!(peer, agent());
    assert_eq!(ack.branch(), invite.branch());
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(ack.headers.get("CSeq"), Some("1 ACK"));
    assert_eq!(tag(ack.headers.get("To")), Some("busy"));
    assert_eq!(
        uac.events(),
        vec![SipEvent::Rejected { key, code: 486 }, SipEvent::Ended(key)]
    );
    assert_eq!(uac.ep.active_calls(), 0);
    // Retransmissions of the 486 are acknowledged until timer D.
    uac.now += Duration::from_secs(2);
    uac.reply(&invite, 486, Some("busy"), &[]);
    assert_eq!(only_request(uac.sent_requests(), "ACK").1, ack);
    assert!(uac.events().is_empty());
    uac.advance_to(Duration::from_secs(33));
    assert_eq!(uac.ep.poll_timeout(), None);
}

#[test]
fn unanswered_invite_is_retransmitted_then_rejected_408_by_timer_b() {
    let mut uac = Uac::new(10);
    let (key, _) = uac.call();
    let sent = uac.advance_to(Duration::from_secs(40));
    let times: Vec<u128> = sent
        .iter()
        .filter(|(_, m)| matches!(m, Message::Request(r) if r.method.is(rsip::Method::Invite)))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(times, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        uac.events(),
        vec![SipEvent::Rejected { key, code: 408 }, SipEvent::Ended(key)]
    );
    assert_eq!(uac.ep.active_calls(), 0);
}

#[test]
fn over_tcp_the_invite_is_not_retransmitted() {
    let mut uac = Uac::new(10);
    let conn = Peer::Tcp(7, AGENT.parse().unwrap());
    let key = uac.ep.invite(outgoing(conn), uac.now);
    let (peer, invite) = only_request(uac.sent_requests(), "INVITE");
    assert_eq!(peer, conn);
    assert!(invite
        .headers
        .get("Via")
        .unwrap()
        .starts_with("SIP/2.0/TCP "));
    assert!(invite
        .headers
        .get("Contact")
        .unwrap()
        .ends_with(";transport=tcp>"));
    let sent = uac.advance_to(Duration::from_secs(40));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(
        uac.events(),
        vec![SipEvent::Rejected { key, code: 408 }, SipEvent::Ended(key)]
    );
}

#[test]
fn hangup_while_ringing_cancels_and_the_487_ends_the_call() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.call();
    uac.reply(&invite, 180, Some("ag1"), &[]);
    uac.events();
    uac.ep.hangup(key, uac.now);
    let (peer, cancel) = only_request(uac.sent_requests(), "CANCEL");
    assert_eq!(peer, agent());
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.branch(), invite.branch());
    assert_eq!(cancel.headers.get("CSeq"), Some("1 CANCEL"));
    assert_eq!(cancel.headers.get("To"), invite.headers.get("To"));
    assert_eq!(cancel.headers.get("From"), invite.headers.get("From"));
    uac.ep.hangup(key, uac.now);
    assert!(uac.sent().is_empty(), "one CANCEL only");
    uac.reply(&cancel, 200, Some("ag1"), &[]);
    assert!(uac.events().is_empty(), "the CANCEL's 200 ends nothing");
    uac.reply(&invite, 487, Some("ag1"), &[]);
    let (_, ack) = only_request(uac.sent_requests(), "ACK");
    assert_eq!(ack.branch(), invite.branch());
    assert_eq!(
        uac.events(),
        vec![SipEvent::Ended(key)],
        "our own hangup is no rejection"
    );
}

#[test]
fn hangup_before_any_response_waits_for_one_then_gives_up_after_64_t1() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.call();
    uac.ep.hangup(key, uac.now);
    assert!(
        uac.sent().is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    uac.now += Duration::from_millis(200);
    uac.reply(&invite, 100, None, &[]);
    only_request(uac.sent_requests(), "CANCEL");
    // The agent never answers the INVITE: 64*T1 after the CANCEL the call is gone.
    uac.advance_to(Duration::from_millis(200) + Duration::from_secs(31));
    assert!(uac.events().is_empty());
    uac.advance_to(Duration::from_millis(200) + Duration::from_secs(32));
    assert_eq!(uac.events(), vec![SipEvent::Ended(key)]);
}

#[test]
fn answer_crossing_our_cancel_is_acked_then_hung_up() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.call();
    uac.reply(&invite, 180, Some("ag1"), &[]);
    uac.ep.hangup(key, uac.now);
    uac.sent();
    uac.reply(
        &invite,
        200,
        Some("ag1"),
        &[("Contact", "<sip:agent7@10.1.1.5:5062>")],
    );
    let sent = uac.sent_requests();
    let methods: Vec<String> = sent.iter().map(|(_, r)| r.method.to_string()).collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    let (_, bye) = only_request(sent, "BYE");
    assert_eq!(tag(bye.headers.get("To")), Some("ag1"));
    assert_eq!(bye.headers.get("CSeq"), Some("2 BYE"));
    assert_eq!(uac.events(), vec![SipEvent::Progress { key, code: 180 }]);
    uac.reply(&bye, 200, None, &[]);
    assert_eq!(uac.events(), vec![SipEvent::Ended(key)]);
    assert_eq!(uac.ep.active_calls(), 0);
}

#[test]
fn a_second_fork_is_acked_and_hung_up_once() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.answered(&[]);
    uac.reply(
        &invite,
        200,
        Some("fork2"),
        &[("Contact", "<sip:other@192.0.2.9:5070>")],
    );
    let sent = uac.sent_requests();
    let methods: Vec<String> = sent.iter().map(|(_, r)| r.method.to_string()).collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    for (_, r) in &sent {
        assert_eq!(tag(r.headers.get("To")), Some("fork2"), "{}", r.method);
    }
    // Its retransmission is only re-acknowledged.
    uac.reply(&invite, 200, Some("fork2"), &[]);
    let methods: Vec<String> = uac
        .sent_requests()
        .iter()
        .map(|(_, r)| r.method.to_string())
        .collect();
    assert_eq!(methods, ["ACK"]);
    let (_, bye) = only_request(sent, "BYE");
    uac.reply(&bye, 200, None, &[]);
    assert!(uac.events().is_empty(), "the kept call is untouched");
    assert_eq!(uac.ep.active_calls(), 1);
    uac.ep.hangup(key, uac.now);
    let (_, our_bye) = only_request(uac.sent_requests(), "BYE");
    assert_eq!(tag(our_bye.headers.get("To")), Some("ag1"));
}

#[test]
fn remote_bye_on_an_outgoing_call_ends_it() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.answered(&[]);
    uac.agent_sends("BYE", &invite, 1, "");
    let codes: Vec<u16> = uac.sent_responses().iter().map(|r| r.code).collect();
    assert_eq!(codes, [200]);
    assert_eq!(
        uac.events(),
        vec![SipEvent::RemoteBye(key), SipEvent::Ended(key)]
    );
    assert_eq!(uac.ep.active_calls(), 0);
}

#[test]
fn our_hangup_sends_bye_with_dialog_tags_and_reversed_route() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.answered(&[("Record-Route", "<sip:10.0.0.1;lr>, <sip:10.0.0.2;lr>")]);
    uac.ep.hangup(key, uac.now);
    let (peer, bye) = only_request(uac.sent_requests(), "BYE");
    assert_eq!(peer, Peer::Udp("10.0.0.2:5060".parse().unwrap()));
    assert_eq!(bye.uri, "sip:agent7@10.1.1.5:5062");
    assert_eq!(
        bye.headers.get_all("Route"),
        ["<sip:10.0.0.2;lr>", "<sip:10.0.0.1;lr>"]
    );
    assert_eq!(bye.headers.get("From"), invite.headers.get("From"));
    assert_eq!(tag(bye.headers.get("To")), Some("ag1"));
    assert_eq!(bye.call_id(), invite.call_id());
    assert_eq!(bye.headers.get("CSeq"), Some("2 BYE"));
    uac.reply(&bye, 200, None, &[]);
    assert_eq!(uac.events(), vec![SipEvent::Ended(key)]);
}

#[test]
fn reinvite_from_the_agent_reaches_the_call_layer() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.answered(&[]);
    uac.agent_sends("INVITE", &invite, 2, "");
    assert_eq!(uac.events(), vec![SipEvent::ReInvite { key, offer: None }]);
    uac.ep.answer_reinvite(key, Ok(OFFER), uac.now);
    let codes: Vec<u16> = uac.sent_responses().iter().map(|r| r.code).collect();
    assert_eq!(codes, [100, 200]);
}

#[test]
fn refer_is_accepted_and_notify_reports_the_transfer() {
    let mut uac = Uac::new(10);
    let (key, invite) = uac.answered(&[]);
    uac.agent_sends("REFER", &invite, 2, "");
    assert_eq!(uac.sent_responses()[0].code, 400, "no Refer-To");
    assert!(uac.events().is_empty());
    uac.agent_sends(
        "REFER",
        &invite,
        3,
        "Refer-To: <sip:bob@192.0.2.8?Replaces=c9%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>\r\n\
         Referred-By: <sip:agent7@voxdesk.test>\r\n",
    );
    let rsp = uac.sent_responses();
    assert_eq!((rsp[0].code, rsp[0].reason.as_str()), (202, "Accepted"));
    assert_eq!(
        uac.events(),
        vec![SipEvent::ReferReceived {
            key,
            refer_to: "sip:bob@192.0.2.8".into(),
            replaces: Some("c9@host;to-tag=t1;from-tag=f1".into()),
            referred_by: Some("<sip:agent7@voxdesk.test>".into()),
        }]
    );

    uac.ep.notify_refer(key, 100, uac.now);
    let (_, trying) = only_request(uac.sent_requests(), "NOTIFY");
    assert_eq!(
        trying.headers.get("Subscription-State"),
        Some("active;expires=60")
    );
    assert_eq!(trying.body, b"SIP/2.0 100 Trying\r\n");
    uac.ep.notify_refer(key, 200, uac.now);
    let (peer, notify) = only_request(uac.sent_requests(), "NOTIFY");
    assert_eq!(peer, agent());
    assert_eq!(notify.headers.get("Event"), Some("refer;id=3"));
    assert_eq!(
        notify.headers.get("Subscription-State"),
        Some("terminated;reason=noresource")
    );
    assert_eq!(
        notify.headers.get("Content-Type"),
        Some("message/sipfrag;version=2.0")
    );
    assert_eq!(notify.body, b"SIP/2.0 200 OK\r\n");
    assert_eq!(notify.headers.get("CSeq"), Some("3 NOTIFY"));
    assert_eq!(tag(notify.headers.get("To")), Some("ag1"));
    assert_eq!(notify.headers.get("From"), invite.headers.get("From"));
    uac.reply(&notify, 200, None, &[]);
    assert!(uac.events().is_empty());
    uac.ep.notify_refer(key, 200, uac.now);
    assert!(uac.sent().is_empty(), "the subscription is over");
}

#[test]
fn refer_on_an_incoming_call_is_accepted_too() {
    let mut uac = Uac::new(10);
    let invite = format!(
        "INVITE sip:support@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {AGENT};branch=z9hG4bKi1\r\n\
         From: <sip:alice@192.0.2.5>;tag=a1\r\nTo: <sip:support@127.0.0.1>\r\n\
         Call-ID: in-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{AGENT}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    uac.input(invite.as_bytes());
    let key = match uac.events().as_slice() {
        [SipEvent::IncomingCall(call)] => call.key,
        other => panic!("{other:?}"),
    };
    uac.ep.answer(key, OFFER, uac.now);
    let ok = uac.sent_responses().pop().unwrap();
    let our_tag = tag(ok.headers.get("To")).unwrap().to_string();
    let refer = format!(
        "REFER sip:voxdesk@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {AGENT};branch=z9hG4bKr1\r\n\
         From: <sip:alice@192.0.2.5>;tag=a1\r\nTo: <sip:support@127.0.0.1>;tag={our_tag}\r\n\
         Call-ID: in-1\r\nCSeq: 2 REFER\r\nr: sip:carol@192.0.2.10\r\nContent-Length: 0\r\n\r\n"
    );
    uac.input(refer.as_bytes());
    assert_eq!(uac.sent_responses()[0].code, 202);
    assert!(uac.events().contains(&SipEvent::ReferReceived {
        key,
        refer_to: "sip:carol@192.0.2.10".into(),
        replaces: None,
        referred_by: None,
    }));
}

#[test]
fn no_slot_or_unusable_uri_fails_at_once_without_sending() {
    let mut uac = Uac::new(1);
    uac.call();
    let key = uac.ep.invite(outgoing(agent()), uac.now);
    assert_eq!(
        uac.events(),
        vec![SipEvent::Rejected { key, code: 503 }, SipEvent::Ended(key)]
    );
    let mut uac = Uac::new(10);
    let mut bad = outgoing(agent());
    bad.request_uri = "sip:agent7@host SIP/2.0\r\nX: y".into();
    let key = uac.ep.invite(bad, uac.now);
    assert_eq!(
        uac.events(),
        vec![SipEvent::Rejected { key, code: 400 }, SipEvent::Ended(key)]
    );
    assert!(uac.sent().is_empty());
    assert_eq!(uac.ep.active_calls(), 0);
}

fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8)]) {
    for &(pos, byte) in edits {
        if bytes.is_empty() {
            return;
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
}

proptest::proptest! {
    /// Any order of (possibly mangled) answers, hangups and clock steps on an outgoing call
    /// leaves the endpoint without a panic, each call ended at most once, and nothing alive
    /// once the dust settles after a hangup.
    #[test]
    fn outgoing_call_survives_any_script(
        script in proptest::collection::vec(
            (0u8..9, proptest::collection::vec((0usize..600, proptest::num::u8::ANY), 0..3), 0u64..20_000),
            1..20,
        )
    ) {
        let mut uac = Uac::new(2);
        let (key, invite) = uac.call();
        let mut ended = HashSet::new();
        for (kind, edits, step_ms) in script {
            let rsp = |code: u16, tag: Option<&str>| {
                let mut r = response_to(&invite, code, "R", tag);
                r.headers.push("Contact", "<sip:agent7@10.1.1.5:5062>");
                r.to_bytes()
            };
            let mut bytes = match kind {
                0 => rsp(100, None),
                1 => rsp(180, Some("a")),
                2 => rsp(200, Some("a")),
                3 => rsp(200, Some("b")),
                4 => rsp(486, Some("a")),
                5 => rsp(487, Some("a")),
                6 => format!(
                    "BYE sip:v@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {AGENT};branch=z9hG4bKb\r\n\
                     From: <sip:a@h>;tag=a\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 5 BYE\r\n\r\n",
                    invite.headers.get("From").unwrap_or(""),
                    invite.call_id()
                ).into_bytes(),
                7 => {
                    uac.ep.hangup(key, uac.now);
                    Vec::new()
                }
                _ => {
                    uac.ep.notify_refer(key, 200, uac.now);
                    Vec::new()
                }
            };
            mutate(&mut bytes, &edits);
            if !bytes.is_empty() {
                uac.input(&bytes);
            }
            uac.now += Duration::from_millis(step_ms);
            uac.ep.handle_timeout(uac.now);
            for ev in uac.events() {
                if let SipEvent::Ended(k) = ev {
                    proptest::prop_assert!(ended.insert(k), "ended twice");
                }
            }
            uac.sent();
        }
        uac.ep.hangup(key, uac.now);
        uac.now += Duration::from_secs(200);
        uac.ep.handle_timeout(uac.now);
        for ev in uac.events() {
            if let SipEvent::Ended(k) = ev {
                proptest::prop_assert!(ended.insert(k), "ended twice");
            }
        }
        // Nothing answers our last CANCEL or BYE, so every path ends by a timer.
        uac.now += Duration::from_secs(200);
        uac.ep.handle_timeout(uac.now);
        uac.events();
        proptest::prop_assert_eq!(uac.ep.active_calls(), 0);
    }
}
