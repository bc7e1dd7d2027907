//! Hostile input: `answer`/`accept_answer` never panic; generated offers round-trip.

use proptest::prelude::*;

use super::tests::{local, sdp, BARESIP, SIPP_UAC};
use super::*;
use crate::media::Codec;

/// One edit to a valid body.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Delete(usize, usize),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
    ReplaceLine(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = prop_oneof![
        "[a-z]=[ -~]{0,40}",
        "m=(audio|video) [0-9]{1,6} RTP/AVP( [0-9]{1,4}){0,5}",
        "c=IN IP[46] [0-9a-f.:/]{0,20}",
        "a=(rtpmap|ptime|fmtp|sendonly|inactive):[ -~]{0,20}",
        ".{0,30}",
    ];
    prop_oneof![
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), 0usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DropLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), line).prop_map(|(i, l)| Mutation::ReplaceLine(i, l)),
    ]
}

fn apply(body: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = body.chars().collect();
    let mut lines: Vec<String> = body.split('\n').map(str::to_owned).collect();
    let n_lines = lines.len().max(1);
    match mutation {
        Mutation::Insert(i, c) => {
            chars.insert(i % (chars.len() + 1), *c);
            return chars.into_iter().collect();
        }
        Mutation::Delete(i, n) => {
            let start = i % (chars.len() + 1);
            let end = (start + n).min(chars.len());
            chars.drain(start..end);
            return chars.into_iter().collect();
        }
        Mutation::DuplicateLine(i) => {
            let line = lines[i % n_lines].clone();
            lines.insert(i % n_lines, line);
        }
        Mutation::DropLine(i) => {
            lines.remove(i % n_lines);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n_lines, b % n_lines),
        Mutation::ReplaceLine(i, l) => lines[i % n_lines] = l.clone(),
    }
    lines.join("\n")
}

fn fixture() -> impl Strategy<Value = String> {
    let two_streams = sdp(&[
        "v=0",
        "c=IN IP6 2001:db8::1",
        "m=audio 4000 RTP/AVP 96 0 101 102",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:102 telephone-event/48000",
        "a=ptime:20",
        "a=sendonly",
        "m=video 5000 RTP/AVP 97",
        "c=IN IP4 0.0.0.0",
    ]);
    prop_oneof![
        Just(SIPP_UAC.to_owned()),
        Just(BARESIP.to_owned()),
        Just(two_streams),
    ]
}

/// A well-formed offer (some audio codecs, maybe none we know, maybe events, a direction) and
/// the codec an answer must pick.
fn valid_offer() -> impl Strategy<Value = (String, Option<Codec>)> {
    (
        prop::collection::vec(prop::sample::select(vec![0u8, 8, 9, 18, 96]), 1..5),
        prop::option::of(96u8..=127),
        prop::sample::select(vec![
            "",
            "a=sendonly",
            "a=recvonly",
            "a=inactive",
            "a=sendrecv",
        ]),
        prop::option::of(0u32..200),
        any::<bool>(),
    )
        .prop_map(|(pts, dtmf, dir, ptime, video_first)| {
            let mut fmts: Vec<String> = pts.iter().map(u8::to_string).collect();
            let mut attrs = vec!["a=rtpmap:96 opus/48000/2".to_owned()];
            if let Some(pt) = dtmf.filter(|pt| !pts.contains(pt)) {
                fmts.push(pt.to_string());
                attrs.push(format!("a=rtpmap:{pt} telephone-event/8000"));
            }
            if let Some(ms) = ptime {
                attrs.push(format!("a=ptime:{ms}"));
            }
            let mut lines = vec!["v=0".to_owned(), "c=IN IP4 203.0.113.4".to_owned()];
            if video_first {
                lines.push("m=video 5000 RTP/AVP 97".to_owned());
            }
            lines.push(format!("m=audio 4000 RTP/AVP {}", fmts.join(" ")));
            lines.extend(attrs);
            lines.push(dir.to_owned());
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let expected = pts.iter().find_map(|pt| match pt {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            });
            (sdp(&refs), expected)
        })
}

fn count_m_lines(body: &str) -> usize {
    body.lines().filter(|l| l.starts_with("m=")).count()
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,600}") {
        let _ = answer(&text, &local(), &mut SessionOrigin::new(1));
        let _ = accept_answer(&text, &local());
    }

    #[test]
    fn sdp_shaped_strings_never_panic(text in "(v=0\r?\n)?([a-z]=[ -~]{0,60}\r?\n){0,20}") {
        let _ = answer(&text, &local(), &mut SessionOrigin::new(1));
        let _ = accept_answer(&text, &local());
    }

    #[test]
    fn mutated_offers_never_panic(
        body in fixture(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mutated = mutations.iter().fold(body, |b, m| apply(&b, m));
        if let Ok((negotiated, reply)) = answer(&mutated, &local(), &mut SessionOrigin::new(1)) {
            prop_assert!(count_m_lines(&reply) == count_m_lines(&mutated));
            prop_assert!((10..=60).contains(&negotiated.ptime_ms));
        }
        let _ = accept_answer(&mutated, &local());
    }

    #[test]
    fn valid_offers_round_trip((offer, expected) in valid_offer()) {
        match answer(&offer, &local(), &mut SessionOrigin::new(1)) {
            Ok((theirs, reply)) => {
                prop_assert_eq!(Some(theirs.codec), expected);
                prop_assert_eq!(count_m_lines(&reply), count_m_lines(&offer));
                // Our answer, read back as the offerer would, yields the same agreement.
                let ours = accept_answer(&reply, &local());
                prop_assert_eq!(ours.as_ref().map(|n| n.codec), Ok(theirs.codec));
                prop_assert_eq!(ours.as_ref().map(|n| n.dtmf_pt), Ok(theirs.dtmf_pt));
                prop_assert_eq!(
                    ours.as_ref().map(|n| n.remote_direction),
                    Ok(theirs.local_direction)
                );
            }
            Err(err) => {
                prop_assert_eq!(err, SdpError::NoCommonCodec);
                prop_assert_eq!(expected, None);
            }
        }
    }
}
