//! Transfers asked of us (RFC 3515): a REFER received on any call is accepted with 202 and
//! handed to the call layer, which reports the outcome through the implicit subscription's
//! NOTIFYs (`notify_refer`). Refer-To's embedded Replaces (attended transfer, RFC 3891) is
//! unescaped here so the call layer gets the header value it needs.

use std::time::Instant;

use rsip::Method as M;

use super::*;
use crate::sip::message::{name_addr_uri, reason_phrase, response_to, Request};

impl Endpoint {
    pub(super) fn handle_refer(
        &mut self,
        req: Request,
        key: TxKey,
        call_key: CallKey,
        peer: Peer,
        now: Instant,
    ) {
        // `r` and `b` are the compact forms of Refer-To and Referred-By (RFC 3515, 3892).
        let refer_to: Vec<&str> = ["Refer-To", "r"]
            .iter()
            .flat_map(|name| req.headers.get_all(name))
            .collect();
        let target = match refer_to.as_slice() {
            [one] => parse_refer_to(one),
            _ => None,
        };
        let Some((refer_to, replaces)) = target else {
            let rsp = response_to(&req, 400, "Bad Refer-To Header", None);
            self.respond_new_non_invite(key, rsp, peer, now);
            return;
        };
        if let Some(call) = self.calls.get_mut(&call_key) {
            call.refer_id = Some(req.cseq().0);
        }
        let referred_by = req
            .headers
            .get("Referred-By")
            .or_else(|| req.headers.get("b"))
            .map(str::to_string);
        let rsp = response_to(&req, 202, reason_phrase(202), None);
        self.respond_new_non_invite(key, rsp, peer, now);
        self.events.push_back(SipEvent::ReferReceived {
            key: call_key,
            refer_to,
            replaces,
            referred_by,
        });
    }

    /// Reports the progress of the transfer a REFER asked for: a NOTIFY carrying
    /// `SIP/2.0 <code> <reason>` as message/sipfrag. A final code (≥ 200) ends the implicit
    /// subscription. Does nothing without an accepted REFER on an established call.
    pub fn notify_refer(&mut self, call_key: CallKey, sipfrag_code: u16, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let Some(id) = call.refer_id else {
            return;
        };
        if call.state != CallState::Confirmed {
            return;
        }
        let done = sipfrag_code >= 200;
        if done {
            call.refer_id = None;
        }
        let Some((mut req, peer)) = self.in_dialog_request(call_key, M::Notify) else {
            return;
        };
        req.headers.push("Event", format!("refer;id={id}"));
        req.headers.push(
            "Subscription-State",
            if done {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        req.headers
            .push("Content-Type", "message/sipfrag;version=2.0");
        req.body =
            format!("SIP/2.0 {sipfrag_code} {}\r\n", reason_phrase(sipfrag_code)).into_bytes();
        self.start_client_request(&req, peer, call_key, Purpose::Notify, now);
    }
}

/// The target of a Refer-To value, without `<>` and URI headers, and its embedded Replaces
/// header, unescaped; `None` when there is no URI.
pub(super) fn parse_refer_to(value: &str) -> Option<(String, Option<String>)> {
    let uri = name_addr_uri(value);
    let (target, headers) = uri.split_once('?').unwrap_or((uri, ""));
    if target.is_empty() || !target.contains(':') {
        return None;
    }
    let replaces = headers.split('&').find_map(|h| {
        let (name, value) = h.split_once('=')?;
        name.eq_ignore_ascii_case("Replaces")
            .then(|| percent_decode(value))
    });
    Some((target.to_string(), replaces))
}

/// Decodes `%XX` escapes; anything else, broken escapes included, is kept as it is.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_forms() {
        let cases = [
            (
                "<sip:bob@10.0.0.5?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>",
                Some(("sip:bob@10.0.0.5", Some("abc@host;to-tag=t1;from-tag=f1"))),
            ),
            (
                "\"Bob\" <sip:bob@h;transport=tcp?X=1&replaces=a%3Bb>;p=1",
                Some(("sip:bob@h;transport=tcp", Some("a;b"))),
            ),
            ("sip:carol@h", Some(("sip:carol@h", None))),
            ("<>", None),
            ("nonsense", None),
        ];
        for (value, want) in cases {
            let got = parse_refer_to(value);
            let want = want.map(|(t, r)| (t.to_string(), r.map(str::to_string)));
            assert_eq!(got, want, "{value:?}");
        }
    }

    #[test]
    fn percent_decode_keeps_broken_escapes() {
        assert_eq!(percent_decode("a%3Bb%3b"), "a;b;");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
    }

    proptest::proptest! {
        #[test]
        fn refer_to_parsing_never_panics(value in "\\PC{0,80}") {
            let _ = parse_refer_to(&value);
        }

        #[test]
        fn percent_decode_round_trips_escaped_text(text in "\\PC{0,40}") {
            let escaped: String = text.bytes().map(|b| format!("%{b:02x}")).collect();
            proptest::prop_assert_eq!(percent_decode(&escaped), text);
        }
    }
}
