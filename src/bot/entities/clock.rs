//! Times of day: "at three", "at 3 p.m.", "3pm", "at half past two", "at quarter to four",
//! "at three thirty", "at ten oh five", "at 14:30", "at noon", "midnight".
//!
//! A time needs "at"/"around" ("at three") or am/pm ("3 p.m."), unless the dialplan asked for a
//! date (then "three thirty" alone is a time). Hours without am/pm follow call-center hours:
//! 1..=7 are afternoon (13..=19; nobody books a 3 a.m. callback), 8..=11 morning, 12 noon, and
//! 0 or 13..=23 as said (24-hour clock). A written hour with a leading zero ("07:30") is
//! 24-hour too. "in the morning/afternoon/evening" and "at night" count as am/pm.

use super::date::words_at;
use super::numbers::{cardinal_at, is_number_word};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

/// A time of day starting at `i` and the index after it.
pub(super) fn time_at(toks: &[String], i: usize, bare: bool) -> Option<((u8, u8), usize)> {
    let t = toks.get(i)?.as_str();
    match t {
        "noon" | "midday" => Some(((12, 0), i + 1)),
        "midnight" => Some(((0, 0), i + 1)),
        "at" | "around" => time_at(toks, i + 1, true),
        _ => clock_at(toks, i, !bare),
    }
}

/// "3", "3 pm", "three thirty", "14:30", "half past two", "quarter to four", "3 o'clock".
fn clock_at(toks: &[String], j: usize, need_meridiem: bool) -> Option<((u8, u8), usize)> {
    let (hour, minute, twenty_four, k) = hour_minute_at(toks, j)?;
    let k = if toks.get(k).is_some_and(|t| t == "o'clock" || t == "oclock") {
        k + 1
    } else {
        k
    };
    let (meridiem, k) = match meridiem_at(toks, k) {
        Some((m, end)) => (Some(m), end),
        None => (None, k),
    };
    if (need_meridiem && meridiem.is_none()) || toks.get(k).is_some_and(|t| is_number_word(t)) {
        return None;
    }
    let hour = match (meridiem, hour) {
        (Some(_), 0) | (Some(_), 13..) => return None,
        (Some(Meridiem::Am), 12) => 0,
        (Some(Meridiem::Am), h) | (Some(Meridiem::Pm), h @ 12) => h,
        (Some(Meridiem::Pm), h) => h + 12,
        (None, h @ 1..=7) if !twenty_four => h + 12,
        (None, h) => h,
    };
    (hour <= 23 && minute <= 59).then_some(((hour, minute), k))
}

/// Hour and minute as said (before am/pm), whether it was written 24-hour ("07:30"), and the
/// index after.
fn hour_minute_at(toks: &[String], j: usize) -> Option<(u8, u8, bool, usize)> {
    let t = toks.get(j)?.as_str();
    if let Some((h, m)) = t.split_once(':') {
        return Some((h.parse().ok()?, m.parse().ok()?, h.starts_with('0'), j + 1));
    }
    let past_or_to = |minute: u8| -> Option<(u8, u8, bool, usize)> {
        let relation = toks.get(j + 1)?.as_str();
        let (hour, end) = spoken_hour_at(toks, j + 2)?;
        match relation {
            "past" | "after" => Some((hour, minute, false, end)),
            "to" | "before" if minute == 15 => {
                Some((if hour == 1 { 12 } else { hour - 1 }, 45, false, end))
            }
            _ => None,
        }
    };
    match t {
        "half" => return past_or_to(30),
        "quarter" => return past_or_to(15),
        _ => {}
    }
    let (hour, k) = spoken_hour_at(toks, j).or_else(|| {
        let (h, k) = cardinal_at(toks, j)?;
        Some((u8::try_from(h).ok().filter(|h| *h <= 23)?, k))
    })?;
    if toks.get(k).is_some_and(|t| t == "oh") {
        let (m, end) = cardinal_at(toks, k + 1).filter(|(m, _)| *m < 10)?;
        return Some((hour, u8::try_from(m).ok()?, t.starts_with('0'), end));
    }
    let minute = toks
        .get(k)
        .filter(|m| !m.bytes().all(|b| b.is_ascii_digit()) || m.len() == 2)
        .and_then(|_| cardinal_at(toks, k))
        .filter(|(m, _)| (10..=59).contains(m));
    match minute {
        Some((m, end)) => Some((hour, u8::try_from(m).ok()?, t.starts_with('0'), end)),
        None => Some((hour, 0, t.starts_with('0'), k)),
    }
}

/// A spoken or written hour 1..=12 and the index after.
fn spoken_hour_at(toks: &[String], j: usize) -> Option<(u8, usize)> {
    let (h, end) = cardinal_at(toks, j)?;
    let h = u8::try_from(h).ok().filter(|h| (1..=12).contains(h))?;
    Some((h, end))
}

fn meridiem_at(toks: &[String], k: usize) -> Option<(Meridiem, usize)> {
    let words: [(&[&str], Meridiem); 8] = [
        (&["am"], Meridiem::Am),
        (&["pm"], Meridiem::Pm),
        (&["a", "m"], Meridiem::Am),
        (&["p", "m"], Meridiem::Pm),
        (&["in", "the", "morning"], Meridiem::Am),
        (&["in", "the", "afternoon"], Meridiem::Pm),
        (&["in", "the", "evening"], Meridiem::Pm),
        (&["at", "night"], Meridiem::Pm),
    ];
    words
        .iter()
        .find(|(w, _)| words_at(toks, k, w))
        .map(|(w, m)| (*m, k + w.len()))
}
