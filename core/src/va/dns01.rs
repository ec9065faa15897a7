//! dns-01 (RFC 8555 §8.4).
//!
//! The TXT RRset at `_acme-challenge.<domain>` passes if any one value equals the
//! expected digest exactly: a wildcard and its base name are validated through the same
//! name, so two values at once are normal. No value, or no such name, is
//! `unauthorized` (nothing was published); values that are all wrong are
//! `incorrectResponse`; a lookup that fails is `dns`.

use alloc::format;
use alloc::string::String;

use super::{escape_prefix, TransportError, Va};
use crate::problem::Problem;

/// Longest prefix of an unexpected TXT value quoted in a problem detail.
const QUOTE_MAX: usize = 64;

/// Where the dns-01 TXT record lives: `_acme-challenge.<domain>` (a leading `*.` is
/// dropped: a wildcard is validated at its base name).
pub fn dns01_name(domain: &str) -> String {
    let domain = domain.strip_prefix("*.").unwrap_or(domain);
    format!("_acme-challenge.{}", domain.trim_end_matches('.'))
}

/// Validates a dns-01 challenge for `domain` (without `*.`): some TXT value at
/// [`dns01_name`] must equal `expected_txt`.
pub async fn validate_dns01(va: &impl Va, domain: &str, expected_txt: &str) -> Result<(), Problem> {
    let name = dns01_name(domain);
    let values = match va.txt_lookup(&name).await {
        Ok(values) => values,
        Err(TransportError::NxDomain) => return Err(Problem::unauthorized(format!("no TXT record found at {name}"))),
        Err(e) => return Err(Problem::dns(format!("looking up TXT at {name}: {e}"))),
    };
    if values.iter().any(|v| v == expected_txt) {
        return Ok(());
    }
    match values.first() {
        None => Err(Problem::unauthorized(format!("no TXT record found at {name}"))),
        Some(first) => Err(Problem::incorrect_response(format!(
            "{} TXT record{} found at {name}, none with the expected value \"{expected_txt}\"; the first is \"{}\"",
            values.len(),
            if values.len() == 1 { "" } else { "s" },
            escape_prefix(first.as_bytes(), QUOTE_MAX)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;
    use crate::testkit::block_on;
    use crate::va::testing::FakeVa;

    const NAME: &str = "_acme-challenge.example.com";
    const GOOD: &str = "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo";
    const OTHER: &str = "fWnXqL9tM2nV1JZ2j3k5oS8fYpC0bq4lH7e6Rrt1uXw";

    fn run(va: &FakeVa) -> Result<(), Problem> {
        block_on(validate_dns01(va, "example.com", GOOD))
    }

    #[test]
    fn one_of_two_values_matching_validates() {
        let va = FakeVa::new().txt(NAME, &[OTHER, GOOD]);
        run(&va).unwrap();
        assert_eq!(va.requests(), [format!("TXT {NAME}")]);
    }

    #[test]
    fn wildcard_prefix_is_dropped() {
        assert_eq!(dns01_name("*.example.com"), NAME);
        assert_eq!(dns01_name("example.com."), NAME);
    }

    #[test]
    fn missing_record_is_unauthorized() {
        let p = run(&FakeVa::new()).unwrap_err();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert_eq!(p.detail, "no TXT record found at _acme-challenge.example.com");
        let p = run(&FakeVa::new().txt(NAME, &[])).unwrap_err();
        assert_eq!(p.kind, ProblemType::Unauthorized);
    }

    #[test]
    fn wrong_values_are_incorrect_response_with_a_count() {
        let p = run(&FakeVa::new().txt(NAME, &[OTHER, "v=spf1 -all"])).unwrap_err();
        assert_eq!(p.kind, ProblemType::IncorrectResponse);
        assert!(p.detail.starts_with("2 TXT records found at _acme-challenge.example.com"), "{}", p.detail);
        assert!(p.detail.contains(OTHER), "{}", p.detail);
    }

    #[test]
    fn near_misses_do_not_match() {
        for wrong in [format!("{GOOD} "), format!("\"{GOOD}\""), GOOD.to_lowercase()] {
            let p = run(&FakeVa::new().txt(NAME, &[&wrong])).unwrap_err();
            assert_eq!(p.kind, ProblemType::IncorrectResponse, "{wrong}");
        }
    }

    #[test]
    fn servfail_is_dns() {
        let va = FakeVa::new().txt_error(NAME, TransportError::Dns("SERVFAIL".into()));
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::Dns);
        assert!(p.detail.contains("SERVFAIL") && p.detail.contains(NAME), "{}", p.detail);
        let va = FakeVa::new().txt_error(NAME, TransportError::Timeout);
        assert_eq!(run(&va).unwrap_err().kind, ProblemType::Dns);
    }
}
