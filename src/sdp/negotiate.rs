//! RFC 3264 offer/answer: pick one G.711 codec and telephone-event/8000, settle directions.

use std::net::SocketAddr;

use super::parse::{parse, parse_connection, MediaDesc, SessionDesc};
use super::write::{render, AudioSection, Section};
use super::{sane_ptime, Direction, LocalMedia, Negotiated, SdpError, SessionOrigin};
use crate::media::{Codec, SAMPLE_RATE};

/// telephone-event payload type when `LocalMedia::dtmf_pt` is not a dynamic one.
const DEFAULT_DTMF_PT: u8 = 101;

/// Our offer, for an INVITE that came without one (we offer in the 200 OK).
///
/// Lists `local.codecs` in order (both G.711 if empty), telephone-event/8000 with
/// `local.dtmf_pt` (101 unless that is in the dynamic range 96-127), ptime and sendrecv.
pub fn offer(local: &LocalMedia, session: &mut SessionOrigin) -> String {
    offer_directed(local, Direction::SendRecv, session)
}

/// Like [`offer`] with another direction: a re-offer that puts the other side on hold
/// (`SendOnly`, or `Inactive` when we hold a side that holds us) or resumes (`SendRecv`),
/// RFC 3264 §8.4. Use the dialog's `session` so the origin's version moves on.
pub fn offer_directed(
    local: &LocalMedia,
    direction: Direction,
    session: &mut SessionOrigin,
) -> String {
    let dtmf_pt = if (96..=127).contains(&local.dtmf_pt) {
        local.dtmf_pt
    } else {
        DEFAULT_DTMF_PT
    };
    let audio = AudioSection {
        port: local.port,
        codecs: supported(local)
            .into_iter()
            .map(|codec| (codec.payload_type(), codec))
            .collect(),
        dtmf_pt: Some(dtmf_pt),
        ptime_ms: sane_ptime(Some(local.ptime_ms)),
        direction,
    };
    render(local.addr, &[Section::Audio(audio)], session)
}

/// Answers a remote offer: the first audio stream with a codec we support takes the caller's
/// first such codec; every other `m=` line is declined with port 0, in the offer's order.
pub fn answer(
    offer: &str,
    local: &LocalMedia,
    session: &mut SessionOrigin,
) -> Result<(Negotiated, String), SdpError> {
    let desc = parse(offer)?;
    let ours = supported(local);
    let usable = |active: bool| {
        desc.media
            .iter()
            .enumerate()
            .filter(|(_, media)| is_rtp_audio(media) && (media.port != 0) == active)
            .find_map(|(index, media)| Some((index, media, choose_codec(media, &ours)?)))
    };
    // An offer whose only audio stream is disabled (port 0) still gets a valid answer.
    let (index, media, (codec_pt, codec)) = usable(true)
        .or_else(|| usable(false))
        .ok_or(SdpError::NoCommonCodec)?;
    let (remote_rtp, remote_direction) = remote_stream(&desc, media)?;
    let negotiated = Negotiated {
        codec,
        codec_pt,
        remote_rtp,
        dtmf_pt: telephone_event_pt(media),
        remote_direction,
        local_direction: remote_direction.reversed(),
        ptime_ms: sane_ptime(media.ptime.or(desc.ptime).or(Some(local.ptime_ms))),
    };
    let sections: Vec<Section<'_>> = desc
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == index {
                Section::Audio(AudioSection {
                    // A stream the offerer disabled stays disabled (RFC 3264 §8.2).
                    port: if m.port == 0 { 0 } else { local.port },
                    codecs: vec![(codec_pt, codec)],
                    dtmf_pt: negotiated.dtmf_pt,
                    ptime_ms: negotiated.ptime_ms,
                    direction: negotiated.local_direction,
                })
            } else {
                Section::Rejected {
                    kind: m.kind,
                    proto: m.proto,
                    formats: &m.formats,
                }
            }
        })
        .collect();
    let body = render(local.addr, &sections, session);
    Ok((negotiated, body))
}

/// Reads the answer to our [`offer`] (the SDP in the ACK): it must keep our audio stream and
/// pick a codec from `local.codecs`.
pub fn accept_answer(answer: &str, local: &LocalMedia) -> Result<Negotiated, SdpError> {
    let desc = parse(answer)?;
    let media = desc
        .media
        .iter()
        .find(|media| is_rtp_audio(media) && media.port != 0)
        .ok_or(SdpError::NoCommonCodec)?;
    let (codec_pt, codec) =
        choose_codec(media, &supported(local)).ok_or(SdpError::NoCommonCodec)?;
    let (remote_rtp, remote_direction) = remote_stream(&desc, media)?;
    Ok(Negotiated {
        codec,
        codec_pt,
        remote_rtp,
        dtmf_pt: telephone_event_pt(media),
        remote_direction,
        // We offered sendrecv, so the answer alone restricts us.
        local_direction: remote_direction.reversed(),
        ptime_ms: sane_ptime(media.ptime.or(desc.ptime).or(Some(local.ptime_ms))),
    })
}

/// `local.codecs` without repeats; both G.711 laws if it names none.
fn supported(local: &LocalMedia) -> Vec<Codec> {
    let mut codecs: Vec<Codec> = Vec::with_capacity(2);
    for &codec in &local.codecs {
        if !codecs.contains(&codec) {
            codecs.push(codec);
        }
    }
    if codecs.is_empty() {
        codecs = vec![Codec::Pcmu, Codec::Pcma];
    }
    codecs
}

fn is_rtp_audio(media: &MediaDesc<'_>) -> bool {
    media.kind.eq_ignore_ascii_case("audio") && media.proto.eq_ignore_ascii_case("RTP/AVP")
}

/// The first payload type on the m-line that is a codec in `ours`, in the sender's order.
fn choose_codec(media: &MediaDesc<'_>, ours: &[Codec]) -> Option<(u8, Codec)> {
    media
        .payload_types()
        .filter_map(|pt| Some((pt, codec_for(media, pt)?)))
        .find(|(_, codec)| ours.contains(codec))
}

/// The codec a payload type stands for: its rtpmap if present, else the RFC 3551 static table.
fn codec_for(media: &MediaDesc<'_>, pt: u8) -> Option<Codec> {
    let Some(map) = media.rtpmap(pt) else {
        return match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        };
    };
    if map.rate != SAMPLE_RATE || map.channels.is_some_and(|c| c != 1) {
        return None;
    }
    [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .find(|codec| map.name.eq_ignore_ascii_case(codec.name()))
}

/// telephone-event at our 8 kHz clock; RFC 4733 events at other rates belong to other codecs.
fn telephone_event_pt(media: &MediaDesc<'_>) -> Option<u8> {
    media.payload_types().find(|&pt| {
        media.rtpmap(pt).is_some_and(|map| {
            map.rate == SAMPLE_RATE && map.name.eq_ignore_ascii_case("telephone-event")
        })
    })
}

/// Where the remote side wants RTP and the direction it declared. An unspecified address
/// (`c=IN IP4 0.0.0.0`, RFC 2543 hold) means it receives nothing; port 0 means the stream is
/// off in both directions.
fn remote_stream(
    desc: &SessionDesc<'_>,
    media: &MediaDesc<'_>,
) -> Result<(Option<SocketAddr>, Direction), SdpError> {
    if media.port == 0 {
        return Ok((None, Direction::Inactive));
    }
    let declared = media
        .direction
        .or(desc.direction)
        .unwrap_or(Direction::SendRecv);
    let connection = media
        .connection
        .or(desc.connection)
        .ok_or_else(|| SdpError::Malformed("no c= line for the audio stream".into()))?;
    let ip = parse_connection(connection)?;
    if ip.is_unspecified() {
        return Ok((None, Direction::from_flags(declared.sends(), false)));
    }
    Ok((Some(SocketAddr::new(ip, media.port)), declared))
}
