//! `agents passwd` as a pure text edit: only the secret lines change, byte for byte.

use super::file::{parse_str, FileProblem, Secret};
use super::passwd::{set_password, set_password_in_file};
use crate::sip::auth::{ha1, Algorithm};

fn hashes(user: &str, realm: &str, password: &str) -> (String, String) {
    (
        ha1(Algorithm::Md5, user, realm, password),
        ha1(Algorithm::Sha256, user, realm, password),
    )
}

const FILE: &str = "\
# team
realm: voxdesk
agents:
  - user: alice     # lead
    password: old   # to be replaced
    name: Alice
  - user: bob
    password: keep
queues: []
";

#[test]
fn password_line_becomes_two_hash_lines_and_nothing_else_changes() {
    let (md5, sha) = hashes("alice", "voxdesk", "n3w pass");
    let out = set_password(FILE, "alice", "voxdesk", "n3w pass").unwrap();
    let expected = FILE.replace(
        "    password: old   # to be replaced\n",
        &format!("    ha1: {md5}\n    ha1_sha256: {sha}\n"),
    );
    assert_eq!(out, expected);
    let file = parse_str(&out, "t").unwrap();
    let alice = file.agent("alice").unwrap();
    assert_eq!(alice.ha1(Algorithm::Md5, "voxdesk"), Some(md5));
    assert_eq!(alice.ha1(Algorithm::Sha256, "voxdesk"), Some(sha));
    assert_eq!(
        file.agent("bob").unwrap().secret,
        Secret::Password("keep".into())
    );
}

#[test]
fn existing_hash_lines_are_replaced_in_place() {
    let (old_md5, old_sha) = hashes("bob", "r", "old");
    let text = format!(
        "realm: r\nagents:\n- user: bob\n  ha1: {old_md5}\n  # comment between\n  ha1_sha256: {old_sha}\n  name: Bob\n"
    );
    let (md5, sha) = hashes("bob", "r", "new");
    let out = set_password(&text, "bob", "r", "new").unwrap();
    assert_eq!(
        out,
        format!("realm: r\nagents:\n- user: bob\n  ha1: {md5}\n  ha1_sha256: {sha}\n  # comment between\n  name: Bob\n")
    );
}

#[test]
fn secret_as_first_key_of_the_entry_keeps_the_dash() {
    let text = "agents:\n  - password: x\n    user: carol\n";
    let (md5, sha) = hashes("carol", "voxdesk", "y");
    let out = set_password(text, "carol", "voxdesk", "y").unwrap();
    assert_eq!(
        out,
        format!("agents:\n  - ha1: {md5}\n    ha1_sha256: {sha}\n    user: carol\n")
    );
}

#[test]
fn crlf_and_a_missing_final_newline_are_kept() {
    let text = "agents:\r\n  - user: d\r\n    password: x";
    let (md5, sha) = hashes("d", "voxdesk", "y");
    let out = set_password(text, "d", "voxdesk", "y").unwrap();
    assert_eq!(
        out,
        format!("agents:\r\n  - user: d\r\n    ha1: {md5}\n    ha1_sha256: {sha}")
    );
    let text = "agents:\r\n  - user: d\r\n    password: x\r\n  - user: e\r\n    password: z\r\n";
    let out = set_password(text, "d", "voxdesk", "y").unwrap();
    assert_eq!(
        out,
        format!("agents:\r\n  - user: d\r\n    ha1: {md5}\r\n    ha1_sha256: {sha}\r\n  - user: e\r\n    password: z\r\n")
    );
}

#[test]
fn refusals_are_clear() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "agents:\n  - {user: bob, password: x}\n",
            "bob",
            "block style",
        ),
        ("agents: [{user: bob, password: x}]\n", "bob", "block style"),
        (
            "agents:\n  - user: bob\n    password: |\n      x\n",
            "bob",
            "same line",
        ),
        (
            "agents:\n  - user: bob\n    password: x\n",
            "eve",
            "no agent with user `eve`",
        ),
        (
            "agents:\n  - user: bob\n    pasword: x\n",
            "bob",
            "unknown key",
        ),
    ];
    for (text, user, needle) in cases {
        let error = set_password(text, user, "voxdesk", "pw").unwrap_err();
        assert!(error.to_string().contains(needle), "{text:?}: {error}");
    }
    let error =
        set_password("agents:\n  - user: bob\n    password: x\n", "bob", "r", "").unwrap_err();
    assert_eq!(error.problem, FileProblem::EmptyPassword);
}

#[test]
fn a_multi_line_plain_secret_is_not_half_rewritten() {
    // The continuation line would be left behind; the re-parse must catch it.
    let text = "agents:\n  - user: bob\n    password: two\n      words\n";
    assert!(parse_str(text, "t").is_ok());
    let error = set_password(text, "bob", "voxdesk", "pw").unwrap_err();
    assert_eq!(error.line, Some(3));
    assert!(error.to_string().contains("later lines"), "{error}");
}

#[test]
fn file_is_replaced_with_its_realm_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.yaml");
    std::fs::write(
        &path,
        "realm: acme\nagents:\n  - user: f\n    password: x\n",
    )
    .unwrap();
    let realm = set_password_in_file(&path, "f", None, "secret").unwrap();
    assert_eq!(realm, "acme");
    let file = super::file::load_file(&path).unwrap();
    let (md5, _) = hashes("f", "acme", "secret");
    assert_eq!(file.agents[0].ha1(Algorithm::Md5, "acme"), Some(md5));
    let error = set_password_in_file(&path, "nobody", None, "x").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: ", path.display())),
        "{error}"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left behind");
}
