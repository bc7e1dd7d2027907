//! Reading the calls' tickets back over voxdesk's HTTP API (`GET /api/tickets`,
//! `GET /api/tickets/{id}`) and picking the speech turns out of them.
//!
//! HTTP/1.1 by hand over `std::net::TcpStream` (one GET, `Connection: close`): the bench
//! needs two read-only JSON endpoints on 127.0.0.1, which does not justify an HTTP client
//! crate. Parsing is sans-IO and tested; every field is optional, since the body is input.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// Largest HTTP response read.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// The API's page size limit (`tickets::MAX_PER_PAGE`).
const PER_PAGE: u32 = 200;
/// Pages read at most when looking for call ids.
const MAX_PAGES: u32 = 50;

/// Why a ticket could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Connecting, writing or reading.
    #[error("HTTP: {0}")]
    Io(#[from] std::io::Error),
    /// Not an HTTP response, or not a 200.
    #[error("HTTP: {0}")]
    Http(String),
    /// The body was not the JSON expected.
    #[error("JSON: {0}")]
    Json(String),
}

/// One recognized utterance as the ticket stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechTurn {
    /// When the turn was stored, unix milliseconds.
    pub at_ms: Option<i64>,
    /// The transcript.
    pub text: String,
    /// `timings.asr_ms`.
    pub asr_ms: Option<f64>,
    /// `timings.speech_ms`: the audio the recognizer was given.
    pub speech_ms: Option<f64>,
    /// The intent found, if any.
    pub intent: Option<String>,
    /// What the dialplan made of it (`intent`, `no-match`, `noise`, …).
    pub outcome: Option<String>,
}

/// `GET path` on `http`, returning the body of a 200.
pub fn get(http: SocketAddr, path: &str) -> Result<Vec<u8>, TicketError> {
    let mut stream = TcpStream::connect_timeout(&http, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE_BYTES).read_to_end(&mut raw)?;
    let (status, body) = parse_response(&raw)?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        return Err(TicketError::Http(format!("GET {path}: {status} {text}")));
    }
    Ok(body)
}

/// Status and body of a complete HTTP/1.1 response (Content-Length, chunked, or to close).
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), TicketError> {
    let bad = |why: &str| TicketError::Http(why.to_string());
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(raw.get(..head_end).unwrap_or_default())
        .map_err(|_| bad("head is not UTF-8"))?;
    let body = raw.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| {
            l.strip_prefix("HTTP/1.1 ")
                .or_else(|| l.strip_prefix("HTTP/1.0 "))
        })
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    if header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok((
            status,
            dechunk(body).ok_or_else(|| bad("bad chunked body"))?,
        ));
    }
    match header("Content-Length") {
        Some(len) => {
            let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
            let body = body
                .get(..len)
                .ok_or_else(|| bad("body shorter than Content-Length"))?;
            Ok((status, body.to_vec()))
        }
        None => Ok((status, body.to_vec())),
    }
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(body.get(..line_end)?).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        let data_start = line_end + 2;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(data_start..data_start.checked_add(size)?)?);
        body = body.get(data_start + size + 2..)?;
    }
}

/// Ticket ids by call id from one `GET /api/tickets` page; and the listing's total.
pub fn ticket_ids(page: &[u8]) -> Result<(HashMap<String, i64>, u64), TicketError> {
    let json: Value = serde_json::from_slice(page).map_err(|e| TicketError::Json(e.to_string()))?;
    let items = json
        .get("tickets")
        .and_then(Value::as_array)
        .ok_or_else(|| TicketError::Json("no `tickets` array".into()))?;
    let ids = items
        .iter()
        .filter_map(|t| {
            Some((
                t.get("call_id")?.as_str()?.to_string(),
                t.get("id")?.as_i64()?,
            ))
        })
        .collect();
    let total = json.get("total").and_then(Value::as_u64).unwrap_or(0);
    Ok((ids, total))
}

/// Finds the tickets of `call_ids` (newest-first listing, paged).
pub fn find_tickets(
    http: SocketAddr,
    call_ids: &[String],
) -> Result<HashMap<String, i64>, TicketError> {
    let mut found = HashMap::new();
    for page in 1..=MAX_PAGES {
        let body = get(
            http,
            &format!("/api/tickets?page={page}&per_page={PER_PAGE}"),
        )?;
        let (ids, total) = ticket_ids(&body)?;
        found.extend(ids.into_iter().filter(|(call, _)| call_ids.contains(call)));
        let seen_all = u64::from(page) * u64::from(PER_PAGE) >= total;
        if found.len() == call_ids.len() || seen_all {
            break;
        }
    }
    Ok(found)
}

/// Whether the ticket is closed (`ended_at` set), and its speech turns in order.
pub fn speech_turns(ticket: &[u8]) -> Result<(bool, Vec<SpeechTurn>), TicketError> {
    let json: Value =
        serde_json::from_slice(ticket).map_err(|e| TicketError::Json(e.to_string()))?;
    let ended = json.get("ended_at").is_some_and(|v| !v.is_null());
    let turns = json
        .get("turns")
        .and_then(Value::as_array)
        .ok_or_else(|| TicketError::Json("no `turns` array".into()))?;
    let speech = turns
        .iter()
        .filter(|t| t.get("kind").and_then(Value::as_str) == Some("speech"))
        .map(|t| SpeechTurn {
            at_ms: t
                .get("at")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339_millis),
            text: t
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            asr_ms: timing(t, "asr_ms"),
            speech_ms: timing(t, "speech_ms"),
            intent: t.get("intent").and_then(Value::as_str).map(str::to_string),
            outcome: t.get("outcome").and_then(Value::as_str).map(str::to_string),
        })
        .collect();
    Ok((ended, speech))
}

fn timing(turn: &Value, name: &str) -> Option<f64> {
    turn.get("timings")?.get(name)?.as_f64()
}

/// Unix milliseconds of a UTC RFC 3339 time as `tickets::Timestamp` writes it
/// (`2024-03-01T12:00:00.250Z`; fraction optional).
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-');
    let (year, month, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut c = clock.split(':');
    let (hour, minute, second): (i64, i64, i64) = (
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
    );
    if d.next().is_some()
        || c.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(0..=9999).contains(&year)
    {
        return None;
    }
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    let millis: i64 = digits.parse().ok()?;
    let seconds = crate::tickets::time::days_from_civil(year, month, day) * 86_400
        + hour * 3600
        + minute * 60
        + second;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::Timestamp;
    use proptest::prelude::*;

    #[test]
    fn responses_are_framed() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcdEXTRA";
        assert_eq!(parse_response(raw).ok(), Some((200, b"abcd".to_vec())));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).ok(), Some((404, b"abcde".to_vec())));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\nall").ok(),
            Some((200, b"all".to_vec()))
        );
        for bad in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"SIP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab",
        ] {
            assert!(
                parse_response(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn listing_maps_call_ids() {
        let page = br#"{"tickets":[{"id":7,"call_id":"a"},{"id":"x","call_id":"b"},{"id":9,"call_id":"c"}],"total":3}"#;
        let (ids, total) = ticket_ids(page).unwrap_or_default();
        assert_eq!(total, 3);
        assert_eq!(ids.get("a"), Some(&7));
        assert_eq!(ids.get("b"), None);
        assert_eq!(ids.len(), 2);
        assert!(ticket_ids(b"{}").is_err());
    }

    #[test]
    fn speech_turns_are_picked_out() {
        let ticket = br#"{"id":1,"ended_at":"2024-03-01T12:00:09.000Z","turns":[
            {"at":"2024-03-01T12:00:00.250Z","kind":"prompt","text":"Hello."},
            {"at":"2024-03-01T12:00:03.500Z","kind":"speech","text":"where is my order","asr_confidence":0.9,
             "intent":"order_status","intent_confidence":0.8,"entities":[],"outcome":"intent",
             "timings":{"asr_ms":412.5,"speech_ms":1800}},
            {"at":"bad","kind":"speech","text":"hm"}]}"#;
        let (ended, turns) = speech_turns(ticket).unwrap_or_default();
        assert!(ended);
        assert_eq!(
            turns,
            vec![
                SpeechTurn {
                    at_ms: parse_rfc3339_millis("2024-03-01T12:00:03.500Z"),
                    text: "where is my order".into(),
                    asr_ms: Some(412.5),
                    speech_ms: Some(1800.0),
                    intent: Some("order_status".into()),
                    outcome: Some("intent".into()),
                },
                SpeechTurn {
                    at_ms: None,
                    text: "hm".into(),
                    asr_ms: None,
                    speech_ms: None,
                    intent: None,
                    outcome: None,
                },
            ]
        );
        let (ended, _) = speech_turns(br#"{"ended_at":null,"turns":[]}"#).unwrap_or_default();
        assert!(!ended);
    }

    #[test]
    fn rfc3339_table() {
        let cases = [
            ("1970-01-01T00:00:00.000Z", Some(0)),
            ("1970-01-01T00:00:01Z", Some(1000)),
            ("2000-03-01T00:00:00.5Z", Some(951_868_800_500)),
            ("2024-02-29T23:59:59.999Z", Some(1_709_251_199_999)),
            ("2024-13-01T00:00:00Z", None),
            ("2024-01-01 00:00:00Z", None),
            ("2024-01-01T00:00:00", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_rfc3339_millis(text), expected, "{text}");
        }
    }

    proptest! {
        #[test]
        fn timestamps_round_trip(millis in 0i64..253_402_300_799_999) {
            let text = Timestamp::from_unix_millis(millis).to_string();
            prop_assert_eq!(parse_rfc3339_millis(&text), Some(millis));
        }

        #[test]
        fn hostile_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_response(&bytes);
            let _ = speech_turns(&bytes);
            let _ = ticket_ids(&bytes);
            let _ = parse_rfc3339_millis(&String::from_utf8_lossy(&bytes));
        }
    }
}
