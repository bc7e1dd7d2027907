//! The IO shell of the bridge benchmark: the RTP endpoints of both legs of every call. One UDP
//! socket per caller leg (named in the callers' SDP) and one per agent leg (named in the agent
//! phone's SDP answer), all on 127.0.0.1.
//!
//! A receiver thread (single-threaded tokio, one task per socket, like the probe) stamps every
//! datagram on arrival and feeds the [`BridgeMeter`] and a [`JitterMeter`] per side; the first
//! datagram from voxdesk on a socket also tells where that leg's RTP goes (symmetric RTP). A
//! sender thread sends one marked 20 ms PCMU frame per socket every 20 ms to that address,
//! stamping each right before `send_to`; those stamps are the latency's start and also feed a
//! third jitter meter, so the input's own pacing is printed next to voxdesk's output.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::meter::{marked_payload, BridgeMeter, Direction, LatencySummary};
use crate::bench::jitter::{JitterMeter, JitterSummary};
use crate::bench::BenchError;
use crate::media::rtp::RtpSender;
use crate::media::{Codec, FRAME_SAMPLES};

const FRAME: Duration = Duration::from_millis(20);
/// A sender this far behind its schedule skips the missed frames instead of bursting them.
const MAX_BEHIND: Duration = Duration::from_millis(60);

/// What the receiver and sender threads share.
struct Shared {
    meter: BridgeMeter,
    /// What arrives on agent sockets (voxdesk → agent), on caller sockets, and what we sent.
    agent_side: JitterMeter,
    caller_side: JitterMeter,
    sent: JitterMeter,
    /// voxdesk's RTP address of each leg, learnt from its first datagram.
    peers: Vec<Option<SocketAddr>>,
}

/// The figures of one measured window.
#[derive(Debug, Clone, Default)]
pub struct MediaFigures {
    /// Latency caller → agent.
    pub to_agent: LatencySummary,
    /// Latency agent → caller.
    pub to_caller: LatencySummary,
    /// Pacing of what voxdesk sends the agents.
    pub agent_jitter: JitterSummary,
    /// Pacing of what voxdesk sends the callers.
    pub caller_jitter: JitterSummary,
    /// Pacing of what the bench sent voxdesk (the input).
    pub sent_jitter: JitterSummary,
}

/// The sockets and the two threads; dropping it stops both.
pub struct BridgeMedia {
    caller_ports: Vec<u16>,
    agent_ports: Vec<u16>,
    shared: Arc<Mutex<Shared>>,
    stop_receiver: watch::Sender<bool>,
    stop_sender: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl BridgeMedia {
    /// Binds `2 × calls` sockets and starts both threads.
    pub fn start(calls: usize) -> Result<BridgeMedia, BenchError> {
        let mut sockets = Vec::with_capacity(calls * 2);
        for _ in 0..calls * 2 {
            let socket = StdUdpSocket::bind("127.0.0.1:0")?;
            socket.set_nonblocking(true)?;
            sockets.push(socket);
        }
        let ports: Vec<u16> = sockets
            .iter()
            .map(|s| s.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        let senders: Vec<StdUdpSocket> = sockets
            .iter()
            .map(StdUdpSocket::try_clone)
            .collect::<Result<_, _>>()?;
        let shared = Arc::new(Mutex::new(Shared {
            meter: BridgeMeter::new(calls),
            agent_side: JitterMeter::default(),
            caller_side: JitterMeter::default(),
            sent: JitterMeter::default(),
            peers: vec![None; calls * 2],
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (stop_receiver, stopped) = watch::channel(false);
        let stop_sender = Arc::new(AtomicBool::new(false));
        let receiving = shared.clone();
        let receiver = std::thread::Builder::new()
            .name("bridge-rx".into())
            .spawn(move || runtime.block_on(receive_all(sockets, calls, receiving, stopped)))?;
        let sending = shared.clone();
        let flag = stop_sender.clone();
        let sender = std::thread::Builder::new()
            .name("bridge-tx".into())
            .spawn(move || send_all(&senders, &sending, &flag))?;
        let (caller_ports, agent_ports) = ports.split_at(calls);
        Ok(BridgeMedia {
            caller_ports: caller_ports.to_vec(),
            agent_ports: agent_ports.to_vec(),
            shared,
            stop_receiver,
            stop_sender,
            threads: vec![receiver, sender],
        })
    }

    /// The caller legs' ports, one per call (the callers' SDP).
    pub fn caller_ports(&self) -> &[u16] {
        &self.caller_ports
    }

    /// The agent legs' ports, one per call (the agent phone's SDP answer).
    pub fn agent_ports(&self) -> &[u16] {
        &self.agent_ports
    }

    /// Calls whose caller frames reach an agent socket and agent frames a caller socket.
    pub fn bridged(&self) -> usize {
        let shared = self.lock();
        shared
            .meter
            .bridged(Direction::CallerToAgent)
            .min(shared.meter.bridged(Direction::AgentToCaller))
    }

    /// Starts the measured window.
    pub fn reset(&self) {
        let mut shared = self.lock();
        shared.meter.reset();
        shared.agent_side.reset();
        shared.caller_side.reset();
        shared.sent.reset();
    }

    /// Figures since the last reset.
    pub fn figures(&self) -> MediaFigures {
        let shared = self.lock();
        MediaFigures {
            to_agent: shared.meter.summary(Direction::CallerToAgent),
            to_caller: shared.meter.summary(Direction::AgentToCaller),
            agent_jitter: shared.agent_side.summary(),
            caller_jitter: shared.caller_side.summary(),
            sent_jitter: shared.sent.summary(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

impl Drop for BridgeMedia {
    fn drop(&mut self) {
        let _ = self.stop_receiver.send(true);
        self.stop_sender.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A poisoned lock still holds usable counters for a printout.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

async fn receive_all(
    sockets: Vec<StdUdpSocket>,
    callers: usize,
    shared: Arc<Mutex<Shared>>,
    stopped: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let Ok(socket) = UdpSocket::from_std(socket) else {
            continue;
        };
        let agent = index >= callers;
        tasks.spawn(receive_one(
            socket,
            index,
            agent,
            shared.clone(),
            stopped.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

async fn receive_one(
    socket: UdpSocket,
    index: usize,
    agent: bool,
    shared: Arc<Mutex<Shared>>,
    mut stopped: watch::Receiver<bool>,
) {
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut buf = [0u8; 2048];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let now = Instant::now();
                let Ok((len, from)) = received else { continue };
                let datagram = buf.get(..len).unwrap_or(&[]);
                let mut shared = lock(&shared);
                if let Some(peer @ None) = shared.peers.get_mut(index) {
                    *peer = Some(from);
                }
                shared.meter.handle_received(index, datagram, now);
                let side = if agent { &mut shared.agent_side } else { &mut shared.caller_side };
                side.handle_datagram(port, datagram, now);
            }
            _ = stopped.changed() => return,
        }
    }
}

/// Every 20 ms, one marked frame from each socket whose peer is known.
fn send_all(sockets: &[StdUdpSocket], shared: &Mutex<Shared>, stop: &AtomicBool) {
    let mut streams: Vec<RtpSender> = sockets
        .iter()
        .map(|_| RtpSender::for_codec(Codec::Pcmu))
        .collect();
    let mut counters = vec![0u32; sockets.len()];
    let mut sent: Vec<(usize, u32, Instant, Vec<u8>)> = Vec::with_capacity(sockets.len());
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let peers = lock(shared).peers.clone();
        sent.clear();
        for (index, (socket, peer)) in sockets.iter().zip(&peers).enumerate() {
            let (Some(peer), Some(stream), Some(counter)) =
                (peer, streams.get_mut(index), counters.get_mut(index))
            else {
                continue;
            };
            let sender = u16::try_from(index).unwrap_or(u16::MAX);
            let packet = stream.next(
                &marked_payload(sender, *counter),
                FRAME_SAMPLES as u32,
                false,
            );
            let now = Instant::now();
            if socket.send_to(&packet, peer).is_ok() {
                sent.push((index, *counter, now, packet));
            }
            *counter = counter.wrapping_add(1);
        }
        {
            let mut shared = lock(shared);
            for (index, counter, at, packet) in &sent {
                shared.meter.handle_sent(*index, *counter, *at);
                let port = u16::try_from(*index).unwrap_or(u16::MAX);
                shared.sent.handle_datagram(port, packet, *at);
            }
        }
        next += FRAME;
        let now = Instant::now();
        if now > next + MAX_BEHIND {
            let missed = (now - next).as_millis() / FRAME.as_millis();
            let frames = u32::try_from(missed).unwrap_or(u32::MAX);
            for stream in &mut streams {
                stream.skip(FRAME_SAMPLES as u32 * frames);
            }
            next += FRAME * frames;
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}
