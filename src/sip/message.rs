//! SIP message framing, tokenizing and serialization.
//!
//! We frame and tokenize by hand because rsip 0.4 does not check Content-Length, does not
//! expand compact header names (`i:`, `v:`, `l:` …), does not unfold continuation lines and
//! rejects requests with an unknown method — which RFC 3261 wants answered with 405, not
//! dropped. rsip supplies the typed pieces we need on top: [`rsip::Method`] and URI parsing.
//!
//! Parsing errors are split the way the 400-or-drop rule needs them: a
//! [`ParseError::BadRequest`] can still be answered (with its reason phrase), everything else
//! is dropped and counted.

use std::fmt::Write as _;

/// Header names in RFC 3261 §7.3.3 compact form, with their full names.
const COMPACT_FORMS: [(&str, &str); 10] = [
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
];

/// Why a message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A stream holds part of a message; wait for more bytes.
    #[error("incomplete message")]
    Incomplete,
    /// Not SIP at all (no valid start line): dropped and counted.
    #[error("not a SIP message: {0}")]
    Junk(&'static str),
    /// Larger than the configured maximum.
    #[error("message too large")]
    TooLarge,
    /// A request we can still answer, with the reason phrase for the 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A broken response: responses are never answered, so it is dropped.
    #[error("bad response: {0}")]
    BadResponse(String),
}

/// An ordered list of headers, full names, values trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Appends a header.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma-separated lists split into elements, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    /// Rewrites the first list element of the first `name` header (e.g. the top Via).
    pub fn map_first_element(&mut self, name: &str, f: impl FnOnce(&str) -> String) {
        let Some((_, value)) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            return;
        };
        let elements = split_list(value);
        let Some((first, rest)) = elements.split_first() else {
            return;
        };
        let mut out = f(first);
        for element in rest {
            out.push_str(", ");
            out.push_str(element);
        }
        *value = out;
    }

    /// Removes every header called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Iterates in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Splits a header value at top-level commas (not inside `<>` or quotes).
fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, ch) in value.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// The method of a request; unknown methods are kept so they can be answered 405.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// A method rsip knows.
    Known(rsip::Method),
    /// Any other token.
    Unknown(String),
}

impl Method {
    fn parse(token: &str) -> Method {
        match token.parse::<rsip::Method>() {
            // rsip matches case-insensitively; SIP methods are case-sensitive.
            Ok(m) if m.to_string() == token => Method::Known(m),
            _ => Method::Unknown(token.to_string()),
        }
    }

    /// True for the given known method.
    pub fn is(&self, m: rsip::Method) -> bool {
        matches!(self, Method::Known(k) if *k == m)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Known(m) => write!(f, "{m}"),
            Method::Unknown(s) => f.write_str(s),
        }
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI as written.
    pub uri: String,
    /// Headers in order.
    pub headers: Headers,
    /// The body, exactly Content-Length bytes.
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Parses one complete message from a datagram (or a frame cut by [`StreamFramer`]).
pub fn parse(buf: &[u8], max_size: usize) -> Result<Message, ParseError> {
    if buf.len() > max_size {
        return Err(ParseError::TooLarge);
    }
    // Keep-alives (RFC 5626 CRLF pings) and stray whitespace are not messages.
    let start = buf
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(ParseError::Junk("empty"))?;
    let buf = &buf[start..];
    let head_end = find_head_end(buf).ok_or(ParseError::Junk("no end of headers"))?;
    let head =
        std::str::from_utf8(&buf[..head_end.0]).map_err(|_| ParseError::Junk("not UTF-8"))?;
    let rest = &buf[head_end.1..];
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().ok_or(ParseError::Junk("no start line"))?;
    let start = parse_start_line(start_line)?;
    let is_request = matches!(start, StartLine::Request { .. });
    let bad = |why: String| {
        if is_request {
            ParseError::BadRequest(why)
        } else {
            ParseError::BadResponse(why)
        }
    };
    let headers = parse_headers(lines).map_err(bad)?;
    let body = match headers.get("Content-Length") {
        Some(v) => {
            let len: usize = v
                .trim()
                .parse()
                .map_err(|_| bad(format!("Invalid Content-Length {v:?}")))?;
            if rest.len() < len {
                return Err(bad(format!(
                    "Body Shorter Than Content-Length ({} < {len})",
                    rest.len()
                )));
            }
            rest[..len].to_vec()
        }
        // Datagrams may omit Content-Length; the body is the rest of the packet.
        None => rest.to_vec(),
    };
    Ok(match start {
        StartLine::Request { method, uri } => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Response { code, reason } => Message::Response(Response {
            code,
            reason,
            headers,
            body,
        }),
    })
}

/// Position of the blank line: (end of head, start of body).
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(c), Some(l)) if l < c => Some((l, l + 2)),
        (Some(c), _) => Some((c, c + 4)),
        (None, Some(l)) => Some((l, l + 2)),
        (None, None) => None,
    }
}

enum StartLine {
    Request { method: Method, uri: String },
    Response { code: u16, reason: String },
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code
            .parse()
            .map_err(|_| ParseError::Junk("bad status code"))?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::Junk("status code out of range"));
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_string(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Junk("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || version != "SIP/2.0" {
        return Err(ParseError::Junk("bad request line"));
    }
    if uri.is_empty() || !uri.contains(':') {
        return Err(ParseError::BadRequest("Malformed Request-URI".into()));
    }
    Ok(StartLine::Request {
        method: Method::parse(method),
        uri: uri.to_string(),
    })
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // RFC 3261 §7.3.1 line folding: a continuation of the previous value.
            let last = headers
                .last_mut()
                .ok_or_else(|| "Continuation Line Without Header".to_string())?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("Malformed Header Line {:?}", truncate(line, 40)))?;
        let name = name.trim_end();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("Malformed Header Name {:?}", truncate(name, 40)));
        }
        let full = COMPACT_FORMS
            .iter()
            .find(|(short, _)| name.eq_ignore_ascii_case(short))
            .map_or(name, |(_, long)| long);
        headers.push((full.to_string(), value.trim().to_string()));
    }
    Ok(Headers(headers))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Cuts a TCP byte stream into messages using Content-Length (mandatory on streams).
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max_size: usize,
}

impl StreamFramer {
    /// A framer refusing messages larger than `max_size` bytes.
    pub fn new(max_size: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            max_size,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Err(Incomplete)` when more bytes are needed, or another error
    /// after which the stream cannot be resynchronised and should be closed.
    pub fn next_frame(&mut self) -> Result<Vec<u8>, ParseError> {
        let skip = self
            .buf
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(self.buf.len());
        self.buf.drain(..skip);
        let Some((head_end, body_start)) = find_head_end(&self.buf) else {
            return if self.buf.len() > self.max_size {
                Err(ParseError::TooLarge)
            } else {
                Err(ParseError::Incomplete)
            };
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]);
        let content_length = head
            .split('\n')
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| {
                let n = n.trim();
                n.eq_ignore_ascii_case("Content-Length") || n.eq_ignore_ascii_case("l")
            })
            .map(|(_, v)| v.trim().parse::<usize>());
        let len = match content_length {
            Some(Ok(len)) => len,
            Some(Err(_)) => return Err(ParseError::BadRequest("Invalid Content-Length".into())),
            None => return Err(ParseError::BadRequest("Missing Content-Length".into())),
        };
        let total = body_start.saturating_add(len);
        if total > self.max_size {
            return Err(ParseError::TooLarge);
        }
        if self.buf.len() < total {
            return Err(ParseError::Incomplete);
        }
        Ok(self.buf.drain(..total).collect())
    }
}

fn write_message(out: &mut String, headers: &Headers, body: &[u8]) -> Vec<u8> {
    for (name, value) in headers.iter() {
        if !name.eq_ignore_ascii_case("Content-Length") {
            let _ = write!(out, "{name}: {value}\r\n");
        }
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

impl Request {
    /// Serializes with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_message(&mut out, &self.headers, &self.body)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.headers.get("Call-ID").unwrap_or("")
    }

    /// The CSeq number and method (validated by [`validate_request`]).
    pub fn cseq(&self) -> (u32, String) {
        parse_cseq(self.headers.get("CSeq").unwrap_or("")).unwrap_or((0, String::new()))
    }

    /// The branch of the top Via.
    pub fn branch(&self) -> &str {
        self.headers
            .get_all("Via")
            .first()
            .and_then(|v| param(v, "branch"))
            .unwrap_or("")
    }
}

impl Response {
    /// Serializes with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", self.code, self.reason);
        write_message(&mut out, &self.headers, &self.body)
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, String)> {
        parse_cseq(self.headers.get("CSeq")?)
    }

    /// The branch of the top Via.
    pub fn branch(&self) -> &str {
        self.headers
            .get_all("Via")
            .first()
            .and_then(|v| param(v, "branch"))
            .unwrap_or("")
    }
}

/// Parses a CSeq value: `4711 INVITE`.
pub fn parse_cseq(value: &str) -> Option<(u32, String)> {
    let mut it = value.split_whitespace();
    let num = it.next()?.parse().ok()?;
    let method = it.next()?;
    if it.next().is_some() || !method.bytes().all(is_token_byte) {
        return None;
    }
    Some((num, method.to_string()))
}

/// The value of `;name=value` in a header value, outside of `<>` (case-insensitive name).
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after_uri = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    after_uri.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The URI of a name-addr (`"Bob" <sip:bob@host>;tag=x`) or addr-spec (`sip:bob@host;tag=x`).
pub fn name_addr_uri(value: &str) -> &str {
    if let (Some(open), Some(close)) = (value.find('<'), value.rfind('>')) {
        if open < close {
            return value[open + 1..close].trim();
        }
    }
    value.split(';').next().unwrap_or("").trim()
}

/// Checks what every request must carry (RFC 3261 §8.2), with a reason phrase for the 400.
pub fn validate_request(req: &Request) -> Result<(), String> {
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if req.headers.get(name).is_none_or(|v| v.is_empty()) {
            return Err(format!("Missing {name} Header"));
        }
    }
    let (_, cseq_method) =
        parse_cseq(req.headers.get("CSeq").unwrap_or("")).ok_or("Malformed CSeq Header")?;
    // ACK and CANCEL carry the INVITE's number with their own method.
    if cseq_method != req.method.to_string() {
        return Err("CSeq Method Does Not Match Request".into());
    }
    if rsip::Uri::try_from(req.uri.as_str()).is_err() {
        return Err("Malformed Request-URI".into());
    }
    for name in ["From", "To"] {
        let value = req.headers.get(name).unwrap_or("");
        if rsip::Uri::try_from(name_addr_uri(value)).is_err() {
            return Err(format!("Malformed {name} Header"));
        }
    }
    if let Some(mf) = req.headers.get("Max-Forwards") {
        mf.trim()
            .parse::<u8>()
            .map_err(|_| "Malformed Max-Forwards Header")?;
    }
    if req.branch().is_empty() && req.headers.get_all("Via").is_empty() {
        return Err("Malformed Via Header".into());
    }
    Ok(())
}

/// Builds a response to `req` (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq copied;
/// `to_tag` is added to To when it has none.
pub fn response_to(req: &Request, code: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for via in req.headers.get_all("Via") {
        headers.push("Via", via);
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        let value = req.headers.get(name).unwrap_or("");
        let value = match (name, to_tag) {
            ("To", Some(tag)) if param(value, "tag").is_none() => format!("{value};tag={tag}"),
            _ => value.to_string(),
        };
        headers.push(name, value);
    }
    Response {
        code,
        reason: reason.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// The standard reason phrase for the codes voxdesk sends.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        513 => "Message Too Large",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:support@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport\r\n\
        f: \"Alice\" <sip:alice@127.0.0.1>;tag=a1\r\n\
        t: <sip:support@127.0.0.1>\r\n\
        i: call-1@host\r\n\
        CSeq: 1 INVITE\r\n\
        Subject: folded\r\n  continuation\r\n\
        l: 4\r\n\r\nv=0\r\nEXTRA";

    #[test]
    fn parses_compact_folded_and_cuts_body_at_content_length() {
        let Ok(Message::Request(req)) = parse(INVITE.as_bytes(), 65535) else {
            panic!("not a request");
        };
        assert!(req.method.is(rsip::Method::Invite));
        assert_eq!(req.call_id(), "call-1@host");
        assert_eq!(req.headers.get("Subject"), Some("folded continuation"));
        assert_eq!(req.body, b"v=0\r");
        assert_eq!(req.branch(), "z9hG4bK-1");
        assert_eq!(param(req.headers.get("From").unwrap(), "tag"), Some("a1"));
        assert_eq!(validate_request(&req), Ok(()));
    }

    #[test]
    fn short_body_is_a_bad_request() {
        let msg = INVITE.replace("l: 4", "l: 400");
        assert!(matches!(
            parse(msg.as_bytes(), 65535),
            Err(ParseError::BadRequest(r)) if r.starts_with("Body Shorter")
        ));
    }

    #[test]
    fn table_of_broken_inputs() {
        type Check = fn(&Result<Message, ParseError>) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |r| matches!(r, Err(ParseError::Junk(_)))),
            ("\r\n\r\n", |r| matches!(r, Err(ParseError::Junk(_)))),
            ("hello world\r\n\r\n", |r| {
                matches!(r, Err(ParseError::Junk(_)))
            }),
            ("SIP/2.0 99 Low\r\n\r\n", |r| {
                matches!(r, Err(ParseError::Junk(_)))
            }),
            ("INVITE sip:a SIP/2.0\r\nNoColon\r\n\r\n", |r| {
                matches!(r, Err(ParseError::BadRequest(_)))
            }),
            ("SIP/2.0 200 OK\r\nl: x\r\n\r\n", |r| {
                matches!(r, Err(ParseError::BadResponse(_)))
            }),
            (
                "FOO sip:a@b SIP/2.0\r\n\r\n",
                |r| matches!(r, Ok(Message::Request(Request { method: Method::Unknown(m), .. })) if m == "FOO"),
            ),
        ];
        for (input, check) in cases {
            let result = parse(input.as_bytes(), 65535);
            assert!(check(&result), "{input:?} gave {result:?}");
        }
    }

    #[test]
    fn validation_reasons() {
        let cases = [
            ("Call-ID", "Missing Call-ID Header"),
            ("CSeq", "Missing CSeq Header"),
            ("Via", "Missing Via Header"),
        ];
        for (header, reason) in cases {
            let Ok(Message::Request(mut req)) = parse(INVITE.as_bytes(), 65535) else {
                panic!()
            };
            req.headers.remove(header);
            assert_eq!(validate_request(&req), Err(reason.to_string()));
        }
        let Ok(Message::Request(mut req)) = parse(INVITE.as_bytes(), 65535) else {
            panic!()
        };
        req.headers.remove("CSeq");
        req.headers.push("CSeq", "1 BYE");
        assert_eq!(
            validate_request(&req),
            Err("CSeq Method Does Not Match Request".into())
        );
    }

    #[test]
    fn framer_splits_stream_by_content_length() {
        let one = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let mut f = StreamFramer::new(1000);
        let stream = format!("\r\n{one}{one}");
        f.push(&stream.as_bytes()[..10]);
        assert_eq!(f.next_frame(), Err(ParseError::Incomplete));
        f.push(&stream.as_bytes()[10..]);
        assert_eq!(f.next_frame().unwrap(), one.as_bytes());
        assert_eq!(f.next_frame().unwrap(), one.as_bytes());
        assert_eq!(f.next_frame(), Err(ParseError::Incomplete));
        let mut small = StreamFramer::new(20);
        small.push(one.as_bytes());
        assert_eq!(small.next_frame(), Err(ParseError::TooLarge));
    }

    #[test]
    fn response_copies_headers_and_adds_tag() {
        let Ok(Message::Request(req)) = parse(INVITE.as_bytes(), 65535) else {
            panic!()
        };
        let rsp = response_to(&req, 200, "OK", Some("xyz"));
        let text = String::from_utf8(rsp.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(text.contains("To: <sip:support@127.0.0.1>;tag=xyz\r\n"));
        assert!(text.contains("Call-ID: call-1@host\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        let Ok(Message::Response(back)) = parse(text.as_bytes(), 65535) else {
            panic!()
        };
        assert_eq!(back.cseq(), Some((1, "INVITE".into())));
    }

    #[test]
    fn name_addr_forms() {
        assert_eq!(name_addr_uri("\"A\" <sip:a@b;lr>;tag=1"), "sip:a@b;lr");
        assert_eq!(name_addr_uri("sip:a@b;tag=1"), "sip:a@b");
        assert_eq!(param("<sip:a@b;tag=no>;tag=yes", "tag"), Some("yes"));
        assert_eq!(
            split_list("<sip:a,b>, <sip:c>"),
            vec!["<sip:a,b>", "<sip:c>"]
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(Message::Request(req)) = parse(&bytes, 65535) {
                let _ = validate_request(&req);
                let _ = response_to(&req, 400, "Bad Request", Some("t"));
            }
            let mut f = StreamFramer::new(4096);
            f.push(&bytes);
            while let Ok(frame) = f.next_frame() { let _ = parse(&frame, 4096); }
        }

        #[test]
        fn mutated_invite_never_panics(pos in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
            let mut bytes = INVITE.as_bytes().to_vec();
            let pos = pos % bytes.len();
            bytes[pos] = byte;
            bytes.truncate(cut.max(1));
            if let Ok(Message::Request(req)) = parse(&bytes, 65535) {
                let _ = validate_request(&req);
            }
        }
    }
}
