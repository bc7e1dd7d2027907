//! The call task's agent shell (voxdesk as a B2BUA): a `queue` step puts the caller in an ACD
//! queue with hold music; each agent the ACD rings gets an outgoing INVITE per registered
//! phone, carrying the ticket's context; the first phone to answer gets its own RTP leg,
//! bridged to the caller's through voxdesk (transcoding, DTMF passed on both ways), and the
//! other phones stop ringing. When the agent hangs up the caller goes back to the dialplan.
//!
//! The agent may hand the caller on ([`transfer`]); either side may hold ([`hold`]).
//!
//! Agent legs are SIP calls of this task: their events arrive on the caller's channel under
//! their own keys (see `LegRoutes::new_leg`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

mod attended;
pub(super) mod hold;
mod supervise;
mod transfer;

use super::assist::{next_ear_input, AgentEar, EarInput};
use super::Call;
use crate::acd::desk::DeskRing;
use crate::acd::service::QueueNotice;
use crate::acd::{CallId, CallerInfo};
use crate::dialplan::{Event, Interp, QueueId};
use crate::media::bridge::{bridge, BridgeHandle, SupervisorMode};
use crate::media::session::{MediaEvent, MediaHandle, MediaSession};
use crate::sdp::{self, LocalMedia, SessionOrigin};
use crate::sip::endpoint::{CallKey, OutgoingInvite, Peer, SipEvent};
use crate::sip::registrar::{Binding, Transport};
use crate::sip::transport::SipCommand;
use crate::tickets::{HandlingUpdate, TurnKind};

/// Prompt ids of hold music: far above the interpreter's, so their ends are recognised.
const HOLD_PROMPT_BASE: u64 = 1 << 60;
/// Phones rung per agent at most (an agent with many registered devices).
const MAX_PHONES_PER_AGENT: usize = 5;

/// One phone of an agent, ringing.
struct RingingLeg {
    user: String,
    socket: UdpSocket,
    port: u16,
    local: LocalMedia,
    /// The origin of our offer: later SDP on this dialog keeps its session id.
    origin: SessionOrigin,
}

/// The agent leg that answered, bridged to the caller.
pub(super) struct Bridged {
    key: CallKey,
    user: String,
    port: u16,
    media: MediaHandle,
    media_rx: mpsc::Receiver<MediaEvent>,
    bridge: Option<BridgeHandle>,
    since: Instant,
    /// A supervisor listening, whispering or barging in.
    supervision: Option<supervise::Supervision>,
    /// Our SDP origin on this leg (from the INVITE's offer), for re-INVITE answers.
    origin: SessionOrigin,
    /// Who holds, and the agent's hold time.
    hold: hold::HoldState,
    /// Transcribes the agent (agent assist), when speech recognition is on.
    pub(super) ear: Option<AgentEar>,
}

/// A caller in a queue, then with an agent.
pub(super) struct Queueing {
    id: QueueId,
    name: String,
    entered: Instant,
    notices: mpsc::Receiver<QueueNotice>,
    ringing: HashMap<CallKey, RingingLeg>,
    hold_music: Arc<[i16]>,
    hold_prompt: Option<u64>,
    hold_count: u64,
    /// An announcement is playing (hold music waits for it).
    announcing: bool,
    pub(super) bridged: Option<Bridged>,
    /// The agent transferred the caller; the target has not answered yet.
    transfer: Option<transfer::PendingTransfer>,
}

impl Bridged {
    fn new(
        key: CallKey,
        user: String,
        port: u16,
        (media, media_rx): (MediaHandle, mpsc::Receiver<MediaEvent>),
        bridge: Option<BridgeHandle>,
        origin: SessionOrigin,
        ear: Option<AgentEar>,
    ) -> Bridged {
        Bridged {
            key,
            user,
            port,
            media,
            media_rx,
            bridge,
            since: Instant::now(),
            supervision: None,
            origin,
            hold: hold::HoldState::default(),
            ear,
        }
    }
}

impl Queueing {
    /// The ACD's id for this call.
    fn acd_call(key: CallKey) -> CallId {
        CallId(key.0)
    }
}

/// Why a caller leaves a queue unanswered (for the abandon rate and service level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leaving {
    /// The dialplan's `max_wait` ran out.
    TimedOut,
    /// The caller hung up (or the call failed) while waiting.
    CallerGone,
    /// The dialplan went elsewhere (a new queue step, the ACD stopping).
    Moved,
}

/// What the queue shell waits for: the ACD's notices while queued, the agent leg's media
/// once bridged.
pub(super) enum QueueInput {
    /// From the ACD (`None`: the ACD is gone).
    Notice(Option<QueueNotice>),
    /// From the agent leg's media (`None`: it stopped).
    AgentMedia(Option<MediaEvent>),
    /// A transfer's target did not answer in time.
    TransferUnanswered,
    /// For the bridged agent's ear (agent assist).
    AgentEar(EarInput),
}

/// The next [`QueueInput`]; never resolves when not queued.
pub(super) async fn next_input(queue: &mut Option<Queueing>) -> QueueInput {
    match queue {
        Some(Queueing {
            bridged: Some(b), ..
        }) => tokio::select! {
            event = b.media_rx.recv() => QueueInput::AgentMedia(event),
            input = next_ear_input(b.ear.as_mut()) => QueueInput::AgentEar(input),
        },
        Some(q) => match q.transfer.as_ref().map(|t| t.deadline) {
            Some(deadline) => tokio::select! {
                notice = q.notices.recv() => QueueInput::Notice(notice),
                _ = tokio::time::sleep_until(deadline.into()) => QueueInput::TransferUnanswered,
            },
            None => QueueInput::Notice(q.notices.recv().await),
        },
        None => std::future::pending().await,
    }
}

impl Call {
    /// `queue` step: join the ACD queue (or tell the interpreter it is full), start hold music.
    pub(super) async fn join_queue(
        &mut self,
        id: QueueId,
        name: String,
        info: CallerInfo,
        hold_music: Option<PathBuf>,
        interp: &mut Interp,
    ) {
        self.leave_queue(Leaving::Moved).await;
        let joined = self
            .svc
            .acd
            .enqueue(Queueing::acd_call(self.key), &name, info)
            .await;
        let (position, notices) = match joined {
            Ok(ok) => ok,
            Err(e) => {
                info!(queue = %name, error = %e, "queue refused the caller");
                self.log
                    .turn(TurnKind::Note, format!("queue {name}: {e}"), json!(null));
                interp.handle_event(Event::QueueFull { id }, Instant::now());
                return;
            }
        };
        let hold_music = match hold_music {
            Some(path) => match self.svc.prompts.load_wav_async(&path).await {
                Ok(audio) => audio,
                Err(e) => {
                    warn!(error = %e, "hold music; using the built-in one");
                    crate::media::hold::builtin()
                }
            },
            None => crate::media::hold::builtin(),
        };
        self.svc
            .registry
            .update(self.key, |c| c.state = "queued".into());
        self.queue = Some(Queueing {
            id,
            name,
            entered: Instant::now(),
            notices,
            ringing: HashMap::new(),
            hold_music,
            hold_prompt: None,
            hold_count: 0,
            announcing: false,
            bridged: None,
            transfer: None,
        });
        interp.handle_event(
            Event::QueuePosition {
                id,
                position: u32::try_from(position.0).unwrap_or(u32::MAX),
            },
            Instant::now(),
        );
        self.resume_hold_music();
    }

    /// Plays the next loop of hold music unless an announcement or the agent has the line.
    fn resume_hold_music(&mut self) {
        let (Some(q), Some(media)) = (self.queue.as_mut(), self.media.as_ref()) else {
            return;
        };
        let talking = q.bridged.as_ref().is_some_and(|b| !b.hold.agent_holds());
        if talking || q.announcing || q.hold_prompt.is_some() {
            return;
        }
        q.hold_count += 1;
        let id = HOLD_PROMPT_BASE + q.hold_count;
        if media.play(id, Arc::clone(&q.hold_music)).is_ok() {
            q.hold_prompt = Some(id);
        }
    }

    /// Before an announcement while queued: the music stops so the words come at once.
    pub(super) fn announcement_starts(&mut self) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        if q.bridged.is_some() {
            return;
        }
        q.announcing = true;
        if q.hold_prompt.take().is_some() {
            if let Some(media) = &self.media {
                let _ = media.stop_playback();
            }
        }
    }

    /// A prompt ended. Returns true when it was hold music (the interpreter never saw it).
    pub(super) fn prompt_ended(&mut self, id: u64) -> bool {
        let Some(q) = self.queue.as_mut() else {
            return false;
        };
        let hold = id >= HOLD_PROMPT_BASE;
        if hold {
            if q.hold_prompt == Some(id) {
                q.hold_prompt = None;
            }
        } else {
            q.announcing = false;
        }
        self.resume_hold_music();
        hold
    }

    /// What the ACD says: ring agents, stop ringing, a new place in the queue.
    pub(super) async fn on_queue_notice(&mut self, notice: QueueNotice, interp: &mut Interp) {
        match notice {
            QueueNotice::Position(position) => {
                if let Some(q) = &self.queue {
                    interp.handle_event(
                        Event::QueuePosition {
                            id: q.id,
                            position: u32::try_from(position.0).unwrap_or(u32::MAX),
                        },
                        Instant::now(),
                    );
                }
            }
            QueueNotice::Ring(users) => {
                for user in users {
                    self.ring_agent(&user, interp).await;
                }
            }
            QueueNotice::StopRinging(users) => {
                let keys: Vec<CallKey> = self
                    .queue
                    .iter()
                    .flat_map(|q| q.ringing.iter())
                    .filter(|(_, leg)| users.contains(&leg.user))
                    .map(|(key, _)| *key)
                    .collect();
                for key in keys {
                    self.drop_ringing_leg(key).await;
                }
            }
        }
    }

    /// Places an INVITE to each of `user`'s registered phones; none → the ring failed.
    async fn ring_agent(&mut self, user: &str, interp: &Interp) {
        let (reply, answer) = oneshot::channel();
        self.sip(SipCommand::Lookup(user.to_owned(), reply)).await;
        let bindings = answer.await.unwrap_or_default();
        let mut placed = 0;
        if self.svc.desk.is_logged_in(user) && self.ring_desk(user, interp).await {
            placed += 1;
        }
        for binding in bindings.into_iter().take(MAX_PHONES_PER_AGENT) {
            let Some((key, leg)) = self.place_leg(user, &binding, interp, None).await else {
                continue;
            };
            if let Some(q) = self.queue.as_mut() {
                q.ringing.insert(key, leg);
                placed += 1;
            }
        }
        self.log
            .handling(HandlingUpdate::AgentTried(user.to_owned()));
        if placed == 0 {
            warn!(user, "no reachable phone for the agent");
            self.svc
                .acd
                .ring_failed(Queueing::acd_call(self.key), user)
                .await;
        }
    }

    /// Offers the call to `user`'s browser desk: the desk answers with WebRTC on its side
    /// and plain RTP towards this leg's socket, so the rest is the same as for a phone.
    async fn ring_desk(&mut self, user: &str, interp: &Interp) -> bool {
        let Some(key) = self.svc.legs.new_leg(self.key) else {
            return false;
        };
        let Some((socket, port)) = self.bind_media_port().await else {
            return false;
        };
        let local = self.local_media(port);
        let mut origin = SessionOrigin::new(rand::random::<u32>() >> 1);
        let (queue, waited) = self.queue.as_ref().map_or((String::new(), 0), |q| {
            (q.name.clone(), q.entered.elapsed().as_secs())
        });
        let ring = DeskRing {
            key,
            user: user.to_owned(),
            offer_sdp: sdp::offer(&local, &mut origin),
            ticket: self.ticket.0,
            caller: interp.vars().get("caller").cloned().unwrap_or_default(),
            intent: interp
                .vars()
                .get("intent")
                .filter(|i| !i.is_empty())
                .cloned(),
            queue,
            queue_wait_secs: waited,
        };
        if !self.svc.desk.ring(ring) {
            self.svc.ports.release(port);
            return false;
        }
        if let Some(q) = self.queue.as_mut() {
            q.ringing.insert(
                key,
                RingingLeg {
                    user: user.to_owned(),
                    socket,
                    port,
                    local,
                    origin,
                },
            );
        }
        true
    }

    /// Places an INVITE to one phone of `user`, with the call's context in its headers
    /// (and `X-Voxdesk-Supervise` when it rings a supervisor).
    async fn place_leg(
        &mut self,
        user: &str,
        binding: &Binding,
        interp: &Interp,
        supervise: Option<SupervisorMode>,
    ) -> Option<(CallKey, RingingLeg)> {
        let key = self.svc.legs.new_leg(self.key)?;
        let (socket, port) = self.bind_media_port().await?;
        let local = self.local_media(port);
        let mut origin = SessionOrigin::new(rand::random::<u32>() >> 1);
        let offer = sdp::offer(&local, &mut origin);
        let waited = self
            .queue
            .as_ref()
            .map_or(0, |q| q.entered.elapsed().as_secs());
        let ticket_url = format!("{}/api/tickets/{}", self.svc.http_base, self.ticket.0);
        let mut headers = vec![
            (
                "Call-Info".to_owned(),
                format!("<{ticket_url}>;purpose=info"),
            ),
            ("X-Voxdesk-Ticket".to_owned(), self.ticket.0.to_string()),
            ("X-Voxdesk-Queue-Wait".to_owned(), waited.to_string()),
        ];
        if let Some(intent) = interp.vars().get("intent").filter(|i| !i.is_empty()) {
            headers.push(("X-Voxdesk-Intent".to_owned(), intent.clone()));
        }
        if let Some(mode) = supervise {
            headers.push(("X-Voxdesk-Supervise".to_owned(), mode.name().to_owned()));
        }
        let caller = interp.vars().get("caller").cloned().unwrap_or_default();
        let invite = OutgoingInvite {
            request_uri: binding.uri.clone(),
            destination: reach(binding),
            from_user: if caller.is_empty() {
                "voxdesk".into()
            } else {
                caller
            },
            from_display: Some("voxdesk caller".into()),
            to_uri: format!("sip:{user}@{}", self.svc.media_ip),
            sdp: offer,
            extra_headers: headers,
        };
        self.sip(SipCommand::Invite(key, invite)).await;
        Some((
            key,
            RingingLeg {
                user: user.to_owned(),
                socket,
                port,
                local,
                origin,
            },
        ))
    }

    /// Hangs up (CANCEL) a ringing leg and frees its port.
    async fn drop_ringing_leg(&mut self, key: CallKey) {
        let Some(leg) = self.queue.as_mut().and_then(|q| q.ringing.remove(&key)) else {
            return;
        };
        self.svc.ports.release(leg.port);
        self.hang_up_leg(key).await;
    }

    /// Ends an agent or supervisor leg, a SIP phone's or a browser desk's (each side
    /// ignores keys it does not know).
    async fn hang_up_leg(&self, key: CallKey) {
        self.svc.desk.hangup(key);
        self.sip(SipCommand::Hangup(key)).await;
    }

    /// Where the `n`th bridged agent leg (1-based) is recorded, when recording is on. The
    /// first keeps the plain name; later ones (after transfers) are numbered.
    fn agent_recording(&self, n: u32) -> Option<PathBuf> {
        self.leg_recording("agent", n)
    }

    /// `ID-ROLE.wav` for a call's first leg of that role, `ID-ROLE-N.wav` for the later ones;
    /// `None` when recording is off.
    fn leg_recording(&self, role: &str, n: u32) -> Option<PathBuf> {
        let name = match n {
            1 => format!("{}-{role}.wav", self.ticket.0),
            n => format!("{}-{role}-{n}.wav", self.ticket.0),
        };
        self.svc
            .config
            .media
            .record
            .then(|| self.svc.recordings_dir.join(name))
    }

    /// Hangs up every ringing leg.
    async fn stop_ringing_all(&mut self) {
        let keys: Vec<CallKey> = self
            .queue
            .iter()
            .flat_map(|q| q.ringing.keys().copied())
            .collect();
        for key in keys {
            self.drop_ringing_leg(key).await;
        }
    }

    /// Whether `key` is one of this call's agent (or supervisor) legs.
    pub(super) fn is_agent_leg(&self, key: CallKey) -> bool {
        self.is_supervisor_leg(key)
            || self.queue.as_ref().is_some_and(|q| {
                q.ringing.contains_key(&key) || q.bridged.as_ref().is_some_and(|b| b.key == key)
            })
    }

    /// An event of an agent (or supervisor) leg.
    pub(super) async fn on_agent_leg_event(&mut self, event: SipEvent, interp: &mut Interp) {
        if crate::call::event_key(&event).is_some_and(|key| self.is_supervisor_leg(key)) {
            self.on_supervisor_event(event).await;
            return;
        }
        match event {
            SipEvent::Answered { key, sdp } => self.agent_answered(key, sdp, interp).await,
            SipEvent::Rejected { key, code } => {
                let Some(leg) = self.queue.as_mut().and_then(|q| q.ringing.remove(&key)) else {
                    return;
                };
                self.svc.ports.release(leg.port);
                info!(user = %leg.user, code, "agent phone declined");
                let others = self
                    .queue
                    .as_ref()
                    .is_some_and(|q| q.ringing.values().any(|l| l.user == leg.user));
                if !others {
                    self.svc
                        .acd
                        .ring_failed(Queueing::acd_call(self.key), &leg.user)
                        .await;
                }
            }
            SipEvent::RemoteBye(key) | SipEvent::Ended(key) => {
                let bridged_here = self
                    .queue
                    .as_ref()
                    .and_then(|q| q.bridged.as_ref())
                    .is_some_and(|b| b.key == key);
                if bridged_here {
                    self.agent_gone(interp).await;
                } else if let Some(leg) = self.queue.as_mut().and_then(|q| q.ringing.remove(&key)) {
                    self.svc.ports.release(leg.port);
                }
            }
            SipEvent::ReferReceived {
                key,
                refer_to,
                replaces,
                ..
            } => {
                self.agent_transfer(key, &refer_to, replaces.as_deref(), interp)
                    .await
            }
            SipEvent::ReInvite { key, offer } => self.agent_reinvite(key, offer).await,
            _ => {}
        }
    }

    async fn agent_answered(&mut self, key: CallKey, answer: Option<String>, interp: &mut Interp) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let Some(leg) = q.ringing.remove(&key) else {
            // A leg we already gave up on: it must not stay up.
            self.hang_up_leg(key).await;
            return;
        };
        if q.bridged.is_some() {
            self.svc.ports.release(leg.port);
            self.hang_up_leg(key).await;
            return;
        }
        let negotiated = answer
            .as_deref()
            .ok_or_else(|| "no SDP in the answer".to_string())
            .and_then(|a| sdp::accept_answer(a, &leg.local).map_err(|e| e.to_string()));
        let negotiated = match negotiated {
            Ok(n) => n,
            Err(e) => {
                warn!(user = %leg.user, error = %e, "agent answer unusable");
                self.svc.ports.release(leg.port);
                self.hang_up_leg(key).await;
                self.svc
                    .acd
                    .ring_failed(Queueing::acd_call(self.key), &leg.user)
                    .await;
                return;
            }
        };
        let id = q.id;
        let user = leg.user.clone();
        // Every other phone stops ringing now, other agents' too (ring-all): once bridged, this
        // task reads no more ACD notices, so the ACD's StopRinging for them would never come.
        let siblings: Vec<CallKey> = q.ringing.keys().copied().collect();
        for sibling in siblings {
            self.drop_ringing_leg(sibling).await;
        }
        self.agent_legs += 1;
        let record_path = self.agent_recording(self.agent_legs);
        let mut media_cfg = self.media_config(&negotiated, record_path.clone());
        let ear = self.svc.asr.is_some().then(|| {
            let (ear, frames) =
                AgentEar::start(&user, &self.svc.config.speech.endpoint, Instant::now());
            media_cfg.caller_audio = Some(frames);
            ear
        });
        let (agent_media, agent_rx) = MediaSession::start(leg.socket, media_cfg);
        if let Some(path) = record_path {
            self.log.handling(HandlingUpdate::AgentRecording(
                path.to_string_lossy().into(),
            ));
        }
        // The caller's prompts (hold music) stop; from now on the caller hears the agent.
        if let Some(media) = &self.media {
            let _ = media.stop_playback();
        }
        let bridged = match &self.media {
            Some(caller) => bridge(caller, &agent_media).ok(),
            None => None,
        };
        if bridged.is_none() {
            warn!("bridging the agent failed");
        }
        self.svc
            .acd
            .answered(Queueing::acd_call(self.key), &user)
            .await;
        let transferred = self.queue.as_ref().is_some_and(|q| q.transfer.is_some());
        if transferred {
            self.transfer_answered();
        } else {
            // Service level counts the caller's first wait only.
            let metrics = crate::metrics::global();
            metrics.queue_calls_answered.inc();
            if q_entered(self.queue.as_ref()).elapsed() <= crate::metrics::SERVICE_LEVEL_TARGET {
                metrics.queue_answered_within_20s.inc();
            }
        }
        if let Some(q) = self.queue.as_mut() {
            q.hold_prompt = None;
            q.announcing = false;
            q.bridged = Some(Bridged::new(
                key,
                user.clone(),
                leg.port,
                (agent_media, agent_rx),
                bridged,
                leg.origin,
                ear,
            ));
        }
        self.svc
            .registry
            .update(self.key, |c| c.state = "with agent".into());
        info!(agent = %user, "agent answered; bridged");
        interp.handle_event(Event::AgentAnswered { id, agent: user }, Instant::now());
    }

    /// The agent hung up (or their leg failed): the caller goes back to the dialplan.
    async fn agent_gone(&mut self, interp: &mut Interp) {
        let Some(mut q) = self.queue.take() else {
            return;
        };
        let id = q.id;
        if let Some(b) = q.bridged.take() {
            self.end_bridge(b, false).await;
        }
        self.svc.acd.leave(Queueing::acd_call(self.key)).await;
        self.svc
            .registry
            .update(self.key, |c| c.state = "answered".into());
        interp.handle_event(Event::AgentHungUp { id }, Instant::now());
    }

    async fn end_bridge(&mut self, mut b: Bridged, hang_up_agent: bool) {
        if let Some(supervision) = b.supervision.take() {
            self.drop_supervision(supervision).await;
        }
        if let Some(link) = b.bridge {
            let _ = link.unbridge();
        }
        let _ = b.media.shutdown();
        let talked = b.since.elapsed();
        crate::metrics::global().agent_talked(talked);
        let hold_ms = b.hold.hold_ms(Instant::now());
        if b.hold.agent_holds() {
            // The caller's hold music must not delay what the dialplan says next.
            if let Some(media) = &self.media {
                let _ = media.stop_playback();
            }
            if let Some(q) = self.queue.as_mut() {
                q.hold_prompt = None;
            }
        }
        self.log.handling(HandlingUpdate::TalkEnded {
            talk_ms: i64::try_from(talked.as_millis()).unwrap_or(i64::MAX),
            hold_ms,
        });
        if hang_up_agent {
            self.hang_up_leg(b.key).await;
        }
        let mut rx = b.media_rx;
        // The agent recording is closed when the session reports it stopped.
        let _ = super::wait_stopped(&mut rx).await;
        self.svc.ports.release(b.port);
        info!(agent = %b.user, ms = talked.as_millis() as u64, "agent leg ended");
    }

    /// Leaves the queue (max wait, the dialplan moved on, or the call is ending): rings stop,
    /// an agent leg is hung up, the ACD forgets the call.
    pub(super) async fn leave_queue(&mut self, why: Leaving) {
        let Some(mut q) = self.queue.take() else {
            return;
        };
        for (key, leg) in q.ringing.drain() {
            self.svc.ports.release(leg.port);
            self.hang_up_leg(key).await;
        }
        info!(queue = %q.name, "left the queue");
        if let Some(b) = q.bridged.take() {
            self.end_bridge(b, true).await;
        } else {
            if q.hold_prompt.is_some() {
                if let Some(media) = &self.media {
                    let _ = media.stop_playback();
                }
            }
            let metrics = crate::metrics::global();
            match why {
                Leaving::TimedOut => metrics.queue_calls_timed_out.inc(),
                Leaving::CallerGone => {
                    metrics.queue_calls_abandoned.inc();
                    // The interpreter records its own exits' waits; a hang-up is ours to record.
                    let wait_ms =
                        i64::try_from(q.entered.elapsed().as_millis()).unwrap_or(i64::MAX);
                    self.log.handling(HandlingUpdate::QueueLeft { wait_ms });
                }
                Leaving::Moved => {}
            }
        }
        self.svc.acd.leave(Queueing::acd_call(self.key)).await;
    }

    /// A key from the agent's phone goes on to the caller.
    pub(super) fn agent_media_event(&mut self, event: Option<MediaEvent>) -> bool {
        match event {
            Some(MediaEvent::Dtmf(digit)) => {
                if let Some(media) = &self.media {
                    let _ = media.send_dtmf(digit, Duration::from_millis(100));
                }
                false
            }
            Some(MediaEvent::RtpTimeout) | Some(MediaEvent::Stopped(_)) | None => true,
            Some(MediaEvent::PlaybackFinished(id)) => {
                self.agent_prompt_ended(id);
                false
            }
            Some(_) => false,
        }
    }

    /// A key from the caller while bridged goes on to the agent; returns whether it did.
    pub(super) fn forward_caller_dtmf(&self, digit: char) -> bool {
        match self.queue.as_ref().and_then(|q| q.bridged.as_ref()) {
            Some(b) => {
                let _ = b.media.send_dtmf(digit, Duration::from_millis(100));
                true
            }
            None => false,
        }
    }

    /// The agent's media failed (no RTP): treated as the agent hanging up.
    pub(super) async fn agent_media_failed(&mut self, interp: &mut Interp) {
        let key = self
            .queue
            .as_ref()
            .and_then(|q| q.bridged.as_ref())
            .map(|b| b.key);
        if let Some(key) = key {
            self.hang_up_leg(key).await;
        }
        self.agent_gone(interp).await;
    }
}

fn q_entered(queue: Option<&Queueing>) -> Instant {
    queue.map_or_else(Instant::now, |q| q.entered)
}

/// Where an agent's phone is reached: the address its REGISTER came from (the NAT mapping),
/// unless its Contact names the same IP, when the Contact's port is the phone's own.
fn reach(binding: &Binding) -> Peer {
    if let Transport::Tcp(conn) = binding.transport {
        return Peer::Tcp(conn, binding.source);
    }
    match crate::sip::dialog::uri_socket_addr(&binding.uri) {
        Some(contact) if contact.ip() == binding.source.ip() => Peer::Udp(contact),
        _ => Peer::Udp(binding.source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(uri: &str, source: &str, transport: Transport) -> Binding {
        Binding {
            uri: uri.into(),
            source: source.parse().unwrap(),
            transport,
            expires_at: Instant::now(),
        }
    }

    #[test]
    fn phones_are_reached_at_their_contact_unless_behind_nat() {
        let cases = [
            // Same IP: the Contact's port is where the phone listens.
            (
                binding(
                    "sip:alice@127.0.0.1:5072",
                    "127.0.0.1:40000",
                    Transport::Udp,
                ),
                Peer::Udp("127.0.0.1:5072".parse().unwrap()),
            ),
            // A private Contact from a public source: behind NAT, answer where it came from.
            (
                binding(
                    "sip:alice@192.168.1.20:5060",
                    "203.0.113.9:61000",
                    Transport::Udp,
                ),
                Peer::Udp("203.0.113.9:61000".parse().unwrap()),
            ),
            // A Contact with a host name: the source.
            (
                binding(
                    "sip:alice@phone.example.com",
                    "198.51.100.4:5060",
                    Transport::Udp,
                ),
                Peer::Udp("198.51.100.4:5060".parse().unwrap()),
            ),
            // TCP: the connection it registered over.
            (
                binding(
                    "sip:alice@10.0.0.2:5060;transport=tcp",
                    "198.51.100.4:3333",
                    Transport::Tcp(7),
                ),
                Peer::Tcp(7, "198.51.100.4:3333".parse().unwrap()),
            ),
        ];
        for (b, want) in cases {
            assert_eq!(reach(&b), want, "{}", b.uri);
        }
    }
}
