//! Execution windows (`restrictExecutionDuringTimeWindow` + `restrictedExecutionWindow`): a stage
//! starts only inside one of its time ranges, on one of its days, in UTC. Outside, the stage
//! waits for the next opening (its StartStage is delivered then): nothing sleeps.
//!
//! Days follow Spinnaker (Java's `Calendar`): 1 = Sunday ... 7 = Saturday; none listed means
//! every day. A range whose end is before its start wraps past midnight.

use app::model::pipeline::ExecutionWindow;

const MINUTE: i64 = 60_000;
/// How far ahead to look for an opening: more than a week covers every valid window.
const HORIZON_MINUTES: i64 = 8 * 24 * 60;

fn calendar_day(millis: i64) -> u8 {
    // 1970-01-01 was a Thursday (Calendar day 5).
    let days = millis.div_euclid(86_400_000);
    ((days + 4).rem_euclid(7) + 1) as u8
}

fn minute_of_day(millis: i64) -> i64 {
    millis.rem_euclid(86_400_000) / MINUTE
}

pub fn is_open(window: &ExecutionWindow, millis: i64) -> bool {
    if !window.days.is_empty() && !window.days.contains(&calendar_day(millis)) {
        return false;
    }
    if window.whitelist.is_empty() {
        return true;
    }
    let minute = minute_of_day(millis);
    window.whitelist.iter().any(|range| {
        let start = i64::from(range.start_hour) * 60 + i64::from(range.start_min);
        let end = i64::from(range.end_hour) * 60 + i64::from(range.end_min);
        if start <= end { (start..end).contains(&minute) } else { minute >= start || minute < end }
    })
}

/// `None` when the window is open now; else when it next opens (`Err` if it never does).
pub fn next_opening(window: &ExecutionWindow, now: i64) -> Option<Result<i64, ()>> {
    if is_open(window, now) {
        return None;
    }
    let first = (now / MINUTE + 1) * MINUTE;
    Some((0..HORIZON_MINUTES).map(|i| first + i * MINUTE).find(|&t| is_open(window, t)).ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::pipeline::TimeRange;

    // 2026-11-27 is a Friday (Calendar day 6).
    const FRIDAY_NOON: i64 = 1_795_780_800_000;

    fn window(start: (u8, u8), end: (u8, u8), days: Vec<u8>) -> ExecutionWindow {
        ExecutionWindow {
            whitelist: vec![TimeRange { start_hour: start.0, start_min: start.1, end_hour: end.0, end_min: end.1 }],
            days,
        }
    }

    #[test]
    fn knows_the_day_and_minute() {
        assert_eq!(calendar_day(FRIDAY_NOON), 6);
        assert_eq!(minute_of_day(FRIDAY_NOON), 12 * 60);
        assert_eq!(calendar_day(0), 5, "1970-01-01 was a Thursday");
    }

    #[test]
    fn open_inside_closed_outside() {
        let office = window((9, 0), (17, 0), vec![]);
        assert!(is_open(&office, FRIDAY_NOON));
        assert_eq!(next_opening(&office, FRIDAY_NOON), None);
        let evening = FRIDAY_NOON + 6 * 3_600_000;
        assert_eq!(next_opening(&office, evening), Some(Ok(FRIDAY_NOON + 21 * 3_600_000)), "next morning at 9");
    }

    #[test]
    fn wraps_midnight_and_respects_days() {
        let night = window((22, 0), (2, 0), vec![]);
        assert!(is_open(&night, FRIDAY_NOON + 11 * 3_600_000 + 30 * MINUTE), "23:30");
        assert!(is_open(&night, FRIDAY_NOON + 13 * 3_600_000), "01:00");
        assert!(!is_open(&night, FRIDAY_NOON));
        let weekend = window((0, 0), (23, 59), vec![1, 7]);
        assert!(!is_open(&weekend, FRIDAY_NOON));
        assert_eq!(next_opening(&weekend, FRIDAY_NOON), Some(Ok(FRIDAY_NOON + 12 * 3_600_000)), "Saturday 00:00");
        let never = window((10, 0), (10, 0), vec![]);
        assert_eq!(next_opening(&never, FRIDAY_NOON), Some(Err(())));
    }
}
