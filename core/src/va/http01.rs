//! http-01 (RFC 8555 §8.3; RFC 8738 §3 for IP addresses).
//!
//! Decisions, each one a place where CAs differ:
//! - Redirects (301, 302, 303, 307, 308) are followed at most [`HTTP01_MAX_REDIRECTS`]
//!   times, only to `http` or `https` URLs on port 80 or 443 (explicit or default, as
//!   Boulder allows); a relative `Location` is resolved against the current URL with the
//!   WHATWG URL rules browsers use. A URL seen twice is reported as a redirect loop.
//! - At most [`HTTP01_MAX_BODY`] bytes are read; a longer body cannot be a key
//!   authorization and fails with `incorrectResponse`.
//! - The body is compared after trimming ASCII whitespace on both sides. RFC 8555 says
//!   "trailing whitespace"; Pebble and Boulder trim both sides, and clients that write
//!   the file with a leading newline then work everywhere.
//! - A status other than 200 (after redirects) is `unauthorized`, as Boulder and Pebble
//!   report it: the subscriber did not prove control. A wrong body is
//!   `incorrectResponse`, quoting the first 64 escaped characters received.
//! - Transport failures: connection refused and timeouts are `connection`, DNS failures
//!   (NXDOMAIN included) are `dns`, TLS failures after a redirect to https are `tls`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use url::Url;

use super::{escape_prefix, TransportError, Va};
use crate::keyauth;
use crate::problem::Problem;

/// Most body bytes read from a challenge response. A key authorization is 87 bytes;
/// the margin leaves room for whitespace without reading anything large.
pub const HTTP01_MAX_BODY: usize = 8 * 1024;

/// Most redirects followed from the first request.
pub const HTTP01_MAX_REDIRECTS: usize = 10;

/// Longest prefix of an unexpected body quoted in a problem detail.
const QUOTE_MAX: usize = 64;

/// The first URL fetched: `http://<host>/.well-known/acme-challenge/<token>`, with an
/// IPv6 literal in brackets (RFC 8738 §3).
pub fn http01_url(host: &str, token: &str) -> String {
    let path = keyauth::http01_path(token);
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("http://[{host}]{path}")
    } else {
        format!("http://{host}{path}")
    }
}

/// Validates an http-01 challenge for `host` (a DNS name or IP literal): fetches the
/// token's resource, following permitted redirects, and compares the body with
/// `key_authorization`.
pub async fn validate_http01(va: &impl Va, host: &str, token: &str, key_authorization: &str) -> Result<(), Problem> {
    // Tokens are ours (keyauth::new_token), so this only guards against a caller
    // passing something that could change the path.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Problem::server_internal("challenge token is not base64url"));
    }
    let first = http01_url(host, token);
    let mut url = Url::parse(&first)
        .map_err(|e| Problem::rejected_identifier(format!("cannot build an http-01 URL for {host:?}: {e}")))?;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let resp = va.http_get(url.as_str(), HTTP01_MAX_BODY + 1).await.map_err(|e| transport_problem(&url, e))?;
        match resp.status {
            200 => return check_body(&url, &resp.body, key_authorization),
            301 | 302 | 303 | 307 | 308 => {
                seen.push(String::from(url.as_str()));
                let next = redirect_target(&url, resp.status, resp.location.as_deref())?;
                if seen.iter().any(|s| s == next.as_str()) {
                    return Err(Problem::unauthorized(format!("redirect loop: {url} redirects back to {next}")));
                }
                if seen.len() > HTTP01_MAX_REDIRECTS {
                    return Err(Problem::unauthorized(format!(
                        "too many redirects fetching {first}: more than {HTTP01_MAX_REDIRECTS}, the last to {next}"
                    )));
                }
                url = next;
            }
            status => {
                return Err(Problem::unauthorized(format!("invalid response from {url}: HTTP {status}, expected 200")));
            }
        }
    }
}

/// The URL a redirect from `from` leads to, if it is one we follow.
fn redirect_target(from: &Url, status: u16, location: Option<&str>) -> Result<Url, Problem> {
    let location = location
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Problem::unauthorized(format!("HTTP {status} redirect from {from} has no Location header")))?;
    let mut next = from
        .join(location)
        .map_err(|e| Problem::unauthorized(format!("invalid redirect from {from} to {location:?}: {e}")))?;
    next.set_fragment(None);
    if !matches!(next.scheme(), "http" | "https") {
        return Err(Problem::unauthorized(format!(
            "redirect from {from} to {next} refused: only http and https URLs are followed"
        )));
    }
    if next.host().is_none() {
        return Err(Problem::unauthorized(format!("redirect from {from} to {next} refused: the URL has no host")));
    }
    match next.port_or_known_default() {
        Some(80 | 443) => Ok(next),
        port => Err(Problem::unauthorized(format!(
            "redirect from {from} to {next} refused: only ports 80 and 443 are followed, not {}",
            port.unwrap_or(0)
        ))),
    }
}

fn check_body(url: &Url, body: &[u8], key_authorization: &str) -> Result<(), Problem> {
    if body.len() > HTTP01_MAX_BODY {
        return Err(Problem::incorrect_response(format!(
            "the response from {url} is longer than {HTTP01_MAX_BODY} bytes; expected the key authorization \
             \"{key_authorization}\" (got \"{}\")",
            escape_prefix(body, QUOTE_MAX)
        )));
    }
    if body.trim_ascii() == key_authorization.as_bytes() {
        return Ok(());
    }
    Err(Problem::incorrect_response(format!(
        "the key authorization from {url} does not match this challenge: expected \"{key_authorization}\" \
         (got \"{}\")",
        escape_prefix(body.trim_ascii(), QUOTE_MAX)
    )))
}

fn transport_problem(url: &Url, err: TransportError) -> Problem {
    let host = url.host_str().unwrap_or_default();
    match err {
        TransportError::Connection(why) => Problem::connection(format!("fetching {url}: connection failed: {why}")),
        TransportError::Timeout => {
            Problem::connection(format!("fetching {url}: timed out (a firewall may be dropping the connection)"))
        }
        TransportError::Dns(why) => Problem::dns(format!("looking up {host} for {url}: {why}")),
        TransportError::NxDomain => {
            Problem::dns(format!("looking up {host} for {url}: NXDOMAIN, the name does not exist"))
        }
        TransportError::Tls(why) => Problem::tls(format!("fetching {url}: TLS error: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;
    use crate::testkit::block_on;
    use crate::va::testing::FakeVa;

    const TOKEN: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    const KA: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    const URL: &str = "http://example.com/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";

    fn run(va: &FakeVa) -> Result<(), Problem> {
        block_on(validate_http01(va, "example.com", TOKEN, KA))
    }

    fn kind(r: Result<(), Problem>) -> ProblemType {
        r.unwrap_err().kind
    }

    #[test]
    fn matching_body_validates() {
        let va = FakeVa::new().http(URL, 200, KA);
        run(&va).unwrap();
        assert_eq!(va.requests(), [format!("GET {URL}")]);
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let va = FakeVa::new().http(URL, 200, format!("\n  {KA}\r\n\t "));
        run(&va).unwrap();
    }

    #[test]
    fn wrong_body_is_incorrect_response_quoting_both() {
        let va = FakeVa::new().http(URL, 200, "<html>\"hello\"\n</html>");
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::IncorrectResponse);
        assert!(p.detail.contains(KA), "{}", p.detail);
        assert!(p.detail.contains(r#"(got "<html>\"hello\"\n</html>")"#), "{}", p.detail);
    }

    #[test]
    fn quoted_body_is_cut_at_64_characters() {
        let va = FakeVa::new().http(URL, 200, "x".repeat(500));
        let p = run(&va).unwrap_err();
        assert!(p.detail.contains(&format!("(got \"{}…\")", "x".repeat(64))), "{}", p.detail);
    }

    #[test]
    fn not_found_is_unauthorized() {
        let va = FakeVa::new().http(URL, 404, "not here");
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert!(p.detail.contains("HTTP 404"), "{}", p.detail);
    }

    #[test]
    fn redirect_chain_relative_and_absolute_is_followed() {
        let va = FakeVa::new()
            .redirect(URL, 301, "/moved/here?x=1#frag")
            .redirect("http://example.com/moved/here?x=1", 302, "https://www.example.com/final")
            .redirect("https://www.example.com/final", 307, "next")
            .redirect("https://www.example.com/next", 308, "//cdn.example.net:443/ka")
            .redirect("https://cdn.example.net/ka", 303, "http://cdn.example.net:80/last")
            .http("http://cdn.example.net/last", 200, KA);
        run(&va).unwrap();
        assert_eq!(
            va.requests(),
            [
                format!("GET {URL}"),
                "GET http://example.com/moved/here?x=1".into(),
                "GET https://www.example.com/final".into(),
                "GET https://www.example.com/next".into(),
                "GET https://cdn.example.net/ka".into(),
                "GET http://cdn.example.net/last".into(),
            ]
        );
    }

    #[test]
    fn redirect_to_port_8080_is_refused() {
        let va =
            FakeVa::new().redirect(URL, 302, "http://example.com:8080/x").http("http://example.com:8080/x", 200, KA);
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert!(p.detail.contains("8080"), "{}", p.detail);
        assert_eq!(va.requests().len(), 1);
    }

    #[test]
    fn redirect_to_ftp_is_refused() {
        let va = FakeVa::new().redirect(URL, 301, "ftp://example.com/token");
        assert_eq!(kind(run(&va)), ProblemType::Unauthorized);
        assert_eq!(va.requests().len(), 1);
    }

    #[test]
    fn ten_redirects_are_followed_and_the_eleventh_is_refused() {
        let mut va = FakeVa::new().redirect(URL, 302, "/r1");
        for i in 1..=10 {
            va = va.redirect(&format!("http://example.com/r{i}"), 302, &format!("/r{}", i + 1));
        }
        va = va.http("http://example.com/r10", 200, KA);
        run(&va).unwrap();
        assert_eq!(va.requests().len(), 11);

        let mut va = FakeVa::new().redirect(URL, 302, "/r1");
        for i in 1..=11 {
            va = va.redirect(&format!("http://example.com/r{i}"), 302, &format!("/r{}", i + 1));
        }
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert!(p.detail.contains("too many redirects"), "{}", p.detail);
        assert_eq!(va.requests().len(), 11);
    }

    #[test]
    fn redirect_loop_is_reported() {
        let va = FakeVa::new().redirect(URL, 302, "/a").redirect("http://example.com/a", 302, URL);
        let p = run(&va).unwrap_err();
        assert!(p.detail.contains("redirect loop"), "{}", p.detail);
    }

    #[test]
    fn redirect_without_location_is_unauthorized() {
        let va = FakeVa::new().http(URL, 302, "");
        assert_eq!(kind(run(&va)), ProblemType::Unauthorized);
    }

    #[test]
    fn oversize_body_is_refused() {
        let va = FakeVa::new().http(URL, 200, format!("{KA}{}", " ".repeat(HTTP01_MAX_BODY)));
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::IncorrectResponse);
        assert!(p.detail.contains("longer than 8192 bytes"), "{}", p.detail);
        // Exactly the limit is still read and trimmed.
        let va = FakeVa::new().http(URL, 200, format!("{KA}{}", " ".repeat(HTTP01_MAX_BODY - KA.len())));
        run(&va).unwrap();
    }

    #[test]
    fn connection_error_and_timeout_are_connection() {
        let va = FakeVa::new().http_error(URL, TransportError::Connection("refused".into()));
        assert_eq!(kind(run(&va)), ProblemType::Connection);
        let va = FakeVa::new().http_error(URL, TransportError::Timeout);
        assert_eq!(kind(run(&va)), ProblemType::Connection);
    }

    #[test]
    fn dns_failures_are_dns() {
        let va = FakeVa::new().http_error(URL, TransportError::NxDomain);
        let p = run(&va).unwrap_err();
        assert_eq!(p.kind, ProblemType::Dns);
        assert!(p.detail.contains("example.com"), "{}", p.detail);
        let va = FakeVa::new().http_error(URL, TransportError::Dns("SERVFAIL".into()));
        assert_eq!(kind(run(&va)), ProblemType::Dns);
    }

    #[test]
    fn tls_error_after_redirect_to_https_is_tls() {
        let va = FakeVa::new()
            .redirect(URL, 301, "https://example.com/x")
            .http_error("https://example.com/x", TransportError::Tls("certificate expired".into()));
        assert_eq!(kind(run(&va)), ProblemType::Tls);
    }

    #[test]
    fn ip_literals_are_fetched_by_address() {
        let v6 = format!("http://[2001:db8::1]/.well-known/acme-challenge/{TOKEN}");
        let va = FakeVa::new().http(&v6, 200, KA);
        block_on(validate_http01(&va, "2001:db8::1", TOKEN, KA)).unwrap();
        let v4 = format!("http://192.0.2.7/.well-known/acme-challenge/{TOKEN}");
        let va = FakeVa::new().http(&v4, 200, KA);
        block_on(validate_http01(&va, "192.0.2.7", TOKEN, KA)).unwrap();
    }

    #[test]
    fn a_token_that_could_change_the_path_is_refused() {
        let va = FakeVa::new();
        let p = block_on(validate_http01(&va, "example.com", "../x", KA)).unwrap_err();
        assert_eq!(p.kind, ProblemType::ServerInternal);
        assert!(va.requests().is_empty());
    }
}
