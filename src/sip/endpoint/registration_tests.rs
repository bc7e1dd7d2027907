//! REGISTER and keepalives through the whole endpoint, in virtual time: a scripted phone
//! sends bytes, the endpoint answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::auth::{ha1, Algorithm, Challenge, Credentials};
use crate::sip::message::{parse, response_to, Message, Response};
use crate::sip::registrar::{Account, RegistrarConfig};

const PHONE: &str = "192.0.2.10:5062";
const URI: &str = "sip:127.0.0.1";

fn phone_addr() -> SocketAddr {
    PHONE.parse().unwrap()
}

fn register(branch: &str, cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER {URI} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=p1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice@10.0.0.5:5062>\r\nExpires: 3600\r\n{auth}\
         Content-Length: 0\r\n\r\n"
    )
}

fn authorization(nonce: &str, password: &str) -> String {
    let challenge = Challenge {
        realm: "voxdesk".into(),
        nonce: nonce.into(),
        opaque: None,
        stale: false,
    };
    let alg = Algorithm::Sha256;
    let ha1 = ha1(alg, "alice", "voxdesk", password);
    Credentials::respond(&challenge, alg, "alice", &ha1, "REGISTER", URI, "c0ffee", 1)
        .header_value()
}

fn nonce_of(rsp: &Response) -> String {
    let value = rsp.headers.get("WWW-Authenticate").expect("a challenge");
    let start = value.find("nonce=\"").expect("a nonce") + 7;
    let len = value[start..].find('"').expect("closing quote");
    value[start..start + len].to_string()
}

struct Net {
    ep: Endpoint,
    start: Instant,
    now: Instant,
}

impl Net {
    fn new() -> Net {
        let mut ep = Endpoint::new(EndpointConfig::default());
        ep.set_registrar(Registrar::new(RegistrarConfig::default()));
        ep.set_accounts(vec![Account {
            user: "alice".into(),
            ha1_md5: None,
            ha1_sha256: Some(ha1(Algorithm::Sha256, "alice", "voxdesk", "wonder")),
        }]);
        let now = Instant::now();
        Net {
            ep,
            start: now,
            now,
        }
    }

    fn send(&mut self, text: &str, peer: Peer) -> Vec<Transmit> {
        self.ep.handle_input(text.as_bytes(), peer, self.now);
        std::iter::from_fn(|| self.ep.poll_transmit()).collect()
    }

    fn send_udp(&mut self, text: &str) -> Vec<Response> {
        self.send(text, Peer::Udp(phone_addr()))
            .iter()
            .map(|t| match parse(&t.bytes, 65_535) {
                Ok(Message::Response(r)) => r,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn events(&mut self) -> Vec<SipEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Challenge, then answer it: the two-step registration of a phone.
    fn register_alice(&mut self, peer: Peer) {
        let first = self.send(&register("z9hG4bK1", 1, None), peer);
        let Ok(Message::Response(challenge)) = parse(&first[0].bytes, 65_535) else {
            panic!("no response");
        };
        let auth = authorization(&nonce_of(&challenge), "wonder");
        let sent = self.send(&register("z9hG4bK2", 2, Some(&auth)), peer);
        let Ok(Message::Response(ok)) = parse(&sent[0].bytes, 65_535) else {
            panic!("no response");
        };
        assert_eq!(ok.code, 200);
    }

    /// Steps virtual time through each deadline up to `secs` after start; what was sent.
    fn advance_to(&mut self, secs: u64) -> Vec<(Duration, Transmit)> {
        let end = self.start + Duration::from_secs(secs);
        let mut sent = Vec::new();
        while let Some(at) = self.ep.poll_timeout() {
            if at > end {
                break;
            }
            self.now = at.max(self.now);
            self.ep.handle_timeout(self.now);
            while let Some(t) = self.ep.poll_transmit() {
                sent.push((self.now - self.start, t));
            }
        }
        self.now = end;
        sent
    }
}

fn options_requests(sent: &[(Duration, Transmit)]) -> Vec<(Duration, Peer, Request)> {
    sent.iter()
        .filter_map(|(at, t)| match parse(&t.bytes, 65_535) {
            Ok(Message::Request(r)) if r.method.is(M::Options) => Some((*at, t.peer, r)),
            _ => None,
        })
        .collect()
}

#[test]
fn register_is_challenged_then_bound() {
    let mut net = Net::new();
    let first = register("z9hG4bK1", 1, None);
    let rsp = net.send_udp(&first);
    assert_eq!(rsp.len(), 1);
    assert_eq!(rsp[0].code, 401);
    let schemes = rsp[0]
        .headers
        .iter()
        .filter(|(n, _)| *n == "WWW-Authenticate")
        .count();
    assert_eq!(schemes, 2);
    // A retransmission is absorbed by the transaction: same answer, same nonce.
    assert_eq!(net.send_udp(&first), rsp);
    let auth = authorization(&nonce_of(&rsp[0]), "wonder");
    let rsp = net.send_udp(&register("z9hG4bK2", 2, Some(&auth)));
    assert_eq!(rsp[0].code, 200);
    assert_eq!(
        rsp[0].headers.get("Contact"),
        Some("<sip:alice@10.0.0.5:5062>;expires=3600")
    );
    assert_eq!(net.events(), vec![SipEvent::AgentOnline("alice".into())]);
    let bindings = net.ep.bindings("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].source, phone_addr());
}

#[test]
fn wrong_password_is_forbidden() {
    let mut net = Net::new();
    let rsp = net.send_udp(&register("z9hG4bK1", 1, None));
    let auth = authorization(&nonce_of(&rsp[0]), "guess");
    let rsp = net.send_udp(&register("z9hG4bK2", 2, Some(&auth)));
    assert_eq!(rsp[0].code, 403);
    assert!(net.events().is_empty());
    assert!(net.ep.bindings("alice").is_empty());
}

#[test]
fn without_a_registrar_register_is_405() {
    let mut net = Net::new();
    net.ep = Endpoint::new(EndpointConfig::default());
    let rsp = net.send_udp(&register("z9hG4bK1", 1, None));
    assert_eq!(rsp[0].code, 405);
    assert!(net.ep.bindings("alice").is_empty());
}

#[test]
fn answered_keepalives_keep_the_agent_and_silence_takes_it_offline() {
    let mut net = Net::new();
    net.register_alice(Peer::Udp(phone_addr()));
    net.events();
    let sent = net.advance_to(30);
    let pings = options_requests(&sent);
    assert_eq!(pings.len(), 1);
    let (at, peer, ping) = &pings[0];
    assert_eq!(
        (*at, *peer),
        (Duration::from_secs(30), Peer::Udp(phone_addr()))
    );
    assert_eq!(ping.uri, "sip:alice@10.0.0.5:5062");
    // Any final answer means alive, even a 405 from a phone that does not do OPTIONS.
    let answer = response_to(ping, 405, "Method Not Allowed", Some("ph"));
    net.send(&String::from_utf8_lossy(&answer.to_bytes()), *peer);
    let sent = net.advance_to(60);
    assert_eq!(
        options_requests(&sent).len(),
        1,
        "next ping 30 s after the answer"
    );
    // Silence from now on: each ping times out after 64·T1 = 32 s, the third takes the
    // binding (60+32, +30+32, +30+32 = 216 s).
    let sent = net.advance_to(215);
    assert!(
        net.events().is_empty(),
        "{:?}",
        options_requests(&sent).len()
    );
    net.advance_to(216);
    assert_eq!(net.events(), vec![SipEvent::AgentOffline("alice".into())]);
    assert!(net.ep.bindings("alice").is_empty());
    let sent = net.advance_to(400);
    assert!(
        options_requests(&sent).is_empty(),
        "no pings for a gone phone"
    );
}

#[test]
fn keepalives_go_back_over_the_registering_tcp_connection() {
    let mut net = Net::new();
    let peer = Peer::Tcp(7, phone_addr());
    net.register_alice(peer);
    let sent = net.advance_to(30);
    let pings = options_requests(&sent);
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].1, peer);
    assert!(pings[0]
        .2
        .headers
        .get("Via")
        .unwrap()
        .starts_with("SIP/2.0/TCP"));
}

#[test]
fn removing_an_account_takes_the_agent_offline() {
    let mut net = Net::new();
    net.register_alice(Peer::Udp(phone_addr()));
    net.events();
    net.ep.set_accounts(Vec::new());
    assert_eq!(net.events(), vec![SipEvent::AgentOffline("alice".into())]);
}

fn invite(from: &str, branch: &str, cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
         From: <sip:{from}@127.0.0.1>;tag=c1\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: consult-1\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:{from}@10.0.0.5:5062>\r\n{auth}\
         Content-Length: 0\r\n\r\n"
    )
}

fn invite_authorization(nonce: &str, password: &str) -> String {
    let challenge = Challenge {
        realm: "voxdesk".into(),
        nonce: nonce.into(),
        opaque: None,
        stale: false,
    };
    let alg = Algorithm::Sha256;
    let ha1 = ha1(alg, "alice", "voxdesk", password);
    let uri = "sip:bob@127.0.0.1";
    Credentials::respond(&challenge, alg, "alice", &ha1, "INVITE", uri, "c0ffee", 1).header_value()
}

#[test]
fn an_agents_invite_is_challenged_and_then_carries_the_agent() {
    let mut net = Net::new();
    let rsps = net.send_udp(&invite("alice", "z9hG4bKi1", 1, None));
    assert_eq!(rsps.iter().map(|r| r.code).collect::<Vec<_>>(), [401]);
    assert!(
        net.events().is_empty(),
        "no call before the challenge is met"
    );
    // The 401 is a final response of an INVITE transaction: its ACK is absorbed.
    let ack = invite("alice", "z9hG4bKi1", 1, None).replacen("INVITE sip", "ACK sip", 1);
    let ack = ack.replace("1 INVITE", "1 ACK");
    assert!(net.send_udp(&ack).is_empty());
    let auth = invite_authorization(&nonce_of(&rsps[0]), "wonder");
    let rsps = net.send_udp(&invite("alice", "z9hG4bKi2", 2, Some(&auth)));
    assert_eq!(rsps.iter().map(|r| r.code).collect::<Vec<_>>(), [100]);
    let agent = net.events().into_iter().find_map(|e| match e {
        SipEvent::IncomingCall(call) => Some(call.agent),
        _ => None,
    });
    assert_eq!(agent, Some(Some("alice".to_string())));
}

#[test]
fn a_wrong_password_on_invite_is_forbidden_and_a_stranger_is_a_caller() {
    let mut net = Net::new();
    let rsps = net.send_udp(&invite("alice", "z9hG4bKi1", 1, None));
    let auth = invite_authorization(&nonce_of(&rsps[0]), "guess");
    let rsps = net.send_udp(&invite("alice", "z9hG4bKi2", 2, Some(&auth)));
    assert_eq!(rsps.iter().map(|r| r.code).collect::<Vec<_>>(), [403]);
    assert!(net.events().is_empty());
    // Someone who is no agent is not challenged: the dialplan answers them.
    let rsps = net.send_udp(&invite("0612345678", "z9hG4bKi3", 1, None));
    assert_eq!(rsps.iter().map(|r| r.code).collect::<Vec<_>>(), [100]);
    let agent = net.events().into_iter().find_map(|e| match e {
        SipEvent::IncomingCall(call) => Some(call.agent),
        _ => None,
    });
    assert_eq!(agent, Some(None));
}

#[test]
fn allow_lists_register_only_on_a_registrar() {
    let options = format!(
        "OPTIONS {URI} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKopt\r\n\
         From: <sip:alice@127.0.0.1>;tag=p1\r\nTo: <{URI}>\r\n\
         Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let mut net = Net::new();
    let rsp = net.send_udp(&options);
    let allow = rsp[0].headers.get("Allow").expect("an Allow header");
    assert!(allow.contains("REGISTER"), "{allow}");

    let mut plain = Endpoint::new(EndpointConfig::default());
    plain.handle_input(options.as_bytes(), Peer::Udp(phone_addr()), net.now);
    let sent = plain.poll_transmit().expect("an answer");
    let Ok(Message::Response(rsp)) = parse(&sent.bytes, 65_535) else {
        panic!("no response");
    };
    let allow = rsp.headers.get("Allow").expect("an Allow header");
    assert!(!allow.contains("REGISTER"), "{allow}");
}
