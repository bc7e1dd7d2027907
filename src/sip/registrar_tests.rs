use super::*;
use crate::sip::auth::{ha1, Challenge, Credentials};
use crate::sip::message::{parse, Message};
use proptest::prelude::*;

const REALM: &str = "voxdesk";
const REQUEST_URI: &str = "sip:example.com";
const PHONE: &str = "192.0.2.10:5062";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn account(user: &str, password: &str) -> Account {
    Account {
        user: user.into(),
        ha1_md5: Some(ha1(Algorithm::Md5, user, REALM, password)),
        ha1_sha256: Some(ha1(Algorithm::Sha256, user, REALM, password)),
    }
}

fn request(text: &str) -> Request {
    match parse(text.as_bytes(), 65_535) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn header<'a>(rsp: &'a Response, name: &str) -> Option<&'a str> {
    rsp.headers.get(name)
}

/// The `nonce` of the first challenge in a 401.
fn nonce_of(rsp: &Response) -> String {
    let value = header(rsp, "WWW-Authenticate").expect("a challenge");
    let start = value.find("nonce=\"").expect("a nonce") + 7;
    let len = value[start..].find('"').expect("closing quote");
    value[start..start + len].to_string()
}

/// A scripted phone: builds REGISTERs, answers challenges with its password.
struct Phone {
    user: &'static str,
    password: &'static str,
    alg: Algorithm,
    from_user: &'static str,
    to_user: &'static str,
    digest_uri: &'static str,
    call_id: &'static str,
    cseq: u32,
    source: SocketAddr,
    transport: Transport,
    nonce: Option<String>,
    nc: u32,
}

fn phone(user: &'static str, password: &'static str) -> Phone {
    Phone {
        user,
        password,
        alg: Algorithm::Sha256,
        from_user: user,
        to_user: user,
        digest_uri: REQUEST_URI,
        call_id: "call-1",
        cseq: 0,
        source: addr(PHONE),
        transport: Transport::Udp,
        nonce: None,
        nc: 0,
    }
}

impl Phone {
    fn authorization(&mut self) -> Option<String> {
        let nonce = self.nonce.clone()?;
        self.nc += 1;
        let challenge = Challenge {
            realm: REALM.into(),
            nonce,
            opaque: None,
            stale: false,
        };
        let ha1 = ha1(self.alg, self.user, REALM, self.password);
        let creds = Credentials::respond(
            &challenge,
            self.alg,
            self.user,
            &ha1,
            "REGISTER",
            self.digest_uri,
            "0a4f113b",
            self.nc,
        );
        Some(creds.header_value())
    }

    /// The next REGISTER (new CSeq), with credentials when a nonce is known.
    fn request(&mut self, headers: &[&str]) -> Request {
        let text = self.text(headers);
        request(&text)
    }

    fn text(&mut self, headers: &[&str]) -> String {
        self.cseq += 1;
        let mut text = format!(
            "REGISTER {REQUEST_URI} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {PHONE};branch=z9hG4bK{}{};rport\r\n\
             From: <sip:{}@example.com>;tag=p1\r\n\
             To: <sip:{}@example.com>\r\n\
             Call-ID: {}\r\nCSeq: {} REGISTER\r\nMax-Forwards: 70\r\n",
            self.call_id, self.cseq, self.from_user, self.to_user, self.call_id, self.cseq
        );
        if let Some(auth) = self.authorization() {
            text.push_str(&format!("Authorization: {auth}\r\n"));
        }
        for h in headers {
            text.push_str(h);
            text.push_str("\r\n");
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text
    }

    fn send(&mut self, t: &mut Bench, headers: &[&str]) -> Response {
        let req = self.request(headers);
        t.send(&req, self.source, self.transport)
    }

    /// Sends, and answers a 401 once, as a phone does.
    fn register(&mut self, t: &mut Bench, headers: &[&str]) -> Response {
        let rsp = self.send(t, headers);
        if rsp.code != 401 {
            return rsp;
        }
        self.nonce = Some(nonce_of(&rsp));
        self.nc = 0;
        self.send(t, headers)
    }
}

struct Bench {
    reg: Registrar,
    start: Instant,
    now: Instant,
    seed: u8,
}

impl Bench {
    fn new(config: RegistrarConfig) -> Bench {
        let mut reg = Registrar::new(config);
        reg.set_accounts(vec![account("alice", "wonder"), account("bob", "builder")]);
        let now = Instant::now();
        Bench {
            reg,
            start: now,
            now,
            seed: 0,
        }
    }

    fn send(&mut self, req: &Request, source: SocketAddr, transport: Transport) -> Response {
        self.seed = self.seed.wrapping_add(1);
        self.reg
            .handle_register(req, source, transport, self.now, [self.seed; 16])
    }

    fn at(&mut self, secs: u64) {
        self.now = self.start + Duration::from_secs(secs);
    }

    fn events(&mut self) -> Vec<RegistrarEvent> {
        std::iter::from_fn(|| self.reg.poll_event()).collect()
    }

    fn uris(&self, user: &str) -> Vec<String> {
        let mut uris: Vec<String> = self.reg.contacts(user).into_iter().map(|b| b.uri).collect();
        uris.sort();
        uris
    }
}

fn bench() -> Bench {
    Bench::new(RegistrarConfig::default())
}

fn online(user: &str) -> RegistrarEvent {
    RegistrarEvent::Online { user: user.into() }
}

fn offline(user: &str) -> RegistrarEvent {
    RegistrarEvent::Offline { user: user.into() }
}

const ALICE_DESK: &str = "Contact: <sip:alice@10.0.0.5:5062>";

#[test]
fn unauthenticated_register_is_challenged_sha256_then_md5() {
    let mut t = bench();
    let rsp = phone("alice", "wonder").send(&mut t, &[ALICE_DESK]);
    assert_eq!(rsp.code, 401);
    // Not get_all: it would split the values at their commas.
    let values: Vec<&str> = rsp
        .headers
        .iter()
        .filter(|(n, _)| *n == "WWW-Authenticate")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values.len(), 2);
    assert!(values[0].contains("algorithm=SHA-256"), "{}", values[0]);
    assert!(values[1].contains("algorithm=MD5"), "{}", values[1]);
    assert!(values.iter().all(|v| v.contains("realm=\"voxdesk\"")));
    assert!(values.iter().all(|v| v.contains("qop=\"auth\"")));
    assert_eq!(
        nonce_of(&rsp),
        "01".repeat(16),
        "nonce from the random bytes"
    );
    assert!(param(header(&rsp, "To").unwrap(), "tag").is_some());
    assert!(t.reg.contacts("alice").is_empty());
    assert!(t.events().is_empty());
}

#[test]
fn challenge_offers_the_configured_algorithms_only() {
    let mut t = Bench::new(RegistrarConfig {
        challenge_algorithms: vec![Algorithm::Md5],
        ..RegistrarConfig::default()
    });
    let mut p = phone("alice", "wonder");
    let rsp = p.send(&mut t, &[ALICE_DESK]);
    let values: Vec<&str> = rsp
        .headers
        .iter()
        .filter(|(n, _)| *n == "WWW-Authenticate")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values.len(), 1);
    assert!(values[0].contains("algorithm=MD5"));
    p.alg = Algorithm::Md5;
    p.nonce = Some(nonce_of(&rsp));
    assert_eq!(p.send(&mut t, &[ALICE_DESK]).code, 200);
}

#[test]
fn right_credentials_bind_the_contact_with_either_algorithm() {
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let mut t = bench();
        let mut p = phone("alice", "wonder");
        p.alg = alg;
        let rsp = p.register(&mut t, &[ALICE_DESK]);
        assert_eq!(rsp.code, 200, "{alg:?}");
        assert_eq!(
            rsp.headers.get_all("Contact"),
            vec!["<sip:alice@10.0.0.5:5062>;expires=3600"]
        );
        assert_eq!(
            t.reg.contacts("alice"),
            vec![Binding {
                uri: "sip:alice@10.0.0.5:5062".into(),
                source: addr(PHONE),
                transport: Transport::Udp,
                expires_at: t.now + Duration::from_secs(3600),
            }]
        );
        assert_eq!(t.events(), vec![online("alice")]);
    }
}

#[test]
fn wrong_credentials_are_forbidden_after_the_challenge() {
    let sha256_only = Account {
        ha1_md5: None,
        ..account("carol", "secret")
    };
    let cases = [
        ("alice", "wrong", Algorithm::Sha256, "wrong password"),
        ("mallory", "any", Algorithm::Sha256, "unknown user"),
        (
            "carol",
            "secret",
            Algorithm::Md5,
            "no HA1 for the algorithm",
        ),
    ];
    for (user, password, alg, why) in cases {
        let mut t = bench();
        t.reg
            .set_accounts(vec![account("alice", "wonder"), sha256_only.clone()]);
        let mut p = phone(user, password);
        p.alg = alg;
        let first = p.send(&mut t, &[ALICE_DESK]);
        assert_eq!(first.code, 401, "{why}: challenge first");
        p.nonce = Some(nonce_of(&first));
        assert_eq!(p.send(&mut t, &[ALICE_DESK]).code, 403, "{why}");
        assert!(t.reg.contacts(user).is_empty(), "{why}");
    }
}

#[test]
fn expired_nonce_with_right_response_gets_a_stale_challenge() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    p.nonce = Some(nonce_of(&p.send(&mut t, &[ALICE_DESK])));
    t.at(301);
    let rsp = p.send(&mut t, &[ALICE_DESK]);
    assert_eq!(rsp.code, 401);
    assert!(header(&rsp, "WWW-Authenticate")
        .unwrap()
        .contains("stale=true"));
    // The fresh nonce works.
    p.nonce = Some(nonce_of(&rsp));
    p.nc = 0;
    assert_eq!(p.send(&mut t, &[ALICE_DESK]).code, 200);
    // A wrong password with an expired nonce is still a 403, not a stale hint.
    let mut guesser = phone("alice", "guess");
    guesser.nonce = p.nonce.clone();
    t.at(700);
    assert_eq!(guesser.send(&mut t, &[ALICE_DESK]).code, 403);
}

#[test]
fn replayed_nc_is_challenged_again_and_binds_nothing() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
    // An eavesdropper reuses the Authorization (method and uri unchanged) with its Contact.
    p.nc -= 1;
    let rsp = p.send(&mut t, &["Contact: <sip:alice@198.51.100.66>"]);
    assert_eq!(rsp.code, 401);
    assert!(!header(&rsp, "WWW-Authenticate").unwrap().contains("stale"));
    assert_eq!(t.uris("alice"), vec!["sip:alice@10.0.0.5:5062"]);
}

#[test]
fn repeated_failures_block_the_source_until_the_window_ends() {
    let mut t = bench();
    let mut guesser = phone("alice", "guess");
    guesser.nonce = Some(nonce_of(&guesser.send(&mut t, &[])));
    for _ in 0..5 {
        assert_eq!(guesser.send(&mut t, &[ALICE_DESK]).code, 403);
    }
    t.at(10);
    // Blocked before any check: even the right password from that address.
    let mut p = phone("alice", "wonder");
    let rsp = p.register(&mut t, &[ALICE_DESK]);
    assert_eq!(rsp.code, 503);
    assert_eq!(header(&rsp, "Retry-After"), Some("50"));
    // Another address is not affected.
    let mut elsewhere = phone("bob", "builder");
    elsewhere.source = addr("192.0.2.99:5060");
    assert_eq!(elsewhere.register(&mut t, &[]).code, 200);
    t.at(60);
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
}

#[test]
fn from_and_to_must_be_the_authenticated_user() {
    let cases = [("bob", "alice"), ("alice", "bob"), ("bob", "bob")];
    for (from, to) in cases {
        let mut t = bench();
        let mut p = phone("alice", "wonder");
        p.from_user = from;
        p.to_user = to;
        assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 403, "{from}/{to}");
        assert!(t.reg.contacts("alice").is_empty());
        assert!(t.reg.contacts("bob").is_empty());
    }
}

#[test]
fn digest_uri_must_be_the_request_uri() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    p.digest_uri = "sip:other.example.com";
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 400);
    assert!(t.reg.contacts("alice").is_empty());
}

#[test]
fn wildcard_contact_with_expires_zero_removes_every_binding() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    let two = [ALICE_DESK, "Contact: <sip:alice@10.0.0.6>"];
    assert_eq!(p.register(&mut t, &two).code, 200);
    assert_eq!(t.events(), vec![online("alice")]);
    for bad in [
        &["Contact: *", "Expires: 60"][..],
        &["Contact: *"],
        &["Contact: *", ALICE_DESK, "Expires: 0"],
    ] {
        assert_eq!(p.send(&mut t, bad).code, 400, "{bad:?}");
    }
    assert_eq!(t.uris("alice").len(), 2);
    let rsp = p.send(&mut t, &["Contact: *", "Expires: 0"]);
    assert_eq!(rsp.code, 200);
    assert!(rsp.headers.get_all("Contact").is_empty());
    assert!(t.reg.contacts("alice").is_empty());
    assert_eq!(t.events(), vec![offline("alice")]);
}

#[test]
fn contact_expires_param_wins_over_the_header_and_zero_removes_one() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    let rsp = p.register(
        &mut t,
        &[
            "Contact: <sip:alice@10.0.0.5>;expires=120",
            "Contact: <sip:alice@10.0.0.6>",
            "Expires: 600",
        ],
    );
    assert_eq!(rsp.code, 200);
    let mut listed = rsp.headers.get_all("Contact");
    listed.sort();
    assert_eq!(
        listed,
        vec![
            "<sip:alice@10.0.0.5>;expires=120",
            "<sip:alice@10.0.0.6>;expires=600"
        ]
    );
    t.events();
    let rsp = p.send(&mut t, &["Contact: <sip:alice@10.0.0.5>;expires=0"]);
    assert_eq!(rsp.code, 200);
    assert_eq!(
        rsp.headers.get_all("Contact"),
        vec!["<sip:alice@10.0.0.6>;expires=600"]
    );
    assert!(t.events().is_empty(), "still one binding: no Offline");
}

#[test]
fn too_brief_intervals_get_423_and_long_ones_are_cut() {
    let cases: [(&[&str], u16, Option<&str>); 6] = [
        (&[ALICE_DESK, "Expires: 30"], 423, None),
        (&["Contact: <sip:a@10.0.0.5>;expires=59"], 423, None),
        (&[ALICE_DESK, "Expires: 60"], 200, Some("expires=60")),
        (&[ALICE_DESK, "Expires: 100000"], 200, Some("expires=3600")),
        (
            &[ALICE_DESK, "Expires: 99999999999"],
            200,
            Some("expires=3600"),
        ),
        (&[ALICE_DESK, "Expires: soon"], 400, None),
    ];
    for (headers, code, listed) in cases {
        let mut t = bench();
        let rsp = phone("alice", "wonder").register(&mut t, headers);
        assert_eq!(rsp.code, code, "{headers:?}");
        if code == 423 {
            assert_eq!(header(&rsp, "Min-Expires"), Some("60"));
            assert!(t.reg.contacts("alice").is_empty());
        }
        if let Some(listed) = listed {
            assert!(header(&rsp, "Contact").unwrap().ends_with(listed));
        }
    }
}

#[test]
fn re_register_follows_call_id_and_cseq_rules() {
    // (Call-ID of the second REGISTER, its CSeq, expected code)
    let cases = [
        ("call-1", 6, 200),
        ("call-1", 5, 500),
        ("call-1", 4, 500),
        ("call-2", 1, 200),
    ];
    for (call_id, cseq, code) in cases {
        let mut t = bench();
        let mut p = phone("alice", "wonder");
        p.cseq = 3;
        assert_eq!(p.register(&mut t, &[ALICE_DESK, "Expires: 600"]).code, 200);
        assert_eq!(p.cseq, 5);
        t.at(100);
        p.call_id = call_id;
        p.cseq = cseq - 1;
        let rsp = p.send(&mut t, &[ALICE_DESK, "Expires: 600"]);
        assert_eq!(rsp.code, code, "{call_id} {cseq}");
        let expires_at = t.reg.contacts("alice")[0].expires_at;
        let refreshed = if code == 200 { 700 } else { 600 };
        assert_eq!(expires_at, t.start + Duration::from_secs(refreshed));
        assert_eq!(t.reg.contacts("alice").len(), 1, "refreshed, not added");
    }
}

#[test]
fn contact_limits_per_user_403_and_in_total_503() {
    let mut t = Bench::new(RegistrarConfig {
        max_contacts_per_user: 2,
        max_bindings: 3,
        ..RegistrarConfig::default()
    });
    let mut p = phone("alice", "wonder");
    let three = ["Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>, <sip:a@10.0.0.3>"];
    assert_eq!(p.register(&mut t, &three).code, 403);
    assert_eq!(p.send(&mut t, &["Contact: <sip:a@10.0.0.1>"]).code, 200);
    assert_eq!(p.send(&mut t, &["Contact: <sip:a@10.0.0.2>"]).code, 200);
    let rsp = p.send(&mut t, &["Contact: <sip:a@10.0.0.3>"]);
    assert_eq!((rsp.code, rsp.reason.as_str()), (403, "Too Many Contacts"));
    // Swapping one for another in the same request fits.
    let swap = [
        "Contact: <sip:a@10.0.0.2>;expires=0",
        "Contact: <sip:a@10.0.0.3>",
    ];
    assert_eq!(p.send(&mut t, &swap).code, 200);
    assert_eq!(t.uris("alice"), vec!["sip:a@10.0.0.1", "sip:a@10.0.0.3"]);
    let mut b = phone("bob", "builder");
    b.source = addr("192.0.2.11:5060");
    let two = ["Contact: <sip:b@10.0.0.8>, <sip:b@10.0.0.9>"];
    let rsp = b.register(&mut t, &two);
    assert_eq!(rsp.code, 503);
    assert_eq!(header(&rsp, "Retry-After"), Some("60"));
    assert_eq!(b.send(&mut t, &["Contact: <sip:b@10.0.0.8>"]).code, 200);
    assert_eq!(t.reg.binding_count(), 3);
}

#[test]
fn binding_keeps_the_source_and_transport_and_follows_the_phone() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    p.source = addr("203.0.113.7:40000");
    p.transport = Transport::Tcp(9);
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
    let b = &t.reg.contacts("alice")[0];
    assert_eq!(b.uri, "sip:alice@10.0.0.5:5062", "Contact kept as given");
    assert_eq!(
        (b.source, b.transport),
        (addr("203.0.113.7:40000"), Transport::Tcp(9))
    );
    // The NAT mapping changed: the same Contact now arrives from elsewhere over UDP.
    p.source = addr("203.0.113.7:41234");
    p.transport = Transport::Udp;
    assert_eq!(p.send(&mut t, &[ALICE_DESK]).code, 200);
    let b = &t.reg.contacts("alice")[0];
    assert_eq!(
        (b.source, b.transport),
        (addr("203.0.113.7:41234"), Transport::Udp)
    );
}

#[test]
fn bindings_expire_on_time_and_the_last_one_takes_the_agent_offline() {
    let mut t = Bench::new(RegistrarConfig {
        keepalive_interval: Duration::ZERO,
        ..RegistrarConfig::default()
    });
    let mut p = phone("alice", "wonder");
    let headers = [
        "Contact: <sip:alice@10.0.0.5>;expires=120",
        "Contact: <sip:alice@10.0.0.6>;expires=300",
    ];
    assert_eq!(p.register(&mut t, &headers).code, 200);
    assert_eq!(t.events(), vec![online("alice")]);
    assert_eq!(
        t.reg.poll_timeout(),
        Some(t.start + Duration::from_secs(120))
    );
    t.reg.handle_timeout(t.start + Duration::from_secs(119));
    assert_eq!(t.uris("alice").len(), 2);
    t.reg.handle_timeout(t.start + Duration::from_secs(120));
    assert_eq!(t.uris("alice"), vec!["sip:alice@10.0.0.6"]);
    assert!(t.events().is_empty());
    assert_eq!(
        t.reg.poll_timeout(),
        Some(t.start + Duration::from_secs(300))
    );
    t.reg.handle_timeout(t.start + Duration::from_secs(300));
    assert!(t.reg.contacts("alice").is_empty());
    assert_eq!(t.events(), vec![offline("alice")]);
    assert_eq!(t.reg.poll_timeout(), None);
}

#[test]
fn keepalives_come_every_interval_and_three_failures_remove_the_binding() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
    t.events();
    let start = t.start;
    let at = move |s: u64| start + Duration::from_secs(s);
    assert_eq!(t.reg.poll_timeout(), Some(at(30)));
    assert_eq!(t.reg.poll_keepalive(at(29)), None);
    let (user, binding) = t.reg.poll_keepalive(at(30)).expect("due");
    assert_eq!((user.as_str(), binding.source), ("alice", addr(PHONE)));
    assert_eq!(t.reg.poll_keepalive(at(31)), None, "one ping in flight");
    let uri = binding.uri.as_str();
    // (time of the answer, answered?, bindings left)
    let script = [
        (32, false, 1),
        (64, true, 1), // an answer resets the count
        (96, false, 1),
        (128, false, 1),
        (160, false, 0),
    ];
    for (secs, ok, left) in script {
        t.reg.keepalive_result("alice", uri, ok, at(secs));
        assert_eq!(t.reg.contacts("alice").len(), left, "at {secs}");
        if left > 0 {
            assert_eq!(t.reg.poll_keepalive(at(secs + 29)), None);
            assert!(t.reg.poll_keepalive(at(secs + 30)).is_some());
        }
    }
    assert_eq!(t.events(), vec![offline("alice")]);
    assert_eq!(t.reg.poll_timeout(), None);
}

#[test]
fn a_stray_keepalive_result_changes_nothing() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
    let uri = "sip:alice@10.0.0.5:5062";
    for _ in 0..5 {
        t.reg.keepalive_result("alice", uri, false, t.now);
        t.reg.keepalive_result("nobody", uri, false, t.now);
    }
    assert_eq!(t.reg.contacts("alice").len(), 1);
}

#[test]
fn removed_accounts_lose_their_bindings() {
    let mut t = bench();
    assert_eq!(
        phone("alice", "wonder")
            .register(&mut t, &[ALICE_DESK])
            .code,
        200
    );
    let mut b = phone("bob", "builder");
    assert_eq!(
        b.register(&mut t, &["Contact: <sip:bob@10.0.0.8>"]).code,
        200
    );
    t.events();
    t.reg.set_accounts(vec![account("bob", "builder")]);
    assert_eq!(t.events(), vec![offline("alice")]);
    assert!(t.reg.contacts("alice").is_empty());
    assert_eq!(t.uris("bob"), vec!["sip:bob@10.0.0.8"]);
    assert_eq!(t.reg.binding_count(), 1);
}

#[test]
fn a_required_extension_gets_420() {
    let mut t = bench();
    let rsp = phone("alice", "wonder").register(&mut t, &[ALICE_DESK, "Require: outbound"]);
    assert_eq!(rsp.code, 420);
    assert_eq!(header(&rsp, "Unsupported"), Some("outbound"));
}

#[test]
fn a_query_without_contact_lists_the_bindings() {
    let mut t = bench();
    let mut p = phone("alice", "wonder");
    assert_eq!(p.register(&mut t, &[ALICE_DESK]).code, 200);
    t.at(600);
    // The nonce is stale by now: the phone answers the new challenge.
    let rsp = p.register(&mut t, &[]);
    assert_eq!(rsp.code, 200);
    assert_eq!(
        rsp.headers.get_all("Contact"),
        vec!["<sip:alice@10.0.0.5:5062>;expires=3000"]
    );
}

proptest! {
    #[test]
    fn hostile_contact_and_expires_never_panic(
        contact in "[ -~]{0,60}",
        expires in "[ -~]{0,12}",
        authorization in "[ -~]{0,80}",
    ) {
        let mut t = bench();
        let mut p = phone("alice", "wonder");
        p.nonce = Some(nonce_of(&p.send(&mut t, &[])));
        let contact = format!("Contact: {contact}");
        let expires = format!("Expires: {expires}");
        let Ok(Message::Request(req)) = parse(p.text(&[&contact, &expires]).as_bytes(), 65_535)
        else {
            return Ok(());
        };
        let rsp = t.send(&req, p.source, p.transport);
        prop_assert!([200, 400, 403, 423, 500].contains(&rsp.code), "{}", rsp.code);
        let forged = format!("Authorization: {authorization}");
        p.nonce = None;
        let Ok(Message::Request(req)) = parse(p.text(&[&forged, ALICE_DESK]).as_bytes(), 65_535)
        else {
            return Ok(());
        };
        let rsp = t.send(&req, p.source, p.transport);
        prop_assert!([400, 401, 403].contains(&rsp.code), "{}", rsp.code);
    }
}
