//! The bench caller's SIP side, sans-IO: INVITE with an SDP offer (PCMU + telephone-event),
//! the responses to it, ACK, BYE, and answering voxdesk's own BYE. Bytes in, bytes out; the
//! shell (`caller`) owns the socket and the retransmission clock.
//!
//! A hand-written UAC rather than `sip::transaction`/`sip::dialog` because those are the UAS
//! side voxdesk runs, and a benchmark caller needs only the one happy path of RFC 3261 §13
//! plus answering a BYE. Framing, headers and SDP reuse voxdesk's own `sip::message` and
//! `sdp` (the same code the server uses, which is fine for a load generator: SIPp interop is
//! covered by `bench sip` and the tests).

use std::net::{IpAddr, SocketAddr};

use crate::media::Codec;
use crate::sdp::{self, LocalMedia, SessionOrigin};
use crate::sip::message::{self, Headers, Message, Method, Request, Response};

/// Largest SIP datagram accepted.
pub const MAX_SIP_BYTES: usize = 8 * 1024;

/// Why the call could not be set up or cleared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UacError {
    /// Voxdesk answered the INVITE with a final error.
    #[error("INVITE answered {0}")]
    Rejected(u16),
    /// The 200's SDP answer was unusable.
    #[error("SDP answer: {0}")]
    Sdp(String),
}

/// What a datagram from voxdesk meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UacEvent {
    /// A 1xx to the INVITE: stop retransmitting it.
    Provisional,
    /// The 200 to the INVITE (first or retransmitted): send `ack`; media goes to `remote_rtp`.
    Answered {
        /// The ACK to send (again, for a retransmitted 200).
        ack: Vec<u8>,
        /// Voxdesk's RTP address.
        remote_rtp: SocketAddr,
    },
    /// A final error to the INVITE (ACK it with `ack`).
    Failed {
        /// The ACK for the error response (RFC 3261 §17.1.1.3).
        ack: Vec<u8>,
        /// Why.
        error: UacError,
    },
    /// The 200 to our BYE.
    ByeAnswered,
    /// Voxdesk hung up: send `reply` (200 OK).
    RemoteBye {
        /// The 200 OK to send.
        reply: Vec<u8>,
    },
    /// Anything else: junk, other calls' messages, stray responses. Ignored.
    Ignored,
}

/// One outgoing call's dialog state.
#[derive(Debug, Clone)]
pub struct Uac {
    call_id: String,
    local: SocketAddr,
    target: String,
    from: String,
    invite_branch: String,
    rtp_port: u16,
    /// `To` with voxdesk's tag, once it answered.
    remote_to: Option<String>,
    /// The 200's Contact, where in-dialog requests go.
    remote_target: Option<String>,
    next_cseq: u32,
    branch_counter: u32,
}

impl Uac {
    /// A call from `local` (our SIP socket) to voxdesk at `server`; our RTP is on `rtp_port`
    /// of the same address. `call_id` and `tag` must be unique.
    pub fn new(
        call_id: &str,
        tag: &str,
        local: SocketAddr,
        server: SocketAddr,
        rtp_port: u16,
    ) -> Uac {
        Uac {
            call_id: call_id.to_string(),
            local,
            target: format!("sip:bench@{server}"),
            from: format!("\"bench\" <sip:caller@{local}>;tag={tag}"),
            invite_branch: format!("z9hG4bK-{call_id}-1"),
            rtp_port,
            remote_to: None,
            remote_target: None,
            next_cseq: 2,
            branch_counter: 1,
        }
    }

    fn headers(&mut self, branch: &str, to: &str, cseq: u32, method: &str) -> Headers {
        let mut h = Headers::default();
        h.push(
            "Via",
            format!("SIP/2.0/UDP {};branch={branch};rport", self.local),
        );
        h.push("Max-Forwards", "70");
        h.push("From", self.from.clone());
        h.push("To", to.to_string());
        h.push("Call-ID", self.call_id.clone());
        h.push("CSeq", format!("{cseq} {method}"));
        h.push("Contact", format!("<sip:caller@{}>", self.local));
        h
    }

    fn fresh_branch(&mut self) -> String {
        self.branch_counter += 1;
        format!("z9hG4bK-{}-{}", self.call_id, self.branch_counter)
    }

    fn request(method: rsip::Method, uri: &str, headers: Headers, body: Vec<u8>) -> Vec<u8> {
        Request {
            method: Method::Known(method),
            uri: uri.to_string(),
            headers,
            body,
        }
        .to_bytes()
    }

    /// The INVITE (send it again unchanged to retransmit).
    pub fn invite(&mut self) -> Vec<u8> {
        let media = self.local_media();
        let body = sdp::offer(&media, &mut SessionOrigin::new(self.rtp_port.into()));
        let to = format!("<{}>", self.target);
        let branch = self.invite_branch.clone();
        let mut headers = self.headers(&branch, &to, 1, "INVITE");
        headers.push("Content-Type", "application/sdp");
        Self::request(
            rsip::Method::Invite,
            &self.target,
            headers,
            body.into_bytes(),
        )
    }

    fn local_media(&self) -> LocalMedia {
        let addr: IpAddr = self.local.ip();
        LocalMedia {
            addr,
            port: self.rtp_port,
            codecs: vec![Codec::Pcmu],
            dtmf_pt: 101,
            ptime_ms: 20,
        }
    }

    /// The BYE that ends an answered call (`None` before the 200).
    pub fn bye(&mut self) -> Option<Vec<u8>> {
        let to = self.remote_to.clone()?;
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.target.clone());
        let branch = self.fresh_branch();
        let cseq = self.next_cseq;
        self.next_cseq += 1;
        let headers = self.headers(&branch, &to, cseq, "BYE");
        Some(Self::request(rsip::Method::Bye, &uri, headers, Vec::new()))
    }

    /// Handles one datagram from voxdesk.
    pub fn handle(&mut self, datagram: &[u8]) -> UacEvent {
        match message::parse(datagram, MAX_SIP_BYTES) {
            Ok(Message::Response(rsp)) if rsp.headers.get("Call-ID") == Some(&self.call_id) => {
                self.handle_response(&rsp)
            }
            Ok(Message::Request(req))
                if req.call_id() == self.call_id && req.method.is(rsip::Method::Bye) =>
            {
                let reply = message::response_to(&req, 200, "OK", None).to_bytes();
                UacEvent::RemoteBye { reply }
            }
            _ => UacEvent::Ignored,
        }
    }

    fn handle_response(&mut self, rsp: &Response) -> UacEvent {
        let Some((_, method)) = rsp.cseq() else {
            return UacEvent::Ignored;
        };
        match (method.as_str(), rsp.code) {
            ("INVITE", 100..=199) => UacEvent::Provisional,
            ("INVITE", 200..=299) => self.answered(rsp),
            ("INVITE", code) => UacEvent::Failed {
                ack: self.ack_for_error(rsp),
                error: UacError::Rejected(code),
            },
            ("BYE", 200..=299) => UacEvent::ByeAnswered,
            _ => UacEvent::Ignored,
        }
    }

    fn answered(&mut self, rsp: &Response) -> UacEvent {
        let to = rsp.headers.get("To").unwrap_or("").to_string();
        let contact = rsp.headers.get("Contact").map(message::name_addr_uri);
        self.remote_target = contact.filter(|c| !c.is_empty()).map(str::to_string);
        self.remote_to = Some(to.clone());
        // ACK for a 2xx is its own transaction: new branch, the dialog's target (RFC 3261 §13.2.2.4).
        let branch = self.fresh_branch();
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.target.clone());
        let ack = Self::request(
            rsip::Method::Ack,
            &uri,
            self.headers(&branch, &to, 1, "ACK"),
            Vec::new(),
        );
        let body = String::from_utf8_lossy(&rsp.body);
        match sdp::accept_answer(&body, &self.local_media()) {
            Ok(negotiated) => match negotiated.remote_rtp {
                Some(remote_rtp) if negotiated.codec == Codec::Pcmu => {
                    UacEvent::Answered { ack, remote_rtp }
                }
                Some(_) => UacEvent::Failed {
                    ack,
                    error: UacError::Sdp("codec is not PCMU".into()),
                },
                None => UacEvent::Failed {
                    ack,
                    error: UacError::Sdp("no RTP address".into()),
                },
            },
            Err(e) => UacEvent::Failed {
                ack,
                error: UacError::Sdp(e.to_string()),
            },
        }
    }

    /// ACK for a non-2xx final response: same branch and Request-URI as the INVITE.
    fn ack_for_error(&mut self, rsp: &Response) -> Vec<u8> {
        let to = rsp.headers.get("To").unwrap_or("").to_string();
        let branch = self.invite_branch.clone();
        let headers = self.headers(&branch, &to, 1, "ACK");
        Self::request(rsip::Method::Ack, &self.target, headers, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uac() -> Uac {
        Uac::new(
            "call-7",
            "tag7",
            "127.0.0.1:40000"
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 1))),
            "127.0.0.1:5060"
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 2))),
            40002,
        )
    }

    fn parsed_request(bytes: &[u8]) -> Request {
        match message::parse(bytes, MAX_SIP_BYTES) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    /// Voxdesk's side: answer `invite` with `code`, To-tag and (for 200) an SDP answer.
    fn answer(invite: &[u8], code: u16) -> Vec<u8> {
        let req = parsed_request(invite);
        let mut rsp = message::response_to(&req, code, "X", Some("vox1"));
        if code == 200 {
            rsp.headers.push("Contact", "<sip:vox@127.0.0.1:5060>");
            rsp.headers.push("Content-Type", "application/sdp");
            let local = LocalMedia {
                addr: IpAddr::from([127, 0, 0, 1]),
                port: 20000,
                codecs: vec![],
                dtmf_pt: 101,
                ptime_ms: 20,
            };
            let offer = String::from_utf8_lossy(&req.body).to_string();
            let body = sdp::answer(&offer, &local, &mut SessionOrigin::new(5))
                .map(|(_, body)| body)
                .unwrap_or_default();
            rsp.body = body.into_bytes();
        }
        rsp.to_bytes()
    }

    #[test]
    fn invite_is_a_valid_request_with_a_pcmu_offer() {
        let req = parsed_request(&uac().invite());
        assert!(req.method.is(rsip::Method::Invite));
        assert_eq!(message::validate_request(&req), Ok(()));
        let body = String::from_utf8_lossy(&req.body);
        assert!(body.contains("m=audio 40002 RTP/AVP 0 101"), "{body}");
        assert!(body.contains("telephone-event/8000"));
    }

    #[test]
    fn answered_call_acks_and_byes_in_dialog() {
        let mut uac = uac();
        let invite = uac.invite();
        assert_eq!(uac.handle(&answer(&invite, 180)), UacEvent::Provisional);
        let UacEvent::Answered { ack, remote_rtp } = uac.handle(&answer(&invite, 200)) else {
            panic!("not answered");
        };
        assert_eq!(remote_rtp, SocketAddr::from(([127, 0, 0, 1], 20000)));
        let ack = parsed_request(&ack);
        assert!(ack.method.is(rsip::Method::Ack));
        assert_eq!(ack.uri, "sip:vox@127.0.0.1:5060");
        assert_eq!(
            message::param(ack.headers.get("To").unwrap_or(""), "tag"),
            Some("vox1")
        );
        assert_ne!(ack.branch(), parsed_request(&invite).branch());
        assert_eq!(message::validate_request(&ack), Ok(()));

        let bye = parsed_request(&uac.bye().unwrap_or_default());
        assert!(bye.method.is(rsip::Method::Bye));
        assert_eq!(bye.cseq(), (2, "BYE".to_string()));
        assert_eq!(message::validate_request(&bye), Ok(()));
        let ok = message::response_to(&bye, 200, "OK", None).to_bytes();
        assert_eq!(uac.handle(&ok), UacEvent::ByeAnswered);
    }

    #[test]
    fn rejection_and_remote_bye() {
        let mut uac = uac();
        assert_eq!(uac.bye(), None);
        let invite = uac.invite();
        let UacEvent::Failed { error, ack } = uac.handle(&answer(&invite, 503)) else {
            panic!("not failed");
        };
        assert_eq!(error, UacError::Rejected(503));
        assert_eq!(
            parsed_request(&ack).branch(),
            parsed_request(&invite).branch()
        );

        let bye = b"BYE sip:caller@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
From: <sip:bench@127.0.0.1>;tag=vox1\r\nTo: <sip:caller@127.0.0.1>;tag=tag7\r\nCall-ID: call-7\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n";
        let UacEvent::RemoteBye { reply } = uac.handle(bye) else {
            panic!("not a BYE");
        };
        assert!(reply.starts_with(b"SIP/2.0 200 OK\r\n"));
        let other_call = String::from_utf8_lossy(bye).replace("call-7", "call-8");
        assert_eq!(uac.handle(other_call.as_bytes()), UacEvent::Ignored);
    }

    proptest! {
        #[test]
        fn any_datagram_is_handled_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut uac = uac();
            let _ = uac.handle(&bytes);
        }
    }
}
