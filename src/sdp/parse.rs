//! Tolerant line scanner for RFC 4566 session descriptions.
//!
//! Reads only what offer/answer needs (`c=`, `m=`, `a=rtpmap`, `a=ptime`, direction
//! attributes) and skips every other line, in any order, with CRLF or bare LF endings.
//! Values borrow from the input; addresses are resolved later, and only for the stream that
//! is actually used, so a broken `c=` on a video line we reject anyway cannot fail a call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Direction, SdpError};

/// Longest body we read; real audio SDPs are well under 2 KiB.
pub(crate) const MAX_SDP_LEN: usize = 16 * 1024;
/// Most `m=` lines we answer (each must be mirrored in the answer).
pub(crate) const MAX_MEDIA: usize = 16;
/// Most formats on one `m=` line.
pub(crate) const MAX_FORMATS: usize = 64;
/// Most `a=rtpmap` lines kept per media section; later ones are ignored.
const MAX_RTPMAPS: usize = 64;

/// The parts of a session description that negotiation reads.
#[derive(Debug, Default)]
pub(crate) struct SessionDesc<'a> {
    pub(crate) connection: Option<&'a str>,
    pub(crate) direction: Option<Direction>,
    pub(crate) ptime: Option<u32>,
    pub(crate) media: Vec<MediaDesc<'a>>,
}

/// One `m=` section.
#[derive(Debug)]
pub(crate) struct MediaDesc<'a> {
    pub(crate) kind: &'a str,
    pub(crate) port: u16,
    pub(crate) proto: &'a str,
    pub(crate) formats: Vec<&'a str>,
    pub(crate) connection: Option<&'a str>,
    pub(crate) direction: Option<Direction>,
    pub(crate) ptime: Option<u32>,
    pub(crate) rtpmaps: Vec<RtpMap<'a>>,
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpMap<'a> {
    pub(crate) pt: u8,
    pub(crate) name: &'a str,
    pub(crate) rate: u32,
    pub(crate) channels: Option<u8>,
}

impl<'a> MediaDesc<'a> {
    /// The rtpmap for `pt`, the first one if a sender repeats it.
    pub(crate) fn rtpmap(&self, pt: u8) -> Option<&RtpMap<'a>> {
        self.rtpmaps.iter().find(|m| m.pt == pt)
    }

    /// Payload types of an RTP m-line in offer order; tokens that are not numbers are skipped.
    pub(crate) fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse::<u8>().ok())
    }
}

fn malformed(reason: impl Into<String>) -> SdpError {
    SdpError::Malformed(reason.into())
}

/// Parses `text`, failing only on what makes the body unusable as SDP.
pub(crate) fn parse(text: &str) -> Result<SessionDesc<'_>, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(malformed(format!("body longer than {MAX_SDP_LEN} bytes")));
    }
    let mut desc = SessionDesc::default();
    let mut seen_version = false;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let (kind, value) = split_line(line)?;
        if !seen_version {
            if kind != 'v' || value.trim() != "0" {
                return Err(malformed("body does not start with v=0"));
            }
            seen_version = true;
            continue;
        }
        match kind {
            'm' => {
                if desc.media.len() == MAX_MEDIA {
                    return Err(malformed(format!("more than {MAX_MEDIA} m= lines")));
                }
                desc.media.push(parse_media_line(value)?);
            }
            'c' => match desc.media.last_mut() {
                Some(media) => media.connection = Some(value),
                None => desc.connection = Some(value),
            },
            'a' => apply_attribute(&mut desc, value),
            _ => {}
        }
    }
    if !seen_version {
        return Err(malformed("empty body"));
    }
    Ok(desc)
}

/// Splits `x=value`; the type is one character (RFC 4566 §5).
fn split_line(line: &str) -> Result<(char, &str), SdpError> {
    let mut chars = line.chars();
    match (chars.next(), chars.next()) {
        (Some(kind), Some('=')) if kind.is_ascii_alphabetic() => Ok((kind, chars.as_str())),
        _ => Err(malformed("line is not <type>=<value>")),
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`
fn parse_media_line(value: &str) -> Result<MediaDesc<'_>, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("m= line has fewer than 3 fields"));
    };
    let port_number = port.split_once('/').map_or(port, |(p, _count)| p);
    let port = port_number
        .parse::<u16>()
        .map_err(|_| malformed("m= port is not a number 0-65535"))?;
    let formats: Vec<&str> = fields.take(MAX_FORMATS + 1).collect();
    if formats.is_empty() {
        return Err(malformed("m= line lists no formats"));
    }
    if formats.len() > MAX_FORMATS {
        return Err(malformed(format!(
            "m= line lists more than {MAX_FORMATS} formats"
        )));
    }
    Ok(MediaDesc {
        kind,
        port,
        proto,
        formats,
        connection: None,
        direction: None,
        ptime: None,
        rtpmaps: Vec::new(),
    })
}

/// Records the attributes we use; unknown or unparsable ones are ignored (RFC 4566 §5.13).
fn apply_attribute<'a>(desc: &mut SessionDesc<'a>, value: &'a str) {
    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
    let media = desc.media.last_mut();
    if let Some(direction) = parse_direction(name) {
        match media {
            Some(media) => media.direction = Some(direction),
            None => desc.direction = Some(direction),
        }
        return;
    }
    match (name, media) {
        ("ptime", Some(media)) => media.ptime = parse_ptime(arg).or(media.ptime),
        // Not allowed by RFC 4566 at session level, but some UAs put it there.
        ("ptime", None) => desc.ptime = parse_ptime(arg).or(desc.ptime),
        ("rtpmap", Some(media)) if media.rtpmaps.len() < MAX_RTPMAPS => {
            if let Some(map) = parse_rtpmap(arg) {
                media.rtpmaps.push(map);
            }
        }
        _ => {}
    }
}

fn parse_direction(name: &str) -> Option<Direction> {
    match name {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

/// Whole milliseconds; a fractional value such as `20.0` is truncated.
fn parse_ptime(arg: &str) -> Option<u32> {
    let arg = arg.trim();
    let whole = arg.split_once('.').map_or(arg, |(w, _)| w);
    whole.parse().ok()
}

fn parse_rtpmap(arg: &str) -> Option<RtpMap<'_>> {
    let (pt, encoding) = arg.trim().split_once(' ')?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next()?;
    let rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some(RtpMap {
        pt: pt.parse().ok()?,
        name,
        rate,
        channels,
    })
}

/// Resolves `c=IN IP4 <addr>[/ttl]` or `c=IN IP6 <addr>`; host names are not supported
/// because resolving them is I/O and no SIP UA we meet sends them.
pub(crate) fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(net), Some(addr_type), Some(addr)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("c= line has fewer than 3 fields"));
    };
    if net != "IN" {
        return Err(malformed("c= network type is not IN"));
    }
    let addr = addr.split_once('/').map_or(addr, |(a, _ttl)| a);
    match addr_type {
        "IP4" => addr
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| malformed("c= IP4 address is not an IPv4 literal")),
        "IP6" => addr
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| malformed("c= IP6 address is not an IPv6 literal")),
        _ => Err(malformed("c= address type is not IP4 or IP6")),
    }
}
