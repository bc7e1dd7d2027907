//! Dates and times of day: "today", "tomorrow", "the day after tomorrow", "in three days",
//! "on Monday", "next Friday", "December 5th", "the fifth of December", "5 December 2026",
//! "2026-12-05"; "at three", "at 3 p.m.", "at half past two", "at 14:30", "at noon".
//!
//! Rules, chosen for a call center booking callbacks and deliveries:
//! - Relative dates need a reference `today` from the caller; without one only dates with a
//!   year ("2026-12-05", "December 5th 2026") resolve.
//! - "Monday", "on Monday": the next Monday after today (1..=7 days ahead, so never today).
//!   "this Monday": today if it is Monday, else the next one. "next Monday": the Monday of
//!   next week (weeks start on Monday), so on a Wednesday "next Friday" is 9 days ahead.
//! - A day and month without a year is the next one on or after today.
//! - Numeric day/month forms ("12/05") are ambiguous between countries and never guessed.
//! - Times of day are read by `clock`; the first date and the first time that do not overlap
//!   it are combined by [`find`].

use std::ops::Range;

use super::civil::{CivilDate, Weekday};
use super::clock::time_at;
use super::numbers::cardinal_at;

/// Farthest "in N days" reaches.
const MAX_DAYS_AHEAD: u64 = 366;

/// A date and time of day found in the text, and the tokens they cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct When {
    /// The date, when said and resolvable.
    pub(super) date: Option<CivilDate>,
    /// Hour and minute (24-hour clock).
    pub(super) time: Option<(u8, u8)>,
    /// Tokens used, resolvable or not.
    pub(super) spans: Vec<Range<usize>>,
}

/// A date as said, before resolving against today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateExpr {
    DaysFromToday(i64),
    Weekday {
        day: Weekday,
        rule: WeekdayRule,
    },
    MonthDay {
        month: u8,
        day: u8,
        year: Option<i32>,
    },
    Absolute(CivilDate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeekdayRule {
    /// "Monday": 1..=7 days ahead.
    Coming,
    /// "this Monday": 0..=6 days ahead.
    This,
    /// "next Monday": in next week.
    NextWeek,
}

/// The first date and the first time in `toks`. `bare_time`: accept "three thirty" without
/// "at" or am/pm (the dialplan asked for a date).
pub(super) fn find(toks: &[String], today: Option<CivilDate>, bare_time: bool) -> When {
    let mut when = When::default();
    if let Some((expr, span)) =
        (0..toks.len()).find_map(|i| date_at(toks, i).map(|(e, end)| (e, i..end)))
    {
        when.date = resolve(expr, today);
        when.spans.push(span);
    }
    let free = |r: &Range<usize>| {
        !when
            .spans
            .iter()
            .any(|s| s.start < r.end && r.start < s.end)
    };
    let time = (0..toks.len())
        .filter_map(|i| time_at(toks, i, bare_time).map(|(t, end)| (t, i..end)))
        .find(|(_, span)| free(span));
    if let Some((time, span)) = time {
        when.time = Some(time);
        when.spans.push(span);
    }
    when
}

fn resolve(expr: DateExpr, today: Option<CivilDate>) -> Option<CivilDate> {
    match expr {
        DateExpr::Absolute(date) => Some(date),
        DateExpr::MonthDay {
            month,
            day,
            year: Some(year),
        } => CivilDate::new(year, month, day),
        DateExpr::MonthDay {
            month,
            day,
            year: None,
        } => {
            let today = today?;
            (today.year()..today.year().saturating_add(9))
                .filter_map(|y| CivilDate::new(y, month, day))
                .find(|d| *d >= today)
        }
        DateExpr::DaysFromToday(n) => today?.add_days(n),
        DateExpr::Weekday { day, rule } => {
            let today = today?;
            let from_today = today.weekday().days_from_monday();
            let target = day.days_from_monday();
            let ahead = match rule {
                WeekdayRule::Coming => (target - from_today - 1).rem_euclid(7) + 1,
                WeekdayRule::This => (target - from_today).rem_euclid(7),
                WeekdayRule::NextWeek => 7 - from_today + target,
            };
            today.add_days(ahead)
        }
    }
}

pub(super) fn words_at(toks: &[String], i: usize, words: &[&str]) -> bool {
    toks.get(i..i + words.len())
        .is_some_and(|got| got.iter().zip(words).all(|(g, w)| g == w))
}

fn date_at(toks: &[String], i: usize) -> Option<(DateExpr, usize)> {
    let t = toks.get(i)?.as_str();
    let next = toks.get(i + 1).map(String::as_str);
    for (phrase, days) in [
        (&["the", "day", "after", "tomorrow"][..], 2),
        (&["day", "after", "tomorrow"][..], 2),
        (&["the", "day", "before", "yesterday"][..], -2),
        (&["today"][..], 0),
        (&["tonight"][..], 0),
        (&["tomorrow"][..], 1),
        (&["yesterday"][..], -1),
    ] {
        if words_at(toks, i, phrase) {
            return Some((DateExpr::DaysFromToday(days), i + phrase.len()));
        }
    }
    if let Some(day) = weekday(t) {
        let rule = WeekdayRule::Coming;
        return Some((DateExpr::Weekday { day, rule }, i + 1));
    }
    if let (Some(rule), Some(day)) = (weekday_rule(t), next.and_then(weekday)) {
        return Some((DateExpr::Weekday { day, rule }, i + 2));
    }
    if t == "in" {
        return in_days(toks, i + 1);
    }
    if let Some(date) = iso_date(t) {
        return Some((DateExpr::Absolute(date), i + 1));
    }
    if let Some(month) = month(t) {
        let j = if next == Some("the") { i + 2 } else { i + 1 };
        let (day, j) = day_at(toks, j, true)?;
        return Some(month_day(toks, month, day, j));
    }
    let j = if t == "the" { i + 1 } else { i };
    let (day, j) = day_at(toks, j, false)?;
    let j = if toks.get(j).is_some_and(|t| t == "of") {
        j + 1
    } else {
        j
    };
    let month = toks.get(j).and_then(|t| month(t))?;
    Some(month_day(toks, month, day, j + 1))
}

/// `month` `day`, with the year written after it if there is one (`j`: after the month-day).
fn month_day(toks: &[String], month: u8, day: u8, j: usize) -> (DateExpr, usize) {
    let year = toks
        .get(j)
        .filter(|t| t.len() == 4)
        .and_then(|t| t.parse::<i32>().ok())
        .filter(|y| (1900..=2200).contains(y));
    let end = if year.is_some() { j + 1 } else { j };
    (DateExpr::MonthDay { month, day, year }, end)
}

/// "[in] three days", "a week", "2 weeks".
fn in_days(toks: &[String], j: usize) -> Option<(DateExpr, usize)> {
    let (count, k) = match toks.get(j).map(String::as_str) {
        Some("a" | "an" | "one") => (1, j + 1),
        _ => cardinal_at(toks, j)?,
    };
    let per_unit = match toks.get(k).map(String::as_str)? {
        "day" | "days" => 1,
        "week" | "weeks" => 7,
        _ => return None,
    };
    let days = count
        .checked_mul(per_unit)
        .filter(|d| *d <= MAX_DAYS_AHEAD)?;
    Some((DateExpr::DaysFromToday(i64::try_from(days).ok()?), k + 1))
}

fn iso_date(token: &str) -> Option<CivilDate> {
    let mut parts = token.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    if token.len() != 10 {
        return None;
    }
    CivilDate::new(year, month, day)
}

/// A day of the month at `j`: "5", "5th", "fifth", "twenty first"; spoken cardinals ("five")
/// only when `cardinal_ok` (after a month name).
fn day_at(toks: &[String], j: usize, cardinal_ok: bool) -> Option<(u8, usize)> {
    let t = toks.get(j)?.as_str();
    let valid = |d: u64| u8::try_from(d).ok().filter(|d| (1..=31).contains(d));
    if !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()) {
        let day = valid(t.parse().ok()?)?;
        let suffix = toks
            .get(j + 1)
            .is_some_and(|s| matches!(s.as_str(), "st" | "nd" | "rd" | "th"));
        return Some((day, j + 1 + usize::from(suffix)));
    }
    if let Some(day) = ordinal(t) {
        return Some((day, j + 1));
    }
    let tens = match t {
        "twenty" => 20,
        "thirty" => 30,
        _ => 0,
    };
    if let Some(unit) = toks
        .get(j + 1)
        .and_then(|u| ordinal(u))
        .filter(|u| tens > 0 && *u < 10)
    {
        return Some((valid(u64::from(tens + unit))?, j + 2));
    }
    if !cardinal_ok {
        return None;
    }
    let (value, end) = cardinal_at(toks, j)?;
    Some((valid(value)?, end))
}

fn ordinal(token: &str) -> Option<u8> {
    const ORDINALS: [&str; 19] = [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    match token {
        "twentieth" => Some(20),
        "thirtieth" => Some(30),
        _ => ORDINALS
            .iter()
            .position(|o| *o == token)
            .and_then(|p| u8::try_from(p + 1).ok()),
    }
}

fn month(token: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let short = match token {
        "jan" => Some(1),
        "feb" => Some(2),
        "mar" => Some(3),
        "apr" => Some(4),
        "jun" => Some(6),
        "jul" => Some(7),
        "aug" => Some(8),
        "sep" | "sept" => Some(9),
        "oct" => Some(10),
        "nov" => Some(11),
        "dec" => Some(12),
        _ => None,
    };
    short.or_else(|| {
        MONTHS
            .iter()
            .position(|m| *m == token)
            .and_then(|p| u8::try_from(p + 1).ok())
    })
}

fn weekday(token: &str) -> Option<Weekday> {
    match token {
        "monday" => Some(Weekday::Monday),
        "tuesday" => Some(Weekday::Tuesday),
        "wednesday" => Some(Weekday::Wednesday),
        "thursday" => Some(Weekday::Thursday),
        "friday" => Some(Weekday::Friday),
        "saturday" => Some(Weekday::Saturday),
        "sunday" => Some(Weekday::Sunday),
        _ => None,
    }
}

fn weekday_rule(token: &str) -> Option<WeekdayRule> {
    match token {
        "this" => Some(WeekdayRule::This),
        "next" => Some(WeekdayRule::NextWeek),
        "on" | "coming" => Some(WeekdayRule::Coming),
        _ => None,
    }
}
