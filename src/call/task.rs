//! One call from INVITE to ticket: negotiate SDP, run the dialplan, answer, start media after
//! the ACK (so nothing is spoken before answer), then a single `select!` loop over SIP events,
//! media events, caller audio, transcriptions, the interpreter's deadline and shutdown
//! (STYLE.md pattern 4).

mod assist;
mod queue;
mod speech;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn, Instrument};

use super::history::{map_disposition, CallLog};
use super::http::{self, PendingHttp};
use super::listen::Listener;
use super::{event_key, CallServices};
use crate::acd::CallerInfo;
use crate::api::LiveCall;
use crate::dialplan::{Action, Event, Interp, PromptId};
use crate::media::dtmf::parse_dtmf_relay;
use crate::media::session::{MediaConfig, MediaEvent, MediaHandle, MediaSession};
use crate::media::Codec;
use crate::sdp::{self, LocalMedia, Negotiated, SessionOrigin};
use crate::sip::endpoint::{CallKey, IncomingCall, SipEvent};
use crate::sip::transport::SipCommand;
use crate::tickets::{Disposition, NewTicket, TicketId, Timestamp, TurnKind};
use queue::{Leaving, QueueInput};
use speech::{next_frame, next_job, Jobs};

/// Caller frames buffered between the media task and the call task (20 ms each).
const CALLER_AUDIO_FRAMES: usize = 50;

/// Why the main loop stopped.
enum Outcome {
    /// We hang up with this disposition.
    HangUp(Disposition, Option<String>),
    /// The caller hung up, or the dialog is gone.
    Gone(Disposition, Option<String>),
}

/// Runs one call to its end.
pub(super) async fn run(
    setup: IncomingCall,
    sip_rx: mpsc::Receiver<SipEvent>,
    svc: Arc<CallServices>,
) {
    let span = tracing::info_span!("call", call_id = %setup.call_id);
    async move {
        let _active = crate::metrics::global().call_started();
        let key = setup.key;
        let ticket = svc.tickets.create(NewTicket {
            call_id: setup.call_id.clone(),
            from: setup.from.clone(),
            to: setup.to.clone(),
            started_at: Timestamp::now(),
        });
        svc.registry.insert(
            key,
            LiveCall {
                call_id: setup.call_id.clone(),
                ticket_id: Some(ticket.0),
                from: setup.from.clone(),
                to: setup.to.clone(),
                state: "ringing".into(),
                started_at: rfc3339_now(),
                step: None,
            },
        );
        info!(from = %setup.from, to = %setup.to, source = %setup.source, "incoming call");
        let mut call = Call {
            key,
            ticket,
            svc: svc.clone(),
            sip_rx,
            media: None,
            media_rx: None,
            caller_rx: None,
            port: None,
            held_since: None,
            http: None,
            queue: None,
            agent_legs: 0,
            supervisor_legs: 0,
            placed_by: setup.agent.clone(),
            dialog_tags: setup.tags.clone(),
            control_rx: svc.controls.register(ticket.0),
            log: CallLog {
                tickets: svc.tickets.clone(),
                ticket,
                registry: svc.registry.clone(),
                key,
                heard: None,
                pending_speech: None,
                sentiments: Vec::new(),
            },
        };
        let (disposition, note) = call.run(setup).await;
        svc.controls.remove(ticket.0);
        call.finish(disposition, note).await;
    }
    .instrument(span)
    .await
}

/// RFC 3339 for the live view.
fn rfc3339_now() -> String {
    serde_json::to_value(Timestamp::now())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

struct Call {
    key: CallKey,
    ticket: TicketId,
    svc: Arc<CallServices>,
    sip_rx: mpsc::Receiver<SipEvent>,
    media: Option<MediaHandle>,
    media_rx: Option<mpsc::Receiver<MediaEvent>>,
    /// Caller audio frames, when speech recognition is available.
    caller_rx: Option<mpsc::Receiver<Vec<i16>>>,
    port: Option<u16>,
    /// Since when the caller holds the call; a hold that never ends is hung up.
    held_since: Option<tokio::time::Instant>,
    /// The dialplan's backend request in flight, if any (dropping it cancels it).
    http: Option<PendingHttp>,
    /// Waiting in an agent queue, or talking to an agent.
    queue: Option<queue::Queueing>,
    /// Agent legs bridged so far (transfers make several); names their recordings.
    agent_legs: u32,
    /// Supervisor legs attached so far; names their recordings.
    supervisor_legs: u32,
    /// The agent who placed this call (digest-authenticated), e.g. a consultation.
    placed_by: Option<String>,
    /// Our and the caller's dialog tags, for matching a Replaces header.
    dialog_tags: (String, String),
    /// Commands from the API (supervision) and from other calls (hand-over).
    control_rx: mpsc::Receiver<crate::call::CallControl>,
    log: CallLog,
}

impl Call {
    async fn sip(&self, cmd: SipCommand) {
        let _ = self.svc.sip.send(cmd).await;
    }

    async fn bind_rtp(&mut self) -> Option<UdpSocket> {
        let (socket, port) = self.bind_media_port().await?;
        self.port = Some(port);
        Some(socket)
    }

    /// A UDP socket on a free port of the RTP range, for one call leg.
    async fn bind_media_port(&self) -> Option<(UdpSocket, u16)> {
        for _ in 0..8 {
            let port = self.svc.ports.allocate()?;
            match UdpSocket::bind(SocketAddr::new(self.svc.media_ip, port)).await {
                Ok(socket) => return Some((socket, port)),
                // Taken by another process: keep it marked used so we stop trying it.
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                // Any other failure (e.g. out of file descriptors) gives the port back.
                Err(_) => {
                    self.svc.ports.release(port);
                    return None;
                }
            }
        }
        None
    }

    /// What voxdesk offers on a leg whose RTP socket is on `port`.
    fn local_media(&self, port: u16) -> LocalMedia {
        LocalMedia {
            addr: self.svc.media_ip,
            port,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            dtmf_pt: 101,
            ptime_ms: 20,
        }
    }

    /// A leg's media settings from its negotiated SDP and the `[media]` config.
    fn media_config(&self, n: &Negotiated, record_path: Option<PathBuf>) -> MediaConfig {
        let cfg = &self.svc.config.media;
        let mut media_cfg = MediaConfig::new(n.codec);
        media_cfg.audio_pt = n.codec_pt;
        media_cfg.dtmf_pt = n.dtmf_pt;
        media_cfg.remote = n.remote_rtp;
        media_cfg.rtp_timeout = Duration::from_secs(cfg.rtp_timeout_secs);
        media_cfg.record_path = record_path;
        media_cfg.jitter_depth = cfg.jitter_depth;
        media_cfg
    }

    async fn run(&mut self, setup: IncomingCall) -> (Disposition, Option<String>) {
        let key = self.key;
        let Some(socket) = self.bind_rtp().await else {
            self.sip(SipCommand::Reject(key, 503)).await;
            return (Disposition::Failed, Some("no RTP port free".into()));
        };
        let local = self.local_media(self.port.unwrap_or(0));
        let mut origin = SessionOrigin::new(rand::random::<u32>() >> 1);
        let (mut negotiated, local_sdp) = match &setup.offer {
            Some(offer) => match sdp::answer(offer, &local, &mut origin) {
                Ok((n, text)) => (Some(n), text),
                Err(e) => {
                    self.sip(SipCommand::Reject(key, e.sip_status())).await;
                    return (Disposition::Failed, Some(format!("SDP: {e}")));
                }
            },
            None => (None, sdp::offer(&local, &mut origin)),
        };

        let mut vars = HashMap::new();
        vars.insert("caller".to_string(), user_part(&setup.from));
        vars.insert("called".to_string(), user_part(&setup.to));
        vars.insert("call_id".to_string(), setup.call_id.clone());
        vars.insert("request_uri".to_string(), setup.request_uri.clone());
        let called = user_part(&setup.request_uri);
        let consultation = match &setup.agent {
            Some(agent) => self.consultation(agent, &called).await,
            None => None,
        };
        let internal = consultation.is_some();
        let plan = consultation.unwrap_or_else(|| self.svc.dialplans.for_user(&called).clone());
        self.log.turn(
            TurnKind::Note,
            format!("dialplan {} ({})", plan.name, plan.file),
            json!({"dialplan": plan.name, "file": plan.file, "called": called}),
        );
        let mut interp = Interp::new(plan, vars);
        if let Some(today) = crate::bot::entities::today_utc() {
            interp.set_today(today);
        }
        // A consultation between agents is theirs: no bot listens in.
        if self.svc.asr.is_none() || internal {
            interp.disable_speech();
        }
        interp.start(Instant::now());
        // Run the plan up to its first media action: a plan that transfers before saying
        // anything is redirected with 302 and never answered.
        let mut pending: VecDeque<Action> = VecDeque::new();
        while let Some(action) = interp.poll_action() {
            match action {
                Action::Record(rec) => self.log.record(rec),
                Action::Transfer { target } if pending.is_empty() => {
                    self.svc.tickets.set_transfer(self.ticket, &target);
                    self.log.turn(
                        TurnKind::Transfer,
                        format!("302 to {target}"),
                        json!({"target": target, "method": "302"}),
                    );
                    self.sip(SipCommand::Redirect(key, target)).await;
                    return (Disposition::Transferred, None);
                }
                Action::Hangup { disposition } if pending.is_empty() => {
                    self.sip(SipCommand::Reject(key, 480)).await;
                    return (map_disposition(disposition), None);
                }
                other => {
                    pending.push_back(other);
                    break;
                }
            }
        }

        let delay = Duration::from_millis(self.svc.config.sip.answer_delay_ms);
        if !delay.is_zero() {
            self.sip(SipCommand::Ringing(key)).await;
            let until = tokio::time::Instant::now() + delay;
            loop {
                tokio::select! {
                    ev = self.sip_rx.recv() => match ev {
                        Some(SipEvent::Cancelled(_) | SipEvent::RemoteBye(_) | SipEvent::Ended(_)) | None => {
                            return (Disposition::CallerHungUp, Some("cancelled before answer".into()));
                        }
                        Some(_) => {}
                    },
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
        }
        if *self.svc.draining.borrow() {
            // Shutting down: better another node (or a retry) than a call cut in seconds.
            self.sip(SipCommand::Reject(key, 503)).await;
            return (Disposition::Failed, Some("server draining".into()));
        }
        self.sip(SipCommand::Answer(key, local_sdp)).await;
        self.svc
            .registry
            .update(key, |c| c.state = "answering".into());

        // Wait for the ACK: media and prompts start only then.
        loop {
            match self.sip_rx.recv().await {
                Some(SipEvent::Acked { answer, .. }) => {
                    if negotiated.is_none() {
                        match answer.as_deref().map(|a| sdp::accept_answer(a, &local)) {
                            Some(Ok(n)) => negotiated = Some(n),
                            Some(Err(e)) => {
                                self.sip(SipCommand::Hangup(key)).await;
                                return (Disposition::Failed, Some(format!("SDP in ACK: {e}")));
                            }
                            None => {
                                self.sip(SipCommand::Hangup(key)).await;
                                return (Disposition::Failed, Some("no SDP answer in ACK".into()));
                            }
                        }
                    }
                    break;
                }
                Some(SipEvent::AckTimeout(_)) => {
                    return (Disposition::Failed, Some("no ACK for 200 OK".into()));
                }
                Some(SipEvent::Cancelled(_) | SipEvent::RemoteBye(_) | SipEvent::Ended(_))
                | None => {
                    return (Disposition::CallerHungUp, None);
                }
                Some(_) => {}
            }
        }
        let Some(negotiated) = negotiated else {
            return (Disposition::Failed, None);
        };
        self.svc.tickets.answered(self.ticket, Timestamp::now());
        self.svc
            .registry
            .update(key, |c| c.state = "answered".into());
        self.start_media(socket, &negotiated);

        match self.converse(interp, pending, local, origin).await {
            Outcome::HangUp(d, note) => {
                self.sip(SipCommand::Hangup(key)).await;
                (d, note)
            }
            Outcome::Gone(d, note) => (d, note),
        }
    }

    fn start_media(&mut self, socket: UdpSocket, n: &Negotiated) {
        if !n.sends() {
            self.held_since = Some(tokio::time::Instant::now());
        }
        let cfg = &self.svc.config.media;
        let record_path = cfg.record.then(|| {
            self.svc
                .recordings_dir
                .join(format!("{}.wav", self.ticket.0))
        });
        let mut media_cfg = self.media_config(n, record_path.clone());
        if self.svc.asr.is_some() {
            // A second of audio: the call task drains it every frame unless it is stuck.
            let (tx, rx) = mpsc::channel(CALLER_AUDIO_FRAMES);
            media_cfg.caller_audio = Some(tx);
            self.caller_rx = Some(rx);
        }
        let (handle, events) = MediaSession::start(socket, media_cfg);
        if !(n.sends() && n.receives()) {
            let _ = handle.set_direction(n.sends(), n.receives());
        }
        if let Some(path) = record_path {
            self.svc
                .tickets
                .set_recording(self.ticket, &path.to_string_lossy());
        }
        self.media = Some(handle);
        self.media_rx = Some(events);
    }

    /// The answered call: dialplan actions out, SIP/media/timer events in.
    async fn converse(
        &mut self,
        mut interp: Interp,
        mut pending: VecDeque<Action>,
        local: LocalMedia,
        mut origin: SessionOrigin,
    ) -> Outcome {
        let key = self.key;
        let mut draining = self.svc.draining.clone();
        let mut shutdown_at: Option<tokio::time::Instant> = None;
        let mut transfer_deadline: Option<tokio::time::Instant> = None;
        let limits = &self.svc.config;
        let max_end =
            tokio::time::Instant::now() + Duration::from_secs(limits.limits.max_call_secs);
        let hold_timeout = Duration::from_secs(limits.media.hold_timeout_secs);
        let notify_wait = Duration::from_secs(self.svc.config.sip.transfer_notify_timeout_secs);
        if self.media_rx.is_none() {
            return Outcome::HangUp(Disposition::Failed, Some("media did not start".into()));
        }
        if *draining.borrow() {
            shutdown_at = Some(tokio::time::Instant::now());
        }
        let mut listener = Listener::new(&self.svc.config.speech.endpoint);
        let mut jobs: Jobs = Vec::new();
        loop {
            // Actions change what the listener does and its outputs feed the interpreter:
            // settle both before waiting again.
            loop {
                let mut busy = self.pump_listener(&mut listener, &mut jobs, &mut interp);
                while let Some(action) = pending.pop_front().or_else(|| interp.poll_action()) {
                    busy = true;
                    if let Some(outcome) = self.execute(action, &mut interp, &mut listener).await {
                        return outcome;
                    }
                }
                if !busy {
                    break;
                }
            }
            let interp_deadline = interp.poll_timeout().map(tokio::time::Instant::from_std);
            let hold_end = self.held_since.map(|since| since + hold_timeout);
            let wake = [
                interp_deadline,
                transfer_deadline,
                shutdown_at,
                hold_end,
                Some(max_end),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = self.sip_rx.recv() => {
                    let Some(ev) = ev else {
                        return Outcome::Gone(Disposition::Failed, Some("SIP layer stopped".into()));
                    };
                    if event_key(&ev).is_some_and(|k| k != key) {
                        if event_key(&ev).is_some_and(|k| self.is_agent_leg(k)) {
                            self.on_agent_leg_event(ev, &mut interp).await;
                        }
                        continue;
                    }
                    match ev {
                        SipEvent::RemoteBye(_) | SipEvent::Cancelled(_) => {
                            return Outcome::Gone(
                                if transfer_deadline.is_some() { Disposition::Transferred } else { Disposition::CallerHungUp },
                                None,
                            );
                        }
                        SipEvent::Ended(_) => {
                            return Outcome::Gone(Disposition::Failed, Some("dialog ended".into()));
                        }
                        SipEvent::Info { body, .. } => {
                            if let Some(digit) = parse_dtmf_relay(&body) {
                                if !self.forward_caller_dtmf(digit) {
                                    interp.handle_event(Event::Dtmf(digit), Instant::now());
                                }
                            }
                        }
                        SipEvent::ReInvite { offer, .. } => self.reinvite(offer, &local, &mut origin).await,
                        SipEvent::ReferResponse(_, code) if (200..300).contains(&code) => {
                            transfer_deadline = Some(tokio::time::Instant::now() + notify_wait);
                        }
                        SipEvent::ReferResponse(_, code) => {
                            self.svc.registry.update(key, |c| c.state = "answered".into());
                            interp.handle_event(
                                Event::TransferFailed { reason: format!("REFER answered {code}") },
                                Instant::now(),
                            );
                        }
                        SipEvent::TransferProgress(_, code) if (200..300).contains(&code) => {
                            self.log.turn(TurnKind::Transfer, format!("transfer completed ({code})"), json!({"code": code}));
                            return Outcome::HangUp(Disposition::Transferred, None);
                        }
                        SipEvent::TransferProgress(_, code) if code >= 300 => {
                            transfer_deadline = None;
                            self.svc.registry.update(key, |c| c.state = "answered".into());
                            interp.handle_event(
                                Event::TransferFailed { reason: format!("transfer target answered {code}") },
                                Instant::now(),
                            );
                        }
                        _ => {}
                    }
                }
                ev = next_media_event(&mut self.media_rx) => match ev {
                    Some(MediaEvent::Dtmf(digit)) => {
                        if !self.forward_caller_dtmf(digit) {
                            interp.handle_event(Event::Dtmf(digit), Instant::now())
                        }
                    }
                    Some(MediaEvent::PlaybackStarted(_)) => self.log.reply_started(Instant::now()),
                    Some(MediaEvent::PlaybackFinished(id)) => {
                        if !self.prompt_ended(id) {
                            interp.handle_event(Event::PromptFinished(PromptId(id)), Instant::now())
                        }
                    }
                    Some(MediaEvent::PlaybackStopped(id)) => {
                        if !self.prompt_ended(id) {
                            interp.handle_event(Event::PromptStopped(PromptId(id)), Instant::now())
                        }
                    }
                    Some(MediaEvent::RtpTimeout) => {
                        return Outcome::HangUp(Disposition::Failed, Some("RTP timeout".into()));
                    }
                    Some(MediaEvent::Stopped(_)) | None => {
                        return Outcome::HangUp(Disposition::Failed, Some("media stopped".into()));
                    }
                },
                Some(command) = self.control_rx.recv() => {
                    if self.on_control(command, &interp).await {
                        return Outcome::Gone(Disposition::Transferred, Some("consultation handed over".into()));
                    }
                }
                input = queue::next_input(&mut self.queue) => match input {
                    QueueInput::Notice(Some(notice)) => self.on_queue_notice(notice, &mut interp).await,
                    // The ACD is gone (shutting down): the caller waits for the dialplan's timeout.
                    QueueInput::Notice(None) => self.leave_queue(Leaving::Moved).await,
                    QueueInput::AgentMedia(ev) => {
                        if self.agent_media_event(ev) {
                            self.agent_media_failed(&mut interp).await;
                        }
                    }
                    QueueInput::TransferUnanswered => self.transfer_unanswered(&mut interp).await,
                    QueueInput::AgentEar(input) => self.on_agent_ear(input),
                },
                frame = next_frame(&mut self.caller_rx) => match frame {
                    Some(frame) => listener.push_frame(&frame, Instant::now()),
                    None => self.caller_rx = None,
                },
                (id, outcome) = http::next_outcome(&mut self.http), if self.http.is_some() => {
                    interp.handle_event(Event::HttpDone { id, outcome }, Instant::now());
                }
                (job, result) = next_job(&mut jobs), if !jobs.is_empty() => match result {
                    Ok(transcript) => listener.transcribed(job, transcript, Instant::now()),
                    Err(()) => listener.failed(job),
                },
                _ = sleep => {
                    let now = tokio::time::Instant::now();
                    if max_end <= now {
                        return Outcome::HangUp(Disposition::Failed, Some("maximum call duration reached".into()));
                    }
                    if hold_end.is_some_and(|t| t <= now) {
                        return Outcome::HangUp(Disposition::Failed, Some("on hold too long".into()));
                    }
                    if shutdown_at.is_some_and(|t| t <= now) {
                        return Outcome::HangUp(Disposition::Failed, Some("server shutting down".into()));
                    }
                    if transfer_deadline.is_some_and(|t| t <= now) {
                        // The transferee accepted the REFER; its NOTIFY is a courtesy.
                        return Outcome::HangUp(Disposition::Transferred, None);
                    }
                    interp.handle_timeout(Instant::now());
                }
                changed = draining.changed(), if shutdown_at.is_none() => {
                    if changed.is_err() || *draining.borrow() {
                        let grace = Duration::from_secs(self.svc.config.shutdown.grace_secs);
                        shutdown_at = Some(tokio::time::Instant::now() + grace);
                    }
                }
            }
        }
    }

    /// Carries out one interpreter action; `Some` ends the call.
    async fn execute(
        &mut self,
        action: Action,
        interp: &mut Interp,
        listener: &mut Listener,
    ) -> Option<Outcome> {
        match action {
            Action::Record(rec) => self.log.record(rec),
            Action::Listen { hints } => listener.listen(hints, Instant::now()),
            Action::StopListening => listener.stop(),
            Action::Say {
                id, text, voice, ..
            } => {
                self.announcement_starts();
                self.say(id, &text, &voice, interp).await
            }
            Action::Play { id, path, .. } => {
                let audio = self.svc.prompts.load_wav_async(&path).await;
                self.play(id, audio.map_err(|e| e.to_string()), interp);
            }
            Action::StopPrompt { .. } => {
                if let Some(media) = &self.media {
                    let _ = media.stop_playback();
                }
            }
            Action::Transfer { target } => {
                self.svc.tickets.set_transfer(self.ticket, &target);
                self.svc
                    .registry
                    .update(self.key, |c| c.state = "transferring".into());
                self.sip(SipCommand::Refer(self.key, target)).await;
            }
            Action::Hangup { disposition } => {
                return Some(Outcome::HangUp(map_disposition(disposition), None));
            }
            // The interpreter waits for one request at a time; a newer one replaces (cancels)
            // any it gave up on.
            Action::Http { id, request } => self.http = Some(http::start(id, request)),
            // Agent queues are not wired to `acd/` yet: a queued caller is turned away at once
            // (the step's `on_full`) rather than held in silence until `max_wait`.
            Action::Queue {
                id,
                name,
                priority,
                skill,
                agent,
                hold_music,
            } => {
                let info = CallerInfo {
                    priority,
                    skill,
                    agent,
                    ..CallerInfo::default()
                };
                self.join_queue(id, name, info, hold_music, interp).await;
            }
            Action::LeaveQueue { .. } => self.leave_queue(Leaving::TimedOut).await,
        }
        None
    }

    /// Speaks `text`, streamed: the first sentence plays as soon as it is synthesized and the
    /// rest is appended to the same prompt.
    async fn say(&self, id: PromptId, text: &str, voice: &str, interp: &mut Interp) {
        let (first, rest) = split_first_sentence(text);
        if rest.is_empty() {
            let audio = self.svc.prompts.synthesize_async(text, voice).await;
            self.play(id, audio.map_err(|e| e.to_string()), interp);
            return;
        }
        let Some(media) = &self.media else {
            self.play(id, Err("no media".into()), interp);
            return;
        };
        let started = match self.svc.prompts.synthesize_async(first, voice).await {
            Ok(audio) => media.play_streamed(id.0, audio).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            self.play(id, Err(e), interp);
            return;
        }
        let rest = match self.svc.prompts.synthesize_async(rest, voice).await {
            Ok(audio) => audio,
            Err(e) => {
                warn!(error = %e, "rest of a prompt failed; ending it early");
                Arc::from(Vec::new())
            }
        };
        let _ = media.append(id.0, rest, true);
    }

    fn play(&self, id: PromptId, audio: Result<Arc<[i16]>, String>, interp: &mut Interp) {
        let sent = match (audio, &self.media) {
            (Ok(samples), Some(media)) => media.play(id.0, samples).map_err(|e| e.to_string()),
            (Err(e), _) => Err(e),
            (_, None) => Err("no media".into()),
        };
        if let Err(e) = sent {
            warn!(error = %e, "prompt failed; skipping it");
            self.log
                .turn(TurnKind::Note, format!("prompt failed: {e}"), json!(null));
            interp.handle_event(Event::PromptFinished(id), Instant::now());
        }
    }

    async fn reinvite(
        &mut self,
        offer: Option<String>,
        local: &LocalMedia,
        origin: &mut SessionOrigin,
    ) {
        let Some(offer) = offer else {
            // We would have to offer and read the answer from the ACK; refuse instead.
            self.sip(SipCommand::AnswerReinvite(self.key, Err(488)))
                .await;
            return;
        };
        match sdp::answer(&offer, local, origin) {
            Ok((n, text)) => {
                if let Some(media) = &self.media {
                    if let Some(remote) = n.remote_rtp {
                        let _ = media.set_remote(remote);
                    }
                    let _ = media.set_direction(n.sends(), n.receives());
                }
                let held = queue::hold::offer_holds(&n);
                self.held_since = match (held, self.held_since) {
                    (true, since) => since.or(Some(tokio::time::Instant::now())),
                    (false, _) => None,
                };
                self.log.turn(
                    TurnKind::Note,
                    if held {
                        "caller put the call on hold"
                    } else {
                        "call resumed"
                    },
                    json!({"direction": n.local_direction.attribute()}),
                );
                self.svc.registry.update(self.key, |c| {
                    c.state = if held { "held" } else { "answered" }.into()
                });
                // While bridged, the agent hears hold music meanwhile (and the state says so).
                self.caller_holds(held);
                self.sip(SipCommand::AnswerReinvite(self.key, Ok(text)))
                    .await;
            }
            Err(e) => {
                self.sip(SipCommand::AnswerReinvite(self.key, Err(e.sip_status())))
                    .await;
            }
        }
    }

    /// Stops media, writes the final ticket state, frees the port and the registry entry.
    async fn finish(&mut self, disposition: Disposition, note: Option<String>) {
        self.leave_queue(Leaving::CallerGone).await;
        self.log.flush();
        self.log.summarize_sentiment();
        if let Some(note) = &note {
            self.log.turn(TurnKind::Note, note.clone(), json!(null));
        }
        if let Some(media) = self.media.take() {
            let _ = media.shutdown();
            if let Some(rx) = self.media_rx.as_mut() {
                if let Some(stats) = wait_stopped(rx).await {
                    record_media_stats(&stats);
                }
            }
        }
        self.svc
            .tickets
            .finish(self.ticket, Timestamp::now(), disposition);
        if let Some(port) = self.port.take() {
            self.svc.ports.release(port);
        }
        self.svc.registry.remove(self.key);
        info!(
            disposition = disposition.as_str(),
            note = note.as_deref().unwrap_or(""),
            "call ended"
        );
    }
}

/// Waits briefly for a shut-down session's last event (its recording closed, its counters).
async fn wait_stopped(
    rx: &mut mpsc::Receiver<MediaEvent>,
) -> Option<Box<crate::media::session::MediaStats>> {
    tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(ev) = rx.recv().await {
            if let MediaEvent::Stopped(stats) = ev {
                return Some(stats);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The next media event; never resolves when media is not running.
async fn next_media_event(rx: &mut Option<mpsc::Receiver<MediaEvent>>) -> Option<MediaEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn record_media_stats(stats: &crate::media::session::MediaStats) {
    let m = crate::metrics::global();
    m.rtp_packets_sent.add(stats.packets_sent);
    m.rtp_packets_received.add(stats.packets_received);
    m.rtp_packets_lost.add(stats.jitter.lost);
    m.rtp_packets_late.add(stats.jitter.late);
}

/// Splits after the first sentence end (`. `, `? `, `! `) when more text follows.
fn split_first_sentence(text: &str) -> (&str, &str) {
    let end = text
        .char_indices()
        .zip(text.chars().skip(1))
        .find(|((_, c), next)| matches!(c, '.' | '?' | '!') && next.is_whitespace())
        .map(|((i, _), _)| i + 1);
    match end {
        Some(end) => match (text.get(..end), text.get(end..)) {
            (Some(first), Some(rest)) if !rest.trim().is_empty() => (first, rest.trim_start()),
            _ => (text, ""),
        },
        None => (text, ""),
    }
}

/// `alice` from `sip:alice@host`.
fn user_part(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    match rest.split_once('@') {
        Some((user, _)) => user.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::split_first_sentence;

    #[test]
    fn first_sentence_is_split_off() {
        let cases = [
            ("Hello. How can I help?", ("Hello.", "How can I help?")),
            ("One sentence only.", ("One sentence only.", "")),
            (
                "Open 8 a.m. to 8 p.m. daily",
                ("Open 8 a.m.", "to 8 p.m. daily"),
            ),
            ("Wait... what?", ("Wait...", "what?")),
            ("Trailing space. ", ("Trailing space. ", "")),
            ("", ("", "")),
        ];
        for (text, want) in cases {
            assert_eq!(split_first_sentence(text), want, "{text:?}");
        }
    }
}
