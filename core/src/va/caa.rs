//! CAA checking (RFC 8659, with the RFC 8657 `accounturi` and `validationmethods`
//! parameters).
//!
//! 1. The relevant RRset (RFC 8659 §3): look up CAA at the name; while the answer is
//!    empty (NOERROR without records, or NXDOMAIN) and the name is not a top-level
//!    domain, move to its parent. No records anywhere: issuance is allowed.
//! 2. A record with the Issuer Critical flag (0x80) and a tag outside
//!    [`KNOWN_CAA_TAGS`] forbids issuance (§4.1).
//! 3. For a wildcard, the `issuewild` records decide if there are any, else the `issue`
//!    records; for other names the `issue` records (§4.3). None of the deciding kind
//!    (e.g. only `iodef`): allowed.
//! 4. Otherwise one deciding record must authorize us: its value must parse by the §4.2
//!    grammar, name one of our CA identities (case-insensitively), and its parameters,
//!    if present, must allow this account (`accounturi`, compared as an exact string)
//!    and this validation method (`validationmethods`). `;` alone names no issuer and
//!    forbids. With no CA identity configured nothing can authorize us, so any deciding
//!    record forbids.
//!
//! A lookup that fails (SERVFAIL, timeout, a malformed answer) refuses issuance with a
//! `dns` problem: RFC 8659 §3 forbids issuing when the relevant RRset cannot be
//! determined, and the failure is the DNS's, not a CAA policy, so `dns` names the fix
//! (repair the nameservers) better than `caa` would. A denial is a `caa` problem whose
//! detail names the name the records were found at and each deciding record with why it
//! did not authorize us.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{host_of_identifier, CaaRecord, Host, TransportError, Va};
use crate::problem::Problem;
use crate::wire::Identifier;

/// Property tags this CA understands, so that the critical flag on them does not
/// forbid issuance: RFC 8659 (`issue`, `issuewild`, `iodef`), RFC 9495 (`issuemail`),
/// the BIMI `issuevmc`, and the CA/Browser Forum `contactemail` and `contactphone`.
pub const KNOWN_CAA_TAGS: &[&str] =
    &["issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"];

/// Who is asking for issuance: what CAA records are matched against.
#[derive(Clone, Copy, Debug)]
pub struct CaaParams<'a> {
    /// This CA's issuer domain names (the directory's `caaIdentities`).
    pub ca_identities: &'a [String],
    /// The account URL, matched against `accounturi` (RFC 8657 §3).
    pub account_uri: &'a str,
    /// The validation method used (`http-01`, `dns-01`), matched against
    /// `validationmethods` (RFC 8657 §4).
    pub method: &'a str,
}

/// Checks CAA for `domain` (without `*.`; `wildcard` says whether the certificate
/// names `*.domain`).
pub async fn check_caa(va: &impl Va, domain: &str, wildcard: bool, params: &CaaParams<'_>) -> Result<(), Problem> {
    let (domain, wildcard) = match domain.strip_prefix("*.") {
        Some(base) => (base, true),
        None => (domain, wildcard),
    };
    let domain = domain.trim_end_matches('.');
    let target = if wildcard { format!("*.{domain}") } else { String::from(domain) };
    let mut name = domain;
    loop {
        let records = match va.caa_lookup(name).await {
            Ok(records) => records,
            Err(TransportError::NxDomain) => Vec::new(),
            Err(e) => {
                return Err(Problem::dns(format!(
                    "looking up CAA at {name} for {target}: {e}; issuance is refused while CAA cannot be checked"
                )))
            }
        };
        if !records.is_empty() {
            return evaluate(name, &target, &records, wildcard, params);
        }
        match name.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => name = parent,
            _ => return Ok(()),
        }
    }
}

/// Checks CAA for a `dns` identifier (a leading `*.` makes it a wildcard). IP
/// addresses have no CAA (RFC 8738 leaves it undefined) and pass.
pub async fn check_caa_identifier(va: &impl Va, id: &Identifier, params: &CaaParams<'_>) -> Result<(), Problem> {
    match host_of_identifier(id)? {
        Host::Dns { name, wildcard } => check_caa(va, name, wildcard, params).await,
        Host::Ip(_) => Ok(()),
    }
    .map_err(|p| p.with_identifier(id.clone()))
}

/// Decides on the relevant RRset, found at `found_at`.
fn evaluate(
    found_at: &str,
    target: &str,
    records: &[CaaRecord],
    wildcard: bool,
    params: &CaaParams<'_>,
) -> Result<(), Problem> {
    if let Some(r) =
        records.iter().find(|r| r.is_critical() && !KNOWN_CAA_TAGS.iter().any(|t| r.tag.eq_ignore_ascii_case(t)))
    {
        return Err(Problem::caa(format!(
            "CAA record for {found_at} forbids issuance for {target}: {r} marks the property \"{}\" critical, \
             and this CA does not understand it (RFC 8659 §4.1)",
            r.tag
        )));
    }
    let with_tag = |tag: &str| records.iter().filter(|r| r.tag.eq_ignore_ascii_case(tag)).collect::<Vec<_>>();
    let issuewild = with_tag("issuewild");
    let deciding = if wildcard && !issuewild.is_empty() { issuewild } else { with_tag("issue") };
    if deciding.is_empty() {
        return Ok(());
    }
    let mut refusals = Vec::new();
    for r in deciding {
        match authorizes(r, params) {
            Ok(()) => return Ok(()),
            Err(why) => refusals.push(format!("{r} ({why})")),
        }
    }
    Err(Problem::caa(format!(
        "CAA record{} for {found_at} forbid{} issuance for {target}: {}",
        if refusals.len() == 1 { "" } else { "s" },
        if refusals.len() == 1 { "s" } else { "" },
        refusals.join("; ")
    )))
}

/// Whether one `issue` or `issuewild` record authorizes this CA, account and method;
/// the error says why not.
fn authorizes(record: &CaaRecord, params: &CaaParams<'_>) -> Result<(), String> {
    let value = IssueValue::parse(&record.value).map_err(|why| format!("malformed value: {why}"))?;
    let issuer = value.issuer.ok_or_else(|| String::from("it names no issuer, which forbids issuance"))?;
    if !params.ca_identities.iter().any(|id| id.trim_end_matches('.').eq_ignore_ascii_case(issuer)) {
        return Err(match params.ca_identities.is_empty() {
            true => format!("it authorizes {issuer}; this CA has no CAA identity configured"),
            false => format!("it authorizes {issuer}, not this CA ({})", params.ca_identities.join(", ")),
        });
    }
    for (tag, value) in &value.parameters {
        if tag.eq_ignore_ascii_case("accounturi") && *value != params.account_uri {
            return Err(format!("accounturi {value} is not this account, {}", params.account_uri));
        }
        if tag.eq_ignore_ascii_case("validationmethods") && !value.split(',').any(|m| m == params.method) {
            return Err(format!("validationmethods {value} does not include {}", params.method));
        }
    }
    Ok(())
}

/// An `issue` or `issuewild` property value (RFC 8659 §4.2):
///
/// ```text
/// issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
/// issuer-domain-name = label *("." label)
/// label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
/// parameters = (parameter *WSP ";" *WSP parameters) / parameter
/// parameter = tag *WSP "=" *WSP value
/// tag = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
/// value = *(%x21-3A / %x3C-7E)
/// ```
///
/// (The DNS crate gives the value as bytes; no crate we use parses this grammar.) Two
/// departures, both toward refusing rather than allowing: empty parameters between
/// semicolons are skipped, and a parameter tag given twice makes the value malformed,
/// so a second `accounturi` cannot hide behind the first.
#[derive(Debug, PartialEq, Eq)]
struct IssueValue<'a> {
    issuer: Option<&'a str>,
    parameters: Vec<(&'a str, &'a str)>,
}

impl<'a> IssueValue<'a> {
    fn parse(value: &'a str) -> Result<Self, &'static str> {
        const WSP: &[char] = &[' ', '\t'];
        let (name, rest) = match value.split_once(';') {
            Some((name, rest)) => (name, Some(rest)),
            None => (value, None),
        };
        let name = name.trim_matches(WSP);
        let issuer = match name {
            "" => None,
            n if n.split('.').all(is_label) => Some(n),
            _ => return Err("the issuer is not a domain name"),
        };
        let mut parameters: Vec<(&str, &str)> = Vec::new();
        for p in rest.into_iter().flat_map(|r| r.split(';')).map(|p| p.trim_matches(WSP)) {
            if p.is_empty() {
                continue;
            }
            let (tag, value) = p.split_once('=').ok_or("a parameter has no '='")?;
            let (tag, value) = (tag.trim_matches(WSP), value.trim_matches(WSP));
            if !is_label(tag) {
                return Err("a parameter tag is not letters, digits and hyphens");
            }
            if !value.bytes().all(|b| matches!(b, 0x21..=0x3a | 0x3c..=0x7e)) {
                return Err("a parameter value has a character outside %x21-3A / %x3C-7E");
            }
            if parameters.iter().any(|(t, _)| t.eq_ignore_ascii_case(tag)) {
                return Err("a parameter is given twice");
            }
            parameters.push((tag, value));
        }
        Ok(IssueValue { issuer, parameters })
    }
}

/// `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    matches!((b.first(), b.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;
    use crate::testkit::block_on;
    use crate::va::testing::FakeVa;
    use alloc::vec;

    const ACCOUNT: &str = "https://acme.test/acct/123";

    fn ids() -> Vec<String> {
        vec!["ca.test".into(), "edge-acme.example".into()]
    }

    fn check_with(va: &FakeVa, domain: &str, wildcard: bool, method: &str) -> Result<(), Problem> {
        let ids = ids();
        let params = CaaParams { ca_identities: &ids, account_uri: ACCOUNT, method };
        block_on(check_caa(va, domain, wildcard, &params))
    }

    fn check(va: &FakeVa, domain: &str, wildcard: bool) -> Result<(), Problem> {
        check_with(va, domain, wildcard, "http-01")
    }

    fn issue(value: &str) -> CaaRecord {
        CaaRecord::new(0, "issue", value)
    }

    fn denied(r: Result<(), Problem>) -> Problem {
        let p = r.unwrap_err();
        assert_eq!(p.kind, ProblemType::Caa, "{p}");
        p
    }

    #[test]
    fn no_records_anywhere_allows_after_climbing_to_the_tld() {
        let va = FakeVa::new();
        check(&va, "a.b.example.com", false).unwrap();
        assert_eq!(va.requests(), ["CAA a.b.example.com", "CAA b.example.com", "CAA example.com", "CAA com"]);
    }

    #[test]
    fn nxdomain_counts_as_empty() {
        let va = FakeVa::new()
            .caa_error("new.example.com", TransportError::NxDomain)
            .caa("example.com", &[issue("ca.test")]);
        check(&va, "new.example.com", false).unwrap();
        assert_eq!(va.requests(), ["CAA new.example.com", "CAA example.com"]);
    }

    #[test]
    fn issue_for_us_allows() {
        let va = FakeVa::new().caa("example.com", &[issue("other.example"), issue("ca.test")]);
        check(&va, "example.com", false).unwrap();
        assert_eq!(va.requests(), ["CAA example.com"]);
    }

    #[test]
    fn issue_for_another_ca_denies_naming_where_and_what() {
        let va = FakeVa::new().caa("example.com", &[issue("letsencrypt.org")]);
        let p = denied(check(&va, "www.example.com", false));
        assert!(p.detail.contains("CAA record for example.com forbids issuance for www.example.com"), "{}", p.detail);
        assert!(p.detail.contains("0 issue \"letsencrypt.org\""), "{}", p.detail);
    }

    #[test]
    fn empty_issuer_forbids() {
        for v in [";", "", "  ;  "] {
            let va = FakeVa::new().caa("example.com", &[issue(v)]);
            let p = denied(check(&va, "example.com", false));
            assert!(p.detail.contains("names no issuer"), "{}", p.detail);
        }
    }

    #[test]
    fn issuewild_takes_precedence_for_wildcards_only() {
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "issuewild", "other.example"), issue("ca.test")]);
        let p = denied(check_with(&va, "example.com", true, "dns-01"));
        assert!(p.detail.contains("*.example.com") && p.detail.contains("issuewild"), "{}", p.detail);
        check(&va, "example.com", false).unwrap();
    }

    #[test]
    fn issue_decides_for_wildcards_without_issuewild() {
        let va = FakeVa::new().caa("example.com", &[issue("other.example")]);
        denied(check_with(&va, "example.com", true, "dns-01"));
        let va = FakeVa::new().caa("example.com", &[issue("ca.test")]);
        check_with(&va, "example.com", true, "dns-01").unwrap();
        // A `*.` in the domain also marks a wildcard.
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "issuewild", ";"), issue("ca.test")]);
        denied(check_with(&va, "*.example.com", false, "dns-01"));
    }

    #[test]
    fn issuewild_alone_does_not_restrict_plain_names() {
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "issuewild", ";")]);
        check(&va, "example.com", false).unwrap();
    }

    #[test]
    fn record_at_parent_applies_to_child() {
        let va = FakeVa::new().caa("example.com", &[issue("other.example")]);
        let p = denied(check(&va, "deep.sub.example.com", false));
        assert!(p.detail.contains("for example.com"), "{}", p.detail);
        assert_eq!(va.requests(), ["CAA deep.sub.example.com", "CAA sub.example.com", "CAA example.com"]);
    }

    #[test]
    fn record_at_child_overrides_parent() {
        let va = FakeVa::new().caa("example.com", &[issue(";")]).caa("sub.example.com", &[issue("ca.test")]);
        check(&va, "sub.example.com", false).unwrap();
        assert_eq!(va.requests(), ["CAA sub.example.com"]);
        let va = FakeVa::new().caa("example.com", &[issue("ca.test")]).caa("sub.example.com", &[issue(";")]);
        denied(check(&va, "sub.example.com", false));
    }

    #[test]
    fn accounturi_must_match_when_present() {
        let va = FakeVa::new().caa("example.com", &[issue(&format!("ca.test; accounturi={ACCOUNT}"))]);
        check(&va, "example.com", false).unwrap();
        let va = FakeVa::new().caa("example.com", &[issue("ca.test; accounturi=https://acme.test/acct/999")]);
        let p = denied(check(&va, "example.com", false));
        assert!(p.detail.contains("accounturi"), "{}", p.detail);
    }

    #[test]
    fn validationmethods_must_include_the_method_used() {
        let va = FakeVa::new().caa("example.com", &[issue("ca.test; validationmethods=dns-01,http-01")]);
        check_with(&va, "example.com", false, "http-01").unwrap();
        check_with(&va, "example.com", false, "dns-01").unwrap();
        let va = FakeVa::new().caa("example.com", &[issue("ca.test; validationmethods=dns-01")]);
        let p = denied(check_with(&va, "example.com", false, "http-01"));
        assert!(p.detail.contains("validationmethods dns-01 does not include http-01"), "{}", p.detail);
        let va = FakeVa::new().caa("example.com", &[issue("ca.test; validationmethods=http-011")]);
        denied(check_with(&va, "example.com", false, "http-01"));
    }

    #[test]
    fn both_parameters_together() {
        let v = format!("ca.test; validationmethods=dns-01 ; accounturi={ACCOUNT}");
        let va = FakeVa::new().caa("example.com", &[issue(&v)]);
        check_with(&va, "example.com", false, "dns-01").unwrap();
        denied(check_with(&va, "example.com", false, "http-01"));
    }

    #[test]
    fn critical_unknown_tag_denies() {
        let va = FakeVa::new().caa("example.com", &[issue("ca.test"), CaaRecord::new(128, "tbs", "unknown")]);
        let p = denied(check(&va, "example.com", false));
        assert!(p.detail.contains("128 tbs \"unknown\"") && p.detail.contains("critical"), "{}", p.detail);
    }

    #[test]
    fn critical_known_tags_and_non_critical_unknown_tags_are_fine() {
        let va = FakeVa::new().caa(
            "example.com",
            &[
                CaaRecord::new(128, "issue", "ca.test"),
                CaaRecord::new(128, "iodef", "mailto:security@example.com"),
                CaaRecord::new(0, "futuretag", "whatever"),
            ],
        );
        check(&va, "example.com", false).unwrap();
        // Only non-critical unknown tags: no deciding record, allowed.
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "futuretag", "x")]);
        check(&va, "example.com", false).unwrap();
    }

    #[test]
    fn issuer_and_tag_match_case_insensitively() {
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "ISSUE", "CA.Test")]);
        check(&va, "example.com", false).unwrap();
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "Issue", "Other.Example")]);
        denied(check(&va, "example.com", false));
    }

    #[test]
    fn malformed_values_do_not_authorize() {
        for v in ["ca.test; accounturi", "ca.test;accounturi=a b", "ca_test", "-ca.test", "ca.test; =x"] {
            let va = FakeVa::new().caa("example.com", &[issue(v)]);
            let p = denied(check(&va, "example.com", false));
            assert!(p.detail.contains("malformed"), "{v}: {}", p.detail);
        }
        let twice = format!("ca.test; accounturi={ACCOUNT}; accounturi=https://other/acct/1");
        let va = FakeVa::new().caa("example.com", &[issue(&twice)]);
        denied(check(&va, "example.com", false));
    }

    #[test]
    fn without_ca_identities_any_issue_record_denies() {
        let va = FakeVa::new().caa("example.com", &[issue("ca.test")]);
        let params = CaaParams { ca_identities: &[], account_uri: ACCOUNT, method: "http-01" };
        let p = block_on(check_caa(&va, "example.com", false, &params)).unwrap_err();
        assert_eq!(p.kind, ProblemType::Caa);
        assert!(p.detail.contains("no CAA identity configured"), "{}", p.detail);
        block_on(check_caa(&FakeVa::new(), "example.com", false, &params)).unwrap();
    }

    #[test]
    fn lookup_failure_is_dns_and_refuses() {
        let va = FakeVa::new().caa_error("example.com", TransportError::Dns("SERVFAIL".into()));
        let p = check(&va, "www.example.com", false).unwrap_err();
        assert_eq!(p.kind, ProblemType::Dns);
        assert!(p.detail.contains("CAA at example.com") && p.detail.contains("SERVFAIL"), "{}", p.detail);
    }

    #[test]
    fn identifiers_strip_the_wildcard_and_skip_ip_addresses() {
        let ids = ids();
        let params = CaaParams { ca_identities: &ids, account_uri: ACCOUNT, method: "dns-01" };
        let va = FakeVa::new().caa("example.com", &[CaaRecord::new(0, "issuewild", ";"), issue("ca.test")]);
        let id = Identifier::dns("*.example.com");
        let p = block_on(check_caa_identifier(&va, &id, &params)).unwrap_err();
        assert_eq!(p.identifier, Some(id));
        block_on(check_caa_identifier(&va, &Identifier::dns("example.com"), &params)).unwrap();
        block_on(check_caa_identifier(&va, &Identifier::ip("192.0.2.1"), &params)).unwrap();
        assert_eq!(va.requests(), ["CAA example.com", "CAA example.com"]);
    }

    #[test]
    fn issue_value_grammar() {
        let v = IssueValue::parse(" ca.test ;  a=1 ;b-c=x=y;; ").unwrap();
        assert_eq!(v.issuer, Some("ca.test"));
        assert_eq!(v.parameters, [("a", "1"), ("b-c", "x=y")]);
        assert_eq!(IssueValue::parse("ca.test; k=").unwrap().parameters, [("k", "")]);
        assert_eq!(IssueValue::parse(";").unwrap(), IssueValue { issuer: None, parameters: vec![] });
        assert!(IssueValue::parse("ca..test").is_err());
        assert!(IssueValue::parse("ca.test.").is_err());
    }
}
