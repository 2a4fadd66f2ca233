//! How long a fetched document may be reused (SPEC R088, R089): HTTP caching headers (RFC 9111)
//! clamped to the operator's bounds.

use std::time::Duration;

/// The operator's bounds: a document is kept at least `min` (so a client cannot make Postern
/// refetch on every request) and at most `max` (24 h by default, SEP-991).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    pub min: Duration,
    pub max: Duration,
}

impl Default for CacheBounds {
    fn default() -> Self {
        Self { min: Duration::from_secs(60), max: Duration::from_secs(24 * 3600) }
    }
}

/// The headers that decide a lifetime, as received.
#[derive(Debug, Clone, Default)]
pub struct CacheHeaders<'a> {
    pub cache_control: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub date: Option<&'a str>,
    pub age: Option<&'a str>,
}

/// `None` means "do not cache" (`no-store`, `no-cache`, `private`): the publisher asked every
/// use to go back to the source. Otherwise `s-maxage`, then `max-age`, then `Expires - Date`,
/// less `Age`, clamped to `bounds`; no header at all gets `bounds.min`.
pub fn lifetime(headers: &CacheHeaders<'_>, bounds: CacheBounds) -> Option<Duration> {
    let mut max_age = None;
    let mut shared_max_age = None;
    for directive in headers.cache_control.unwrap_or_default().split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim().to_owned(), Some(value.trim().trim_matches('"').to_owned())),
            None => (directive.clone(), None),
        };
        match (name.as_str(), value) {
            ("no-store" | "no-cache" | "private", _) => return None,
            ("max-age", Some(v)) => max_age = v.parse::<u64>().ok(),
            ("s-maxage", Some(v)) => shared_max_age = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    let explicit = shared_max_age.or(max_age).or_else(|| {
        let expires = httpdate_seconds(headers.expires?)?;
        let date = headers.date.and_then(httpdate_seconds).unwrap_or(expires);
        Some(expires.saturating_sub(date))
    });
    let age = headers.age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    let seconds = explicit.map_or(bounds.min.as_secs(), |s| s.saturating_sub(age));
    Some(Duration::from_secs(seconds).clamp(bounds.min, bounds.max))
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only
/// date form RFC 9110 requires senders to use. Anything else counts as absent.
fn httpdate_seconds(raw: &str) -> Option<u64> {
    let parts: Vec<&str> = raw.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: u64 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let mut clock = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), valid for the Gregorian calendar.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * mo + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn of(cache_control: &str) -> Option<u64> {
        let headers = CacheHeaders { cache_control: Some(cache_control), ..CacheHeaders::default() };
        lifetime(&headers, CacheBounds::default()).map(|d| d.as_secs())
    }

    #[test]
    fn r088_max_age_and_s_maxage_are_honoured_within_bounds() {
        assert_eq!(of("max-age=3600"), Some(3600));
        assert_eq!(of("public, max-age=600, s-maxage=1200"), Some(1200));
        assert_eq!(of("max-age=5"), Some(60), "raised to the minimum");
        assert_eq!(of("max-age=604800"), Some(86_400), "capped at 24 h");
        assert_eq!(of("MAX-AGE=\"120\""), Some(120));
    }

    #[test]
    fn r088_no_store_no_cache_and_private_are_not_cached() {
        assert_eq!(of("no-store"), None);
        assert_eq!(of("max-age=3600, no-cache"), None);
        assert_eq!(of("private, max-age=3600"), None);
    }

    #[test]
    fn expires_minus_date_and_age_are_used() {
        let headers = CacheHeaders {
            cache_control: None,
            expires: Some("Sun, 06 Nov 1994 09:49:37 GMT"),
            date: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            age: Some("600"),
        };
        assert_eq!(lifetime(&headers, CacheBounds::default()), Some(Duration::from_secs(3000)));
        let garbage = CacheHeaders { expires: Some("tomorrow"), ..CacheHeaders::default() };
        assert_eq!(lifetime(&garbage, CacheBounds::default()), Some(Duration::from_secs(60)));
    }

    #[test]
    fn no_headers_get_the_minimum() {
        assert_eq!(lifetime(&CacheHeaders::default(), CacheBounds::default()), Some(Duration::from_secs(60)));
    }

    #[test]
    fn imf_fixdate_parses_to_unix_seconds() {
        assert_eq!(httpdate_seconds("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(httpdate_seconds("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(httpdate_seconds("Sat, 21 Nov 2026 00:00:00 GMT"), Some(1_795_219_200));
    }

    proptest! {
        #[test]
        fn any_header_gives_none_or_a_bounded_lifetime(cc in ".{0,80}", expires in ".{0,40}", age in ".{0,10}") {
            let headers = CacheHeaders { cache_control: Some(&cc), expires: Some(&expires), date: None, age: Some(&age) };
            if let Some(d) = lifetime(&headers, CacheBounds::default()) {
                prop_assert!(d >= Duration::from_secs(60) && d <= Duration::from_secs(86_400));
            }
        }
    }
}
