//! The UAS side of a SIP dialog (RFC 3261 §12): identity, CSeq spaces, route set and remote
//! target, and building the in-dialog requests voxdesk sends (BYE, REFER).

use std::net::SocketAddr;

use super::message::{name_addr_uri, param, Headers, Method, Request};

/// One dialog created by an incoming INVITE.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (the To tag we put in responses).
    pub local_tag: String,
    /// The caller's From tag.
    pub remote_tag: String,
    /// Our party as the caller addressed it (To header value, with our tag).
    pub local_party: String,
    /// The caller (From header value, with its tag).
    pub remote_party: String,
    /// Where in-dialog requests go: the caller's Contact URI.
    pub remote_target: String,
    /// Record-Route URIs, in the order a UAS uses them (§12.1.1).
    pub route_set: Vec<String>,
    /// Our CSeq counter.
    pub local_cseq: u32,
    /// Highest CSeq seen from the caller.
    pub remote_cseq: u32,
}

impl Dialog {
    /// Builds the dialog state from the INVITE that created it and our chosen tag.
    pub fn from_invite(req: &Request, local_tag: &str) -> Dialog {
        let to = req.headers.get("To").unwrap_or("");
        let from = req.headers.get("From").unwrap_or("");
        let remote_target = req
            .headers
            .get_all("Contact")
            .first()
            .map(|c| name_addr_uri(c).to_string())
            .unwrap_or_else(|| name_addr_uri(from).to_string());
        Dialog {
            call_id: req.call_id().to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: param(from, "tag").unwrap_or("").to_string(),
            local_party: if param(to, "tag").is_some() {
                to.to_string()
            } else {
                format!("{to};tag={local_tag}")
            },
            remote_party: from.to_string(),
            remote_target,
            route_set: req
                .headers
                .get_all("Record-Route")
                .iter()
                .map(|r| name_addr_uri(r).to_string())
                .collect(),
            local_cseq: 0,
            remote_cseq: req.cseq().0,
        }
    }

    /// Accepts an in-dialog request's CSeq: it must grow (§12.2.2), except ACK and CANCEL,
    /// which reuse their INVITE's number.
    pub fn accept_remote_cseq(&mut self, cseq: u32, method: &Method) -> bool {
        if method.is(rsip::Method::Ack) || method.is(rsip::Method::Cancel) {
            return true;
        }
        if cseq <= self.remote_cseq {
            return false;
        }
        self.remote_cseq = cseq;
        true
    }

    /// A new in-dialog request (§12.2.1.1) with a fresh Via branch.
    pub fn request(
        &mut self,
        method: rsip::Method,
        via_sent_by: &str,
        transport: &str,
        branch: &str,
        contact: &str,
    ) -> Request {
        self.local_cseq += 1;
        let mut headers = Headers::default();
        headers.push(
            "Via",
            format!("SIP/2.0/{transport} {via_sent_by};branch={branch};rport"),
        );
        headers.push("Max-Forwards", "70");
        for route in &self.route_set {
            headers.push("Route", format!("<{route}>"));
        }
        headers.push("From", self.local_party.clone());
        headers.push("To", self.remote_party.clone());
        headers.push("Call-ID", self.call_id.clone());
        headers.push("CSeq", format!("{} {method}", self.local_cseq));
        headers.push("Contact", format!("<{contact}>"));
        headers.push("User-Agent", "voxdesk");
        Request {
            method: Method::Known(method),
            uri: self.remote_target.clone(),
            headers,
            body: Vec::new(),
        }
    }

    /// Where to send in-dialog requests: the first route if any, else the remote target,
    /// when that names an IP literal; `None` when a name would need resolving.
    pub fn next_hop(&self) -> Option<SocketAddr> {
        let uri = self.route_set.first().unwrap_or(&self.remote_target);
        uri_socket_addr(uri)
    }
}

/// The host:port of a `sip:` URI when the host is an IP literal (default port 5060).
pub fn uri_socket_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split([';', '?']).next()?;
    if let Ok(addr) = hostport.parse::<SocketAddr>() {
        return Some(addr);
    }
    let host = hostport.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, Message};

    fn invite() -> Request {
        let text = "INVITE sip:support@127.0.0.1 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
            Record-Route: <sip:10.0.0.9;lr>, <sip:10.0.0.8;lr>\r\n\
            From: <sip:alice@127.0.0.1>;tag=a1\r\n\
            To: <sip:support@127.0.0.1>\r\n\
            Contact: <sip:alice@127.0.0.1:5061>\r\n\
            Call-ID: c1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
        match parse(text.as_bytes(), 9000) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bye_follows_route_set_and_swaps_parties() {
        let mut d = Dialog::from_invite(&invite(), "v1");
        let bye = d.request(
            rsip::Method::Bye,
            "127.0.0.1:5060",
            "UDP",
            "z9hG4bKb",
            "sip:voxdesk@127.0.0.1:5060",
        );
        assert_eq!(bye.uri, "sip:alice@127.0.0.1:5061");
        assert_eq!(
            bye.headers.get_all("Route"),
            vec!["<sip:10.0.0.9;lr>", "<sip:10.0.0.8;lr>"]
        );
        assert_eq!(
            bye.headers.get("From"),
            Some("<sip:support@127.0.0.1>;tag=v1")
        );
        assert_eq!(bye.headers.get("To"), Some("<sip:alice@127.0.0.1>;tag=a1"));
        assert_eq!(bye.headers.get("CSeq"), Some("1 BYE"));
        assert_eq!(d.next_hop(), "10.0.0.9:5060".parse().ok());
    }

    #[test]
    fn remote_cseq_must_grow_except_ack_and_cancel() {
        let mut d = Dialog::from_invite(&invite(), "v1");
        let bye = Method::Known(rsip::Method::Bye);
        assert!(d.accept_remote_cseq(7, &Method::Known(rsip::Method::Ack)));
        assert!(!d.accept_remote_cseq(7, &bye));
        assert!(d.accept_remote_cseq(8, &bye));
        assert!(!d.accept_remote_cseq(8, &bye));
    }

    #[test]
    fn uri_addresses() {
        let cases = [
            ("sip:a@127.0.0.1:5070", Some("127.0.0.1:5070")),
            ("sip:127.0.0.1;lr", Some("127.0.0.1:5060")),
            ("sip:a@[::1]:5080;transport=tcp", Some("[::1]:5080")),
            ("sip:a@example.com", None),
            ("tel:+123", None),
        ];
        for (uri, want) in cases {
            assert_eq!(
                uri_socket_addr(uri),
                want.map(|w| w.parse().unwrap()),
                "{uri}"
            );
        }
    }
}
