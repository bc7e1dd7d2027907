//! A calendar date without a clock or time zone: the reference "today" that relative dates
//! ("tomorrow", "next Monday") resolve against.
//!
//! Hand-written because neither `chrono` nor `time` is in the dependency tree and entities need
//! only validation, weekday and adding days. The conversions are Howard Hinnant's
//! `days_from_civil` and `civil_from_days`, shared with ticket timestamps (`tickets::time`);
//! proleptic Gregorian calendar, exact for every year.
//! The caller supplies today's date (the shell reads the clock and picks the time zone); nothing
//! here reads one.

use std::fmt;

/// A valid proleptic Gregorian date in years 1..=9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    year: i32,
    month: u8,
    day: u8,
}

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Monday, the first day of a week here ("next Monday").
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Days since Monday (Monday = 0 .. Sunday = 6).
    pub fn days_from_monday(self) -> i64 {
        Self::ALL.iter().position(|d| *d == self).unwrap_or(0) as i64
    }

    fn from_days_from_monday(n: i64) -> Self {
        Self::ALL
            .get(n.rem_euclid(7) as usize)
            .copied()
            .unwrap_or(Weekday::Monday)
    }
}

/// Days since 1970-01-01 of 0001-01-01 and 9999-12-31.
const MIN_DAYS: i64 = -719_162;
const MAX_DAYS: i64 = 2_932_896;

impl CivilDate {
    /// The date, if it exists (e.g. no 2026-02-29) and the year is in 1..=9999.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(Self { year, month, day })
    }

    /// The date `days` after 1970-01-01 (negative: before), e.g. from a Unix timestamp / 86400.
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
            return None;
        }
        let (year, month, day) = civil_from_days(days);
        Self::new(i32::try_from(year).ok()?, month, day)
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        crate::tickets::time::days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        )
    }

    /// Year (1..=9999).
    pub fn year(self) -> i32 {
        self.year
    }

    /// Month (1..=12).
    pub fn month(self) -> u8 {
        self.month
    }

    /// Day of the month (1..=31).
    pub fn day(self) -> u8 {
        self.day
    }

    /// Day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        Weekday::from_days_from_monday(self.days_since_epoch() + 3)
    }

    /// The date `days` later (earlier if negative); `None` outside years 1..=9999.
    pub fn add_days(self, days: i64) -> Option<Self> {
        Self::from_days_since_epoch(self.days_since_epoch().checked_add(days)?)
    }
}

/// ISO 8601: `2026-12-05`.
impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Days in `month` of `year` (0 for a month outside 1..=12).
fn days_in_month(year: i32, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let (year, month, day) = crate::tickets::time::civil_from_days(days);
    // Both are in range by construction (1..=31, 1..=12); 0 only if that were wrong.
    (
        year,
        u8::try_from(month).unwrap_or(0),
        u8::try_from(day).unwrap_or(0),
    )
}

/// Today's date in UTC from the system clock: for the shells (call task, `voxdesk eval`) to
/// pass in; nothing else in `bot/` reads the clock.
pub fn today_utc() -> Option<CivilDate> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    CivilDate::from_days_since_epoch(i64::try_from(secs / 86_400).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u8, d: u8) -> CivilDate {
        CivilDate::new(y, m, d).unwrap_or_else(|| panic!("bad test date {y}-{m}-{d}"))
    }

    #[test]
    fn validation() {
        assert!(CivilDate::new(2024, 2, 29).is_some());
        assert!(CivilDate::new(2026, 2, 29).is_none());
        assert!(CivilDate::new(1900, 2, 29).is_none());
        assert!(CivilDate::new(2000, 2, 29).is_some());
        assert!(CivilDate::new(2026, 4, 31).is_none());
        assert!(CivilDate::new(2026, 13, 1).is_none());
        assert!(CivilDate::new(2026, 1, 0).is_none());
        assert!(CivilDate::new(0, 1, 1).is_none());
        assert!(CivilDate::new(10_000, 1, 1).is_none());
    }

    #[test]
    fn known_days_and_weekdays() {
        let cases = [
            (date(1970, 1, 1), 0, Weekday::Thursday),
            (date(2000, 3, 1), 11_017, Weekday::Wednesday),
            (date(2026, 6, 10), 20_614, Weekday::Wednesday),
            (date(2026, 12, 5), 20_792, Weekday::Saturday),
            (date(1969, 12, 31), -1, Weekday::Wednesday),
            (date(1, 1, 1), MIN_DAYS, Weekday::Monday),
            (date(9999, 12, 31), MAX_DAYS, Weekday::Friday),
        ];
        for (d, days, weekday) in cases {
            assert_eq!(d.days_since_epoch(), days, "{d}");
            assert_eq!(d.weekday(), weekday, "{d}");
            assert_eq!(CivilDate::from_days_since_epoch(days), Some(d));
        }
    }

    #[test]
    fn add_days_crosses_months_years_and_stops_at_the_range() {
        assert_eq!(date(2026, 12, 31).add_days(1), Some(date(2027, 1, 1)));
        assert_eq!(date(2024, 2, 28).add_days(1), Some(date(2024, 2, 29)));
        assert_eq!(date(2026, 3, 1).add_days(-1), Some(date(2026, 2, 28)));
        assert_eq!(date(9999, 12, 31).add_days(1), None);
        assert_eq!(date(1, 1, 1).add_days(-1), None);
        assert_eq!(date(2026, 1, 1).add_days(i64::MAX), None);
        assert_eq!(date(2026, 12, 5).to_string(), "2026-12-05");
    }

    proptest! {
        #[test]
        fn days_round_trip(days in MIN_DAYS..=MAX_DAYS) {
            let d = CivilDate::from_days_since_epoch(days);
            prop_assert_eq!(d.map(CivilDate::days_since_epoch), Some(days));
        }

        #[test]
        fn next_day_is_next_weekday(days in MIN_DAYS..MAX_DAYS) {
            let d = CivilDate::from_days_since_epoch(days);
            let next = d.and_then(|d| d.add_days(1));
            let step = d.zip(next).map(|(a, b)| {
                (b.weekday().days_from_monday() - a.weekday().days_from_monday()).rem_euclid(7)
            });
            prop_assert_eq!(step, Some(1));
        }
    }
}
