//! Small conversions between `x509-cert` types and the plain values the engine passes
//! around (Unix seconds, name strings, DER bytes), shared by the CSR reader, the
//! certificate reader and the local CA.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use der::asn1::OctetString;
use der::{DateTime, Encode};
use spki::ObjectIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extension;
use x509_cert::time::Time;

use crate::problem::Problem;

/// An X.509 `Time` for Unix seconds (UTCTime through 2049, GeneralizedTime after, as
/// RFC 5280 §4.1.2.5 requires).
pub(crate) fn time_from_unix(secs: u64) -> Result<Time, Problem> {
    DateTime::from_unix_duration(Duration::from_secs(secs))
        .map(Time::from)
        .map_err(|_| Problem::server_internal(format!("time {secs} cannot be written in a certificate")))
}

/// Unix seconds of an X.509 `Time`.
pub(crate) fn time_to_unix(t: Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// The canonical text form of an IP address in a SAN: IPv4 dotted quad, IPv6 as RFC
/// 5952 recommends (`core::net` formats it that way); `None` for a wrong length.
pub(crate) fn ip_from_octets(octets: &[u8]) -> Option<String> {
    match octets.len() {
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(octets).ok()?).to_string()),
        16 => Some(Ipv6Addr::from(<[u8; 16]>::try_from(octets).ok()?).to_string()),
        _ => None,
    }
}

/// Parses an IP address string and renders it canonically (`2001:DB8:0::1` → `2001:db8::1`).
pub(crate) fn canonical_ip(s: &str) -> Option<String> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// DNS names and IP addresses of a GeneralNames list.
#[derive(Default)]
pub(crate) struct SanNames {
    /// dNSName entries, lower-cased.
    pub dns: BTreeSet<String>,
    /// iPAddress entries in canonical text form.
    pub ips: BTreeSet<String>,
    /// A description of the first entry that is neither (or is unreadable), if any.
    pub other: Option<String>,
}

impl SanNames {
    /// Sorts `names` into DNS names and IP addresses.
    pub(crate) fn collect<'a>(names: impl IntoIterator<Item = &'a GeneralName>) -> SanNames {
        let mut out = SanNames::default();
        for name in names {
            match name {
                GeneralName::DnsName(d) => {
                    out.dns.insert(d.as_str().to_ascii_lowercase());
                }
                GeneralName::IpAddress(o) => match ip_from_octets(o.as_bytes()) {
                    Some(ip) => {
                        out.ips.insert(ip);
                    }
                    None => {
                        out.other.get_or_insert_with(|| {
                            format!("an iPAddress of {} bytes (expected 4 or 16)", o.as_bytes().len())
                        });
                    }
                },
                other => {
                    out.other.get_or_insert_with(|| general_name_kind(other).into());
                }
            }
        }
        out
    }
}

fn general_name_kind(name: &GeneralName) -> &'static str {
    match name {
        GeneralName::OtherName(_) => "an otherName",
        GeneralName::Rfc822Name(_) => "an rfc822Name (email address)",
        GeneralName::DnsName(_) => "a dNSName",
        GeneralName::DirectoryName(_) => "a directoryName",
        GeneralName::EdiPartyName(_) => "an ediPartyName",
        GeneralName::UniformResourceIdentifier(_) => "a URI",
        GeneralName::IpAddress(_) => "an iPAddress",
        GeneralName::RegisteredId(_) => "a registeredID",
    }
}

/// An extension with an explicit criticality, so every profile decision is visible
/// where the profile is written rather than in a library default.
pub(crate) fn extension<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Result<Extension, Problem> {
    let der = value.to_der().map_err(encode_failed)?;
    Ok(Extension { extn_id: oid, critical, extn_value: OctetString::new(der).map_err(encode_failed)? })
}

/// The DER encoding of `value`; encoding values this crate built cannot fail in practice.
pub(crate) fn to_der<T: Encode>(value: &T) -> Result<Vec<u8>, Problem> {
    value.to_der().map_err(encode_failed)
}

/// serverInternal for a DER encoding failure.
pub(crate) fn encode_failed(e: der::Error) -> Problem {
    Problem::server_internal(format!("DER encoding failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_render_in_canonical_form() {
        assert_eq!(ip_from_octets(&[192, 0, 2, 1]).unwrap(), "192.0.2.1");
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = 0xb8;
        v6[15] = 1;
        assert_eq!(ip_from_octets(&v6).unwrap(), "2001:db8::1");
        assert_eq!(ip_from_octets(&[1, 2, 3]), None);
        assert_eq!(canonical_ip("2001:DB8:0:0:0:0:0:1").unwrap(), "2001:db8::1");
        // RFC 5952 §4.2.2: a single zero group is not compressed; §4.2.3: the first longest run is.
        assert_eq!(canonical_ip("2001:db8:0:1:1:1:1:1").unwrap(), "2001:db8:0:1:1:1:1:1");
        assert_eq!(canonical_ip("2001:0:0:1:0:0:0:1").unwrap(), "2001:0:0:1::1");
        assert_eq!(canonical_ip("2001:db8:0:0:1:0:0:1").unwrap(), "2001:db8::1:0:0:1");
        assert_eq!(canonical_ip("::ffff:192.0.2.1").unwrap(), "::ffff:192.0.2.1");
        assert_eq!(canonical_ip("example.com"), None);
    }

    #[test]
    fn times_round_trip_through_x509_time() {
        let t = 1_796_083_200; // 2026-12-01T00:00:00Z
        let x = time_from_unix(t).unwrap();
        assert!(matches!(x, Time::UtcTime(_)), "dates through 2049 are UTCTime");
        assert_eq!(time_to_unix(x), t);
        let late = 2_556_144_000; // 2051-01-01
        assert!(matches!(time_from_unix(late).unwrap(), Time::GeneralTime(_)));
    }
}
