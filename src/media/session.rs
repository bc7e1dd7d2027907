//! The tokio shell for one call's RTP: one task owning the UDP socket, a 20 ms pacer, and the
//! sans-IO parts (RTP stamping, jitter buffer, DTMF receiver, G.711, recorder).
//!
//! `call/` talks to it through a [`MediaHandle`] (bounded command queue) and reads
//! [`MediaEvent`]s from a bounded channel. The only file in `media/` that uses tokio.
//!
//! Pacing: `tokio::time::interval` with `MissedTickBehavior::Burst`, so after a short stall
//! (scheduler hiccup) the missed frames go out at once and the stream keeps exactly 50
//! packets/s with timestamps matching wall-clock time; the remote jitter buffer absorbs a
//! burst of a few frames. `Delay` would instead shift every later frame, so the stream's
//! timestamps fall behind real time for good, and `Skip` would silently drop prompt audio.
//! A long stall (more than [`MAX_CATCH_UP`]) is not replayed as a burst: the interval is reset
//! and the RTP timestamp jumps by the skipped samples (no sequence gap), which receivers treat
//! as a pause, like silence suppression.
//!
//! Every tick also pops one caller frame from the jitter buffer (silence when missing) and
//! hands both sides to the recorder, so the WAV channels stay aligned with wall-clock time.
//! Symmetric RTP: the first valid packet (codec or DTMF payload type) from any address latches
//! the send destination to that address; packets from other addresses are then ignored until
//! `set_remote` re-arms latching.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

use super::dtmf::DtmfReceiver;
use super::histogram::IntervalHistogram;
use super::jitter::{JitterBuffer, JitterStats};
use super::recorder::CallRecorder;
use super::rtp::{RtpPacket, RtpSender};
use super::{Codec, FRAME_SAMPLES};

/// One frame on the wire.
const FRAME: Duration = Duration::from_millis(20);
/// Longest stall that is caught up by bursting missed frames.
pub const MAX_CATCH_UP: Duration = Duration::from_millis(100);
/// Pending commands per session.
const COMMAND_QUEUE: usize = 32;
/// Pending events per session.
const EVENT_QUEUE: usize = 64;
/// Prompts queued behind the one playing; more are refused with `PlaybackStopped`.
const MAX_QUEUED_PROMPTS: usize = 16;
/// Largest datagram read; anything longer is truncated (and then fails to parse or is cut).
const MAX_DATAGRAM: usize = 2048;
/// How long the final `Stopped` event may wait for room in the event queue.
const STOPPED_SEND_TIMEOUT: Duration = Duration::from_secs(1);

const SILENCE: [i16; FRAME_SAMPLES] = [0; FRAME_SAMPLES];

/// How to run one call's media.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The negotiated audio codec.
    pub codec: Codec,
    /// Its payload type on this call: the static one unless the offer mapped the codec to a
    /// dynamic number, which the answer must keep (RFC 3264 §6.1).
    pub audio_pt: u8,
    /// The negotiated RFC 4733 telephone-event payload type, if any.
    pub dtmf_pt: Option<u8>,
    /// Where to send until packets arrive (from SDP); nothing is sent while unknown.
    pub remote: Option<SocketAddr>,
    /// Emit [`MediaEvent::RtpTimeout`] after this long without a packet (not while on hold).
    pub rtp_timeout: Duration,
    /// Record the call as a stereo WAV here.
    pub record_path: Option<PathBuf>,
    /// Jitter buffer depth in 20 ms frames.
    pub jitter_depth: usize,
    /// Receives each 20 ms caller frame (silence for missing frames) while receiving is on;
    /// frames are dropped when it is full.
    pub caller_audio: Option<mpsc::Sender<Vec<i16>>>,
}

impl MediaConfig {
    /// Defaults: no DTMF, no remote yet, 30 s RTP timeout, no recording, 3-frame jitter buffer.
    pub fn new(codec: Codec) -> MediaConfig {
        MediaConfig {
            codec,
            audio_pt: codec.payload_type(),
            dtmf_pt: None,
            remote: None,
            rtp_timeout: Duration::from_secs(30),
            record_path: None,
            jitter_depth: 3,
            caller_audio: None,
        }
    }
}

/// What `call/` asks of a running session.
#[derive(Debug, Clone)]
pub enum MediaCommand {
    /// Queue 8 kHz mono audio after what is playing. Playback only advances while audio is
    /// actually sent (a destination is known and sending is on), so nothing is skipped unheard.
    Play {
        /// Reported back in `PlaybackFinished`/`PlaybackStopped`.
        id: u64,
        /// The audio.
        samples: Arc<[i16]>,
        /// More audio follows with `Append`: the prompt does not finish when this runs out
        /// (silence is sent while waiting).
        open: bool,
    },
    /// More audio for an open prompt (streamed TTS); ignored if the prompt was stopped.
    Append {
        /// The prompt.
        id: u64,
        /// The audio to add.
        samples: Arc<[i16]>,
        /// Nothing more follows: the prompt finishes when its audio runs out.
        last: bool,
    },
    /// Barge-in: drop the current and queued prompts now.
    StopPlayback,
    /// New remote address from SDP; re-arms symmetric-RTP latching.
    SetRemote(SocketAddr),
    /// Hold/resume: whether to send and to receive.
    SetDirection {
        /// Send audio.
        send: bool,
        /// Accept audio and DTMF.
        recv: bool,
    },
    /// Finish the recording and end the task.
    Shutdown,
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A DTMF digit from RFC 4733 packets.
    Dtmf(char),
    /// The first packet of the prompt with this id was sent.
    PlaybackStarted(u64),
    /// The prompt with this id was sent completely.
    PlaybackFinished(u64),
    /// The prompt with this id was cleared before it finished (barge-in, queue full, shutdown).
    PlaybackStopped(u64),
    /// No RTP for `rtp_timeout` (reported once per session).
    RtpTimeout,
    /// The task ended; final counters.
    Stopped(MediaStats),
}

/// Counters of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MediaStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Datagrams received (valid or not).
    pub packets_received: u64,
    /// Datagrams that were not RTP.
    pub packets_invalid: u64,
    /// RTP packets with an unexpected payload type or from a non-latched source.
    pub packets_ignored: u64,
    /// DTMF digits reported.
    pub dtmf_digits: u64,
    /// Socket send failures.
    pub send_errors: u64,
    /// Frames not sent because the pacer fell more than `MAX_CATCH_UP` behind.
    pub frames_skipped: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Caller frames dropped because the `caller_audio` channel was full.
    pub caller_frames_dropped: u64,
    /// The caller stream's jitter buffer.
    pub jitter: JitterStats,
    /// Median time between sent packets, over the last minute.
    pub send_interval_us_p50: u64,
    /// 99th percentile time between sent packets, over the last minute.
    pub send_interval_us_p99: u64,
    /// Longest time between sent packets, over the last minute.
    pub send_interval_us_max: u64,
    /// Why the recording failed, if it did.
    pub recording_error: Option<String>,
}

/// Why a command could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The command queue is full (the session task is stuck); try again or tear down.
    #[error("media command queue is full")]
    Busy,
    /// The session task has ended.
    #[error("media session has ended")]
    Closed,
}

impl<T> From<mpsc::error::TrySendError<T>> for MediaError {
    fn from(err: mpsc::error::TrySendError<T>) -> Self {
        match err {
            mpsc::error::TrySendError::Full(_) => MediaError::Busy,
            mpsc::error::TrySendError::Closed(_) => MediaError::Closed,
        }
    }
}

/// Controls one running session. Methods use `try_send` so the call task never blocks on
/// media; a full queue means the session is stuck and is reported as [`MediaError::Busy`].
/// Dropping every handle shuts the session down like [`MediaHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct MediaHandle {
    commands: mpsc::Sender<MediaCommand>,
}

impl MediaHandle {
    /// Queues 8 kHz mono audio after what is playing.
    pub fn play(&self, id: u64, samples: Arc<[i16]>) -> Result<(), MediaError> {
        self.send(MediaCommand::Play {
            id,
            samples,
            open: false,
        })
    }

    /// Starts a prompt whose rest will come with [`Self::append`].
    pub fn play_streamed(&self, id: u64, first: Arc<[i16]>) -> Result<(), MediaError> {
        self.send(MediaCommand::Play {
            id,
            samples: first,
            open: true,
        })
    }

    /// Adds audio to a streamed prompt; `last` closes it.
    pub fn append(&self, id: u64, samples: Arc<[i16]>, last: bool) -> Result<(), MediaError> {
        self.send(MediaCommand::Append { id, samples, last })
    }

    /// Clears the playing and queued prompts (each reported as `PlaybackStopped`).
    pub fn stop_playback(&self) -> Result<(), MediaError> {
        self.send(MediaCommand::StopPlayback)
    }

    /// Sets the remote address from a new SDP and re-arms latching.
    pub fn set_remote(&self, addr: SocketAddr) -> Result<(), MediaError> {
        self.send(MediaCommand::SetRemote(addr))
    }

    /// Hold/resume. While either direction is off, the RTP timeout is suspended.
    pub fn set_direction(&self, send: bool, recv: bool) -> Result<(), MediaError> {
        self.send(MediaCommand::SetDirection { send, recv })
    }

    /// Finishes the recording and ends the task; `Stopped` is the last event.
    pub fn shutdown(&self) -> Result<(), MediaError> {
        self.send(MediaCommand::Shutdown)
    }

    fn send(&self, command: MediaCommand) -> Result<(), MediaError> {
        Ok(self.commands.try_send(command)?)
    }
}

struct Prompt {
    id: u64,
    samples: Arc<[i16]>,
    position: usize,
    /// Waiting for appended audio.
    open: bool,
}

/// The state of one session's task; see [`MediaSession::start`].
pub struct MediaSession {
    codec: Codec,
    audio_pt: u8,
    dtmf_pt: Option<u8>,
    remote: Option<SocketAddr>,
    /// Where the caller's packets really come from; `None` = latch on the next valid packet.
    latched: Option<SocketAddr>,
    send_enabled: bool,
    recv_enabled: bool,
    rtp_timeout: Duration,
    last_rx: Instant,
    timed_out: bool,
    sender: RtpSender,
    jitter: JitterBuffer,
    dtmf: DtmfReceiver,
    recorder: Option<CallRecorder>,
    caller_audio: Option<mpsc::Sender<Vec<i16>>>,
    prompts: VecDeque<Prompt>,
    events: mpsc::Sender<MediaEvent>,
    last_send: Option<Instant>,
    send_intervals: IntervalHistogram,
    stats: MediaStats,
}

impl MediaSession {
    /// Spawns the session task on the current tokio runtime.
    pub fn start(socket: UdpSocket, cfg: MediaConfig) -> (MediaHandle, mpsc::Receiver<MediaEvent>) {
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let session = MediaSession::new(cfg, event_tx, Instant::now());
        tokio::spawn(session.run(socket, command_rx));
        (
            MediaHandle {
                commands: command_tx,
            },
            event_rx,
        )
    }

    fn new(cfg: MediaConfig, events: mpsc::Sender<MediaEvent>, now: Instant) -> MediaSession {
        let mut stats = MediaStats::default();
        let recorder = cfg.record_path.as_ref().and_then(|path| {
            CallRecorder::create(path)
                .inspect_err(|err| {
                    warn!(path = %path.display(), %err, "cannot record call");
                    stats.recording_error = Some(err.to_string());
                })
                .ok()
        });
        MediaSession {
            codec: cfg.codec,
            audio_pt: cfg.audio_pt & 0x7F,
            dtmf_pt: cfg.dtmf_pt,
            remote: cfg.remote,
            latched: None,
            send_enabled: true,
            recv_enabled: true,
            rtp_timeout: cfg.rtp_timeout,
            last_rx: now,
            timed_out: false,
            sender: RtpSender::new(cfg.audio_pt & 0x7F)
                .unwrap_or_else(|_| RtpSender::for_codec(cfg.codec)),
            jitter: JitterBuffer::new(cfg.jitter_depth),
            dtmf: DtmfReceiver::new(),
            recorder,
            caller_audio: cfg.caller_audio,
            prompts: VecDeque::new(),
            events,
            last_send: None,
            send_intervals: IntervalHistogram::default(),
            stats,
        }
    }

    async fn run(mut self, socket: UdpSocket, mut commands: mpsc::Receiver<MediaCommand>) {
        let mut ticker = tokio::time::interval(FRAME);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            tokio::select! {
                scheduled = ticker.tick() => {
                    let now = Instant::now();
                    let lag = now.saturating_duration_since(scheduled);
                    if lag > MAX_CATCH_UP {
                        let missed = (lag.as_micros() / FRAME.as_micros()) as u32;
                        ticker.reset();
                        self.sender.skip(missed.saturating_mul(FRAME_SAMPLES as u32));
                        self.stats.frames_skipped += u64::from(missed);
                    }
                    self.on_tick(&socket, now).await;
                }
                received = socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        let datagram = buf.get(..len).unwrap_or_default();
                        self.on_datagram(datagram, from, Instant::now());
                    }
                    Err(err) => debug!(%err, "rtp recv failed"),
                },
                command = commands.recv() => match command {
                    None | Some(MediaCommand::Shutdown) => break,
                    Some(command) => self.on_command(command, Instant::now()),
                },
            }
        }
        self.finish().await;
    }

    async fn on_tick(&mut self, socket: &UdpSocket, now: Instant) {
        let destination = self.latched.or(self.remote);
        let mut bot_frame = None;
        if let (true, Some(destination)) = (self.send_enabled, destination) {
            let (frame, started, finished) = self.next_bot_frame();
            let packet = self.sender.next(
                &self.codec.encode(&frame),
                FRAME_SAMPLES as u32,
                started.is_some(),
            );
            match socket.send_to(&packet, destination).await {
                Ok(_) => self.note_sent(now),
                Err(err) => {
                    self.stats.send_errors += 1;
                    debug!(%err, %destination, "rtp send failed");
                }
            }
            if let Some(id) = started {
                self.emit(MediaEvent::PlaybackStarted(id));
            }
            if let Some(id) = finished {
                self.emit(MediaEvent::PlaybackFinished(id));
            }
            bot_frame = Some(frame);
        }

        let caller_frame = if self.recv_enabled {
            let frame = match self.jitter.pop(now.into_std()) {
                Some(pkt) => {
                    let mut samples = self.codec.decode(&pkt.payload);
                    samples.resize(FRAME_SAMPLES, 0);
                    samples
                }
                None => SILENCE.to_vec(),
            };
            self.forward_caller_audio(&frame);
            Some(frame)
        } else {
            None
        };

        if let Some(recorder) = self.recorder.as_mut() {
            let caller = caller_frame.as_deref().unwrap_or(&SILENCE);
            let bot = bot_frame.as_ref().map_or(&SILENCE, |frame| frame);
            if let Err(err) = recorder.push_frame(caller, bot) {
                warn!(%err, "call recording stopped");
                self.stats.recording_error = Some(err.to_string());
                self.recorder = None;
            }
        }

        let on_hold = !(self.send_enabled && self.recv_enabled);
        if !self.timed_out
            && !on_hold
            && now.saturating_duration_since(self.last_rx) >= self.rtp_timeout
        {
            self.timed_out = true;
            self.emit(MediaEvent::RtpTimeout);
        }
    }

    /// The next 160 samples to send, the id of a prompt they start (marker bit), and the id of
    /// a prompt they complete.
    fn next_bot_frame(&mut self) -> ([i16; FRAME_SAMPLES], Option<u64>, Option<u64>) {
        let mut frame = SILENCE;
        let Some(prompt) = self.prompts.front_mut() else {
            return (frame, None, None);
        };
        let started = (prompt.position == 0).then_some(prompt.id);
        let rest = prompt.samples.get(prompt.position..).unwrap_or_default();
        let take = rest.len().min(FRAME_SAMPLES);
        if let (Some(dst), Some(src)) = (frame.get_mut(..take), rest.get(..take)) {
            dst.copy_from_slice(src);
        }
        prompt.position += take;
        let finished = if prompt.position >= prompt.samples.len() && !prompt.open {
            self.prompts.pop_front().map(|p| p.id)
        } else {
            None
        };
        (frame, started, finished)
    }

    fn forward_caller_audio(&mut self, frame: &[i16]) {
        let Some(tx) = self.caller_audio.as_ref() else {
            return;
        };
        match tx.try_send(frame.to_vec()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.stats.caller_frames_dropped += 1,
            Err(mpsc::error::TrySendError::Closed(_)) => self.caller_audio = None,
        }
    }

    fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        self.stats.packets_received += 1;
        let Ok(pkt) = RtpPacket::parse(datagram) else {
            self.stats.packets_invalid += 1;
            return;
        };
        let is_audio = pkt.payload_type == self.audio_pt;
        let is_dtmf = self.dtmf_pt == Some(pkt.payload_type);
        if !is_audio && !is_dtmf {
            self.stats.packets_ignored += 1;
            return;
        }
        match self.latched {
            None => {
                debug!(%from, "symmetric rtp latched");
                self.latched = Some(from);
            }
            Some(latched) if latched != from => {
                self.stats.packets_ignored += 1;
                return;
            }
            Some(_) => {}
        }
        self.last_rx = now;
        if !self.recv_enabled {
            return;
        }
        if is_dtmf {
            if let Some(digit) = self.dtmf.handle(&pkt, now.into_std()) {
                self.stats.dtmf_digits += 1;
                self.emit(MediaEvent::Dtmf(digit));
            }
        } else {
            self.jitter.push(pkt, now.into_std());
        }
    }

    fn on_command(&mut self, command: MediaCommand, now: Instant) {
        match command {
            MediaCommand::Play {
                id,
                samples,
                open: false,
            } if samples.is_empty() => {
                self.emit(MediaEvent::PlaybackFinished(id));
            }
            MediaCommand::Play { id, .. } if self.prompts.len() > MAX_QUEUED_PROMPTS => {
                warn!(id, "prompt queue full, refusing prompt");
                self.emit(MediaEvent::PlaybackStopped(id));
            }
            MediaCommand::Play { id, samples, open } => self.prompts.push_back(Prompt {
                id,
                samples,
                position: 0,
                open,
            }),
            MediaCommand::Append { id, samples, last } => {
                if let Some(prompt) = self.prompts.iter_mut().find(|p| p.id == id) {
                    let mut joined = Vec::with_capacity(prompt.samples.len() + samples.len());
                    joined.extend_from_slice(&prompt.samples);
                    joined.extend_from_slice(&samples);
                    prompt.samples = joined.into();
                    prompt.open = !last;
                }
            }
            MediaCommand::StopPlayback => self.stop_playback(),
            MediaCommand::SetRemote(addr) => {
                self.remote = Some(addr);
                self.latched = None;
            }
            MediaCommand::SetDirection { send, recv } => {
                let was_on_hold = !(self.send_enabled && self.recv_enabled);
                self.send_enabled = send;
                self.recv_enabled = recv;
                if was_on_hold && send && recv {
                    // The timeout counts from the resume, not from the last packet before hold.
                    self.last_rx = now;
                }
            }
            MediaCommand::Shutdown => {}
        }
    }

    fn stop_playback(&mut self) {
        while let Some(prompt) = self.prompts.pop_front() {
            self.emit(MediaEvent::PlaybackStopped(prompt.id));
        }
    }

    fn note_sent(&mut self, now: Instant) {
        self.stats.packets_sent += 1;
        if let Some(previous) = self.last_send.replace(now) {
            let interval = now.saturating_duration_since(previous).as_micros();
            self.send_intervals
                .record(u64::try_from(interval).unwrap_or(u64::MAX));
        }
    }

    fn emit(&mut self, event: MediaEvent) {
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.stats.events_dropped += 1;
                warn!(?event, "media event queue full, event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn stats(&self) -> MediaStats {
        MediaStats {
            jitter: self.jitter.stats(),
            send_interval_us_p50: self.send_intervals.percentile(50),
            send_interval_us_p99: self.send_intervals.percentile(99),
            send_interval_us_max: self.send_intervals.max(),
            ..self.stats.clone()
        }
    }

    async fn finish(mut self) {
        self.stop_playback();
        if let Some(recorder) = self.recorder.take() {
            if let Err(err) = recorder.finish() {
                warn!(%err, "call recording could not be finished");
                self.stats.recording_error = Some(err.to_string());
            }
        }
        let stopped = MediaEvent::Stopped(self.stats());
        // Bounded wait: a consumer that stopped reading must not keep the task alive.
        let _ = tokio::time::timeout(STOPPED_SEND_TIMEOUT, self.events.send(stopped)).await;
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
