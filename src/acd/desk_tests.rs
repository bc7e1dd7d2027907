//! The desk: its sans-IO state on a fake clock, then the hub's events to a call task through
//! a real `LegRoutes` with a registered owner channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::desk::{DeskHub, DeskRing};
use super::desk_state::{CallPhase, DeskError, DeskLimits, DeskState};
use super::service::AcdHandle;
use super::{parse_str, AgentState, AgentsFile};
use crate::call::LegRoutes;
use crate::media::webrtc::WebrtcConfig;
use crate::sip::auth::{ha1, Algorithm};
use crate::sip::endpoint::{CallKey, SipEvent};

fn directory() -> AgentsFile {
    let bob_ha1 = ha1(Algorithm::Md5, "bob", "voxdesk", "builder");
    let text = format!(
        "realm: voxdesk
agents:
  - user: alice
    password: wonder
    name: Alice Smith
    queues: [support]
  - user: bob
    ha1: {}
    queues: [support]
queues:
  - name: support
",
        bob_ha1.to_uppercase()
    );
    parse_str(&text, "test").unwrap()
}

fn limits() -> DeskLimits {
    DeskLimits {
        max_sessions: 3,
        max_sockets_per_user: 2,
        max_rings_per_user: 2,
        ..DeskLimits::default()
    }
}

fn logged_in(state: &mut DeskState, user: &str, password: &str, token: &str, now: Instant) {
    state
        .login(&directory(), user, password, token.into(), now)
        .unwrap();
}

#[test]
fn logins_check_the_ha1_of_user_realm_password() {
    let now = Instant::now();
    let mut state = DeskState::new(limits());
    let dir = directory();
    let cases: [(&str, &str, Result<&str, DeskError>); 5] = [
        ("alice", "wonder", Ok("Alice Smith")),
        // A stored (upper-case) HA1 works; the name defaults to the user.
        ("bob", "builder", Ok("bob")),
        ("alice", "Wonder", Err(DeskError::BadLogin)),
        ("alice", "", Err(DeskError::BadLogin)),
        ("mallory", "wonder", Err(DeskError::BadLogin)),
    ];
    for (i, (user, password, want)) in cases.into_iter().enumerate() {
        let got = state.login(&dir, user, password, format!("t{i}"), now);
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            want,
            "{user}/{password}"
        );
    }
    assert_eq!(state.authenticate("t0", now).as_deref(), Ok("alice"));
    assert_eq!(state.authenticate("t1", now).as_deref(), Ok("bob"));
    assert_eq!(state.authenticate("t2", now), Err(DeskError::BadToken));
}

#[test]
fn five_wrong_passwords_lock_the_user_out_for_a_minute() {
    let t0 = Instant::now();
    let mut state = DeskState::new(DeskLimits::default());
    let dir = directory();
    for _ in 0..5 {
        let got = state.login(&dir, "alice", "guess", "x".into(), t0);
        assert_eq!(got, Err(DeskError::BadLogin));
    }
    let right = |state: &mut DeskState, at| state.login(&dir, "alice", "wonder", "t".into(), at);
    assert_eq!(right(&mut state, t0), Err(DeskError::LockedOut));
    assert_eq!(
        right(&mut state, t0 + Duration::from_secs(59)),
        Err(DeskError::LockedOut)
    );
    assert!(right(&mut state, t0 + Duration::from_secs(60)).is_ok());
    // Bob was never affected.
    assert!(state.login(&dir, "bob", "builder", "b".into(), t0).is_ok());
}

#[test]
fn sessions_expire_unless_used_or_held_by_a_socket() {
    let t0 = Instant::now();
    let ttl = DeskLimits::default().session_ttl;
    let mut state = DeskState::new(DeskLimits::default());
    logged_in(&mut state, "alice", "wonder", "a", t0);
    logged_in(&mut state, "bob", "builder", "b", t0);
    logged_in(&mut state, "alice", "wonder", "a2", t0);
    // Using a token extends it.
    assert!(state.authenticate("a", t0 + ttl / 2).is_ok());
    // A socket keeps its session alive however long it stays open.
    state.open_socket("a2", t0).unwrap();
    let later = t0 + ttl + Duration::from_secs(1);
    assert_eq!(state.authenticate("b", later), Err(DeskError::BadToken));
    assert!(state.authenticate("a", later).is_ok());
    assert!(state.authenticate("a2", later + ttl).is_ok());
    state.expire(later + 2 * ttl + Duration::from_secs(1));
    assert_eq!(
        state.session_count(),
        1,
        "only the socket's session is left"
    );
}

#[test]
fn the_session_table_is_bounded_and_expired_ones_make_room() {
    let t0 = Instant::now();
    let mut state = DeskState::new(limits());
    for token in ["1", "2", "3"] {
        logged_in(&mut state, "alice", "wonder", token, t0);
    }
    let dir = directory();
    let full = state.login(&dir, "bob", "builder", "4".into(), t0);
    assert_eq!(full, Err(DeskError::TooManySessions));
    let later = t0 + limits().session_ttl;
    assert!(state
        .login(&dir, "bob", "builder", "4".into(), later)
        .is_ok());
    assert_eq!(state.session_count(), 1);
}

#[test]
fn presence_counts_sockets_per_user() {
    let now = Instant::now();
    let mut state = DeskState::new(limits());
    logged_in(&mut state, "alice", "wonder", "a", now);
    logged_in(&mut state, "bob", "builder", "b", now);
    assert!(!state.is_logged_in("alice"));
    let (first, user, is_first) = state.open_socket("a", now).unwrap();
    assert_eq!((user.as_str(), is_first), ("alice", true));
    let (second, _, is_first) = state.open_socket("a", now).unwrap();
    assert!(!is_first);
    assert_eq!(state.open_socket("a", now), Err(DeskError::TooManySockets));
    assert_eq!(state.open_socket("nope", now), Err(DeskError::BadToken));
    let (bobs, _, _) = state.open_socket("b", now).unwrap();

    let closed = state.close_socket(first).unwrap();
    assert!(!closed.last && state.is_logged_in("alice"));
    let closed = state.close_socket(second).unwrap();
    assert!(closed.last && !state.is_logged_in("alice"));
    assert_eq!(
        state.close_socket(second),
        None,
        "closing twice is harmless"
    );
    assert!(state.is_logged_in("bob"));
    assert_eq!(state.sockets_of("bob"), vec![bobs]);
}

#[test]
fn logout_names_the_sockets_to_close() {
    let now = Instant::now();
    let mut state = DeskState::new(limits());
    logged_in(&mut state, "alice", "wonder", "a", now);
    logged_in(&mut state, "alice", "wonder", "a2", now);
    let (one, _, _) = state.open_socket("a", now).unwrap();
    state.open_socket("a2", now).unwrap();
    assert_eq!(state.logout("a"), Some(vec![one]));
    assert_eq!(state.logout("a"), None);
    assert_eq!(state.authenticate("a", now), Err(DeskError::BadToken));
}

#[test]
fn rings_need_an_open_desk_and_respect_bounds() {
    let now = Instant::now();
    let mut state = DeskState::new(limits());
    assert!(
        !state.ring(CallKey(1), "alice", "v=0".into()),
        "no desk open"
    );
    logged_in(&mut state, "alice", "wonder", "a", now);
    assert!(
        !state.ring(CallKey(1), "alice", "v=0".into()),
        "logged in, no desk"
    );
    let (socket, _, _) = state.open_socket("a", now).unwrap();
    assert!(state.ring(CallKey(1), "alice", "v=0".into()));
    assert!(
        !state.ring(CallKey(1), "alice", "v=0".into()),
        "duplicate key"
    );
    assert!(state.ring(CallKey(2), "alice", "v=0".into()));
    assert!(
        !state.ring(CallKey(3), "alice", "v=0".into()),
        "two rings at most"
    );
    // An answered call does not count as a pending ring.
    state.start_answer(CallKey(1), "alice").unwrap();
    assert!(state.answered(CallKey(1)));
    assert!(state.ring(CallKey(3), "alice", "v=0".into()));

    let closed = state.close_socket(socket).unwrap();
    assert_eq!(
        closed.ended,
        vec![
            (CallKey(1), CallPhase::Answered),
            (CallKey(2), CallPhase::Ringing),
            (CallKey(3), CallPhase::Ringing),
        ]
    );
}

#[test]
fn call_buttons_follow_the_phase_and_the_owner() {
    let now = Instant::now();
    let mut state = DeskState::new(limits());
    logged_in(&mut state, "alice", "wonder", "a", now);
    logged_in(&mut state, "bob", "builder", "b", now);
    state.open_socket("a", now).unwrap();
    state.open_socket("b", now).unwrap();
    let key = CallKey(7);
    assert!(state.ring(key, "alice", "offer".into()));
    assert_eq!(state.start_answer(key, "bob"), Err(DeskError::NoSuchCall));
    assert_eq!(
        state.decline(CallKey(8), "alice"),
        Err(DeskError::NoSuchCall)
    );
    assert_eq!(state.start_answer(key, "alice").as_deref(), Ok("offer"));
    assert_eq!(
        state.start_answer(key, "alice"),
        Err(DeskError::WrongPhase("being answered"))
    );
    state.answer_failed(key);
    assert_eq!(state.call(key, "alice").unwrap().phase, CallPhase::Ringing);
    state.start_answer(key, "alice").unwrap();
    assert!(state.answered(key));
    assert_eq!(
        state.decline(key, "alice"),
        Err(DeskError::WrongPhase("answered"))
    );
    assert_eq!(state.agent_hangup(key, "alice"), Ok(CallPhase::Answered));
    assert!(!state.answered(key), "gone");
    // Ended by the call side while the browser leg was being set up.
    assert!(state.ring(key, "alice", "offer".into()));
    state.start_answer(key, "alice").unwrap();
    assert!(state.end(key).is_some());
    assert!(!state.answered(key));
}

// ---- the hub, with a fake call task owning the legs' keys ----

struct Desk {
    hub: DeskHub,
    acd: AcdHandle,
    calls: mpsc::Receiver<SipEvent>,
    legs: LegRoutes,
    _directory: watch::Sender<Arc<AgentsFile>>,
}

fn desk() -> Desk {
    let file = directory();
    let acd = AcdHandle::start(&file);
    let (tx, directory) = watch::channel(Arc::new(file));
    let legs = LegRoutes::default();
    let webrtc = WebrtcConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
    };
    let hub = DeskHub::new(acd.clone(), legs.clone(), webrtc, directory);
    let (owner, calls) = mpsc::channel(16);
    legs.insert(CallKey(1), owner);
    Desk {
        hub,
        acd,
        calls,
        legs,
        _directory: tx,
    }
}

impl Desk {
    /// A new agent leg of the fake call, rung on `user`'s desk.
    fn ring(&self, user: &str) -> Option<CallKey> {
        let key = self.legs.new_leg(CallKey(1)).unwrap();
        let ring = DeskRing {
            key,
            user: user.into(),
            offer_sdp: OFFER.into(),
            ticket: 42,
            caller: "sip:carol@example.com".into(),
            intent: Some("order_status".into()),
            queue: "support".into(),
            queue_wait_secs: 12,
        };
        self.hub.ring(ring).then_some(key)
    }

    fn events(&mut self) -> Vec<SipEvent> {
        std::iter::from_fn(|| self.calls.try_recv().ok()).collect()
    }

    async fn state_of(&self, user: &str) -> &'static str {
        for _ in 0..100 {
            let (snapshot, _) = self.acd.snapshot().await.unwrap();
            let agent = snapshot.agents.iter().find(|a| a.user == user).unwrap();
            if agent.state != AgentState::Offline {
                return agent.state.name();
            }
            tokio::task::yield_now().await;
        }
        "offline"
    }
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

async fn next_message(socket: &mut super::desk::DeskSocket) -> serde_json::Value {
    let text = socket.messages.recv().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn ring_to_an_absent_agent_is_refused_and_a_present_one_gets_the_page_message() {
    let mut d = desk();
    assert_eq!(d.ring("alice"), None);
    let login = d.hub.login("alice", "wonder").unwrap();
    assert_eq!(
        (login.user.as_str(), login.name.as_str()),
        ("alice", "Alice Smith")
    );
    assert_eq!(login.token.len(), 64);
    assert_eq!(d.ring("alice"), None, "logged in but no desk open");
    let mut socket = d.hub.open_socket(&login.token).unwrap();
    assert!(d.hub.is_logged_in("alice"));
    let key = d.ring("alice").unwrap();
    assert_eq!(
        next_message(&mut socket).await,
        serde_json::json!({"type": "ring", "call": key.0.to_string(), "ticket": 42,
            "caller": "sip:carol@example.com", "intent": "order_status", "queue": "support",
            "queue_wait_secs": 12})
    );
    assert!(d.events().is_empty());
}

#[tokio::test]
async fn the_first_desk_makes_the_agent_available_and_the_last_one_offline() {
    let d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let one = d.hub.open_socket(&login.token).unwrap();
    let two = d.hub.open_socket(&login.token).unwrap();
    assert_eq!(d.state_of("alice").await, "available");
    drop(one);
    assert!(d.hub.is_logged_in("alice"));
    assert_eq!(d.state_of("alice").await, "available");
    drop(two);
    assert!(!d.hub.is_logged_in("alice"));
    let mut offline = false;
    for _ in 0..100 {
        let (snapshot, _) = d.acd.snapshot().await.unwrap();
        if snapshot
            .agents
            .iter()
            .any(|a| a.user == "alice" && a.state == AgentState::Offline)
        {
            offline = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(offline);
}

#[tokio::test]
async fn decline_sends_603_then_ended_and_the_route_is_forgotten() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let mut socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    let _ring = next_message(&mut socket).await;
    assert_eq!(d.hub.decline("bob", key), Err(DeskError::NoSuchCall));
    d.hub.decline("alice", key).unwrap();
    assert_eq!(
        d.events(),
        vec![SipEvent::Rejected { key, code: 603 }, SipEvent::Ended(key)]
    );
    assert_eq!(next_message(&mut socket).await["type"], "stop_ringing");
    assert_eq!(d.hub.decline("alice", key), Err(DeskError::NoSuchCall));
    assert!(!d.legs.deliver(key, SipEvent::Ended(key)), "route gone");
}

#[tokio::test]
async fn hanging_up_a_ringing_call_on_the_page_is_480_and_the_call_side_hangup_sends_nothing() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let mut socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    d.hub.agent_hangup("alice", key).unwrap();
    assert_eq!(
        d.events(),
        vec![SipEvent::Rejected { key, code: 480 }, SipEvent::Ended(key)]
    );
    let other = d.ring("alice").unwrap();
    d.hub.hangup(other);
    assert!(d.events().is_empty(), "the call side knows already");
    let types: Vec<_> = [(); 4]
        .iter()
        .map(|_| socket.messages.try_recv().unwrap())
        .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap())
        .map(|m| (m["type"].as_str().unwrap().to_owned(), m["call"].clone()))
        .collect();
    let call = |k: CallKey| serde_json::json!(k.0.to_string());
    assert_eq!(
        types,
        vec![
            ("ring".into(), call(key)),
            ("ended".into(), call(key)),
            ("ring".into(), call(other)),
            ("ended".into(), call(other)),
        ]
    );
    assert_eq!(
        d.hub.agent_hangup("alice", other),
        Err(DeskError::NoSuchCall)
    );
}

#[tokio::test]
async fn closing_the_last_desk_ends_its_ringing_calls() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    drop(socket);
    assert_eq!(
        d.events(),
        vec![SipEvent::Rejected { key, code: 480 }, SipEvent::Ended(key)]
    );
}

#[tokio::test]
async fn logout_closes_the_desks_of_that_session() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let mut socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    assert!(d.hub.logout(&login.token));
    assert!(!d.hub.logout(&login.token));
    let _ring = socket.messages.recv().await;
    assert_eq!(
        socket.messages.recv().await,
        None,
        "the hub let go of the page"
    );
    drop(socket);
    assert_eq!(
        d.events(),
        vec![SipEvent::Rejected { key, code: 480 }, SipEvent::Ended(key)]
    );
    assert_eq!(d.hub.authenticate(&login.token), Err(DeskError::BadToken));
}

#[tokio::test]
async fn answering_without_a_webrtc_stack_rings_again_and_transfer_needs_an_answer() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let _socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    assert_eq!(
        d.hub.transfer("alice", key, "bob"),
        Err(DeskError::WrongPhase("not answered"))
    );
    assert_eq!(
        d.hub.transfer("alice", key, "bob@evil"),
        Err(DeskError::BadTarget(
            "only letters, digits and . _ - + are allowed"
        ))
    );
    // Until the WebRTC stack is built, answering fails; the call rings on.
    let failed = d.hub.answer("alice", key, "v=0").await;
    assert!(matches!(
        failed,
        Err(DeskError::Media(_) | DeskError::BadSdp(_))
    ));
    assert!(d.events().is_empty());
    d.hub.decline("alice", key).unwrap();
    assert_eq!(d.events().len(), 2);
}

#[tokio::test]
async fn a_call_offer_without_rtp_address_cannot_be_answered() {
    let d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let _socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.legs.new_leg(CallKey(1)).unwrap();
    let ring = DeskRing {
        key,
        user: "alice".into(),
        offer_sdp: "not sdp".into(),
        ticket: 1,
        caller: String::new(),
        intent: None,
        queue: "support".into(),
        queue_wait_secs: 0,
    };
    assert!(d.hub.ring(ring));
    let failed = d.hub.answer("alice", key, "v=0").await;
    assert!(matches!(failed, Err(DeskError::BadSdp(_))), "{failed:?}");
}

#[tokio::test]
async fn an_answered_call_transfers_by_refer_and_hangs_up_with_bye() {
    let mut d = desk();
    let login = d.hub.login("alice", "wonder").unwrap();
    let socket = d.hub.open_socket(&login.token).unwrap();
    let key = d.ring("alice").unwrap();
    let other = d.ring("alice").unwrap();
    // The browser leg itself is the WebRTC module's; here the phase is set directly.
    d.hub.state_for_test(|s| {
        s.start_answer(key, "alice").unwrap();
        assert!(s.answered(key));
    });
    d.hub.transfer("alice", key, "billing").unwrap();
    assert_eq!(
        d.events(),
        vec![SipEvent::ReferReceived {
            key,
            refer_to: "sip:billing@voxdesk".into(),
            replaces: None,
            referred_by: Some("alice".into()),
        }]
    );
    d.hub.agent_hangup("alice", key).unwrap();
    assert_eq!(
        d.events(),
        vec![SipEvent::RemoteBye(key), SipEvent::Ended(key)]
    );
    // The agent's websocket closing ends the rest.
    drop(socket);
    assert_eq!(
        d.events(),
        vec![
            SipEvent::Rejected {
                key: other,
                code: 480
            },
            SipEvent::Ended(other)
        ]
    );
}

#[tokio::test]
async fn a_turn_on_a_ringing_ticket_reaches_only_that_agents_desk() {
    let mut d = desk();
    let alice = d.hub.login("alice", "wonder").unwrap();
    let bob = d.hub.login("bob", "builder").unwrap();
    let mut alice_socket = d.hub.open_socket(&alice.token).unwrap();
    let mut bob_socket = d.hub.open_socket(&bob.token).unwrap();
    d.ring("alice").unwrap();
    assert_eq!(next_message(&mut alice_socket).await["type"], "ring");
    d.hub.turn_added(7);
    d.hub.turn_added(42);
    assert_eq!(
        next_message(&mut alice_socket).await,
        serde_json::json!({"type": "turn", "ticket": 42})
    );
    assert!(
        alice_socket.messages.try_recv().is_err(),
        "ticket 7 is not hers"
    );
    assert!(
        bob_socket.messages.try_recv().is_err(),
        "no call on bob's desk"
    );
    d.hub.reload_all();
    assert_eq!(next_message(&mut alice_socket).await["ticket"], 42);
    let _ = d.events();
}
