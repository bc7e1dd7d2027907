//! The tokio shell around [`Endpoint`]: one UDP socket and one TCP listener on the same port,
//! a reader task per TCP connection (framing by Content-Length), and a single loop that owns
//! the endpoint — one mutation, then drain transmits and events, then sleep until the next
//! deadline (STYLE.md pattern 4). No locks: the endpoint is `&mut` in one task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use super::endpoint::{CallKey, ConnId, Endpoint, EndpointStats, OutgoingInvite, Peer, SipEvent};
use super::message::{ParseError, StreamFramer};
use super::registrar::{Account, Binding};
use super::transaction::Wire;
use crate::metrics::{global as metrics, Metrics};

/// Commands from the call layer to the endpoint.
#[derive(Debug)]
pub enum SipCommand {
    /// 180 Ringing.
    Ringing(CallKey),
    /// 200 OK with this SDP.
    Answer(CallKey, String),
    /// A final error response.
    Reject(CallKey, u16),
    /// 302 to this URI.
    Redirect(CallKey, String),
    /// BYE (or 480 before answer).
    Hangup(CallKey),
    /// REFER to this URI.
    Refer(CallKey, String),
    /// The answer to a re-INVITE.
    AnswerReinvite(CallKey, Result<String, u16>),
    /// Replaces the registrar's accounts (the agents file was loaded).
    SetAccounts(Vec<Account>),
    /// Where an agent's phones are registered.
    Lookup(String, oneshot::Sender<Vec<Binding>>),
    /// Place a call under a key the caller picked (see `endpoint::OUTGOING_KEY_BIT`); its progress
    /// comes as events for that key.
    Invite(CallKey, OutgoingInvite),
    /// Report a received REFER's progress with this sipfrag status code.
    NotifyRefer(CallKey, u16),
}

enum TcpInput {
    Frame(ConnId, SocketAddr, Vec<u8>),
    Opened(ConnId, mpsc::Sender<Wire>),
    Closed(ConnId),
}

/// Per-connection outgoing queue length (messages).
const TCP_WRITE_QUEUE: usize = 256;
/// A TCP connection must deliver its first message within this long, so idle sockets
/// cannot hold every connection slot.
const TCP_FIRST_MESSAGE: std::time::Duration = std::time::Duration::from_secs(30);
/// Then it may stay silent this long: a call's dialog can be quiet for its whole length and
/// our BYE needs the connection at the end.
const TCP_IDLE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Datagrams or commands taken per wake-up before the outputs are flushed.
const BATCH: usize = 64;

/// The bound SIP sockets and the connection limit.
pub struct Sockets {
    /// The UDP socket.
    pub udp: UdpSocket,
    /// The TCP listener on the same port.
    pub tcp: TcpListener,
    /// Open TCP connections allowed; further ones are closed at once.
    pub max_tcp_connections: usize,
    /// Kept equal to the endpoint's live calls, for the drain to wait on.
    pub active_calls: Arc<AtomicUsize>,
}

/// Runs the SIP endpoint until the event receiver goes away.
pub async fn run(
    sockets: Sockets,
    mut endpoint: Endpoint,
    events: mpsc::Sender<SipEvent>,
    mut commands: mpsc::Receiver<SipCommand>,
    mut draining: watch::Receiver<bool>,
) {
    let metrics = metrics();
    let mut reported = EndpointStats::default();
    let sockets_active = sockets.active_calls;
    let udp = Arc::new(sockets.udp);
    let (tcp_tx, mut tcp_rx) = mpsc::channel::<TcpInput>(1024);
    let max_size = endpoint.max_message_size();
    let slots = Arc::new(Semaphore::new(sockets.max_tcp_connections));
    let accept = tokio::spawn(accept_loop(sockets.tcp, tcp_tx, max_size, slots));
    let mut conns: HashMap<ConnId, mpsc::Sender<Wire>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let deadline = endpoint.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = udp.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    count_request(metrics, &buf[..n]);
                    endpoint.handle_input(&buf[..n], Peer::Udp(from), Instant::now());
                    // Under load, take what else is queued before the outputs: one wake-up
                    // per burst instead of per datagram keeps the socket buffer from filling.
                    for _ in 1..BATCH {
                        let Ok((n, from)) = udp.try_recv_from(&mut buf) else { break };
                        count_request(metrics, &buf[..n]);
                        endpoint.handle_input(&buf[..n], Peer::Udp(from), Instant::now());
                    }
                }
            }
            Some(input) = tcp_rx.recv() => match input {
                TcpInput::Frame(id, from, bytes) => {
                    count_request(metrics, &bytes);
                    endpoint.handle_input(&bytes, Peer::Tcp(id, from), Instant::now());
                }
                TcpInput::Opened(id, tx) => { conns.insert(id, tx); }
                TcpInput::Closed(id) => { conns.remove(&id); }
            },
            Some(cmd) = commands.recv() => {
                apply(&mut endpoint, cmd, Instant::now());
                for _ in 1..BATCH {
                    let Ok(cmd) = commands.try_recv() else { break };
                    apply(&mut endpoint, cmd, Instant::now());
                }
            }
            _ = sleep => endpoint.handle_timeout(Instant::now()),
            changed = draining.changed() => {
                if changed.is_err() || *draining.borrow() {
                    endpoint.set_draining(true);
                }
            }
        }
        while let Some(t) = endpoint.poll_transmit() {
            count_response(metrics, &t.bytes);
            match t.peer {
                Peer::Udp(addr) => {
                    if let Err(e) = udp.try_send_to(&t.bytes, addr) {
                        if e.kind() == std::io::ErrorKind::WouldBlock {
                            let _ = udp.send_to(&t.bytes, addr).await;
                        }
                    }
                }
                Peer::Tcp(id, _) => {
                    if let Some(tx) = conns.get(&id) {
                        let _ = tx.try_send(t.bytes);
                    }
                }
            }
        }
        while let Some(ev) = endpoint.poll_event() {
            // Backpressure rather than loss: call events must not be dropped.
            if events.send(ev).await.is_err() {
                accept.abort();
                return;
            }
        }
        let stats = endpoint.stats();
        metrics
            .sip_junk_dropped
            .add(stats.junk_dropped - reported.junk_dropped);
        metrics
            .sip_malformed_400
            .add(stats.malformed - reported.malformed);
        metrics
            .calls_rejected_503
            .add(stats.rejected_busy - reported.rejected_busy);
        reported = stats;
        sockets_active.store(endpoint.active_calls(), Ordering::Relaxed);
    }
}

fn apply(endpoint: &mut Endpoint, cmd: SipCommand, now: Instant) {
    match cmd {
        SipCommand::Ringing(k) => endpoint.ringing(k, now),
        SipCommand::Answer(k, sdp) => endpoint.answer(k, &sdp, now),
        SipCommand::Reject(k, code) => endpoint.reject(k, code, now),
        SipCommand::Redirect(k, target) => endpoint.redirect(k, &target, now),
        SipCommand::Hangup(k) => endpoint.hangup(k, now),
        SipCommand::Refer(k, target) => endpoint.refer(k, &target, now),
        SipCommand::AnswerReinvite(k, result) => {
            endpoint.answer_reinvite(k, result.as_deref().map_err(|c| *c), now)
        }
        SipCommand::SetAccounts(accounts) => endpoint.set_accounts(accounts),
        SipCommand::Lookup(user, reply) => {
            // The asker may have given up waiting; nothing to undo then.
            let _ = reply.send(endpoint.bindings(&user));
        }
        SipCommand::Invite(key, req) => endpoint.invite_as(key, req, now),
        SipCommand::NotifyRefer(k, code) => endpoint.notify_refer(k, code, now),
    }
}

fn count_request(metrics: &Metrics, bytes: &[u8]) {
    let method = bytes
        .split(|b| *b == b' ')
        .next()
        .and_then(|m| std::str::from_utf8(m).ok())
        .unwrap_or("");
    if method != "SIP/2.0" {
        metrics.sip_request_received(method);
    }
}

fn count_response(metrics: &Metrics, bytes: &[u8]) {
    if let Some(code) = bytes
        .strip_prefix(b"SIP/2.0 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u16>().ok())
    {
        metrics.sip_response_sent(code);
    }
}

async fn accept_loop(
    listener: TcpListener,
    tx: mpsc::Sender<TcpInput>,
    max_size: usize,
    slots: Arc<Semaphore>,
) {
    let mut next_id: ConnId = 1;
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            // Usually out of file descriptors: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Over the limit: closing at once is cheaper than serving badly.
            drop(stream);
            continue;
        };
        let id = next_id;
        next_id += 1;
        let (wtx, wrx) = mpsc::channel(TCP_WRITE_QUEUE);
        if tx.send(TcpInput::Opened(id, wtx)).await.is_err() {
            return;
        }
        let tx = tx.clone();
        tokio::spawn(async move {
            connection(stream, id, from, tx, wrx, max_size).await;
            drop(slot);
        });
    }
}

async fn connection(
    stream: TcpStream,
    id: ConnId,
    from: SocketAddr,
    tx: mpsc::Sender<TcpInput>,
    mut outgoing: mpsc::Receiver<Wire>,
    max_size: usize,
) {
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut framer = StreamFramer::new(max_size);
    let mut framed_any = false;
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let idle = if framed_any {
            TCP_IDLE
        } else {
            TCP_FIRST_MESSAGE
        };
        let n = match tokio::time::timeout(idle, reader.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(frame) => {
                    framed_any = true;
                    if tx.send(TcpInput::Frame(id, from, frame)).await.is_err() {
                        break 'read;
                    }
                }
                Err(ParseError::Incomplete) => break,
                // A stream that lost its framing cannot be resynchronised.
                Err(_) => break 'read,
            }
        }
    }
    write.abort();
    let _ = tx.send(TcpInput::Closed(id)).await;
}
