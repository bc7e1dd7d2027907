use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::auth::{ha1, Algorithm, Challenge, Credentials};
use crate::sip::message::{parse, Message};
use crate::sip::registrar::{Account, RegistrarConfig};

const REALM: &str = "voxdesk";
const TARGET: &str = "sip:bob@192.0.2.1";

fn registrar() -> Registrar {
    let mut reg = Registrar::new(RegistrarConfig {
        realm: REALM.into(),
        ..RegistrarConfig::default()
    });
    let account = |user: &str, password: &str| Account {
        user: user.into(),
        ha1_md5: Some(ha1(Algorithm::Md5, user, REALM, password)),
        ha1_sha256: Some(ha1(Algorithm::Sha256, user, REALM, password)),
    };
    reg.set_accounts(vec![account("alice", "wonder"), account("bob", "builder")]);
    reg
}

fn source() -> SocketAddr {
    "192.0.2.10:5062".parse().unwrap()
}

/// An INVITE from `from`, with credentials of `user`/`password` for `nonce` when given.
fn invite(from: &str, creds: Option<(&str, &str, &str, u32)>) -> Request {
    let mut text = format!(
        "INVITE {TARGET} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinv\r\n\
         From: <sip:{from}@192.0.2.1>;tag=a1\r\nTo: <{TARGET}>\r\n\
         Call-ID: consult-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
    );
    if let Some((user, password, nonce, nc)) = creds {
        let challenge = Challenge {
            realm: REALM.into(),
            nonce: nonce.into(),
            opaque: None,
            stale: false,
        };
        let ha1 = ha1(Algorithm::Md5, user, REALM, password);
        let creds = Credentials::respond(
            &challenge,
            Algorithm::Md5,
            user,
            &ha1,
            "INVITE",
            TARGET,
            "c0ffee",
            nc,
        );
        text.push_str(&format!("Authorization: {}\r\n", creds.header_value()));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse(text.as_bytes(), 65_535) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn nonce_of(identity: &InviteIdentity) -> String {
    let InviteIdentity::Answer(rsp) = identity else {
        panic!("expected a challenge, got {identity:?}");
    };
    assert_eq!(rsp.code, 401);
    let value = rsp.headers.get("WWW-Authenticate").expect("a challenge");
    let start = value.find("nonce=\"").expect("a nonce") + 7;
    let len = value[start..].find('"').expect("closing quote");
    value[start..start + len].to_string()
}

fn code(identity: &InviteIdentity) -> Option<u16> {
    match identity {
        InviteIdentity::Answer(rsp) => Some(rsp.code),
        _ => None,
    }
}

#[test]
fn a_caller_who_is_no_agent_is_not_challenged() {
    let mut reg = registrar();
    let got = reg.identify_inviter(
        &invite("0612345678", None),
        source(),
        Instant::now(),
        [1; 16],
    );
    assert_eq!(got, InviteIdentity::Caller);
}

#[test]
fn an_agent_is_challenged_then_identified() {
    let mut reg = registrar();
    let now = Instant::now();
    let first = reg.identify_inviter(&invite("alice", None), source(), now, [1; 16]);
    let nonce = nonce_of(&first);
    let answered = invite("alice", Some(("alice", "wonder", &nonce, 1)));
    let got = reg.identify_inviter(&answered, source(), now, [2; 16]);
    assert_eq!(got, InviteIdentity::Agent("alice".into()));
    // The same nc again is a replay: a fresh challenge, not the agent.
    let got = reg.identify_inviter(&answered, source(), now, [3; 16]);
    assert_eq!(code(&got), Some(401));
}

#[test]
fn wrong_or_borrowed_credentials_are_refused() {
    let mut reg = registrar();
    let now = Instant::now();
    let nonce = nonce_of(&reg.identify_inviter(&invite("alice", None), source(), now, [1; 16]));
    let wrong = invite("alice", Some(("alice", "guess", &nonce, 1)));
    assert_eq!(
        code(&reg.identify_inviter(&wrong, source(), now, [2; 16])),
        Some(403)
    );
    // Bob's right password does not make a call from alice's name bob's or alice's.
    let borrowed = invite("alice", Some(("bob", "builder", &nonce, 2)));
    assert_eq!(
        code(&reg.identify_inviter(&borrowed, source(), now, [3; 16])),
        Some(403)
    );
}

#[test]
fn repeated_failures_block_the_source() {
    let mut reg = registrar();
    let now = Instant::now();
    for n in 1..=5u32 {
        let nonce =
            nonce_of(&reg.identify_inviter(&invite("alice", None), source(), now, [n as u8; 16]));
        let wrong = invite("alice", Some(("alice", "guess", &nonce, 1)));
        assert_eq!(
            code(&reg.identify_inviter(&wrong, source(), now, [9; 16])),
            Some(403)
        );
    }
    let blocked = reg.identify_inviter(&invite("alice", None), source(), now, [7; 16]);
    let InviteIdentity::Answer(rsp) = &blocked else {
        panic!("{blocked:?}");
    };
    assert_eq!(rsp.code, 503);
    assert!(rsp.headers.get("Retry-After").is_some());
    // Once the block is over the agent is challenged again.
    let later = now + Duration::from_secs(3600);
    assert_eq!(
        code(&reg.identify_inviter(&invite("alice", None), source(), later, [8; 16])),
        Some(401)
    );
}

#[test]
fn the_digest_uri_is_the_request_uri_or_its_host() {
    use crate::sip::registrar::digest_uri_matches;
    let cases = [
        ("sip:bob@192.0.2.1", "sip:bob@192.0.2.1", true),
        ("sip:192.0.2.1", "sip:bob@192.0.2.1", true),
        ("SIP:192.0.2.1:5060", "sip:bob@192.0.2.1:5060", true),
        ("sip:192.0.2.1:5061", "sip:bob@192.0.2.1:5060", false),
        ("sip:carol@192.0.2.1", "sip:bob@192.0.2.1", false),
        ("sip:192.0.2.9", "sip:bob@192.0.2.1", false),
        ("", "sip:bob@192.0.2.1", false),
    ];
    for (digest, request, want) in cases {
        assert_eq!(
            digest_uri_matches(digest, request),
            want,
            "{digest} vs {request}"
        );
    }
}
