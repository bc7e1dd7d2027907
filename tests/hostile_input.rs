//! Hostile bytes at the real binary's SIP port: malformed requests get a 400 with a reason,
//! junk is dropped and counted, and after thousands of mangled datagrams and TCP streams the
//! process still answers.

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::Voxdesk;

const OPTIONS: &str = "OPTIONS sip:support@127.0.0.1 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-hostile-BRANCH\r\n\
    From: <sip:probe@127.0.0.1>;tag=p1\r\n\
    To: <sip:support@127.0.0.1>\r\n\
    Call-ID: hostile-BRANCH\r\n\
    CSeq: 1 OPTIONS\r\n\
    Max-Forwards: 70\r\n\
    Content-Length: 0\r\n\r\n";

fn exchange(socket: &UdpSocket, vox: &Voxdesk, msg: &[u8]) -> Option<String> {
    socket.send_to(msg, vox.sip).expect("send");
    let mut buf = [0u8; 4096];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

/// A small deterministic generator, so a failure replays identically.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mangle(rng: &mut XorShift, base: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.next() % 6 {
        if bytes.is_empty() {
            break;
        }
        let pos = (rng.next() as usize) % bytes.len();
        let byte = rng.next() as u8;
        match rng.next() % 4 {
            0 => bytes[pos] = byte,
            1 => {
                bytes.remove(pos);
            }
            2 => bytes.insert(pos, byte),
            _ => bytes.truncate(pos),
        }
    }
    bytes
}

fn metric(vox: &Voxdesk, name: &str) -> f64 {
    let body = vox.get("/metrics").body;
    body.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn malformed_sip_gets_400_and_junk_is_counted() {
    let vox = Voxdesk::start();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");

    let cases = [
        ("Call-ID: hostile-BRANCH\r\n", "", "Missing Call-ID"),
        ("CSeq: 1 OPTIONS", "CSeq: 1 INVITE", "CSeq Method"),
        ("Content-Length: 0", "Content-Length: 40", "Body Shorter"),
        ("Max-Forwards: 70", "Max-Forwards: lots", "Max-Forwards"),
    ];
    for (i, (from, to, reason)) in cases.iter().enumerate() {
        let msg = OPTIONS
            .replace(from, to)
            .replace("BRANCH", &format!("bad{i}"));
        let reply = exchange(&socket, &vox, msg.as_bytes()).unwrap_or_default();
        let status = reply.lines().next().unwrap_or("");
        assert!(
            status.starts_with("SIP/2.0 400 ") && status.contains(reason),
            "{reason}: got {status:?}"
        );
    }

    let before = metric(&vox, "voxdesk_sip_junk_dropped");
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"\x00\x01\x02",
        b"SIP/2.0 999 Nope\r\n\r\n",
    ] {
        assert_eq!(exchange(&socket, &vox, junk), None, "junk is not answered");
    }
    let after = metric(&vox, "voxdesk_sip_junk_dropped");
    assert!(after >= before + 3.0, "junk counter {before} -> {after}");
}

#[test]
fn thousands_of_mangled_messages_do_not_stop_the_server() {
    let vox = Voxdesk::start();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);
    let invite = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp-scenarios/basic_call.xml"),
    )
    .expect("scenario");
    // The INVITE template's text is hostile enough once mangled; plus our OPTIONS.
    let bases = [OPTIONS.as_bytes().to_vec(), invite.into_bytes()];
    for i in 0..3000 {
        let base = &bases[i % bases.len()];
        socket
            .send_to(&mangle(&mut rng, base), vox.sip)
            .expect("send");
        if i % 200 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    for i in 0..50 {
        if let Ok(mut tcp) = TcpStream::connect(vox.sip) {
            let _ = tcp.write_all(&mangle(&mut rng, OPTIONS.as_bytes()));
            if i % 2 == 0 {
                let _ = tcp.write_all(&[0xff; 70_000]);
            }
        }
    }

    // Still alive and still answering.
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    while socket.recv_from(&mut buf).is_ok() {}
    let probe = OPTIONS.replace("BRANCH", "after");
    let reply = exchange(&socket, &vox, probe.as_bytes()).unwrap_or_default();
    assert!(reply.starts_with("SIP/2.0 200 OK"), "{reply:?}");
    assert_eq!(vox.get("/healthz").status, 200);
}
