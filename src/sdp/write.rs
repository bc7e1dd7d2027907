//! Renders our offers and answers: CRLF endings, RFC 4566 line order, one session-level `c=`.

use std::fmt::{self, Write};
use std::net::IpAddr;

use super::{Direction, SessionOrigin};
use crate::media::{Codec, SAMPLE_RATE};

/// The audio section we send.
pub(crate) struct AudioSection {
    pub(crate) port: u16,
    /// Codecs with the payload type each uses on this call, in preference order.
    pub(crate) codecs: Vec<(u8, Codec)>,
    pub(crate) dtmf_pt: Option<u8>,
    pub(crate) ptime_ms: u32,
    pub(crate) direction: Direction,
}

/// One `m=` section of our body, in the order of the offer being answered.
pub(crate) enum Section<'a> {
    Audio(AudioSection),
    /// A stream we decline: port 0, the offer's media, proto and formats (RFC 3264 §6).
    Rejected {
        kind: &'a str,
        proto: &'a str,
        formats: &'a [&'a str],
    },
}

fn line(out: &mut String, args: fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(args);
    out.push_str("\r\n");
}

fn addr_type(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// The whole body; `session` decides the `o=` version from everything after `o=`.
pub(crate) fn render(
    addr: IpAddr,
    sections: &[Section<'_>],
    session: &mut SessionOrigin,
) -> String {
    let addr_type = addr_type(addr);
    let mut body = String::with_capacity(512);
    line(&mut body, format_args!("s=voxdesk"));
    line(&mut body, format_args!("c=IN {addr_type} {addr}"));
    line(&mut body, format_args!("t=0 0"));
    for section in sections {
        match section {
            Section::Audio(audio) => render_audio(&mut body, audio),
            Section::Rejected {
                kind,
                proto,
                formats,
            } => line(
                &mut body,
                format_args!("m={kind} 0 {proto} {}", formats.join(" ")),
            ),
        }
    }
    let version = session.version_for(&body);
    let mut out = String::with_capacity(body.len() + 64);
    line(&mut out, format_args!("v=0"));
    line(
        &mut out,
        format_args!(
            "o=voxdesk {} {version} IN {addr_type} {addr}",
            session.session_id()
        ),
    );
    out.push_str(&body);
    out
}

fn render_audio(out: &mut String, audio: &AudioSection) {
    let mut m_line = format!("m=audio {} RTP/AVP", audio.port);
    let pts = audio.codecs.iter().map(|(pt, _)| *pt).chain(audio.dtmf_pt);
    for pt in pts {
        // Writing into a String cannot fail.
        let _ = write!(m_line, " {pt}");
    }
    line(out, format_args!("{m_line}"));
    for (pt, codec) in &audio.codecs {
        line(
            out,
            format_args!("a=rtpmap:{pt} {}/{SAMPLE_RATE}", codec.name()),
        );
    }
    if let Some(pt) = audio.dtmf_pt {
        line(
            out,
            format_args!("a=rtpmap:{pt} telephone-event/{SAMPLE_RATE}"),
        );
        // DTMF 0-9 * # A-D and flash: all RFC 4733 §3.2 events a phone keypad produces.
        line(out, format_args!("a=fmtp:{pt} 0-16"));
    }
    line(out, format_args!("a=ptime:{}", audio.ptime_ms));
    line(out, format_args!("a={}", audio.direction.attribute()));
}
