//! The directory core: the file ⊕ overlay rule, checks shared with the agents file, and
//! stored rows read back.

use std::collections::BTreeMap;

use super::directory::{
    apply, decode_overlay, AgentFields, Directory, DirectoryError, EntryKind, NewAgent, Overlay,
    Planned, QueueFields, Stored,
};
use super::file::{parse_str, AgentsFile, FileProblem, Secret};
use crate::sip::auth::{ha1, Algorithm};

const FILE: &str = "\
realm: desk
agents:
  - user: alice
    password: secret
    queues: [support, sales]
  - user: bob
    ha1: 0123456789abcdef0123456789abcdef
    queues: [support]
queues:
  - name: support
  - name: sales
    strategy: ring-all
";

fn base() -> AgentsFile {
    parse_str(FILE, "test").unwrap()
}

fn users(file: &AgentsFile) -> Vec<(&str, Vec<&str>)> {
    file.agents
        .iter()
        .map(|a| {
            (
                a.user.as_str(),
                a.queues.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

fn queue_names(file: &AgentsFile) -> Vec<&str> {
    file.queues.iter().map(|q| q.name.as_str()).collect()
}

fn new_agent(user: &str, queues: &[&str]) -> NewAgent {
    NewAgent {
        user: user.into(),
        password: Some("pw".into()),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        ..NewAgent::default()
    }
}

fn named_queue(name: &str) -> QueueFields {
    QueueFields {
        name: Some(name.into()),
        ..QueueFields::default()
    }
}

/// Plans and commits, as the API does once the row is stored.
fn done(
    dir: &mut Directory,
    plan: impl FnOnce(&Directory) -> Result<Planned, DirectoryError>,
) -> Planned {
    let planned = plan(dir).unwrap();
    dir.commit(planned.clone());
    planned
}

#[test]
fn the_overlay_replaces_adds_and_deletes() {
    let base = base();
    let dir = Directory::new(base.clone(), Overlay::default());
    assert_eq!(dir.effective(), &base, "no overlay: the file as it is");

    let mut dir = dir;
    done(&mut dir, |d| d.create_agent(new_agent("carol", &["sales"])));
    done(&mut dir, |d| d.delete_agent("alice"));
    done(&mut dir, |d| d.create_queue(named_queue("vip")));
    let patch = AgentFields {
        queues: Some(vec!["vip".into(), "support".into()]),
        ..AgentFields::default()
    };
    done(&mut dir, |d| d.update_agent("bob", patch));
    let want = [("bob", vec!["vip", "support"]), ("carol", vec!["sales"])];
    assert_eq!(users(dir.effective()), want);
    assert_eq!(queue_names(dir.effective()), ["support", "sales", "vip"]);

    // Deleting a queue takes it out of every agent; re-creating it puts file agents back.
    done(&mut dir, |d| d.delete_queue("sales"));
    assert_eq!(
        users(dir.effective()),
        [("bob", vec!["vip", "support"]), ("carol", vec![])]
    );
    done(&mut dir, |d| d.delete_agent("bob"));
    done(&mut dir, |d| d.create_agent(new_agent("alice", &[])));
    done(&mut dir, |d| d.create_queue(named_queue("sales")));
    assert_eq!(
        users(dir.effective()),
        [("alice", vec![]), ("carol", vec!["sales"])]
    );
    assert_eq!(queue_names(dir.effective()), ["support", "sales", "vip"]);
}

#[test]
fn stored_rows_are_tombstones_only_for_file_entries() {
    let mut dir = Directory::new(base(), Overlay::default());
    let cases: Vec<(Result<Planned, DirectoryError>, EntryKind, &str, bool)> = vec![
        (dir.delete_agent("alice"), EntryKind::Agent, "alice", true),
        (dir.delete_queue("sales"), EntryKind::Queue, "sales", true),
    ];
    for (planned, kind, key, tombstone) in cases {
        let planned = planned.unwrap();
        assert_eq!((planned.kind, planned.key.as_str()), (kind, key));
        assert_eq!(planned.stored == Stored::Tombstone, tombstone, "{key}");
    }
    let added = done(&mut dir, |d| d.create_agent(new_agent("carol", &[])));
    assert!(matches!(added.stored, Stored::Put(ref json) if !json.contains("pw")));
    assert_eq!(dir.delete_agent("carol").unwrap().stored, Stored::Forget);
    let queue = done(&mut dir, |d| d.create_queue(named_queue("vip")));
    assert!(matches!(queue.stored, Stored::Put(_)));
    assert_eq!(dir.delete_queue("vip").unwrap().stored, Stored::Forget);
}

#[test]
fn passwords_become_hashes_for_the_files_realm() {
    let mut dir = Directory::new(base(), Overlay::default());
    done(&mut dir, |d| d.create_agent(new_agent("carol", &[])));
    let want = Secret::Ha1 {
        md5: ha1(Algorithm::Md5, "carol", "desk", "pw"),
        sha256: Some(ha1(Algorithm::Sha256, "carol", "desk", "pw")),
    };
    assert_eq!(dir.effective().agent("carol").unwrap().secret, want);
    // A file agent copied into the overlay by a name change loses its clear-text password.
    let rename = AgentFields {
        name: Some("  Alice A.  ".into()),
        ..AgentFields::default()
    };
    let planned = done(&mut dir, |d| d.update_agent("alice", rename));
    let Stored::Put(json) = &planned.stored else {
        panic!("{planned:?}")
    };
    assert!(!json.contains("secret"), "{json}");
    let alice = dir.effective().agent("alice").unwrap();
    assert_eq!(alice.name, "Alice A.");
    assert!(matches!(alice.secret, Secret::Ha1 { .. }));
    assert_eq!(
        alice.ha1(Algorithm::Md5, "desk"),
        Some(ha1(Algorithm::Md5, "alice", "desk", "secret"))
    );
}

#[test]
fn bad_agents_are_refused_with_the_files_reasons() {
    let dir = Directory::new(base(), Overlay::default());
    let with = |f: fn(&mut NewAgent)| {
        let mut agent = new_agent("carol", &["support"]);
        f(&mut agent);
        dir.create_agent(agent).unwrap_err()
    };
    let invalid = |p: FileProblem| DirectoryError::Invalid(p);
    let cases: Vec<(DirectoryError, DirectoryError)> = vec![
        (
            with(|a| a.user = "alice".into()),
            DirectoryError::AgentExists("alice".into()),
        ),
        (
            with(|a| a.user = "Carol".into()),
            invalid(FileProblem::BadName {
                what: "user name",
                name: "Carol".into(),
            }),
        ),
        (with(|a| a.password = None), invalid(FileProblem::NoSecret)),
        (
            with(|a| a.password = Some(String::new())),
            invalid(FileProblem::EmptyPassword),
        ),
        (
            with(|a| a.password = Some("x".repeat(257))),
            DirectoryError::PasswordTooLong,
        ),
        (
            with(|a| a.ha1 = Some("0".repeat(32))),
            invalid(FileProblem::PasswordAndHa1),
        ),
        (
            with(|a| {
                a.password = None;
                a.ha1_sha256 = Some("0".repeat(64));
            }),
            invalid(FileProblem::Sha256WithoutHa1),
        ),
        (
            with(|a| {
                a.password = None;
                a.ha1 = Some("xyz".into());
            }),
            invalid(FileProblem::BadHex {
                key: "ha1",
                len: 32,
            }),
        ),
        (
            with(|a| a.queues = vec!["nope".into()]),
            invalid(FileProblem::UnknownQueue("nope".into())),
        ),
        (
            with(|a| a.queues = vec!["sales".into(), "sales".into()]),
            invalid(FileProblem::RepeatedQueue("sales".into())),
        ),
        (
            with(|a| a.skills = BTreeMap::from([("english".into(), 11)])),
            invalid(FileProblem::OutOfRange {
                key: "english".into(),
                min: 1,
                max: 10,
                found: "11".into(),
            }),
        ),
        (
            with(|a| a.name = Some("a\nb".into())),
            DirectoryError::BadDisplayName,
        ),
        (
            with(|a| a.name = Some("   ".into())),
            DirectoryError::BadDisplayName,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    assert_eq!(
        dir.update_agent("zed", AgentFields::default()).unwrap_err(),
        DirectoryError::NoAgent("zed".into())
    );
    assert_eq!(
        dir.delete_agent("zed").unwrap_err(),
        DirectoryError::NoAgent("zed".into())
    );
}

#[test]
fn bad_queues_are_refused_with_the_files_reasons() {
    let dir = Directory::new(base(), Overlay::default());
    let out_of_range = |key: &str, min, max, found: &str| {
        DirectoryError::Invalid(FileProblem::OutOfRange {
            key: key.into(),
            min,
            max,
            found: found.into(),
        })
    };
    let cases: Vec<(QueueFields, DirectoryError)> = vec![
        (
            named_queue("sales"),
            DirectoryError::QueueExists("sales".into()),
        ),
        (
            QueueFields::default(),
            DirectoryError::Invalid(FileProblem::Missing {
                key: "name",
                context: "a queue",
            }),
        ),
        (
            QueueFields {
                strategy: Some("random".into()),
                ..named_queue("q")
            },
            DirectoryError::Invalid(FileProblem::UnknownStrategy("random".into())),
        ),
        (
            QueueFields {
                ring_timeout: Some(0),
                ..named_queue("q")
            },
            out_of_range("ring_timeout", 1, 600, "0"),
        ),
        (
            QueueFields {
                max_misses: Some(101),
                ..named_queue("q")
            },
            out_of_range("max_misses", 1, 100, "101"),
        ),
        (
            QueueFields {
                wrap_up: Some(3601),
                ..named_queue("q")
            },
            out_of_range("wrap_up", 0, 3600, "3601"),
        ),
        (
            QueueFields {
                max_waiting: Some(u64::MAX),
                ..named_queue("q")
            },
            out_of_range("max_waiting", 1, 10_000, &u64::MAX.to_string()),
        ),
    ];
    for (fields, want) in cases {
        assert_eq!(
            dir.create_queue(fields.clone()).unwrap_err(),
            want,
            "{fields:?}"
        );
    }
    let rename = dir.update_queue("sales", named_queue("other")).unwrap_err();
    assert!(matches!(
        rename,
        DirectoryError::Invalid(FileProblem::UnknownKey { .. })
    ));
    assert_eq!(
        dir.delete_queue("zed").unwrap_err(),
        DirectoryError::NoQueue("zed".into())
    );
}

#[test]
fn queue_changes_keep_what_is_not_given() {
    let mut dir = Directory::new(base(), Overlay::default());
    let patch = QueueFields {
        ring_timeout: Some(30),
        wrap_up: Some(0),
        ..QueueFields::default()
    };
    done(&mut dir, |d| d.update_queue("sales", patch));
    let sales = dir.effective().queue("sales").unwrap();
    assert_eq!(sales.strategy.name(), "ring-all");
    assert_eq!(
        (sales.ring_timeout.as_secs(), sales.wrap_up.as_secs()),
        (30, 0)
    );
    assert_eq!((sales.max_misses, sales.max_waiting), (3, 50));
}

/// Stored rows of one table: key, and the body or `None` for a deletion.
type Rows = Vec<(String, Option<String>)>;

/// The rows a store would hold after `planned` changes: last write per key wins.
fn rows(planned: &[Planned]) -> (Rows, Rows) {
    let mut agents = BTreeMap::new();
    let mut queues = BTreeMap::new();
    for p in planned {
        let table = match p.kind {
            EntryKind::Agent => &mut agents,
            EntryKind::Queue => &mut queues,
        };
        match &p.stored {
            Stored::Put(json) => table.insert(p.key.clone(), Some(json.clone())),
            Stored::Tombstone => table.insert(p.key.clone(), None),
            Stored::Forget => table.remove(&p.key),
        };
    }
    (agents.into_iter().collect(), queues.into_iter().collect())
}

#[test]
fn stored_rows_read_back_to_the_same_directory() {
    let mut dir = Directory::new(base(), Overlay::default());
    let vip = QueueFields {
        strategy: Some("skills".into()),
        skills: Some(BTreeMap::from([("english".into(), 3)])),
        ..named_queue("vip")
    };
    let carol = NewAgent {
        skills: BTreeMap::from([("english".into(), 4)]),
        name: Some("Carol".into()),
        ..new_agent("carol", &["vip"])
    };
    let patch = AgentFields {
        password: Some("new".into()),
        ..AgentFields::default()
    };
    let planned = vec![
        done(&mut dir, |d| d.create_queue(vip)),
        done(&mut dir, |d| d.create_agent(carol)),
        done(&mut dir, |d| d.create_agent(new_agent("dave", &[]))),
        done(&mut dir, |d| d.update_agent("alice", patch)),
        done(&mut dir, |d| d.delete_agent("bob")),
        done(&mut dir, |d| d.delete_agent("dave")),
        done(&mut dir, |d| d.delete_queue("sales")),
    ];
    let (agents, queues) = rows(&planned);
    let keys: Vec<_> = agents
        .iter()
        .map(|(k, v)| (k.as_str(), v.is_some()))
        .collect();
    assert_eq!(keys, [("alice", true), ("bob", false), ("carol", true)]);
    let (overlay, problems) = decode_overlay("desk", agents.clone(), queues);
    assert_eq!(problems, []);
    assert_eq!(&apply(&base(), &overlay), dir.effective());

    // Another realm, junk JSON, unknown fields and bad names are left out and reported.
    let junk = vec![
        ("carol".to_string(), agents[2].1.clone()),
        ("dave".to_string(), Some("{".to_string())),
        ("Eve".to_string(), None),
    ];
    let extra = vec![("vip".to_string(), Some(r#"{"colour":"red"}"#.to_string()))];
    let (overlay, problems) = decode_overlay("other", junk, extra);
    assert_eq!(overlay, Overlay::default());
    let keys: Vec<_> = problems
        .iter()
        .map(|p| match p {
            DirectoryError::Unreadable { key, .. } => key.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(keys, ["vip", "carol", "dave", "Eve"]);
}

#[test]
fn agents_of_queues_the_file_dropped_lose_them() {
    // Stored carol is in `old`, which a newer file no longer defines.
    let mut dir = Directory::new(
        parse_str("queues:\n  - name: old\n  - name: new\n", "t").unwrap(),
        Overlay::default(),
    );
    let planned = done(&mut dir, |d| {
        d.create_agent(new_agent("carol", &["old", "new"]))
    });
    let Stored::Put(json) = planned.stored else {
        panic!()
    };
    let (overlay, _) = decode_overlay("voxdesk", vec![("carol".into(), Some(json))], vec![]);
    let newer = parse_str("queues:\n  - name: new\n", "t").unwrap();
    assert_eq!(users(&apply(&newer, &overlay)), [("carol", vec!["new"])]);
}

mod live {
    //! The ACD following directory changes, with a fake clock.

    use std::time::{Duration, Instant};

    use super::super::{Acd, AcdAction, AgentState, CallId, CallerInfo, EnqueueError};
    use super::parse_str;

    fn file(yaml: &str) -> super::AgentsFile {
        parse_str(yaml, "t").unwrap()
    }

    const TEAM: &str = "\
queues:
  - name: q
    ring_timeout: 10
agents:
  - {user: alice, password: x, queues: [q]}
  - {user: bob, password: x, queues: [q]}
";

    fn actions(acd: &mut Acd) -> Vec<AcdAction> {
        std::iter::from_fn(|| acd.poll_action()).collect()
    }

    fn ring(call: u64, users: &[&str]) -> AcdAction {
        AcdAction::Ring {
            call: CallId(call),
            users: users.iter().map(|u| u.to_string()).collect(),
        }
    }

    #[test]
    fn added_agents_start_offline_and_kept_ones_keep_their_state() {
        let t0 = Instant::now();
        let mut acd = Acd::new(&file(TEAM), t0);
        acd.agent_online("alice", t0).unwrap();
        let more = format!("{TEAM}  - {{user: carol, password: x, queues: [q], name: Carol}}\n");
        acd.set_directory(&file(&more), t0);
        assert_eq!(acd.agent_state("alice"), Some(&AgentState::Available));
        assert_eq!(acd.agent_state("carol"), Some(&AgentState::Offline));
        acd.agent_online("carol", t0).unwrap();
        let snapshot = acd.snapshot(t0);
        assert_eq!(snapshot.queues[0].agents.available, 2);
        assert_eq!(snapshot.agents[2].name, "Carol");
    }

    #[test]
    fn a_removed_agent_stops_ringing_and_the_call_moves_on() {
        let t0 = Instant::now();
        let mut acd = Acd::new(&file(TEAM), t0);
        acd.agent_online("alice", t0).unwrap();
        acd.enqueue(CallId(1), "q", CallerInfo::default(), t0)
            .unwrap();
        assert_eq!(actions(&mut acd), [ring(1, &["alice"])]);
        acd.agent_online("bob", t0).unwrap();
        let without_alice = TEAM.replace("  - {user: alice, password: x, queues: [q]}\n", "");
        acd.set_directory(&file(&without_alice), t0);
        let stop = AcdAction::StopRinging {
            call: CallId(1),
            users: vec!["alice".into()],
        };
        assert_eq!(actions(&mut acd), [stop, ring(1, &["bob"])]);
        assert_eq!(acd.agent_state("alice"), None);
        assert!(acd.answered(CallId(1), "alice", t0).is_err());
        let offline: Vec<_> = std::iter::from_fn(|| acd.poll_event())
            .filter(|e| e.user == "alice" && e.to == AgentState::Offline)
            .collect();
        assert_eq!(offline.len(), 1);
    }

    #[test]
    fn a_deleted_queue_keeps_its_callers_until_they_leave() {
        let t0 = Instant::now();
        let two_queues = format!("{TEAM}  - {{user: carol, password: x, queues: [other]}}\n")
            .replace(
                "queues:\n  - name: q\n",
                "queues:\n  - name: other\n  - name: q\n",
            );
        let mut acd = Acd::new(&file(&two_queues), t0);
        acd.agent_online("alice", t0).unwrap();
        acd.agent_online("carol", t0).unwrap();
        acd.pause("alice", "break", t0).unwrap();
        acd.enqueue(CallId(1), "q", CallerInfo::default(), t0)
            .unwrap();
        // `q` goes, and `other` moves in front of nothing: indices shift under the caller.
        let only_other = "queues:\n  - name: other\nagents:\n  - {user: alice, password: x}\n  \
                          - {user: carol, password: x, queues: [other]}\n";
        acd.set_directory(&file(only_other), t0);
        assert_eq!(
            acd.enqueue(CallId(2), "q", CallerInfo::default(), t0),
            Err(EnqueueError::UnknownQueue("q".into()))
        );
        let names: Vec<_> = acd
            .snapshot(t0)
            .queues
            .into_iter()
            .map(|q| q.name)
            .collect();
        assert_eq!(names, ["other"]);
        actions(&mut acd);
        // Its former member still serves the waiting caller.
        acd.unpause("alice", t0).unwrap();
        assert_eq!(actions(&mut acd), [ring(1, &["alice"])]);
        acd.answered(CallId(1), "alice", t0).unwrap();
        acd.call_ended(CallId(1), t0).unwrap();
        actions(&mut acd);
        assert_eq!(
            acd.queues.len(),
            1,
            "the retired queue is gone with its last call"
        );
        // Wrap-up came from the retired queue's settings (10 s default).
        assert!(matches!(
            acd.agent_state("alice"),
            Some(AgentState::WrapUp { .. })
        ));
        acd.enqueue(CallId(3), "other", CallerInfo::default(), t0)
            .unwrap();
        assert_eq!(actions(&mut acd), [ring(3, &["carol"])]);
    }

    #[test]
    fn queue_settings_apply_from_the_next_ring() {
        let t0 = Instant::now();
        let mut acd = Acd::new(&file(TEAM), t0);
        acd.agent_online("alice", t0).unwrap();
        acd.agent_online("bob", t0).unwrap();
        acd.enqueue(CallId(1), "q", CallerInfo::default(), t0)
            .unwrap();
        acd.set_directory(
            &file(&TEAM.replace("ring_timeout: 10", "ring_timeout: 30")),
            t0,
        );
        assert_eq!(acd.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        acd.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(
            acd.poll_timeout(),
            Some(t0 + Duration::from_secs(40)),
            "the next ring uses the new timeout"
        );
    }
}
