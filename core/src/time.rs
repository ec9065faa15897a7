//! RFC 3339 timestamps for the wire format, from and to Unix seconds.
//!
//! Calendar arithmetic comes from `der::DateTime` (the same type X.509 uses), so the
//! certificate validity and the JSON `expires` fields can never disagree.

use alloc::format;
use alloc::string::String;
use core::time::Duration;
use der::DateTime;

use crate::problem::Problem;

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(unix: u64) -> String {
    match DateTime::from_unix_duration(Duration::from_secs(unix)) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minutes(),
            d.seconds()
        ),
        Err(_) => String::from("9999-12-31T23:59:59Z"),
    }
}

/// Parses an RFC 3339 timestamp (`Z` or a numeric offset, optional fraction) to Unix
/// seconds; fractions are truncated.
pub fn parse_rfc3339(s: &str) -> Result<u64, Problem> {
    let bad = || Problem::malformed(format!("{s:?} is not an RFC 3339 timestamp"));
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: core::ops::Range<usize>| -> Result<u32, Problem> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let h = num(s.len() - 5..s.len() - 3)? as i64;
            let m = num(s.len() - 2..s.len())? as i64;
            let v = h * 3600 + m * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let dt = DateTime::new(
        u16::try_from(year).map_err(|_| bad())?,
        month as u8,
        day as u8,
        hour as u8,
        minute as u8,
        second.min(59) as u8,
    )
    .map_err(|_| bad())?;
    let t = dt.unix_duration().as_secs() as i64 - offset;
    u64::try_from(t).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20.123+01:00").unwrap(), 1_700_000_000);
        assert_eq!(parse_rfc3339("2023-11-14T21:13:20-01:00").unwrap(), 1_700_000_000);
    }

    #[test]
    fn rejects_non_rfc3339_text() {
        for s in [
            "",
            "2023-11-14",
            "2023-11-14 22:13:20Z",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "20x3-11-14T22:13:20Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
    }
}
