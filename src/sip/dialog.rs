//! A SIP dialog (RFC 3261 §12), from either side: identity, CSeq spaces, route set and remote
//! target, and building the in-dialog requests voxdesk sends (BYE, REFER, NOTIFY, the ACK of
//! an outgoing call's 2xx).

use std::net::SocketAddr;

use super::message::{name_addr_uri, param, Headers, Method, Request, Response};

/// One dialog, created by an incoming INVITE (we are UAS) or by a 2xx to ours (UAC).
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (the To tag we put in responses, or our From tag as UAC).
    pub local_tag: String,
    /// The other side's tag.
    pub remote_tag: String,
    /// Our party (the From of our requests, with our tag).
    pub local_party: String,
    /// The other party (the To of our requests, with its tag once known).
    pub remote_party: String,
    /// Where in-dialog requests go: the other side's Contact URI.
    pub remote_target: String,
    /// Record-Route URIs in the order our requests visit them (§12.1.1, §12.1.2).
    pub route_set: Vec<String>,
    /// Where to send when there is no route set, whatever the Contact says: the registered
    /// flow an outgoing call went to, since a phone behind NAT advertises a private Contact
    /// (RFC 5626 sends over the registration's flow likewise).
    pub flow: Option<SocketAddr>,
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
        // The target becomes our Request-URI: one the start line cannot hold is not taken.
        let remote_target = req
            .headers
            .get_all("Contact")
            .first()
            .map(|c| name_addr_uri(c))
            .filter(|uri| is_request_uri(uri))
            .unwrap_or_else(|| name_addr_uri(from))
            .to_string();
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
            flow: None,
            local_cseq: 0,
            remote_cseq: req.cseq().0,
        }
    }

    /// The early state of the dialog our INVITE will create: no remote tag yet, the
    /// Request-URI as remote target, our INVITE's CSeq as the local one.
    pub fn outgoing(invite: &Request, flow: Option<SocketAddr>) -> Dialog {
        let from = invite.headers.get("From").unwrap_or("");
        Dialog {
            call_id: invite.call_id().to_string(),
            local_tag: param(from, "tag").unwrap_or("").to_string(),
            remote_tag: String::new(),
            local_party: from.to_string(),
            remote_party: invite.headers.get("To").unwrap_or("").to_string(),
            remote_target: invite.uri.clone(),
            route_set: Vec::new(),
            flow,
            local_cseq: invite.cseq().0,
            // The remote CSeq space is empty until its first request (§12.1.2).
            remote_cseq: 0,
        }
    }

    /// Completes an outgoing dialog from the 2xx that established it (§12.1.2): the remote
    /// tag and party from To, the target from Contact, the route set from Record-Route
    /// reversed.
    pub fn confirm(&mut self, rsp: &Response) {
        let to = rsp.headers.get("To").unwrap_or("");
        self.remote_tag = param(to, "tag").unwrap_or("").to_string();
        self.remote_party = to.to_string();
        if let Some(contact) = rsp.headers.get_all("Contact").first() {
            self.set_remote_target(contact);
        }
        self.route_set = rsp
            .headers
            .get_all("Record-Route")
            .iter()
            .rev()
            .map(|r| name_addr_uri(r).to_string())
            .collect();
    }

    /// Takes a Contact value as the new remote target (§12.2), unless its URI cannot be a
    /// Request-URI (spaces, controls …): then the old target stays.
    pub fn set_remote_target(&mut self, contact: &str) {
        let uri = name_addr_uri(contact);
        if is_request_uri(uri) {
            self.remote_target = uri.to_string();
        }
    }

    /// The ACK for a 2xx to our INVITE numbered `cseq` (§13.2.2.4): a new transaction of its
    /// own, so a fresh branch, but the INVITE's CSeq number.
    pub fn ack(&self, cseq: u32, via_sent_by: &str, transport: &str, branch: &str) -> Request {
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
        headers.push("CSeq", format!("{cseq} ACK"));
        Request {
            method: Method::Known(rsip::Method::Ack),
            uri: self.remote_target.clone(),
            headers,
            body: Vec::new(),
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

    /// Where to send in-dialog requests: the first route if any, else the flow, else the
    /// remote target, when that names an IP literal; `None` when a name would need resolving.
    pub fn next_hop(&self) -> Option<SocketAddr> {
        match (self.route_set.first(), self.flow) {
            (Some(route), _) => uri_socket_addr(route),
            (None, Some(flow)) => Some(flow),
            (None, None) => uri_socket_addr(&self.remote_target),
        }
    }
}

/// True for a URI our start line can carry as is: a scheme and no spaces, controls, angle
/// brackets or quotes.
pub fn is_request_uri(uri: &str) -> bool {
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    scheme_ok
        && !uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
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
    fn outgoing_dialog_takes_tag_target_and_reversed_routes_from_the_2xx() {
        let mut invite = invite();
        invite.headers.remove("Record-Route");
        let flow = "192.0.2.7:40000".parse().ok();
        let mut d = Dialog::outgoing(&invite, flow);
        assert_eq!(d.local_tag, "a1");
        assert_eq!(d.next_hop(), flow, "no routes: the flow, not the Contact");
        let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
            Record-Route: <sip:10.0.0.9;lr>\r\nRecord-Route: <sip:10.0.0.8;lr>\r\n\
            From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:support@127.0.0.1>;tag=b2\r\n\
            Contact: <sip:bob@10.0.0.20:5070>\r\n\
            Call-ID: c1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Response(ok)) = parse(ok.as_bytes(), 9000) else {
            panic!("200 does not parse");
        };
        d.confirm(&ok);
        assert_eq!(d.remote_tag, "b2");
        assert_eq!(d.remote_target, "sip:bob@10.0.0.20:5070");
        assert_eq!(d.route_set, ["sip:10.0.0.8;lr", "sip:10.0.0.9;lr"]);
        assert_eq!(d.next_hop(), "10.0.0.8:5060".parse().ok());
        let ack = d.ack(7, "127.0.0.1:5060", "UDP", "z9hG4bKack");
        assert_eq!(ack.headers.get("CSeq"), Some("7 ACK"));
        assert_eq!(
            ack.headers.get("To"),
            Some("<sip:support@127.0.0.1>;tag=b2")
        );
        assert_eq!(ack.uri, "sip:bob@10.0.0.20:5070");
        let bye = d.request(rsip::Method::Bye, "127.0.0.1:5060", "UDP", "z9hG4bKb", "c");
        assert_eq!(bye.headers.get("CSeq"), Some("8 BYE"));
        assert_eq!(
            bye.headers.get("From"),
            Some("<sip:alice@127.0.0.1>;tag=a1")
        );
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
    fn a_contact_that_cannot_be_a_request_uri_is_not_taken() {
        let mut d = Dialog::from_invite(&invite(), "v1");
        for bad in ["<sip:a b@h>", "<>", "<sip:a@h\"x>", "nothing"] {
            d.set_remote_target(bad);
            assert_eq!(d.remote_target, "sip:alice@127.0.0.1:5061", "{bad}");
        }
        d.set_remote_target("<sip:alice@10.0.0.3>;expires=60");
        assert_eq!(d.remote_target, "sip:alice@10.0.0.3");
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
