//! Timestamps as Spinnaker sends them (milliseconds since the Unix epoch, UTC) and a formatter
//! that gives the same text on the server and in the browser, so hydration never mismatches.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type EpochMillis = i64;

/// Formats as `YYYY-MM-DD HH:MM:SS UTC` without a time-zone database (which would bloat the WASM).
pub fn format_utc(millis: EpochMillis) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (public domain), proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration in seconds with one decimal (`12.3 s`), rounded down. Integer arithmetic on
/// purpose: float formatting would add its code to the browser bundle for this one line.
pub fn format_seconds_tenths(millis: i64) -> String {
    let millis = millis.max(0);
    format!("{}.{} s", millis / 1000, millis % 1000 / 100)
}

#[cfg(test)]
mod tests {
    use super::{format_seconds_tenths, format_utc};

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_798_329_600_123), "2026-12-27 00:00:00 UTC");
        assert_eq!(format_utc(-1000), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn durations_read_in_tenths_of_a_second() {
        assert_eq!(format_seconds_tenths(12_345), "12.3 s");
        assert_eq!(format_seconds_tenths(40), "0.0 s");
        assert_eq!(format_seconds_tenths(-5), "0.0 s");
    }
}
