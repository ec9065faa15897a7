//! Policy questions with yes/no answers and no I/O: which contacts are acceptable,
//! which identifiers may be certified and which challenges each gets, and whether a
//! domain claim covers a name. Handlers ask; this module never changes state.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::config::Config;
use crate::problem::{Problem, ProblemType, Subproblem};
use crate::sa::records::{Claim, ClaimScope};
use crate::wire::{ChallengeType, Identifier, IdentifierType};

/// Why a DNS name is not acceptable, or `None` if it is.
fn dns_name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.ends_with('.') {
        return Some("the name must not end with a dot");
    }
    if name.len() > 253 {
        return Some("the name is longer than 253 characters");
    }
    if !name.is_ascii() {
        return Some("the name must be ASCII (use the A-label, xn--, form of internationalized names)");
    }
    if name.parse::<IpAddr>().is_ok() {
        return Some("an IP address must be requested as an ip identifier, not a dns identifier");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Some("the name must have at least two labels");
    }
    for l in &labels {
        if l.is_empty() {
            return Some("the name has an empty label");
        }
        if l.len() > 63 {
            return Some("a label is longer than 63 characters");
        }
        if !l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Some("labels may only contain a-z, 0-9 and hyphens");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Some("a label starts or ends with a hyphen");
        }
        if l.len() >= 4 && &l[2..4] == "--" && !l.starts_with("xn--") {
            return Some("labels with hyphens in the third and fourth position are reserved");
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Some("the top-level label must not be numeric");
    }
    None
}

/// Why an IP address can never be certified, or `None`: addresses that name no single
/// host reachable for validation (RFC 8738 leaves the policy to the CA; these are the
/// IANA special-purpose blocks that are never globally unique).
fn ip_address_error(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() => {
            Some("the unspecified and broadcast addresses cannot be certified")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address cannot be certified"),
        IpAddr::V4(v4) if v4.is_loopback() => Some("loopback addresses cannot be certified"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback addresses cannot be certified"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local addresses cannot be certified"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("link-local addresses cannot be certified"),
        IpAddr::V4(v4) if v4.is_multicast() => Some("multicast addresses cannot be certified"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("multicast addresses cannot be certified"),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            Some("IPv4-mapped IPv6 addresses cannot be certified; request the IPv4 address")
        }
        _ => None,
    }
}

fn under_suffix(name: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches('.');
    name == suffix || name.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('.'))
}

/// A checked identifier of a new order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderIdentifier {
    /// The identifier as requested (with `*.` for wildcards).
    pub requested: Identifier,
    /// The name authorized (without `*.`).
    pub base: Identifier,
    /// Whether it is a wildcard.
    pub wildcard: bool,
}

impl OrderIdentifier {
    /// An identifier as an order names it (`*.` in front for a wildcard), taken apart
    /// without policy checks: for identifiers already accepted once.
    pub fn from_requested(id: &Identifier) -> Self {
        match id.value.strip_prefix("*.") {
            Some(base) => OrderIdentifier { requested: id.clone(), base: Identifier::dns(base), wildcard: true },
            None => OrderIdentifier { requested: id.clone(), base: id.clone(), wildcard: false },
        }
    }

    /// What an authorization for `base` covers (the wildcard of it when `wildcard`).
    pub fn of_authorization(base: &Identifier, wildcard: bool) -> Self {
        let requested = if wildcard {
            Identifier { kind: base.kind.clone(), value: format!("*.{}", base.value) }
        } else {
            base.clone()
        };
        OrderIdentifier { requested, base: base.clone(), wildcard }
    }

    /// The challenge types this identifier is offered: wildcards only dns-01 (RFC 8555
    /// §7.1.3), IP addresses only http-01 (RFC 8738), other names both.
    pub fn challenge_types(&self) -> Vec<ChallengeType> {
        match (&self.base.kind, self.wildcard) {
            (IdentifierType::Ip, _) => alloc::vec![ChallengeType::Http01],
            (_, true) => alloc::vec![ChallengeType::Dns01],
            _ => alloc::vec![ChallengeType::Http01, ChallengeType::Dns01],
        }
    }
}

fn check_identifier(config: &Config, id: &Identifier) -> Result<OrderIdentifier, Problem> {
    match &id.kind {
        IdentifierType::Dns => {
            // DNS names compare case-insensitively: the order carries the lowercase form
            // (which is also what certificates and CSR checks use).
            let id = &Identifier::dns(id.value.to_ascii_lowercase());
            let (wildcard, base) = match id.value.strip_prefix("*.") {
                Some(b) => (true, b),
                None => (false, id.value.as_str()),
            };
            if base.contains('*') {
                return Err(Problem::rejected_identifier("a wildcard may only be the single leftmost label"));
            }
            if let Some(why) = dns_name_error(base) {
                return Err(Problem::rejected_identifier(why));
            }
            if config.blocked_suffixes.iter().any(|s| under_suffix(base, s)) {
                return Err(Problem::rejected_identifier("policy forbids issuing for this name"));
            }
            if !config.allowed_suffixes.is_empty() && !config.allowed_suffixes.iter().any(|s| under_suffix(base, s)) {
                return Err(Problem::rejected_identifier("this CA only issues for names under its allowed suffixes"));
            }
            Ok(OrderIdentifier { requested: id.clone(), base: Identifier::dns(base), wildcard })
        }
        IdentifierType::Ip if config.allow_ip_identifiers => {
            let ip: IpAddr = id.value.parse().map_err(|_| Problem::rejected_identifier("not a valid IP address"))?;
            if ip.to_string() != id.value {
                return Err(Problem::rejected_identifier(format!("write the address in canonical form: {ip}")));
            }
            if let Some(why) = ip_address_error(ip) {
                return Err(Problem::rejected_identifier(why));
            }
            Ok(OrderIdentifier { requested: id.clone(), base: id.clone(), wildcard: false })
        }
        IdentifierType::Ip => Err(Problem::unsupported_identifier("this CA does not issue for IP addresses")),
        IdentifierType::Other(t) => {
            Err(Problem::unsupported_identifier(format!("identifier type {t:?} is not supported")))
        }
    }
}

/// Checks every identifier of a new order; all failures are reported at once, one
/// subproblem each. Duplicates are merged; the result is sorted.
pub fn check_order_identifiers(config: &Config, ids: &[Identifier]) -> Result<Vec<OrderIdentifier>, Problem> {
    if ids.is_empty() {
        return Err(Problem::malformed("an order needs at least one identifier"));
    }
    if ids.len() > config.max_identifiers_per_order {
        return Err(Problem::malformed(format!(
            "an order may have at most {} identifiers",
            config.max_identifiers_per_order
        )));
    }
    let mut ok = Vec::new();
    let mut subs = Vec::new();
    for id in ids {
        match check_identifier(config, id) {
            Ok(o) => ok.push(o),
            Err(p) => subs.push(Subproblem { kind: p.kind, detail: p.detail, identifier: Some(id.clone()) }),
        }
    }
    match subs.len() {
        0 => {
            ok.sort();
            ok.dedup();
            Ok(ok)
        }
        1 => {
            let s = subs.remove(0);
            let id = s.identifier.clone().expect("set above");
            let p = Problem::new(s.kind, format!("{}: {}", id.value, s.detail));
            Err(p.with_identifier(id.clone()).with_subproblems(alloc::vec![s]))
        }
        n => {
            let kind = if subs.iter().all(|s| s.kind == subs[0].kind) { subs[0].kind } else { ProblemType::Compound };
            Err(Problem::new(kind, format!("{n} identifiers cannot be certified")).with_subproblems(subs))
        }
    }
}

/// Whether `claim`, alive at `now`, authorizes `id` (a wildcard covered only by a
/// subtree claim).
pub fn claim_covers(claim: &Claim, id: &OrderIdentifier, now: u64) -> bool {
    if now >= claim.expires {
        return false;
    }
    match claim.scope {
        ClaimScope::Exact => !id.wildcard && claim.name == id.base.value,
        ClaimScope::Subtree => id.base.kind == IdentifierType::Dns && under_suffix(&id.base.value, &claim.name),
    }
}

/// Checks an account's contact list (RFC 8555 §7.3): only `mailto:` URLs with a single
/// plausible address, no header fields, at most `max` entries.
pub fn check_contacts(contacts: &[String], max: usize) -> Result<(), Problem> {
    if contacts.len() > max {
        return Err(Problem::invalid_contact(format!("at most {max} contacts are allowed")));
    }
    for c in contacts {
        let Some((scheme, addr)) = c.split_once(':') else {
            return Err(Problem::invalid_contact(format!("{c:?} is not a URL")));
        };
        if !scheme.eq_ignore_ascii_case("mailto") {
            return Err(Problem::unsupported_contact(format!(
                "contact scheme {scheme:?} is not supported; use mailto:"
            )));
        }
        check_email(addr).map_err(|why| Problem::invalid_contact(format!("{c:?}: {why}")))?;
    }
    Ok(())
}

fn check_email(addr: &str) -> Result<(), &'static str> {
    if addr.contains('?') {
        return Err("hfields are not allowed");
    }
    if addr.contains(',') || addr.contains('%') {
        return Err("exactly one address is allowed");
    }
    let (local, domain) = addr.rsplit_once('@').ok_or("missing @")?;
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return Err("invalid local part");
    }
    if !local.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[]\\;:\"".contains(&b)) {
        return Err("invalid local part");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || domain.len() > 253 {
        return Err("the domain must be a fully qualified name");
    }
    for l in labels {
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return Err("invalid domain");
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("invalid domain");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;
    use alloc::vec;

    fn kind(c: &[&str]) -> Option<ProblemType> {
        let v: Vec<String> = c.iter().map(|s| String::from(*s)).collect();
        check_contacts(&v, 2).err().map(|p| p.kind)
    }

    #[test]
    fn mailto_contacts_are_accepted() {
        assert_eq!(kind(&["mailto:admin@example.com"]), None);
        assert_eq!(kind(&["MAILTO:a.b+c@sub.example.org", "mailto:x@y.example"]), None);
        assert_eq!(kind(&[]), None);
    }

    #[test]
    fn bad_contacts_get_invalid_or_unsupported_contact() {
        let cases: Vec<(&[&str], ProblemType)> = vec![
            (&["tel:+1555"], ProblemType::UnsupportedContact),
            (&["https://example.com"], ProblemType::UnsupportedContact),
            (&["admin@example.com"], ProblemType::InvalidContact),
            (&["mailto:"], ProblemType::InvalidContact),
            (&["mailto:no-at-sign"], ProblemType::InvalidContact),
            (&["mailto:a@localhost"], ProblemType::InvalidContact),
            (&["mailto:a@b.example?subject=x"], ProblemType::InvalidContact),
            (&["mailto:a@b.example,c@d.example"], ProblemType::InvalidContact),
            (&["mailto:a@-b.example"], ProblemType::InvalidContact),
            (&["mailto:a b@b.example"], ProblemType::InvalidContact),
            (&["nocolon"], ProblemType::InvalidContact),
            (&["mailto:a@b.example", "mailto:c@d.example", "mailto:e@f.example"], ProblemType::InvalidContact),
        ];
        for (c, want) in cases {
            assert_eq!(kind(c), Some(want), "{c:?}");
        }
    }

    fn cfg() -> Config {
        let mut c = Config::new("https://ca.test");
        c.blocked_suffixes = vec!["blocked.example".into()];
        c
    }

    fn dns(v: &str) -> Identifier {
        Identifier::dns(v)
    }

    #[test]
    fn good_names_wildcards_and_ips_are_accepted_sorted_and_deduplicated() {
        let ids = [
            dns("b.example.com"),
            dns("*.Example.COM"),
            dns("B.example.com"),
            Identifier::ip("192.0.2.1"),
            Identifier::ip("2001:db8::1"),
            dns("xn--bcher-kva.example"),
        ];
        let out = check_order_identifiers(&cfg(), &ids).unwrap();
        assert_eq!(out.len(), 5);
        let wild = out.iter().find(|o| o.wildcard).unwrap();
        assert_eq!(wild.base.value, "example.com");
        assert_eq!(wild.requested.value, "*.example.com", "names are lowercased");
        assert_eq!(wild.challenge_types(), vec![ChallengeType::Dns01]);
        let ip = out.iter().find(|o| o.base.kind == IdentifierType::Ip).unwrap();
        assert_eq!(ip.challenge_types(), vec![ChallengeType::Http01]);
        let plain = out.iter().find(|o| o.base.value == "b.example.com").unwrap();
        assert_eq!(plain.challenge_types(), vec![ChallengeType::Http01, ChallengeType::Dns01]);
    }

    #[test]
    fn bad_names_are_rejected_with_one_subproblem_each() {
        let bad = [
            "example.com.",
            "localhost",
            "a..example.com",
            "-a.example.com",
            "a-.example.com",
            "ab--c.example.com",
            "under_score.example.com",
            "*.*.example.com",
            "a.*.example.com",
            "*example.com",
            "192.0.2.1",
            "example.123",
            "x.blocked.example",
            "blocked.example",
            "bücher.example",
        ];
        for name in bad {
            let err = check_order_identifiers(&cfg(), &[dns(name)]).unwrap_err();
            assert_eq!(err.kind, ProblemType::RejectedIdentifier, "{name}");
            assert_eq!(err.subproblems.len(), 1, "{name}");
            assert_eq!(err.subproblems[0].identifier.as_ref().unwrap().value, name);
        }
        let long = format!("{}.example.com", "a".repeat(64));
        assert!(check_order_identifiers(&cfg(), &[dns(&long)]).is_err());
        let err =
            check_order_identifiers(&cfg(), &[dns("ok.example.com"), dns("bad_.example"), dns("x.blocked.example")])
                .unwrap_err();
        assert_eq!(err.kind, ProblemType::RejectedIdentifier);
        assert_eq!(err.subproblems.len(), 2);
    }

    #[test]
    fn unsupported_types_non_canonical_ips_and_sizes_are_refused() {
        let e = check_order_identifiers(
            &cfg(),
            &[Identifier { kind: IdentifierType::Other("email".into()), value: "a@b".into() }],
        )
        .unwrap_err();
        assert_eq!(e.kind, ProblemType::UnsupportedIdentifier);
        let e = check_order_identifiers(&cfg(), &[Identifier::ip("2001:DB8::1")]).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        let e = check_order_identifiers(&cfg(), &[Identifier::ip("300.1.1.1")]).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        for never in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "169.254.1.1",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:192.0.2.1",
        ] {
            let e = check_order_identifiers(&cfg(), &[Identifier::ip(never)]).unwrap_err();
            assert_eq!(e.kind, ProblemType::RejectedIdentifier, "{never}");
        }
        // Private and documentation ranges stay available (private PKI, tests).
        for fine in ["10.1.2.3", "192.0.2.1", "2001:db8::1", "fd00::1"] {
            assert!(check_order_identifiers(&cfg(), &[Identifier::ip(fine)]).is_ok(), "{fine}");
        }
        let mut c = cfg();
        c.allow_ip_identifiers = false;
        assert_eq!(
            check_order_identifiers(&c, &[Identifier::ip("192.0.2.1")]).unwrap_err().kind,
            ProblemType::UnsupportedIdentifier
        );
        assert_eq!(check_order_identifiers(&c, &[]).unwrap_err().kind, ProblemType::Malformed);
        c.max_identifiers_per_order = 2;
        let three = [dns("a.example.com"), dns("b.example.com"), dns("c.example.com")];
        assert_eq!(check_order_identifiers(&c, &three).unwrap_err().kind, ProblemType::Malformed);
        let e = check_order_identifiers(
            &c,
            &[dns("bad_.example"), Identifier { kind: IdentifierType::Other("x".into()), value: "y".into() }],
        )
        .unwrap_err();
        assert_eq!(e.kind, ProblemType::Compound);
    }

    #[test]
    fn allowlist_limits_names_to_its_suffixes() {
        let mut c = cfg();
        c.allowed_suffixes = vec!["corp.example".into()];
        assert!(check_order_identifiers(&c, &[dns("www.corp.example"), dns("*.corp.example")]).is_ok());
        assert!(check_order_identifiers(&c, &[dns("notcorp.example")]).is_err());
    }

    #[test]
    fn claim_scope_rules() {
        let one = |v: &str| check_order_identifiers(&cfg(), &[dns(v)]).unwrap().remove(0);
        let sub = Claim {
            name: "example.com".into(),
            scope: ClaimScope::Subtree,
            method: "dns-01".into(),
            created_at: 0,
            expires: 100,
        };
        let exact = Claim {
            name: "host.example.com".into(),
            scope: ClaimScope::Exact,
            method: "http-01".into(),
            created_at: 0,
            expires: 100,
        };
        assert!(claim_covers(&sub, &one("example.com"), 10));
        assert!(claim_covers(&sub, &one("www.example.com"), 10));
        assert!(claim_covers(&sub, &one("a.b.example.com"), 10));
        assert!(claim_covers(&sub, &one("*.example.com"), 10));
        assert!(!claim_covers(&sub, &one("badexample.com"), 10));
        assert!(!claim_covers(&sub, &one("example.com"), 100), "expired");
        assert!(claim_covers(&exact, &one("host.example.com"), 10));
        assert!(!claim_covers(&exact, &one("other.example.com"), 10), "sibling");
        assert!(!claim_covers(&exact, &one("a.host.example.com"), 10), "child");
        assert!(!claim_covers(&exact, &one("*.host.example.com"), 10), "wildcard");
    }
}
