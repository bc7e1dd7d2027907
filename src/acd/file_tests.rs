//! Agents-file parsing: the shipped file, every rejected shape with its line, HA1 lookup and
//! "never panics" on arbitrary text.

use std::time::Duration;

use proptest::prelude::*;

use super::file::{parse_str, FileProblem, Secret, Strategy};
use crate::sip::auth::{ha1, Algorithm};

const SHIPPED: &str = include_str!("../../dialplans/agents.yaml");

#[test]
fn shipped_agents_file_loads() {
    let file = parse_str(SHIPPED, "dialplans/agents.yaml").unwrap();
    assert_eq!(file.realm, "voxdesk");
    let users: Vec<_> = file.agents.iter().map(|a| a.user.as_str()).collect();
    assert_eq!(users, ["alice", "bob", "carol"]);
    let alice = file.agent("alice").unwrap();
    assert_eq!(alice.queues, ["support", "billing"]);
    assert_eq!(alice.skills.get("english"), Some(&5));
    let billing = file.queue("billing").unwrap();
    assert_eq!(billing.strategy, Strategy::Skills);
    assert_eq!(billing.ring_timeout, Duration::from_secs(20));
    assert_eq!(billing.max_misses, 3);
    assert_eq!(billing.skills.get("billing"), Some(&1));
    assert_eq!(file.queue("sales").unwrap().strategy, Strategy::RingAll);
}

#[test]
fn defaults_fill_what_is_left_out() {
    let text = "agents:\n  - user: a\n    ha1: 0123456789abcdef0123456789ABCDEF\n\
                queues:\n  - name: q\n";
    let file = parse_str(text, "t").unwrap();
    assert_eq!(file.realm, "voxdesk");
    let queue = &file.queues[0];
    assert_eq!(queue.strategy, Strategy::LongestIdle);
    assert_eq!(
        (
            queue.ring_timeout,
            queue.max_misses,
            queue.wrap_up,
            queue.max_waiting
        ),
        (Duration::from_secs(15), 3, Duration::from_secs(10), 50)
    );
    let agent = &file.agents[0];
    assert_eq!(agent.name, "a");
    assert!(agent.queues.is_empty());
    assert_eq!(
        agent.secret,
        Secret::Ha1 {
            md5: "0123456789abcdef0123456789abcdef".into(),
            sha256: None
        }
    );
}

#[test]
fn ha1_from_password_or_stored_hashes() {
    let md5 = ha1(Algorithm::Md5, "a", "r", "pw");
    let sha = ha1(Algorithm::Sha256, "a", "r", "pw");
    let text = format!(
        "realm: r\nagents:\n  - user: a\n    password: pw\n  - user: b\n    ha1: {md5}\n\
         \x20 - user: c\n    ha1: {md5}\n    ha1_sha256: {sha}\n"
    );
    let file = parse_str(&text, "t").unwrap();
    let [a, b, c] = [0, 1, 2].map(|i| &file.agents[i]);
    assert_eq!(a.ha1(Algorithm::Md5, "r").as_deref(), Some(md5.as_str()));
    assert_eq!(a.ha1(Algorithm::Sha256, "r").as_deref(), Some(sha.as_str()));
    assert_eq!(b.ha1(Algorithm::Md5, "r").as_deref(), Some(md5.as_str()));
    assert_eq!(b.ha1(Algorithm::Sha256, "r"), None);
    assert_eq!(c.ha1(Algorithm::Sha256, "r").as_deref(), Some(sha.as_str()));
    assert!(
        !format!("{:?}", a.secret).contains("pw"),
        "passwords stay out of Debug"
    );
}

#[test]
fn errors_say_file_line_and_what() {
    let q = "queues:\n  - name: q\n";
    let hash32 = "0123456789abcdef0123456789abcdef";
    let cases: Vec<(String, usize, &str)> = vec![
        (
            format!("{q}agents:\n  - user: a\n    pasword: x\n"),
            5,
            "unknown key `pasword` in an agent",
        ),
        (
            "colour: red\n".into(),
            1,
            "unknown key `colour` in the file",
        ),
        (
            format!("{q}agents:\n  - user: Alice\n    password: x\n"),
            4,
            "bad user name `Alice`",
        ),
        (
            format!("{q}agents:\n  - user: a b\n    password: x\n"),
            4,
            "bad user name",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: x\n  - user: a\n    password: y\n"),
            6,
            "duplicate user `a` (first on line 4)",
        ),
        (
            format!("{q}  - name: q\n"),
            3,
            "duplicate queue `q` (first on line 2)",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: x\n    queues: [q, nope]\n"),
            6,
            "unknown queue `nope`",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: x\n    queues: [q, q]\n"),
            6,
            "listed twice",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: x\n    ha1: {hash32}\n"),
            5,
            "either `password` or `ha1`, not both",
        ),
        (
            format!("{q}agents:\n  - user: a\n    name: A\n"),
            4,
            "needs `password` or `ha1`",
        ),
        (
            format!("{q}agents:\n  - user: a\n    ha1: 0123\n"),
            5,
            "`ha1` must be 32 hex digits",
        ),
        (
            format!("{q}agents:\n  - user: a\n    ha1: {}\n", "g".repeat(32)),
            5,
            "32 hex digits",
        ),
        (
            format!("{q}agents:\n  - user: a\n    ha1: {hash32}\n    ha1_sha256: {hash32}\n"),
            6,
            "`ha1_sha256` must be 64 hex digits",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: x\n    ha1_sha256: {hash32}\n"),
            6,
            "`ha1_sha256` needs `ha1`",
        ),
        (
            format!("{q}agents:\n  - user: a\n    password: ''\n"),
            5,
            "must not be empty",
        ),
        (
            "queues:\n  - name: q\n    strategy: random\n".into(),
            3,
            "unknown strategy `random`",
        ),
        (
            "queues:\n  - name: q\n    ring_timeout: 0\n".into(),
            3,
            "`ring_timeout` must be a whole number from 1 to 600, found `0`",
        ),
        (
            "queues:\n  - name: q\n    max_misses: -1\n".into(),
            3,
            "`max_misses`",
        ),
        (
            "queues:\n  - name: q\n    wrap_up: 3601\n".into(),
            3,
            "`wrap_up`",
        ),
        (
            "queues:\n  - name: q\n    max_waiting: lots\n".into(),
            3,
            "`max_waiting`",
        ),
        (
            "queues:\n  - name: q\n    skills: {english: 11}\n".into(),
            3,
            "`english` must be a whole number from 1 to 10",
        ),
        (
            "queues:\n  - name: q\n    skills: [english]\n".into(),
            3,
            "`skills` must be a mapping",
        ),
        (
            "queues:\n  - strategy: skills\n".into(),
            2,
            "a queue needs `name`",
        ),
        (
            format!("{q}agents:\n  - password: x\n"),
            4,
            "an agent needs `user`",
        ),
        (format!("{q}agents: alice\n"), 3, "`agents` must be a list"),
        ("realm: 'a\"b'\n".into(), 1, "bad realm"),
        ("agents: [\n".into(), 2, "YAML syntax error"),
        ("a: &x 1\nb: *x\n".into(), 2, "aliases"),
        (
            "queues: []\nqueues: []\n".into(),
            2,
            "duplicate key `queues`",
        ),
    ];
    for (text, line, needle) in &cases {
        let error = parse_str(text, "agents.yaml").unwrap_err();
        let shown = error.to_string();
        assert_eq!(error.line, Some(*line), "{text:?}: {shown}");
        assert!(
            shown.starts_with(&format!("agents.yaml:{line}: ")),
            "{shown}"
        );
        assert!(shown.contains(needle), "{text:?}: {shown}");
    }
}

#[test]
fn whole_file_errors_have_no_line() {
    let error = parse_str("# nothing\n", "agents.yaml").unwrap_err();
    assert_eq!(error.problem, FileProblem::Empty);
    assert_eq!(error.to_string(), "agents.yaml: the agents file is empty");
    let huge = "#".repeat(super::file::MAX_FILE_BYTES + 1);
    assert!(matches!(
        parse_str(&huge, "f").unwrap_err().problem,
        FileProblem::TooLarge(_)
    ));
}

#[test]
fn strategy_names_round_trip() {
    for strategy in Strategy::ALL {
        assert_eq!(Strategy::from_name(strategy.name()), Some(strategy));
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_str(&text, "f");
    }

    #[test]
    fn arbitrary_values_never_panic(
        key in prop::sample::select(vec!["user", "password", "ha1", "ha1_sha256", "name", "queues", "skills"]),
        value in "[ -~\n]{0,40}",
    ) {
        let text = format!("queues:\n  - name: q\nagents:\n  - user: a\n    {key}: {value}\n");
        let _ = parse_str(&text, "f");
    }

    #[test]
    fn valid_names_are_accepted_and_kept(user in "[a-z0-9._-]{1,64}") {
        let text = format!("agents:\n  - user: '{user}'\n    password: x\n");
        let file = parse_str(&text, "f").unwrap();
        prop_assert_eq!(&file.agents[0].user, &user);
    }
}
