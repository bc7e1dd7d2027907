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
//! Every tick also pops one caller frame from the jitter buffer (silence when missing), offers
//! it to `caller_audio` and to every tap, and hands both sides to the recorder (left = what the
//! remote sent, right = what we sent), so the WAV channels stay aligned with wall-clock time.
//!
//! Bridging (see [`super::bridge`]): while live inputs are connected, each tick sends the mix
//! of one frame per input instead of prompt audio, and prompts pause. Outgoing RFC 4733 digits
//! take the place of audio frames while they are sent (one event packet per tick).
//!
//! Symmetric RTP: the first valid packet (codec or DTMF payload type) from any address latches
//! the send destination to that address; packets from other addresses are then ignored until
//! `set_remote` re-arms latching.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

use super::bridge::{mix, Frame, FrameQueue, FrameQueueStats, LINK_DEPTH, LINK_PREFILL};
use super::dtmf::{dtmf_event_code, DtmfReceiver, DtmfSender};
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
/// Taps per session (ASR is separate): two bridged peers plus a supervisor leave room.
pub const MAX_TAPS: usize = 8;
/// Live inputs mixed per session: a barging conference needs two.
pub const MAX_INPUTS: usize = 4;

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

/// Names one live input of a session, so it can be disconnected again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputId(pub u64);

impl InputId {
    /// An id never handed out before in this process.
    pub fn fresh() -> InputId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        InputId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What `call/` asks of a running session.
#[derive(Debug)]
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
    /// Mix this stream of 20 ms frames into what is sent (from another session's tap). While
    /// any input is connected, prompts pause. Refused (the receiver dropped, which closes the
    /// tap feeding it) beyond [`MAX_INPUTS`]. An input whose channel closes is removed once
    /// drained.
    ConnectInput {
        /// For `DisconnectInput`; connecting an id again replaces that input.
        id: InputId,
        /// The frames, one per producer tick.
        frames: mpsc::Receiver<Frame>,
    },
    /// Stop mixing this input (unknown ids are ignored).
    DisconnectInput(InputId),
    /// Offer every received frame to this channel with `try_send` (a full tap drops frames; a
    /// closed one is removed). Refused beyond [`MAX_TAPS`].
    AddTap(mpsc::Sender<Frame>),
    /// Send a digit as RFC 4733 telephone events, after any digits already queued.
    SendDtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// How long the key is held (20 ms steps, at most 8 s).
        duration_ms: u32,
    },
    /// Finish the current recording and go on in a new file (`None`: stop recording). A
    /// leg handed from one call to another (attended transfer) is recorded on its new
    /// call's ticket from then on.
    RecordTo(Option<PathBuf>),
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
    /// The task ended; final counters (boxed: they dwarf every other event).
    Stopped(Box<MediaStats>),
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
    /// Received frames dropped because a tap was full.
    pub tap_frames_dropped: u64,
    /// Live input queues, summed over every input this session had.
    pub live: FrameQueueStats,
    /// DTMF digits sent as RFC 4733 events.
    pub dtmf_digits_sent: u64,
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
    /// No telephone-event payload type was negotiated, so digits cannot be sent in RTP.
    #[error("no telephone-event payload type negotiated")]
    NoTelephoneEvent,
    /// Not a DTMF digit.
    #[error("{0:?} is not a DTMF digit")]
    InvalidDigit(char),
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
    telephone_event: bool,
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

    /// Closes the current recording and records on into `path` (or stops recording).
    pub fn record_to(&self, path: Option<PathBuf>) -> Result<(), MediaError> {
        self.send(MediaCommand::RecordTo(path))
    }

    /// Finishes the recording and ends the task; `Stopped` is the last event.
    pub fn shutdown(&self) -> Result<(), MediaError> {
        self.send(MediaCommand::Shutdown)
    }

    /// Mixes a live stream of 20 ms frames into what is sent; prompts pause meanwhile.
    pub fn connect_input(
        &self,
        id: InputId,
        frames: mpsc::Receiver<Frame>,
    ) -> Result<(), MediaError> {
        self.send(MediaCommand::ConnectInput { id, frames })
    }

    /// Stops mixing a live input.
    pub fn disconnect_input(&self, id: InputId) -> Result<(), MediaError> {
        self.send(MediaCommand::DisconnectInput(id))
    }

    /// Offers every received 20 ms frame to `tap` (dropped when it is full).
    pub fn add_tap(&self, tap: mpsc::Sender<Frame>) -> Result<(), MediaError> {
        self.send(MediaCommand::AddTap(tap))
    }

    /// Sends `digit` as RFC 4733 events held for `duration` (e.g. one forwarded from the
    /// other leg's [`MediaEvent::Dtmf`]).
    pub fn send_dtmf(&self, digit: char, duration: Duration) -> Result<(), MediaError> {
        if !self.telephone_event {
            return Err(MediaError::NoTelephoneEvent);
        }
        if dtmf_event_code(digit).is_none() {
            return Err(MediaError::InvalidDigit(digit));
        }
        let duration_ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        self.send(MediaCommand::SendDtmf { digit, duration_ms })
    }

    /// Whether both handles control the same session.
    pub fn same_session(&self, other: &MediaHandle) -> bool {
        self.commands.same_channel(&other.commands)
    }

    fn send(&self, command: MediaCommand) -> Result<(), MediaError> {
        Ok(self.commands.try_send(command)?)
    }
}

/// One live input: its channel and the queue that smooths the two pacers' phase.
struct LiveInput {
    id: InputId,
    frames: mpsc::Receiver<Frame>,
    queue: FrameQueue,
    closed: bool,
}

impl LiveInput {
    /// Moves what arrived into the queue and pops this tick's frame.
    fn next_frame(&mut self) -> Option<Frame> {
        // Bounded: the channel holds at most LINK_CHANNEL_FRAMES and its producer adds one
        // per 20 ms.
        for _ in 0..2 * super::bridge::LINK_CHANNEL_FRAMES {
            match self.frames.try_recv() {
                Ok(frame) => self.queue.push(frame),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    break;
                }
            }
        }
        self.queue.pop()
    }
}

/// Decodes one payload into a shared 160-sample frame (cut or padded with silence), with a
/// single allocation.
fn decode_frame(codec: Codec, payload: &[u8]) -> Frame {
    let take = payload.len().min(FRAME_SAMPLES);
    payload
        .iter()
        .take(FRAME_SAMPLES)
        .map(|&byte| codec.decode_sample(byte))
        .chain(std::iter::repeat_n(0, FRAME_SAMPLES - take))
        .collect()
}

#[cfg(test)]
impl MediaHandle {
    /// A handle over a bare channel, to observe the commands it sends.
    pub(crate) fn from_channel(
        commands: mpsc::Sender<MediaCommand>,
        telephone_event: bool,
    ) -> MediaHandle {
        MediaHandle {
            commands,
            telephone_event,
        }
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
    taps: Vec<mpsc::Sender<Frame>>,
    inputs: Vec<LiveInput>,
    /// Queue counters of inputs already gone.
    retired_live: FrameQueueStats,
    /// Mark the next live frame (start of a talk spurt after prompts or silence).
    live_marker: bool,
    dtmf_out: DtmfSender,
    /// Shared silent frame, so idle ticks allocate nothing.
    silence: Frame,
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
        let telephone_event = cfg.dtmf_pt.is_some();
        let session = MediaSession::new(cfg, event_tx, Instant::now());
        tokio::spawn(session.run(socket, command_rx));
        (
            MediaHandle {
                commands: command_tx,
                telephone_event,
            },
            event_rx,
        )
    }

    fn new(cfg: MediaConfig, events: mpsc::Sender<MediaEvent>, now: Instant) -> MediaSession {
        let mut stats = MediaStats::default();
        let recorder = cfg
            .record_path
            .as_ref()
            .and_then(|path| open_recorder(path, &mut stats));
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
            taps: Vec::new(),
            inputs: Vec::new(),
            retired_live: FrameQueueStats::default(),
            live_marker: false,
            dtmf_out: DtmfSender::default(),
            silence: Arc::from(SILENCE),
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
        // Inputs advance every tick, sending or not, so their latency stays bounded.
        let live = self.next_live_frame();
        let destination = self.latched.or(self.remote);
        let mut sent_audio = None;
        if let (true, Some(destination)) = (self.send_enabled, destination) {
            sent_audio = self.send_frame(socket, destination, live, now).await;
        }
        let received = self.recv_enabled.then(|| self.receive_frame(now));

        if let Some(recorder) = self.recorder.as_mut() {
            let remote = received.as_deref().unwrap_or(&SILENCE);
            let local = sent_audio.as_ref().unwrap_or(&SILENCE);
            if let Err(err) = recorder.push_frame(remote, local) {
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

    /// Sends this tick's packet: a DTMF event packet if a digit is being sent, else the live
    /// mix, else prompt audio. Returns the audio sent (`None` for a DTMF packet).
    async fn send_frame(
        &mut self,
        socket: &UdpSocket,
        destination: SocketAddr,
        live: Option<[i16; FRAME_SAMPLES]>,
        now: Instant,
    ) -> Option<[i16; FRAME_SAMPLES]> {
        if let Some(packet) = self.next_dtmf_packet() {
            self.transmit(socket, &packet, destination, now).await;
            return None;
        }
        let (frame, marker, started, finished) = match live {
            Some(frame) => (frame, std::mem::take(&mut self.live_marker), None, None),
            None => {
                let (frame, started, finished) = self.next_bot_frame();
                (frame, started.is_some(), started, finished)
            }
        };
        let packet = self
            .sender
            .next(&self.codec.encode(&frame), FRAME_SAMPLES as u32, marker);
        self.transmit(socket, &packet, destination, now).await;
        if let Some(id) = started {
            self.emit(MediaEvent::PlaybackStarted(id));
        }
        if let Some(id) = finished {
            self.emit(MediaEvent::PlaybackFinished(id));
        }
        Some(frame)
    }

    async fn transmit(
        &mut self,
        socket: &UdpSocket,
        packet: &[u8],
        destination: SocketAddr,
        now: Instant,
    ) {
        match socket.send_to(packet, destination).await {
            Ok(_) => self.note_sent(now),
            Err(err) => {
                self.stats.send_errors += 1;
                debug!(%err, %destination, "rtp send failed");
            }
        }
    }

    /// The mix of one frame from every live input; `None` when none is connected.
    fn next_live_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        if self.inputs.is_empty() {
            return None;
        }
        let mut popped: [Option<Frame>; MAX_INPUTS] = Default::default();
        for (input, slot) in self.inputs.iter_mut().zip(popped.iter_mut()) {
            *slot = input.next_frame();
        }
        let retired = &mut self.retired_live;
        self.inputs.retain(|input| {
            let gone = input.closed && input.queue.is_empty();
            if gone {
                *retired += input.queue.stats();
            }
            !gone
        });
        Some(mix(popped.iter().flatten().map(|frame| &frame[..])))
    }

    /// The telephone-event packet due this tick, stamped in the audio stream's sequence.
    fn next_dtmf_packet(&mut self) -> Option<Vec<u8>> {
        let payload_type = self.dtmf_pt? & 0x7F;
        let event = self.dtmf_out.next(self.sender.next_timestamp())?;
        let packet = RtpPacket {
            payload_type,
            marker: event.marker,
            seq: self.sender.next_seq(),
            timestamp: event.timestamp,
            ssrc: self.sender.ssrc(),
            payload: event.payload.to_vec(),
        };
        // Advance sequence number and clock as the audio frame this packet replaces would.
        let _ = self.sender.next(&[], FRAME_SAMPLES as u32, false);
        packet.to_bytes().ok()
    }

    /// Pops this tick's received frame (silence when missing) and hands it to ASR and taps.
    fn receive_frame(&mut self, now: Instant) -> Frame {
        let frame = match self.jitter.pop(now.into_std()) {
            Some(pkt) => decode_frame(self.codec, &pkt.payload),
            None => Arc::clone(&self.silence),
        };
        self.forward_caller_audio(&frame);
        let mut dropped = 0;
        self.taps
            .retain(|tap| match tap.try_send(Arc::clone(&frame)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        self.stats.tap_frames_dropped += dropped;
        frame
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
            MediaCommand::ConnectInput { id, frames } => self.connect_input(id, frames),
            MediaCommand::DisconnectInput(id) => self.disconnect_input(id),
            MediaCommand::AddTap(tap) => {
                if self.taps.len() >= MAX_TAPS {
                    warn!("too many taps, refusing one");
                } else {
                    self.taps.push(tap);
                }
            }
            MediaCommand::SendDtmf { digit, duration_ms } => {
                if self.dtmf_pt.is_none() || !self.dtmf_out.queue(digit, duration_ms) {
                    warn!(%digit, "cannot send dtmf digit");
                } else {
                    self.stats.dtmf_digits_sent += 1;
                }
            }
            MediaCommand::RecordTo(path) => {
                self.close_recording();
                self.recorder = path
                    .as_ref()
                    .and_then(|path| open_recorder(path, &mut self.stats));
            }
            MediaCommand::Shutdown => {}
        }
    }

    fn connect_input(&mut self, id: InputId, frames: mpsc::Receiver<Frame>) {
        self.disconnect_input(id);
        if self.inputs.len() >= MAX_INPUTS {
            warn!(?id, "too many live inputs, refusing one");
            return;
        }
        if self.inputs.is_empty() {
            self.live_marker = true;
        }
        self.inputs.push(LiveInput {
            id,
            frames,
            queue: FrameQueue::new(LINK_DEPTH, LINK_PREFILL),
            closed: false,
        });
    }

    fn disconnect_input(&mut self, id: InputId) {
        if let Some(index) = self.inputs.iter().position(|input| input.id == id) {
            let input = self.inputs.remove(index);
            self.retired_live += input.queue.stats();
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
        let mut live = self.retired_live;
        for input in &self.inputs {
            live += input.queue.stats();
        }
        MediaStats {
            live,
            jitter: self.jitter.stats(),
            send_interval_us_p50: self.send_intervals.percentile(50),
            send_interval_us_p99: self.send_intervals.percentile(99),
            send_interval_us_max: self.send_intervals.max(),
            ..self.stats.clone()
        }
    }

    /// Finishes the current recording file, if any.
    fn close_recording(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            if let Err(err) = recorder.finish() {
                warn!(%err, "call recording could not be finished");
                self.stats.recording_error = Some(err.to_string());
            }
        }
    }

    async fn finish(mut self) {
        self.stop_playback();
        self.close_recording();
        let stopped = MediaEvent::Stopped(Box::new(self.stats()));
        // Bounded wait: a consumer that stopped reading must not keep the task alive.
        let _ = tokio::time::timeout(STOPPED_SEND_TIMEOUT, self.events.send(stopped)).await;
    }
}

/// A recorder for `path`; a failure is logged and kept in the stats, and the call goes on.
fn open_recorder(path: &Path, stats: &mut MediaStats) -> Option<CallRecorder> {
    CallRecorder::create(path)
        .inspect_err(|err| {
            warn!(path = %path.display(), %err, "cannot record call");
            stats.recording_error = Some(err.to_string());
        })
        .ok()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
