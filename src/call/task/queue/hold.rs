//! Hold on a bridged agent call. Either side may hold: the agent by re-INVITE (`a=sendonly`,
//! `a=inactive` or `c=0.0.0.0`, RFC 3264 §8.4; the browser desk's Hold button sends the same
//! re-offer through the desk hub), the caller by their own re-INVITE. While held the bridge
//! carries nothing to or from the caller ([`BridgeHandle::set_held`]) and the side that was
//! put on hold hears the queue's hold music; the unhold re-INVITE (`sendrecv`) wires the
//! bridge again.
//!
//! [`HoldState`] is the sans-IO part: who holds, and the hold time of the agent leg. Hold
//! time counts the agent's holds only (the ACD figure: how long the agent kept the caller
//! waiting); a caller holding the agent gets a ticket note but no hold time.
//!
//! [`BridgeHandle::set_held`]: crate::media::bridge::BridgeHandle::set_held

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tracing::{info, warn};

use super::{Call, HOLD_PROMPT_BASE};
use crate::sdp::{self, Negotiated};
use crate::sip::endpoint::CallKey;
use crate::sip::transport::SipCommand;
use crate::tickets::TurnKind;

/// Prompt ids of the music an agent hears while the caller holds them (the agent leg's own
/// prompt ids, apart from the caller's hold music).
const AGENT_MUSIC_BASE: u64 = HOLD_PROMPT_BASE + (1 << 58);

/// Who holds a bridged call, and the agent's hold time so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(in crate::call::task) struct HoldState {
    /// Since when the agent holds the caller.
    agent_since: Option<Instant>,
    /// Finished agent holds.
    agent_held: Duration,
    /// The caller holds the agent.
    caller_holds: bool,
}

impl HoldState {
    /// The agent held (`true`) or resumed at `now`. Returns whether that changed anything
    /// (a repeated hold re-INVITE, e.g. a refresh, does not restart the clock).
    pub(in crate::call::task) fn handle_agent(&mut self, held: bool, now: Instant) -> bool {
        match (held, self.agent_since) {
            (true, None) => {
                self.agent_since = Some(now);
                true
            }
            (false, Some(since)) => {
                self.agent_held += now.saturating_duration_since(since);
                self.agent_since = None;
                true
            }
            _ => false,
        }
    }

    /// The caller held or resumed. Returns whether that changed anything.
    pub(in crate::call::task) fn handle_caller(&mut self, held: bool) -> bool {
        let changed = self.caller_holds != held;
        self.caller_holds = held;
        changed
    }

    /// Whether the agent holds the caller.
    pub(in crate::call::task) fn agent_holds(&self) -> bool {
        self.agent_since.is_some()
    }

    /// Whether the caller holds the agent.
    pub(in crate::call::task) fn caller_holds(&self) -> bool {
        self.caller_holds
    }

    /// Whether the bridge must stay open (nobody holds).
    pub(in crate::call::task) fn line_held(&self) -> bool {
        self.agent_holds() || self.caller_holds
    }

    /// The agent's hold time up to `now`, a hold still on counting until `now`.
    pub(in crate::call::task) fn hold_time(&self, now: Instant) -> Duration {
        self.agent_held
            + self
                .agent_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// [`Self::hold_time`] in milliseconds, for the ticket.
    pub(in crate::call::task) fn hold_ms(&self, now: Instant) -> i64 {
        i64::try_from(self.hold_time(now).as_millis()).unwrap_or(i64::MAX)
    }
}

/// Whether an offer we answered as `negotiated` puts us on hold: we may no longer send
/// (the offerer said sendonly or inactive, or gave no address to send to).
pub(in crate::call::task) fn offer_holds(negotiated: &Negotiated) -> bool {
    !negotiated.sends()
}

impl Call {
    /// A re-INVITE on the bridged agent leg (a phone's, or the desk's Hold button): answer
    /// it from our side of that leg, then hold or resume.
    pub(in crate::call::task) async fn agent_reinvite(
        &mut self,
        key: CallKey,
        offer: Option<String>,
    ) {
        let local = self
            .queue
            .as_ref()
            .and_then(|q| q.bridged.as_ref())
            .filter(|b| b.key == key)
            .map(|b| self.local_media(b.port));
        let (Some(offer), Some(local)) = (offer, local) else {
            // No offer: we would have to offer and read the ACK's answer; refuse instead.
            self.sip(SipCommand::AnswerReinvite(key, Err(488))).await;
            return;
        };
        let Some(b) = self.queue.as_mut().and_then(|q| q.bridged.as_mut()) else {
            return;
        };
        let negotiated = match sdp::answer(&offer, &local, &mut b.origin) {
            Ok((negotiated, text)) => {
                self.sip(SipCommand::AnswerReinvite(key, Ok(text))).await;
                negotiated
            }
            Err(e) => {
                self.sip(SipCommand::AnswerReinvite(key, Err(e.sip_status())))
                    .await;
                return;
            }
        };
        if let Some(b) = self.queue.as_ref().and_then(|q| q.bridged.as_ref()) {
            if let Some(remote) = negotiated.remote_rtp {
                let _ = b.media.set_remote(remote);
            }
            let _ = b
                .media
                .set_direction(negotiated.sends(), negotiated.receives());
        }
        self.agent_holds(offer_holds(&negotiated), Instant::now());
    }

    /// The agent put the caller on hold or took them off it.
    fn agent_holds(&mut self, held: bool, now: Instant) {
        let Some(b) = self.queue.as_mut().and_then(|q| q.bridged.as_mut()) else {
            return;
        };
        if !b.hold.handle_agent(held, now) {
            return;
        }
        let line_held = b.hold.line_held();
        if let Some(link) = b.bridge.as_mut() {
            if let Err(e) = link.set_held(line_held) {
                warn!(error = %e, "rewiring the bridge for hold");
            }
        }
        let user = b.user.clone();
        let hold_ms = b.hold.hold_ms(now);
        if held {
            self.resume_hold_music();
        } else if let Some(q) = self.queue.as_mut() {
            if q.hold_prompt.take().is_some() {
                if let Some(media) = &self.media {
                    let _ = media.stop_playback();
                }
            }
        }
        info!(agent = %user, held, "agent hold");
        self.log.turn(
            TurnKind::Note,
            if held {
                format!("{user} put the caller on hold")
            } else {
                format!("{user} resumed the call")
            },
            json!({"agent": user, "held": held, "hold_ms": hold_ms}),
        );
        self.svc.registry.update(self.key, |c| {
            c.state = if line_held { "on hold" } else { "with agent" }.into()
        });
    }

    /// The caller's own re-INVITE held or resumed the call (the caller side has answered it
    /// and written the ticket note): while bridged, the agent hears hold music meanwhile.
    pub(in crate::call::task) fn caller_holds(&mut self, held: bool) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let Some(b) = q.bridged.as_mut() else {
            return;
        };
        if b.hold.handle_caller(held) {
            if let Some(link) = b.bridge.as_mut() {
                if let Err(e) = link.set_held(b.hold.line_held()) {
                    warn!(error = %e, "rewiring the bridge for hold");
                }
            }
            if held {
                q.hold_count += 1;
                let id = AGENT_MUSIC_BASE + q.hold_count;
                let _ = b.media.play(id, Arc::clone(&q.hold_music));
            } else {
                let _ = b.media.stop_playback();
            }
        }
        let line_held = b.hold.line_held();
        self.svc.registry.update(self.key, |c| {
            c.state = if line_held { "on hold" } else { "with agent" }.into()
        });
    }

    /// A prompt on the agent leg ended: while the caller still holds, the music loops.
    pub(in crate::call::task) fn agent_prompt_ended(&mut self, id: u64) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let Some(b) = q.bridged.as_ref() else {
            return;
        };
        if id >= AGENT_MUSIC_BASE && b.hold.caller_holds() {
            q.hold_count += 1;
            let next = AGENT_MUSIC_BASE + q.hold_count;
            let _ = b.media.play(next, Arc::clone(&q.hold_music));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Codec;
    use crate::sdp::{LocalMedia, SessionOrigin};

    fn local() -> LocalMedia {
        LocalMedia {
            addr: "127.0.0.1".parse().expect("literal"),
            port: 30000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            dtmf_pt: 101,
            ptime_ms: 20,
        }
    }

    fn offer(connection: &str, direction: Option<&str>) -> String {
        let mut lines = vec![
            "v=0".to_owned(),
            format!("o=phone 1 1 IN IP4 {connection}"),
            "s=-".to_owned(),
            format!("c=IN IP4 {connection}"),
            "t=0 0".to_owned(),
            "m=audio 4000 RTP/AVP 0".to_owned(),
        ];
        lines.extend(direction.map(|d| format!("a={d}")));
        lines.join("\r\n") + "\r\n"
    }

    #[test]
    fn hold_offers_get_the_matching_answer() {
        // (connection, offered direction, answered attribute, whether it is a hold)
        let table = [
            ("10.0.0.9", Some("sendonly"), "a=recvonly", true),
            ("10.0.0.9", Some("inactive"), "a=inactive", true),
            ("0.0.0.0", None, "a=recvonly", true),
            ("0.0.0.0", Some("sendonly"), "a=recvonly", true),
            ("10.0.0.9", Some("sendrecv"), "a=sendrecv", false),
            ("10.0.0.9", None, "a=sendrecv", false),
            // The phone only listens (a mute, not a hold): we keep sending.
            ("10.0.0.9", Some("recvonly"), "a=sendonly", false),
        ];
        for (connection, offered, answered, held) in table {
            let (negotiated, body) = sdp::answer(
                &offer(connection, offered),
                &local(),
                &mut SessionOrigin::new(3),
            )
            .expect("answerable");
            assert!(
                body.lines().any(|l| l == answered),
                "{connection} {offered:?}: {body}"
            );
            assert_eq!(offer_holds(&negotiated), held, "{connection} {offered:?}");
        }
    }

    #[test]
    fn hold_time_adds_up_the_agents_holds() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // (ms, agent holds?) steps, and the hold time reported at the end (ms).
        type Steps = &'static [(u64, bool)];
        let cases: [(Steps, u64, u64); 5] = [
            (&[], 5_000, 0),
            (&[(1_000, true), (4_000, false)], 9_000, 3_000),
            (
                &[(1_000, true), (2_000, false), (5_000, true), (5_500, false)],
                9_000,
                1_500,
            ),
            // Still on hold at hang-up: counts until then.
            (
                &[(1_000, true), (2_000, false), (6_000, true)],
                9_000,
                4_000,
            ),
            // A repeated hold does not restart the clock; a repeated resume adds nothing.
            (
                &[(1_000, true), (3_000, true), (4_000, false), (8_000, false)],
                9_000,
                3_000,
            ),
        ];
        for (steps, end, want) in cases {
            let mut hold = HoldState::default();
            for &(ms, held) in steps {
                hold.handle_agent(held, at(ms));
            }
            assert_eq!(hold.hold_ms(at(end)), want as i64, "{steps:?}");
        }
    }

    #[test]
    fn the_line_is_held_while_either_side_holds_but_only_the_agent_counts() {
        let t0 = Instant::now();
        let mut hold = HoldState::default();
        assert!(hold.handle_caller(true));
        assert!(!hold.handle_caller(true));
        assert!(hold.line_held() && hold.caller_holds() && !hold.agent_holds());
        assert!(hold.handle_agent(true, t0));
        assert!(hold.handle_caller(false));
        assert!(hold.line_held(), "the agent still holds");
        assert!(hold.handle_agent(false, t0 + Duration::from_secs(2)));
        assert!(!hold.line_held());
        assert_eq!(hold.hold_ms(t0 + Duration::from_secs(10)), 2_000);
        // A clock read before the hold began (never in practice) counts nothing.
        let mut early = HoldState::default();
        early.handle_agent(true, t0 + Duration::from_secs(5));
        assert_eq!(early.hold_time(t0), Duration::ZERO);
    }
}
