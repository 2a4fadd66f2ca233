//! Unix seconds written for people, and read back: RFC 3339 in UTC, without a date-time
//! dependency.

use crate::clock::UnixTime;

/// `2026-11-21T09:30:00Z`. Valid for every `i64` a clock can produce in practice (years 0 to
/// 9999 print with four digits).
pub fn rfc3339(unix: UnixTime) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3_600, secs % 3_600 / 60, secs % 60)
}

/// Reads a UTC date and time as an HTML `datetime-local` field sends it (`2026-11-21T09:30`,
/// seconds optional) or as [`rfc3339`] writes it (`2026-11-21T09:30:00Z`). `None` for anything
/// else, including impossible dates such as February 30 and years outside 1970 to 9999.
pub fn parse_utc(text: &str) -> Option<UnixTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T')?;
    let number = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<i64>().ok()).flatten()
    };
    let mut date_parts = date.split('-');
    let (year, month, day) =
        (number(date_parts.next()?, 4)?, number(date_parts.next()?, 2)?, number(date_parts.next()?, 2)?);
    let mut time_parts = time.split(':');
    let (hour, minute) = (number(time_parts.next()?, 2)?, number(time_parts.next()?, 2)?);
    let second = time_parts.next().map_or(Some(0), |s| number(s, 2))?;
    if date_parts.next().is_some() || time_parts.next().is_some() || year < 1970 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_219_200 + 3_661), "2026-11-21T01:01:01Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn utc_date_times_read_back_what_rfc3339_writes() {
        for unix in [0, 951_782_400, 1_795_219_200 + 3_661, 253_402_300_799, 1_709_164_800] {
            assert_eq!(parse_utc(&rfc3339(unix)), Some(unix), "{}", rfc3339(unix));
        }
        assert_eq!(parse_utc("2026-11-21T01:01"), Some(1_795_219_200 + 3_660), "datetime-local without seconds");
        assert_eq!(parse_utc("2024-02-29T00:00"), Some(1_709_164_800));
    }

    #[test]
    fn impossible_or_malformed_date_times_are_refused() {
        for text in [
            "",
            "2026-11-21",
            "2026-11-21 01:01",
            "2026-02-30T00:00",
            "2023-02-29T00:00",
            "2026-13-01T00:00",
            "2026-11-21T24:00",
            "2026-11-21T23:60",
            "1969-12-31T23:59",
            "26-11-21T01:01",
            "2026-11-21T01:01:01:01",
            "+2026-11-21T01:01",
            "2026-11-21T01:01+01:00",
            "２０２６-11-21T01:01",
        ] {
            assert_eq!(parse_utc(text), None, "{text}");
        }
    }
}
