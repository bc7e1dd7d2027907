use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const REALM: &str = "http-auth@example.org";
const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

#[test]
fn rfc7616_example_vectors() {
    let cases = [
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ];
    for (alg, expected) in cases {
        let ha1 = ha1(alg, "Mufasa", REALM, "Circle of Life");
        let response = compute_response(alg, &ha1, "GET", "/dir/index.html", NONCE, 1, CNONCE);
        assert_eq!(response, expected, "{alg:?}");
    }
}

#[test]
fn rfc7616_header_parses() {
    let header = format!(
        "Digest username=\"Mufasa\",\r\n realm=\"{REALM}\", uri=\"/dir/index.html\", \
         algorithm=SHA-256, nonce=\"{NONCE}\", nc=00000001, cnonce=\"{CNONCE}\", qop=auth, \
         response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    )
    // Headers reach this parser unfolded, as the message parser delivers them.
    .replace("\r\n", "");
    let creds = parse_authorization(&header).unwrap();
    assert_eq!(creds.username, "Mufasa");
    assert_eq!(creds.realm, REALM);
    assert_eq!(creds.algorithm, Algorithm::Sha256);
    assert_eq!(creds.nc, Some(1));
    assert_eq!(creds.qop, Some(Qop::Auth));
    assert_eq!(creds.cnonce.as_deref(), Some(CNONCE));
    assert_eq!(
        creds.opaque.as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
    let ha1 = ha1(Algorithm::Sha256, "Mufasa", REALM, "Circle of Life");
    let mut verifier = Verifier::new(VerifierConfig::new(REALM));
    // Unknown nonce with the right response: stale, per RFC 7616 §3.3.
    assert_eq!(
        verifier.verify("GET", &creds, &ha1, Instant::now()),
        Verdict::Stale
    );
}

#[test]
fn challenge_lists_sha256_first_then_md5() {
    let ch = Challenge {
        realm: "voxdesk \"main\"".into(),
        nonce: "abc".into(),
        opaque: Some("op".into()),
        stale: true,
    };
    let [first, second] = ch.header_values();
    assert_eq!(
        first,
        "Digest realm=\"voxdesk \\\"main\\\"\", qop=\"auth\", algorithm=SHA-256, \
         nonce=\"abc\", opaque=\"op\", stale=true"
    );
    assert!(second.contains("algorithm=MD5"));
    let fresh = Challenge {
        stale: false,
        opaque: None,
        ..ch
    };
    assert!(!fresh.header_value(Algorithm::Md5).contains("stale"));
    assert!(!fresh.header_value(Algorithm::Md5).contains("opaque"));
}

struct Setup {
    verifier: Verifier,
    t0: Instant,
}

fn setup() -> Setup {
    let mut config = VerifierConfig::new("voxdesk");
    config.nonce_lifetime = Duration::from_secs(300);
    config.max_live_nonces = 3;
    Setup {
        verifier: Verifier::new(config),
        t0: Instant::now(),
    }
}

fn answer(ch: &Challenge, alg: Algorithm, password: &str, nc: u32) -> Credentials {
    let ha1 = ha1(alg, "alice", &ch.realm, password);
    let creds = Credentials::respond(
        ch,
        alg,
        "alice",
        &ha1,
        "REGISTER",
        "sip:voxdesk",
        "c0ffee",
        nc,
    );
    // Go through the wire form, as the registrar will.
    parse_authorization(&creds.header_value()).unwrap()
}

#[test]
fn full_cycle_for_both_algorithms() {
    for alg in Algorithm::PREFERENCE {
        let mut s = setup();
        let ch = s.verifier.challenge(s.t0, [7; 16], false);
        assert_eq!(ch.nonce, "07".repeat(16));
        let stored = ha1(alg, "alice", "voxdesk", "secret");
        let creds = answer(&ch, alg, "secret", 1);
        let later = s.t0 + Duration::from_secs(10);
        assert_eq!(
            s.verifier.verify("REGISTER", &creds, &stored, later),
            Verdict::Ok
        );
        // Same nonce, next nc: fine.
        let creds = answer(&ch, alg, "secret", 2);
        assert_eq!(
            s.verifier.verify("REGISTER", &creds, &stored, later),
            Verdict::Ok
        );
    }
}

#[test]
fn verdicts() {
    let stored = ha1(Algorithm::Sha256, "alice", "voxdesk", "secret");
    let md5_stored = ha1(Algorithm::Md5, "alice", "voxdesk", "secret");
    type Mutate = fn(&mut Credentials);
    let none: Mutate = |_| {};
    let cases: [(&str, &str, u32, u64, Mutate, &str, Verdict); 9] = [
        ("right", "secret", 1, 0, none, "REGISTER", Verdict::Ok),
        (
            "wrong password",
            "guess",
            1,
            0,
            none,
            "REGISTER",
            Verdict::Wrong,
        ),
        (
            "other method",
            "secret",
            1,
            0,
            none,
            "INVITE",
            Verdict::Wrong,
        ),
        (
            "expired",
            "secret",
            1,
            300,
            none,
            "REGISTER",
            Verdict::Stale,
        ),
        (
            "expired, wrong",
            "guess",
            1,
            300,
            none,
            "REGISTER",
            Verdict::Wrong,
        ),
        ("nc zero", "secret", 0, 0, none, "REGISTER", Verdict::Replay),
        (
            "unknown nonce",
            "secret",
            1,
            0,
            |c| c.nonce = "feed".into(),
            "REGISTER",
            Verdict::Wrong, // response no longer matches the changed nonce
        ),
        (
            "other realm",
            "secret",
            1,
            0,
            |c| c.realm = "elsewhere".into(),
            "REGISTER",
            Verdict::Wrong,
        ),
        (
            "no qop",
            "secret",
            1,
            0,
            |c| {
                c.qop = None;
                c.cnonce = None;
                c.nc = None;
            },
            "REGISTER",
            Verdict::Wrong,
        ),
    ];
    for (name, password, nc, after, mutate, method, expected) in cases {
        let mut s = setup();
        let ch = s.verifier.challenge(s.t0, [1; 16], false);
        let mut creds = answer(&ch, Algorithm::Sha256, password, nc);
        mutate(&mut creds);
        let now = s.t0 + Duration::from_secs(after);
        assert_eq!(
            s.verifier.verify(method, &creds, &stored, now),
            expected,
            "{name}"
        );
    }
    // HA1 of the other algorithm never verifies.
    let mut s = setup();
    let ch = s.verifier.challenge(s.t0, [1; 16], false);
    let creds = answer(&ch, Algorithm::Sha256, "secret", 1);
    assert_eq!(
        s.verifier.verify("REGISTER", &creds, &md5_stored, s.t0),
        Verdict::Wrong
    );
}

#[test]
fn unknown_nonce_with_right_response_is_stale() {
    let mut s = setup();
    let stored = ha1(Algorithm::Md5, "alice", "voxdesk", "secret");
    let never_issued = Challenge {
        realm: "voxdesk".into(),
        nonce: "ab".repeat(16),
        opaque: None,
        stale: false,
    };
    let creds = answer(&never_issued, Algorithm::Md5, "secret", 1);
    assert_eq!(
        s.verifier.verify("REGISTER", &creds, &stored, s.t0),
        Verdict::Stale
    );
}

#[test]
fn nc_replay_is_rejected() {
    let mut s = setup();
    let stored = ha1(Algorithm::Md5, "alice", "voxdesk", "secret");
    let ch = s.verifier.challenge(s.t0, [2; 16], false);
    let five = answer(&ch, Algorithm::Md5, "secret", 5);
    assert_eq!(
        s.verifier.verify("REGISTER", &five, &stored, s.t0),
        Verdict::Ok
    );
    for nc in [5, 4, 1] {
        let creds = answer(&ch, Algorithm::Md5, "secret", nc);
        assert_eq!(
            s.verifier.verify("REGISTER", &creds, &stored, s.t0),
            Verdict::Replay,
            "nc {nc}"
        );
    }
    let six = answer(&ch, Algorithm::Md5, "secret", 6);
    assert_eq!(
        s.verifier.verify("REGISTER", &six, &stored, s.t0),
        Verdict::Ok
    );
}

#[test]
fn nonce_table_is_bounded_and_evicts_oldest() {
    let mut s = setup(); // max 3 live nonces
    let stored = ha1(Algorithm::Md5, "alice", "voxdesk", "secret");
    let challenges: Vec<Challenge> = (0..4u8)
        .map(|i| s.verifier.challenge(s.t0, [i; 16], false))
        .collect();
    assert_eq!(s.verifier.live_nonces(), 3);
    let verdict = |s: &mut Setup, ch: &Challenge| {
        let creds = answer(ch, Algorithm::Md5, "secret", 1);
        s.verifier.verify("REGISTER", &creds, &stored, s.t0)
    };
    assert_eq!(verdict(&mut s, &challenges[0]), Verdict::Stale);
    assert_eq!(verdict(&mut s, &challenges[3]), Verdict::Ok);
    // Re-issuing the same bytes many times keeps the table bounded.
    for _ in 0..100 {
        s.verifier.issue_nonce(s.t0, [9; 16]);
    }
    assert!(s.verifier.live_nonces() <= 3);
    assert!(s.verifier.order.len() <= 3);
    // Expired nonces are dropped on the next issue.
    s.verifier
        .issue_nonce(s.t0 + Duration::from_secs(301), [10; 16]);
    assert_eq!(s.verifier.live_nonces(), 1);
}

#[test]
fn limiter_blocks_then_unblocks() {
    let mut limiter = FailureLimiter::new(LimiterConfig {
        max_failures: 3,
        window: Duration::from_secs(60),
        max_tracked: 2,
    });
    let t0 = Instant::now();
    let attacker = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let agent = IpAddr::V6(Ipv6Addr::LOCALHOST);
    limiter.record_failure(attacker, t0);
    limiter.record_failure(attacker, t0 + Duration::from_secs(1));
    assert!(!limiter.is_blocked(attacker, t0 + Duration::from_secs(1)));
    limiter.record_failure(attacker, t0 + Duration::from_secs(2));
    let blocked_at = t0 + Duration::from_secs(2);
    assert_eq!(
        limiter.blocked_until(attacker, blocked_at),
        Some(blocked_at + Duration::from_secs(60))
    );
    assert!(!limiter.is_blocked(agent, blocked_at));
    // More failures while blocked do not extend the block.
    limiter.record_failure(attacker, t0 + Duration::from_secs(30));
    assert!(limiter.is_blocked(attacker, t0 + Duration::from_secs(61)));
    assert!(!limiter.is_blocked(attacker, t0 + Duration::from_secs(62)));
    // After the block, counting starts afresh.
    limiter.record_failure(attacker, t0 + Duration::from_secs(63));
    assert!(!limiter.is_blocked(attacker, t0 + Duration::from_secs(63)));

    // Failures spread beyond the window never block.
    for i in 0..10 {
        limiter.record_failure(agent, t0 + Duration::from_secs(61 * i));
    }
    assert!(!limiter.is_blocked(agent, t0 + Duration::from_secs(61 * 9)));

    // Success clears the count.
    let phone = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    let t1 = t0 + Duration::from_secs(1000);
    limiter.record_failure(phone, t1);
    limiter.record_failure(phone, t1);
    limiter.record_success(phone);
    limiter.record_failure(phone, t1);
    assert!(!limiter.is_blocked(phone, t1));
    assert!(limiter.tracked() <= 2);
}

#[test]
fn limiter_is_bounded() {
    let mut limiter = FailureLimiter::new(LimiterConfig {
        max_failures: 1,
        window: Duration::from_secs(60),
        max_tracked: 16,
    });
    let t0 = Instant::now();
    for i in 0..1000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(i));
        limiter.record_failure(ip, t0 + Duration::from_millis(u64::from(i)));
    }
    assert_eq!(limiter.tracked(), 16);
    // The most recent ones survive.
    assert!(limiter.is_blocked(IpAddr::V4(Ipv4Addr::from(999)), t0));
    assert!(!limiter.is_blocked(IpAddr::V4(Ipv4Addr::from(0)), t0));
}

const R32: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn malformed_headers() {
    let ok = |rest: &str| {
        format!(
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"{R32}\"{rest}"
        )
    };
    let long = "x".repeat(MAX_FIELD_LEN + 1);
    let many: String = (0..MAX_PARAMS).map(|i| format!(", p{i}=1")).collect();
    let cases: Vec<(String, AuthError)> = vec![
        (String::new(), AuthError::NotDigest),
        (
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l".into(),
            AuthError::NotDigest,
        ),
        ("Digest".into(), AuthError::NotDigest),
        ("Digestusername=\"a\"".into(), AuthError::NotDigest),
        ("x".repeat(MAX_HEADER_LEN + 1), AuthError::TooLong),
        (ok(", realm=\"r\""), AuthError::Duplicate("realm".into())),
        (ok(", REALM=\"r\""), AuthError::Duplicate("realm".into())),
        (ok(", x=\"unterminated"), AuthError::Syntax(17)),
        (ok(", x"), AuthError::Syntax(3)),
        (ok(", x=\"a\" y=1"), AuthError::Syntax(8)),
        (ok(",, x=1"), AuthError::Syntax(1)),
        (ok(","), AuthError::Syntax(1)),
        (ok(", x=\"a\x01\""), AuthError::Syntax(6)),
        (ok(&format!(", x=\"{long}\"")), AuthError::FieldTooLong),
        (ok(&format!(", x={long}")), AuthError::FieldTooLong),
        (ok(&many), AuthError::TooManyParams),
        (
            ok(", algorithm=MD5-sess"),
            AuthError::Unsupported("algorithm"),
        ),
        (ok(", algorithm=SHA-256"), AuthError::Invalid("response")),
        (
            ok(", qop=auth-int, cnonce=\"c\", nc=00000001"),
            AuthError::Unsupported("qop"),
        ),
        (ok(", qop=auth, nc=00000001"), AuthError::Missing("cnonce")),
        (ok(", qop=auth, cnonce=\"c\""), AuthError::Missing("nc")),
        (ok(", cnonce=\"c\""), AuthError::Missing("qop")),
        (
            ok(", qop=auth, cnonce=\"c\", nc=1"),
            AuthError::Invalid("nc"),
        ),
        (
            ok(", qop=auth, cnonce=\"c\", nc=0000000g"),
            AuthError::Invalid("nc"),
        ),
        (ok(", userhash=true"), AuthError::Unsupported("userhash")),
        (
            "Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"".into(),
            AuthError::Missing("username"),
        ),
        (
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"xyz\"".into(),
            AuthError::Invalid("response"),
        ),
    ];
    let base = ok("").len();
    for (header, expected) in cases {
        // Syntax offsets in the table are relative to the end of the valid prefix.
        let expected = match expected {
            AuthError::Syntax(offset) => AuthError::Syntax(base + offset),
            other => other,
        };
        assert_eq!(parse_authorization(&header), Err(expected), "{header:?}");
    }
}

#[test]
fn lenient_but_valid_forms() {
    let header = format!(
        "  dIgEsT\tUserName = \"al\\\"ice\" ,Realm=r,nonce=\"n\",uri=\"sip:x\",\
         response={}, QOP=\"auth\", nc=0000000A, cnonce=c, future-param=\"ignored\"  ",
        R32.to_uppercase()
    );
    let creds = parse_authorization(&header).unwrap();
    assert_eq!(creds.username, "al\"ice");
    assert_eq!(creds.realm, "r");
    assert_eq!(creds.response, R32);
    assert_eq!(creds.nc, Some(10));
    assert_eq!(creds.algorithm, Algorithm::Md5);
    assert_eq!(creds.qop, Some(Qop::Auth));
}

fn field() -> impl Strategy<Value = String> {
    // Printable text including quotes, backslashes and non-ASCII, within the field bound.
    proptest::string::string_regex("[ -~\u{a0}-\u{2fff}]{0,60}").unwrap()
}

proptest! {
    #[test]
    fn parser_never_panics(input in "\\PC{0,300}") {
        let _ = parse_authorization(&input);
        let _ = parse_authorization(&format!("Digest {input}"));
    }

    #[test]
    fn parser_never_panics_on_param_soup(
        parts in proptest::collection::vec("[a-z]{1,8}|=|,|\"|\\\\| |[0-9a-f]{1,40}", 0..40)
    ) {
        let _ = parse_authorization(&format!("Digest {}", parts.concat()));
    }

    #[test]
    fn rendered_credentials_round_trip(
        username in field(), realm in field(), nonce in field(), uri in field(),
        cnonce in field(), opaque in proptest::option::of(field()),
        nc in any::<u32>(), sha in any::<bool>(),
    ) {
        let algorithm = if sha { Algorithm::Sha256 } else { Algorithm::Md5 };
        let creds = Credentials {
            username, realm, nonce, uri,
            response: "a".repeat(algorithm.hex_len()),
            algorithm,
            qop: Some(Qop::Auth),
            cnonce: Some(cnonce),
            nc: Some(nc),
            opaque,
        };
        prop_assert_eq!(parse_authorization(&creds.header_value()), Ok(creds));
    }
}
