//! The caller shell: one call on two blocking UDP sockets (SIP and RTP) on one thread. Sends a
//! frame every 20 ms from [`Script`], feeds every arriving RTP packet to it stamped on arrival,
//! and turns its events into a [`CallRecord`]. Blocking std sockets with short read timeouts
//! keep it simple; each call in a level gets its own thread.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::corpus::Clip;
use super::figures::{CallRecord, Utterance};
use super::script::{ReplySignal, Script, ScriptEvent, Timing};
use super::uac::{Uac, UacEvent, MAX_SIP_BYTES};
use crate::media::rtp::{RtpPacket, RtpSender};
use crate::media::Codec;

const TICK: Duration = Duration::from_millis(20);
/// Longest wait for voxdesk to answer the INVITE.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for the 200 to our BYE.
const BYE_WAIT: Duration = Duration::from_secs(4);
/// First SIP retransmission interval (RFC 3261 T1), doubled each time.
const T1: Duration = Duration::from_millis(500);
/// Longest a call may last, whatever the script does.
const CALL_LIMIT: Duration = Duration::from_secs(300);
/// The pacer resynchronizes instead of bursting when it is this far behind.
const MAX_LAG: Duration = Duration::from_millis(100);

/// Places one call to voxdesk at `server`, says `clips`, hangs up.
pub fn run_call(server: SocketAddr, call_id: &str, clips: Vec<Clip>, timing: Timing) -> CallRecord {
    let mut record = CallRecord {
        call_id: call_id.to_string(),
        failure: None,
        utterances: clips
            .iter()
            .map(|clip| Utterance {
                sentence: clip.sentence,
                audio: clip.duration(),
                ..Utterance::default()
            })
            .collect(),
    };
    if let Err(why) = call(server, clips, timing, &mut record) {
        record.failure = Some(why);
    }
    record
}

fn call(
    server: SocketAddr,
    clips: Vec<Clip>,
    timing: Timing,
    record: &mut CallRecord,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("socket: {e}");
    let sip = UdpSocket::bind("127.0.0.1:0").map_err(io)?;
    let rtp = UdpSocket::bind("127.0.0.1:0").map_err(io)?;
    let rtp_port = rtp.local_addr().map_err(io)?.port();
    let local = sip.local_addr().map_err(io)?;
    let tag = format!("t{}", local.port());
    let mut uac = Uac::new(&record.call_id, &tag, local, server, rtp_port);

    let remote_rtp = invite(&sip, server, &mut uac)?;
    let outcome = converse(
        &sip, &rtp, server, remote_rtp, &mut uac, clips, timing, record,
    );
    if outcome.as_ref().err().is_some_and(|e| e == HUNG_UP) {
        return outcome;
    }
    let bye = hang_up(&sip, server, &mut uac);
    outcome.and(bye)
}

const HUNG_UP: &str = "voxdesk hung up";

fn invite(sip: &UdpSocket, server: SocketAddr, uac: &mut Uac) -> Result<SocketAddr, String> {
    let request = uac.invite();
    let io = |e: std::io::Error| format!("SIP: {e}");
    let until = Instant::now() + ANSWER_WAIT;
    let mut retransmit = Some(T1);
    let mut next_send = Instant::now();
    let mut buf = vec![0u8; MAX_SIP_BYTES];
    loop {
        let now = Instant::now();
        if now >= until {
            return Err("INVITE not answered".into());
        }
        if let Some(interval) = retransmit.filter(|_| now >= next_send) {
            sip.send_to(&request, server).map_err(io)?;
            next_send = now + interval;
            retransmit = Some(interval * 2);
        }
        let wait = next_send.min(until).saturating_duration_since(now);
        sip.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .map_err(io)?;
        let Some(n) = recv(sip, &mut buf)? else {
            continue;
        };
        match uac.handle(buf.get(..n).unwrap_or_default()) {
            UacEvent::Provisional => retransmit = None,
            UacEvent::Answered { ack, remote_rtp } => {
                sip.send_to(&ack, server).map_err(io)?;
                return Ok(remote_rtp);
            }
            UacEvent::Failed { ack, error } => {
                sip.send_to(&ack, server).map_err(io)?;
                return Err(error.to_string());
            }
            UacEvent::RemoteBye { reply } => {
                sip.send_to(&reply, server).map_err(io)?;
                return Err(HUNG_UP.into());
            }
            UacEvent::ByeAnswered | UacEvent::Ignored => {}
        }
    }
}

/// `Ok(None)` on timeout.
fn recv(socket: &UdpSocket, buf: &mut [u8]) -> Result<Option<usize>, String> {
    match socket.recv_from(buf) {
        Ok((n, _)) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("recv: {e}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn converse(
    sip: &UdpSocket,
    rtp: &UdpSocket,
    server: SocketAddr,
    remote_rtp: SocketAddr,
    uac: &mut Uac,
    clips: Vec<Clip>,
    timing: Timing,
    record: &mut CallRecord,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("RTP: {e}");
    sip.set_nonblocking(true).map_err(io)?;
    let (start, wall_start) = (Instant::now(), SystemTime::now());
    let wall_ms = |at: Instant| {
        let wall = wall_start + at.saturating_duration_since(start);
        wall.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let mut script = Script::new(clips, timing, start);
    let mut sender = RtpSender::for_codec(Codec::Pcmu);
    let mut next_tick = start;
    let mut sip_buf = vec![0u8; MAX_SIP_BYTES];
    let mut rtp_buf = vec![0u8; 2048];
    let mut result = Ok(());
    while !script.is_done() {
        let now = Instant::now();
        if now >= start + CALL_LIMIT {
            result = Err("call took longer than 5 minutes".into());
            break;
        }
        if now >= next_tick {
            let frame = script.next_frame(now);
            rtp.send_to(&sender.next(&frame, frame.len() as u32, false), remote_rtp)
                .map_err(io)?;
            next_tick += TICK;
            if now > next_tick + MAX_LAG {
                next_tick = now + TICK;
            }
        }
        while let Some(n) = recv(sip, &mut sip_buf)? {
            match uac.handle(sip_buf.get(..n).unwrap_or_default()) {
                UacEvent::RemoteBye { reply } => {
                    sip.send_to(&reply, server).map_err(io)?;
                    result = Err(HUNG_UP.to_string());
                }
                // A retransmitted 200: our ACK was lost.
                UacEvent::Answered { ack, .. } => {
                    sip.send_to(&ack, server).map_err(io)?;
                }
                _ => {}
            }
        }
        if result.is_err() {
            break;
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        rtp.set_read_timeout(Some(wait.max(Duration::from_micros(200))))
            .map_err(io)?;
        if let Some(n) = recv(rtp, &mut rtp_buf)? {
            let arrived = Instant::now();
            if let Ok(packet) = RtpPacket::parse(rtp_buf.get(..n).unwrap_or_default()) {
                if packet.payload_type == Codec::Pcmu.payload_type() {
                    script.handle_packet(packet.marker, &packet.payload, arrived);
                }
            }
        }
        while let Some(event) = script.poll_event() {
            apply(event, record, &wall_ms);
        }
    }
    while let Some(event) = script.poll_event() {
        apply(event, record, &wall_ms);
    }
    result
}

fn apply(event: ScriptEvent, record: &mut CallRecord, wall_ms: &impl Fn(Instant) -> i64) {
    match event {
        ScriptEvent::UtteranceStarted { index, at } => {
            if let Some(u) = record.utterances.get_mut(index) {
                u.started_ms = Some(wall_ms(at));
            }
        }
        ScriptEvent::Replied {
            index,
            latency,
            signal,
        } => {
            if let Some(u) = record.utterances.get_mut(index) {
                u.latency = latency;
                u.by_voice = signal == Some(ReplySignal::Voice);
            }
        }
        ScriptEvent::NoGreeting => record.failure = Some("no greeting".into()),
        ScriptEvent::Finished => {}
    }
}

fn hang_up(sip: &UdpSocket, server: SocketAddr, uac: &mut Uac) -> Result<(), String> {
    let io = |e: std::io::Error| format!("SIP: {e}");
    let Some(bye) = uac.bye() else {
        return Ok(());
    };
    sip.set_nonblocking(false).map_err(io)?;
    let until = Instant::now() + BYE_WAIT;
    let mut interval = T1;
    let mut buf = vec![0u8; MAX_SIP_BYTES];
    while Instant::now() < until {
        sip.send_to(&bye, server).map_err(io)?;
        let resend = Instant::now() + interval;
        interval *= 2;
        while Instant::now() < resend.min(until) {
            let wait = resend.min(until).saturating_duration_since(Instant::now());
            sip.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .map_err(io)?;
            let Some(n) = recv(sip, &mut buf)? else {
                continue;
            };
            match uac.handle(buf.get(..n).unwrap_or_default()) {
                UacEvent::ByeAnswered => return Ok(()),
                UacEvent::RemoteBye { reply } => {
                    sip.send_to(&reply, server).map_err(io)?;
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    Err("BYE not answered".into())
}
