//! Validation authority: decides whether a challenge was met and whether CAA allows
//! issuance, from answers that the host fetched.
//!
//! The host implements [`Va`], the transport: one HTTP GET without redirect following,
//! a TXT lookup and a CAA lookup at exactly one name. Everything that decides what an
//! answer means lives here, so the Worker (`fetch()` and DNS-over-HTTPS), the
//! in-memory test host and any other host judge challenges identically:
//!
//! - [`validate_http01`] (RFC 8555 §8.3, RFC 8738 for IP addresses): the request URL,
//!   which redirects are followed, how much body is read, how the body is compared.
//! - [`validate_dns01`] (RFC 8555 §8.4): where the TXT record lives and which of several
//!   values counts.
//! - [`check_caa`] (RFC 8659, RFC 8657): the climb to the relevant RRset, `issue` versus
//!   `issuewild`, critical flags, and the `accounturi` and `validationmethods`
//!   parameters.
//! - [`doh`]: DNS messages for hosts that resolve over DNS-over-HTTPS (RFC 8484).
//!
//! Every failure is a [`Problem`] of the type RFC 8555 §6.7 names for it (`connection`,
//! `dns`, `tls`, `unauthorized`, `incorrectResponse`, `caa`), with a detail that tells
//! the subscriber what was fetched and what was wrong.

// `Problem` is the crate-wide error type; its size is problem.rs's decision, not ours.

mod caa;
mod dns01;
pub mod doh;
mod http01;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use caa::{check_caa, check_caa_identifier, CaaParams, KNOWN_CAA_TAGS};
pub use dns01::{dns01_name, validate_dns01};
pub use http01::{http01_url, validate_http01, HTTP01_MAX_BODY, HTTP01_MAX_REDIRECTS};

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use crate::keyauth;
use crate::problem::Problem;
use crate::wire::{ChallengeType, Identifier, IdentifierType};

/// The transport the host provides for validation. It moves bytes; it decides nothing.
#[allow(async_fn_in_trait)]
pub trait Va {
    /// One HTTP GET, no redirect following; the host caps the body at `max_body` bytes
    /// (returning at most that many) and applies a timeout.
    async fn http_get(&self, url: &str, max_body: usize) -> Result<HttpResponse, TransportError>;
    /// TXT records at `name` (each record's character-strings concatenated), following
    /// CNAMEs.
    async fn txt_lookup(&self, name: &str) -> Result<Vec<String>, TransportError>;
    /// CAA records at exactly `name` (no tree climbing: the core climbs), following
    /// CNAMEs per RFC 8659.
    async fn caa_lookup(&self, name: &str) -> Result<Vec<CaaRecord>, TransportError>;
}

/// What one HTTP GET returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any (redirects).
    pub location: Option<String>,
    /// The body, at most the `max_body` bytes that were asked for.
    pub body: Vec<u8>,
}

/// Why the host could not complete a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// No connection could be made, or it broke.
    Connection(String),
    /// The request took longer than the host allows.
    Timeout,
    /// A DNS lookup failed (SERVFAIL, REFUSED, malformed answer, resolver unreachable).
    Dns(String),
    /// The name does not exist (RCODE NXDOMAIN).
    NxDomain,
    /// The TLS handshake failed (https redirect targets).
    Tls(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connection(why) => write!(f, "connection failed: {why}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Dns(why) => write!(f, "DNS lookup failed: {why}"),
            Self::NxDomain => f.write_str("NXDOMAIN (the name does not exist)"),
            Self::Tls(why) => write!(f, "TLS error: {why}"),
        }
    }
}

/// One CAA resource record (RFC 8659 §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaaRecord {
    /// The flags octet; bit 0x80 is the Issuer Critical flag.
    pub flags: u8,
    /// The property tag (`issue`, `issuewild`, `iodef`, ...), matched case-insensitively.
    pub tag: String,
    /// The property value.
    pub value: String,
}

impl CaaRecord {
    /// A record from its three fields.
    pub fn new(flags: u8, tag: impl Into<String>, value: impl Into<String>) -> Self {
        CaaRecord { flags, tag: tag.into(), value: value.into() }
    }

    /// Whether the Issuer Critical flag is set.
    pub fn is_critical(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

impl fmt::Display for CaaRecord {
    /// Presentation format: `0 issue "ca.example"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"{}\"", self.flags, self.tag, self.value.escape_debug())
    }
}

/// What a validation targets: a DNS name (without `*.`) or an IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// A DNS name.
    Dns {
        /// The name without a leading `*.`.
        name: &'a str,
        /// Whether the identifier was a wildcard.
        wildcard: bool,
    },
    /// An IP address (RFC 8738).
    Ip(IpAddr),
}

/// The validation target of an identifier; other identifier types are refused.
pub fn host_of_identifier(id: &Identifier) -> Result<Host<'_>, Problem> {
    match &id.kind {
        IdentifierType::Dns => Ok(match id.value.strip_prefix("*.") {
            Some(name) => Host::Dns { name, wildcard: true },
            None => Host::Dns { name: &id.value, wildcard: false },
        }),
        IdentifierType::Ip => id
            .value
            .parse()
            .map(Host::Ip)
            .map_err(|_| Problem::malformed(alloc::format!("{:?} is not an IP address", id.value))),
        IdentifierType::Other(kind) => {
            Err(Problem::unsupported_identifier(alloc::format!("identifier type {kind:?} cannot be validated")))
        }
    }
}

/// Runs the challenge `kind` for `id` (the authorization's identifier; a wildcard's
/// `*.` is stripped) and attaches the identifier to any problem.
///
/// http-01 is refused for wildcards and dns-01 for IP addresses, as RFC 8555 §8.3 and
/// RFC 8738 §7 require; tls-alpn-01 and unknown types are not offered by this CA.
pub async fn validate_challenge(
    va: &impl Va,
    id: &Identifier,
    kind: &ChallengeType,
    token: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    let run = async {
        let host = host_of_identifier(id)?;
        match (kind, host) {
            (ChallengeType::Http01, Host::Dns { wildcard: true, .. }) => {
                Err(Problem::unauthorized("http-01 cannot validate a wildcard name; use dns-01"))
            }
            (ChallengeType::Http01, Host::Dns { name, .. }) => {
                validate_http01(va, name, token, key_authorization).await
            }
            (ChallengeType::Http01, Host::Ip(ip)) => {
                validate_http01(va, &alloc::string::ToString::to_string(&ip), token, key_authorization).await
            }
            (ChallengeType::Dns01, Host::Dns { name, .. }) => {
                validate_dns01(va, name, &keyauth::dns01_txt_value(key_authorization)).await
            }
            (ChallengeType::Dns01, Host::Ip(_)) => {
                Err(Problem::unauthorized("dns-01 cannot validate an IP address (RFC 8738 §7)"))
            }
            (other, _) => Err(Problem::malformed(alloc::format!("challenge type {other:?} is not offered"))),
        }
    };
    run.await.map_err(|p| p.with_identifier(id.clone()))
}

/// `bytes` as printable ASCII, quoted escapes for the rest, at most `max` characters
/// (an ellipsis marks a cut): for quoting what a validation target sent in a detail.
pub(crate) fn escape_prefix(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes {
        let esc = core::ascii::escape_default(b);
        if out.len() + esc.len() > max {
            out.push('…');
            break;
        }
        out.extend(esc.map(char::from));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::testing::FakeVa;
    use super::*;
    use crate::problem::ProblemType;
    use crate::testkit::block_on;

    #[test]
    fn escape_prefix_quotes_control_bytes_and_cuts_long_input() {
        assert_eq!(escape_prefix(b"ab\"c\n\xff", 64), "ab\\\"c\\n\\xff");
        let long = [b'a'; 100];
        let s = escape_prefix(&long, 64);
        assert_eq!(s.chars().count(), 65);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn identifiers_map_to_hosts() {
        assert_eq!(
            host_of_identifier(&Identifier::dns("*.example.com")).unwrap(),
            Host::Dns { name: "example.com", wildcard: true }
        );
        assert_eq!(
            host_of_identifier(&Identifier::ip("2001:db8::1")).unwrap(),
            Host::Ip("2001:db8::1".parse().unwrap())
        );
        assert_eq!(host_of_identifier(&Identifier::ip("nope")).unwrap_err().kind, ProblemType::Malformed);
    }

    #[test]
    fn validate_challenge_dispatches_and_names_the_identifier() {
        let ka = "tok.thumb";
        let txt = keyauth::dns01_txt_value(ka);
        let va = FakeVa::new().txt("_acme-challenge.example.com", &[&txt]).http(
            "http://[2001:db8::1]/.well-known/acme-challenge/tok",
            200,
            ka,
        );
        let wild = Identifier::dns("*.example.com");
        block_on(validate_challenge(&va, &wild, &ChallengeType::Dns01, "tok", ka)).unwrap();
        let err = block_on(validate_challenge(&va, &wild, &ChallengeType::Http01, "tok", ka)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Unauthorized);
        assert_eq!(err.identifier, Some(wild));
        let ip = Identifier::ip("2001:db8::1");
        block_on(validate_challenge(&va, &ip, &ChallengeType::Http01, "tok", ka)).unwrap();
        let err = block_on(validate_challenge(&va, &ip, &ChallengeType::Dns01, "tok", ka)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Unauthorized);
        let err = block_on(validate_challenge(&va, &ip, &ChallengeType::TlsAlpn01, "tok", ka)).unwrap_err();
        assert_eq!(err.kind, ProblemType::Malformed);
    }
}
