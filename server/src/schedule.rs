//! Cron schedules, shared by cron triggers and the local cloud's scheduled actions: Quartz's
//! expressions (seconds first: six or seven fields, `?` for "no specific value", days of week
//! 1 = Sunday or SUN-SAT) or the classic five fields (minute first, read as if seconds were 0),
//! in an IANA time zone (default UTC).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};

/// At most this many occurrences are walked to find the latest missed one (a per-second
/// schedule after a long outage): beyond it, the last one walked is taken.
const MAX_WALK: usize = 100_000;

/// A parsed schedule in its time zone.
pub struct Schedule {
    schedule: ::cron::Schedule,
    zone: chrono_tz::Tz,
}

/// Parses a Quartz (6-7 fields) or classic (5 fields) expression.
pub fn parse(expression: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let quartz = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => return Err(format!("a cron expression has 5 fields (classic) or 6-7 (Quartz, seconds first), not {n}")),
    };
    // Quartz's `?` (no specific value, in day-of-month or day-of-week) means the same as `*`
    // once the other day field says which days.
    let schedule = ::cron::Schedule::from_str(&quartz.replace('?', "*")).map_err(|error| format!("{expression:?}: {error}"))?;
    let zone = match time_zone {
        None | Some("") => chrono_tz::UTC,
        Some(name) => name.parse().map_err(|_| format!("unknown time zone {name:?} (use an IANA name like Europe/Paris)"))?,
    };
    Ok(Schedule { schedule, zone })
}

impl Schedule {
    /// The latest occurrence in `(after, until]`, in epoch milliseconds.
    pub fn latest_between(&self, after: i64, until: i64) -> Option<i64> {
        let start = self.zone.from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(after)?.naive_utc());
        self.schedule.after(&start).take(MAX_WALK).map(|at| at.timestamp_millis()).take_while(|at| *at <= until).last()
    }

    /// The next occurrence after `after`.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = self.zone.from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(after)?.naive_utc());
        self.schedule.after(&start).next().map(|at| at.timestamp_millis())
    }
}

