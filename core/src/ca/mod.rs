//! The certificate authority proper: reading CSRs, issuing certificates and CRLs, and
//! reading issued certificates back for revocation and renewal information.
//!
//! The engine talks to issuance through the [`Issuer`] trait so that a back end can be
//! the built-in [`LocalCa`] (which signs at once) or a CA behind the front end that
//! answers after a while ([`IssueOutcome::Pending`]): an upstream ACME CA ([`upstream`])
//! or a CFSSL signer ([`cfssl`]), driven as sans-I/O jobs ([`connector`]). Whatever the back end returns, the front
//! end checks it with [`check_issued`] before handing it to a client: a certificate for
//! other names, another key, or a longer lifetime than the profile allows is never
//! served.
//!
//! - [`csr`]: PKCS#10 parsing, signature and key policy ([`parse_csr`]).
//! - [`local`]: the built-in CA, its certificate profile and its CRLs ([`LocalCa`]).
//! - [`cert`]: reading certificates ([`inspect`], [`cert_id`]) and PEM chains.
//! - [`connector`], [`upstream`], [`cfssl`]: connectors to CAs behind the front end,
//!   their configuration (`ISSUERS`, `PROFILES`) and retry policy.
//!
//! Like the rest of the crate this module does no I/O and reads no clock: times, serial
//! numbers and key material come in as arguments.

// `Problem` is the crate-wide error type; its size is problem.rs's decision, not ours.

pub mod cert;
pub mod cfssl;
pub mod connector;
pub mod csr;
pub mod local;
#[cfg(test)]
mod testutil;
pub mod upstream;
mod x509;

use alloc::collections::BTreeMap;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub use cert::{cert_id, inspect, pem_chain, pem_to_ders, CertSummary};
pub use csr::{parse_csr, CsrInfo};
pub use local::LocalCa;

use crate::config::Profile;
use crate::jose::Jwk;
use crate::problem::Problem;

/// What the engine asks a back end to certify: the order's names, the CSR's key, and
/// the profile's validity, serial and URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafRequest {
    /// The client's CSR (DER), already checked by the front end; connectors to CAs
    /// behind us forward it as it is, so the upstream certifies the client's own key.
    pub csr_der: Vec<u8>,
    /// The DER SubjectPublicKeyInfo from the CSR.
    pub spki_der: Vec<u8>,
    /// DNS names (the order's `dns` identifiers).
    pub dns_names: Vec<String>,
    /// IP addresses in text form (the order's `ip` identifiers).
    pub ip_addrs: Vec<String>,
    /// Random bytes from the host; the top bit is cleared so the serial is a positive
    /// 127-bit INTEGER (CA/B BR §7.1: at least 64 bits of CSPRNG output).
    pub serial: [u8; 16],
    /// First second of validity (Unix seconds).
    pub not_before: u64,
    /// Last second of validity, inclusive (RFC 5280 §4.1.2.5); see [`not_after`].
    pub not_after: u64,
    /// CRL distribution point URL (http). The Baseline Requirements allow `None` for
    /// short-lived certificates, but pkilint then reports Microsoft Root Program 3.A.5
    /// as an error (see [`local`]), so pass it for every profile.
    pub crl_url: Option<String>,
    /// URL of the issuer certificate for the AIA caIssuers entry (http).
    pub issuer_url: String,
}

/// The `not_after` of a certificate valid for `validity_secs` from `not_before`.
///
/// The Baseline Requirements count validity inclusively (§1.6.1 "Validity Period":
/// notAfter − notBefore + 1 second), so a 7-day certificate ends one second before
/// `not_before + 7 days`; ending on the full 7 days makes it 7 days and 1 second long,
/// which is no longer "short-lived" (at most 7 days since 2026-03-15) and then needs a
/// CRL distribution point.
pub fn not_after(not_before: u64, validity_secs: u64) -> u64 {
    not_before + validity_secs.saturating_sub(1)
}

/// A revoked certificate as a CRL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number: the DER INTEGER content octets ([`CertSummary::serial`]).
    pub serial: Vec<u8>,
    /// When it was revoked (Unix seconds).
    pub revoked_at: u64,
    /// RFC 5280 §5.3.1 reason code; `None` and `Some(0)` (unspecified) omit the extension.
    pub reason: Option<u8>,
}

/// The result of asking a back end for a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueOutcome {
    /// The certificate is ready.
    Issued {
        /// The end-entity certificate (DER).
        leaf: Vec<u8>,
        /// Issuer certificates (DER) to serve after the leaf, nearest first.
        chain: Vec<Vec<u8>>,
    },
    /// The back end is still working; poll `handle` again after `retry_after` seconds.
    Pending {
        /// Opaque handle to pass to [`Issuer::poll`].
        handle: String,
        /// Seconds the client should wait (the order's `Retry-After`).
        retry_after: u64,
    },
}

/// A certificate-issuing back end, asynchronous so that it can wait on an upstream CA.
#[allow(async_fn_in_trait)]
pub trait Issuer {
    /// Starts issuance; a back end that answers at once returns [`IssueOutcome::Issued`].
    async fn issue(&self, profile: &Profile, req: &LeafRequest) -> Result<IssueOutcome, Problem>;
    /// Polls a pending issuance started by [`Issuer::issue`].
    async fn poll(&self, profile: &Profile, handle: &str) -> Result<IssueOutcome, Problem>;
    /// The issuer certificates (DER) of an issuer name, served at the AIA caIssuers URL.
    fn issuer_chain(&self, issuer: &str) -> Option<Vec<Vec<u8>>>;
    /// Other chains (each a list of DER issuer certificates) a leaf of `issuer` can be
    /// served with (RFC 8555 §7.4.2 `rel="alternate"`); none by default.
    fn alternate_chains(&self, issuer: &str) -> Vec<Vec<Vec<u8>>> {
        let _ = issuer;
        Vec::new()
    }
    /// Tells the back end that issued a certificate (DER) that the front end revoked it
    /// with RFC 5280 `reason`. The front end's own record and CRL are authoritative and
    /// already written; back ends that publish their own revocation status forward it
    /// (an upstream ACME CA's revokeCert, CFSSL's revoke). Nothing to do by default.
    async fn revoke(&self, issuer: &str, leaf_der: &[u8], reason: u8) -> Result<(), Problem> {
        let _ = (issuer, leaf_der, reason);
        Ok(())
    }
    /// Signs a CRL for an issuer.
    async fn sign_crl(
        &self,
        issuer: &str,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        number: u64,
    ) -> Result<Vec<u8>, Problem>;
}

fn unknown_issuer(issuer: &str) -> Problem {
    Problem::server_internal(format!("no issuer named {issuer:?} is configured"))
}

impl Issuer for LocalCa {
    async fn issue(&self, profile: &Profile, req: &LeafRequest) -> Result<IssueOutcome, Problem> {
        if profile.issuer != self.name() {
            return Err(unknown_issuer(&profile.issuer));
        }
        let leaf = self.issue_leaf(req)?;
        Ok(IssueOutcome::Issued { leaf, chain: self.chain() })
    }

    async fn poll(&self, _profile: &Profile, _handle: &str) -> Result<IssueOutcome, Problem> {
        Err(Problem::server_internal("the local CA issues at once; there is no pending issuance to poll"))
    }

    fn issuer_chain(&self, issuer: &str) -> Option<Vec<Vec<u8>>> {
        (issuer == self.name()).then(|| self.chain())
    }

    async fn sign_crl(
        &self,
        issuer: &str,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        number: u64,
    ) -> Result<Vec<u8>, Problem> {
        if issuer != self.name() {
            return Err(unknown_issuer(issuer));
        }
        LocalCa::sign_crl(self, revoked, this_update, next_update, number)
    }
}

/// Local CAs by issuer name; a profile's `issuer` picks one.
#[derive(Clone, Debug, Default)]
pub struct Issuers {
    by_name: BTreeMap<String, LocalCa>,
}

impl Issuers {
    /// An empty set.
    pub fn new() -> Self {
        Issuers::default()
    }

    /// Adds a CA under its own name, returning the one it replaces.
    pub fn insert(&mut self, ca: LocalCa) -> Option<LocalCa> {
        self.by_name.insert(ca.name().into(), ca)
    }

    /// The CA named `name`.
    pub fn get(&self, name: &str) -> Option<&LocalCa> {
        self.by_name.get(name)
    }

    /// The configured issuer names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    fn ca(&self, name: &str) -> Result<&LocalCa, Problem> {
        self.get(name).ok_or_else(|| unknown_issuer(name))
    }
}

impl Issuer for Issuers {
    async fn issue(&self, profile: &Profile, req: &LeafRequest) -> Result<IssueOutcome, Problem> {
        self.ca(&profile.issuer)?.issue(profile, req).await
    }

    async fn poll(&self, profile: &Profile, handle: &str) -> Result<IssueOutcome, Problem> {
        self.ca(&profile.issuer)?.poll(profile, handle).await
    }

    fn issuer_chain(&self, issuer: &str) -> Option<Vec<Vec<u8>>> {
        self.get(issuer).map(LocalCa::chain)
    }

    async fn sign_crl(
        &self,
        issuer: &str,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        number: u64,
    ) -> Result<Vec<u8>, Problem> {
        Issuer::sign_crl(self.ca(issuer)?, issuer, revoked, this_update, next_update, number).await
    }
}

/// The front end's own check of what a back end returned: a certificate (not a CA) for
/// exactly the expected DNS names and IP addresses, for the CSR's key, with an
/// authorityKeyIdentifier (so that its ARI CertID exists), and with `notAfter -
/// notBefore` at most `max_validity_secs`. Any mismatch is `serverInternal`: the client
/// did nothing wrong, and the certificate must not be served. Returns the certificate's
/// summary for storage.
///
/// The limit is on the difference of the two times, so a back end that sets `notAfter
/// = notBefore + validity` passes; [`not_after`] explains why the local CA's requests
/// should end one second earlier.
pub fn check_issued(
    leaf_der: &[u8],
    expected_dns: &[String],
    expected_ips: &[String],
    expected_spki: &[u8],
    max_validity_secs: u64,
) -> Result<CertSummary, Problem> {
    let fail = |what: &str| Problem::server_internal(format!("the issuer returned a certificate with {what}"));
    let cert = inspect(leaf_der).map_err(|p| fail(&format!("an unreadable encoding ({})", p.detail)))?;
    if cert.is_ca {
        return Err(fail("basicConstraints cA=TRUE"));
    }
    let dns: BTreeSet<String> = expected_dns.iter().map(|d| d.to_ascii_lowercase()).collect();
    let mut ips = BTreeSet::new();
    for ip in expected_ips {
        ips.insert(
            x509::canonical_ip(ip).ok_or_else(|| Problem::server_internal(format!("{ip:?} is not an IP address")))?,
        );
    }
    if cert.dns_names != dns || cert.ip_addrs != ips {
        return Err(fail("names other than the order's"));
    }
    let same_key = cert.spki_der == expected_spki
        || matches!((Jwk::from_spki_der(&cert.spki_der), Jwk::from_spki_der(expected_spki)), (Ok(a), Ok(b)) if a == b);
    if !same_key {
        return Err(fail("a public key other than the CSR's"));
    }
    if cert.aki_key_id.as_ref().is_none_or(|k| k.is_empty()) {
        return Err(fail("no authorityKeyIdentifier keyIdentifier"));
    }
    match cert.not_after.checked_sub(cert.not_before) {
        Some(d) if d <= max_validity_secs => Ok(cert),
        Some(d) => Err(fail(&format!("a validity of {d} s, above the profile's {max_validity_secs} s"))),
        None => Err(fail("notAfter before notBefore")),
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{block_on, ca, leaf_request, NOW};
    use super::*;
    use crate::jose::KeyKind;
    use crate::problem::ProblemType;
    use alloc::string::ToString;
    use alloc::vec;

    fn profile(issuer: &str, days: u64) -> Profile {
        Profile {
            name: "classic".into(),
            description: String::new(),
            validity_secs: days * 86400,
            issuer: issuer.into(),
        }
    }

    #[test]
    fn local_ca_issues_at_once_with_its_certificate_as_chain() {
        let ca = ca(KeyKind::P256, 1);
        let req = leaf_request("p256-sha256.der", 90, true);
        let out = block_on(Issuer::issue(&ca, &profile("local", 90), &req)).unwrap();
        let IssueOutcome::Issued { leaf, chain } = out else { panic!("local CA never pends") };
        assert_eq!(chain, vec![ca.to_parts().1]);
        let summary = check_issued(&leaf, &req.dns_names, &req.ip_addrs, &req.spki_der, 90 * 86400).unwrap();
        assert_eq!(summary, inspect(&leaf).unwrap());
        assert_eq!(ca.issuer_chain("local"), Some(chain));
        assert_eq!(ca.issuer_chain("other"), None);
        let p = block_on(Issuer::poll(&ca, &profile("local", 90), "x")).unwrap_err();
        assert_eq!(p.kind, ProblemType::ServerInternal);
    }

    #[test]
    fn issuers_dispatch_on_the_profile_issuer_name() {
        let mut issuers = Issuers::new();
        issuers.insert(ca(KeyKind::P256, 1));
        let (key, cert) = ca(KeyKind::P384, 2).to_parts();
        let other = LocalCa::from_parts("other", &key, &cert).unwrap();
        assert_eq!(other.name(), "other");
        issuers.insert(other);
        assert_eq!(issuers.names().collect::<Vec<_>>(), vec!["local", "other"]);

        let req = leaf_request("p256-sha256.der", 90, true);
        for name in ["local", "other"] {
            let IssueOutcome::Issued { leaf, chain } = block_on(issuers.issue(&profile(name, 90), &req)).unwrap()
            else {
                panic!("local CAs never pend")
            };
            let summary = inspect(&leaf).unwrap();
            assert_eq!(Some(chain), issuers.issuer_chain(name));
            assert_eq!(summary.aki_key_id.as_deref(), Some(issuers.get(name).unwrap().key_identifier()));
        }
        let p = block_on(issuers.issue(&profile("missing", 90), &req)).unwrap_err();
        assert_eq!(p.kind, ProblemType::ServerInternal);
        assert!(block_on(issuers.sign_crl("missing", &[], NOW, NOW + 86400, 1)).is_err());
        let crl = block_on(issuers.sign_crl("other", &[], NOW, NOW + 86400, 1)).unwrap();
        assert!(!crl.is_empty());
    }

    #[test]
    fn check_issued_refuses_other_names_keys_or_longer_validity() {
        let ca = ca(KeyKind::P256, 3);
        let req = leaf_request("rsa2048-sha256.der", 90, true);
        let leaf = ca.issue_leaf(&req).unwrap();
        let max = 90 * 86400;
        check_issued(&leaf, &req.dns_names, &req.ip_addrs, &req.spki_der, max).unwrap();
        // Case and IP spelling do not matter.
        let upper: Vec<String> = req.dns_names.iter().map(|d| d.to_ascii_uppercase()).collect();
        check_issued(
            &leaf,
            &upper,
            &["2606:4700:4700:0:0:0:0:1111".to_string(), "1.1.1.1".to_string()],
            &req.spki_der,
            max,
        )
        .unwrap();

        let expect_internal = |r: Result<CertSummary, Problem>, what: &str| {
            let p = r.expect_err(what);
            assert_eq!(p.kind, ProblemType::ServerInternal, "{what}");
        };
        let fewer = &req.dns_names[..1];
        expect_internal(check_issued(&leaf, fewer, &req.ip_addrs, &req.spki_der, max), "missing name");
        let mut more = req.dns_names.clone();
        more.push("extra.example.com".into());
        expect_internal(check_issued(&leaf, &more, &req.ip_addrs, &req.spki_der, max), "extra name");
        expect_internal(check_issued(&leaf, &req.dns_names, &[], &req.spki_der, max), "IP not expected");
        let other_key = leaf_request("p256-sha256.der", 90, true).spki_der;
        expect_internal(check_issued(&leaf, &req.dns_names, &req.ip_addrs, &other_key, max), "other key");
        expect_internal(check_issued(&leaf, &req.dns_names, &req.ip_addrs, &req.spki_der, 7 * 86400), "too long");
        // The limit is on notAfter - notBefore: a request ending at exactly +90 days passes.
        let mut full = req.clone();
        full.not_after = full.not_before + max;
        let leaf_full = ca.issue_leaf(&full).unwrap();
        check_issued(&leaf_full, &req.dns_names, &req.ip_addrs, &req.spki_der, max).unwrap();
        expect_internal(
            check_issued(&leaf_full, &req.dns_names, &req.ip_addrs, &req.spki_der, max - 1),
            "one second over",
        );
        expect_internal(check_issued(b"junk", &req.dns_names, &req.ip_addrs, &req.spki_der, max), "junk");
        expect_internal(
            check_issued(&ca.to_parts().1, &req.dns_names, &req.ip_addrs, &req.spki_der, max),
            "a CA certificate",
        );
    }

    #[test]
    fn not_after_counts_validity_inclusively() {
        assert_eq!(not_after(1000, 7 * 86400), 1000 + 7 * 86400 - 1);
        assert_eq!(not_after(1000, 0), 1000);
    }
}
