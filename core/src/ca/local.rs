//! The built-in CA: an ECDSA key and its certificate, which sign subscriber certificates
//! and CRLs on the spot.
//!
//! ## Certificate profile
//! Subscriber certificates follow the CA/Browser Forum Baseline Requirements for DV TLS
//! server certificates (§7.1.2.7) and are checked with pkilint
//! (`lint_cabf_serverauth_cert lint -d`) for zero errors and zero warnings:
//!
//! | field | value |
//! |---|---|
//! | serial | 16 host-random bytes, top bit cleared (positive, 127 bits of entropy) |
//! | subject | empty; the names live in the subjectAltName only (a CN draws a warning) |
//! | keyUsage (critical) | digitalSignature, for RSA keys too (see [`LocalCa::issue_leaf`]) |
//! | extKeyUsage | serverAuth |
//! | basicConstraints (critical) | cA FALSE |
//! | authorityKeyIdentifier | keyIdentifier = the CA's subjectKeyIdentifier |
//! | authorityInfoAccess | caIssuers (http URL) |
//! | subjectAltName | critical, because the subject is empty (RFC 5280 §4.2.1.6) |
//! | certificatePolicies | 2.23.140.1.2.1 (domain validated) |
//! | cRLDistributionPoints | http URL, whenever the request carries one (see below) |
//!
//! No subjectKeyIdentifier is written for subscriber certificates (BR: NOT RECOMMENDED).
//!
//! The Baseline Requirements let short-lived certificates (at most 7 days since
//! 2026-03-15, counted inclusively) leave out the CRL distribution point, but pkilint
//! also applies Microsoft Root Program 3.A.5, which wants revocation information in
//! every end-entity certificate and reports its absence as an error. The engine should
//! therefore pass a `crl_url` for short-lived certificates as well; the test
//! `short_lived_leaf_without_crl_dp_draws_only_the_microsoft_revocation_error` pins this.
//!
//! The CA key is P-256 or P-384 and signs with ecdsa-with-SHA256 or -SHA384. Its key
//! identifier is RFC 7093 method 1 (the leftmost 160 bits of the SHA-256 of the public
//! key), so SHA-1 never runs.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use const_oid::db::{rfc4519, rfc5280, rfc5912};
use const_oid::AssociatedOid;
use core::fmt::Write;
use der::asn1::{Any, BitString, Ia5String, OctetString, Uint, Utf8StringRef};
use der::{Decode, Encode};
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use sha2::{Digest, Sha256};
use signature::Keypair;
use spki::{DynSignatureAlgorithmIdentifier, EncodePublicKey, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{self, Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, CrlNumber, CrlReason, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::x509::{canonical_ip, encode_failed, extension, time_from_unix, time_to_unix, to_der};
use super::{LeafRequest, RevokedEntry};
use crate::jose::{Jwk, KeyKind};
use crate::problem::Problem;

/// CA/Browser Forum reserved policy identifier for domain-validated certificates.
const DOMAIN_VALIDATED: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.1");
/// Lifetime of a generated development root: ten years.
const ROOT_LIFETIME_SECS: u64 = 3653 * 86400;
/// Lifetime of a generated development intermediate: five years, inside the root's.
const INTERMEDIATE_LIFETIME_SECS: u64 = 1826 * 86400;

/// A certificate authority held in memory: its name, signing key and certificate.
#[derive(Clone, Debug)]
pub struct LocalCa {
    name: String,
    key: CaKey,
    cert_der: Vec<u8>,
    /// The certificate's subject, which is the issuer of everything this CA signs.
    subject: Name,
    /// The certificate's subjectKeyIdentifier, written as authorityKeyIdentifier.
    key_id: Vec<u8>,
    /// The certificate's notAfter: no certificate this CA signs may outlive it.
    not_after: u64,
}

/// serverInternal for a failure inside x509-cert's builder while making `what`.
fn build_failed(what: &str) -> impl FnOnce(builder::Error) -> Problem + '_ {
    move |e| Problem::server_internal(format!("{what}: {e}"))
}

/// serverInternal: the CA's configuration or the engine's request is wrong, never the client.
fn internal(detail: impl Into<String>) -> Problem {
    Problem::server_internal(detail)
}

impl LocalCa {
    /// Generates a self-signed development root that issues subscriber certificates
    /// directly: CN "edge-acme development CA <8 hex digits>", valid ten years from `now`.
    ///
    /// Fails for key kinds other than P-256 and P-384.
    pub fn generate(
        name: &str,
        kind: KeyKind,
        random: &mut dyn FnMut(&mut [u8]),
        now: u64,
    ) -> Result<LocalCa, Problem> {
        let key = CaKey::generate(kind, random)?;
        let subject = dev_name(&format!("edge-acme development CA {}", short_random(random)))?;
        let cert_der = ca_certificate(&CaCert {
            signer: &key,
            issuer: &subject,
            issuer_key_id: None,
            subject: subject.clone(),
            subject_key: &key,
            serial: random_serial(random),
            not_before: now,
            not_after: now + ROOT_LIFETIME_SECS,
            path_len: None,
        })?;
        LocalCa::from_key_and_cert(name, key, cert_der)
    }

    /// Generates a development root and an intermediate under it, as the Baseline
    /// Requirements want (a root signs only CA certificates). Returns the root
    /// certificate (DER, to install as a trust anchor) and the intermediate, which
    /// issues; its [`LocalCa::chain`] is the intermediate certificate alone.
    pub fn generate_hierarchy(
        name: &str,
        kind: KeyKind,
        random: &mut dyn FnMut(&mut [u8]),
        now: u64,
    ) -> Result<(Vec<u8>, LocalCa), Problem> {
        let root_key = CaKey::generate(kind, random)?;
        let suffix = short_random(random);
        let root_name = dev_name(&format!("edge-acme development root CA {suffix}"))?;
        let root_der = ca_certificate(&CaCert {
            signer: &root_key,
            issuer: &root_name,
            issuer_key_id: None,
            subject: root_name.clone(),
            subject_key: &root_key,
            serial: random_serial(random),
            not_before: now,
            not_after: now + ROOT_LIFETIME_SECS,
            path_len: None,
        })?;
        let key = CaKey::generate(kind, random)?;
        let root_key_id = key_identifier(&root_key)?;
        let cert_der = ca_certificate(&CaCert {
            signer: &root_key,
            issuer: &root_name,
            issuer_key_id: Some(&root_key_id),
            subject: dev_name(&format!("edge-acme development CA {suffix}"))?,
            subject_key: &key,
            serial: random_serial(random),
            not_before: now,
            not_after: now + INTERMEDIATE_LIFETIME_SECS,
            path_len: Some(0),
        })?;
        Ok((root_der, LocalCa::from_key_and_cert(name, key, cert_der)?))
    }

    /// Rebuilds a CA from stored parts: a PKCS#8 private key (P-256 or P-384) and the
    /// DER certificate of that key, which must be a CA certificate with a
    /// subjectKeyIdentifier.
    pub fn from_parts(name: &str, key_pkcs8_der: &[u8], cert_der: &[u8]) -> Result<LocalCa, Problem> {
        let key = CaKey::from_pkcs8_der(key_pkcs8_der)
            .ok_or_else(|| internal(format!("CA {name:?} private key is not a PKCS#8 ECDSA P-256 or P-384 key")))?;
        LocalCa::from_key_and_cert(name, key, cert_der.to_vec())
    }

    fn from_key_and_cert(name: &str, key: CaKey, cert_der: Vec<u8>) -> Result<LocalCa, Problem> {
        let bad = |what: &str| internal(format!("CA {name:?} certificate {what}"));
        let cert = Certificate::from_der(&cert_der).map_err(|e| bad(&format!("is not DER X.509: {e}")))?;
        let tbs = cert.tbs_certificate();
        let spki = to_der(tbs.subject_public_key_info())?;
        let same_key = match (Jwk::from_spki_der(&spki), Jwk::from_spki_der(&to_der(&key.spki()?)?)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same_key {
            return Err(bad("does not certify the CA private key"));
        }
        let ca = tbs.get_extension::<BasicConstraints>().map_err(|_| bad("has an unreadable basicConstraints"))?;
        if !ca.is_some_and(|(_, bc)| bc.ca) {
            return Err(bad("is not a CA certificate (basicConstraints cA is not TRUE)"));
        }
        let ski = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|_| bad("has an unreadable subjectKeyIdentifier"))?
            .ok_or_else(|| bad("has no subjectKeyIdentifier"))?;
        Ok(LocalCa {
            name: name.into(),
            key,
            subject: tbs.subject().clone(),
            key_id: ski.1 .0.as_bytes().to_vec(),
            not_after: time_to_unix(tbs.validity().not_after),
            cert_der,
        })
    }

    /// The parts to store: the PKCS#8 DER private key (a secret) and the DER certificate.
    pub fn to_parts(&self) -> (Vec<u8>, Vec<u8>) {
        (self.key.to_pkcs8_der(), self.cert_der.clone())
    }

    /// The issuer name profiles refer to (e.g. "local").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate's subjectKeyIdentifier, which its certificates carry as AKI.
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_id
    }

    /// The certificates (DER) to serve after a leaf: this CA's certificate. A root CA's
    /// certificate is included too, which is harmless and helps development setups.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.cert_der.clone()]
    }

    /// Issues a subscriber certificate (DER) as the module documentation describes.
    ///
    /// The request comes from the engine, not the client, so a malformed one (no names,
    /// an IP address that does not parse, inverted validity) is `serverInternal`.
    pub fn issue_leaf(&self, req: &LeafRequest) -> Result<Vec<u8>, Problem> {
        let spki = SubjectPublicKeyInfoOwned::from_der(&req.spki_der)
            .map_err(|e| internal(format!("leaf public key is not a DER SubjectPublicKeyInfo: {e}")))?;
        if req.not_after <= req.not_before {
            return Err(internal("leaf notAfter must be after notBefore"));
        }
        if req.not_after > self.not_after {
            return Err(internal(format!("CA {:?} expires before the certificate would; renew the CA", self.name)));
        }
        let subject = Name::default();
        let mut sans: Vec<GeneralName> = Vec::new();
        for dns in &req.dns_names {
            let name = GeneralName::DnsName(ia5(dns)?);
            if !sans.contains(&name) {
                sans.push(name);
            }
        }
        for ip in &req.ip_addrs {
            let addr: core::net::IpAddr = canonical_ip(ip)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| internal(format!("{ip:?} is not an IP address")))?;
            let name = GeneralName::from(addr);
            if !sans.contains(&name) {
                sans.push(name);
            }
        }
        if sans.is_empty() {
            return Err(internal("a certificate needs at least one DNS name or IP address"));
        }

        // digitalSignature only, for every key type: pkilint warns on an RSA leaf with
        // keyEncipherment as well (cabf.serverauth.subscriber_rsa_digitalsignature_and_
        // keyencipherment_present), and the zero-warning rule wins. Only TLS 1.2 static-RSA
        // key exchange needs keyEncipherment, which modern clients no longer offer.
        let usage = KeyUsages::DigitalSignature.into();
        let mut exts = vec![
            extension(KeyUsage::OID, true, &KeyUsage(usage))?,
            extension(ExtendedKeyUsage::OID, false, &ExtendedKeyUsage(vec![rfc5280::ID_KP_SERVER_AUTH]))?,
            extension(BasicConstraints::OID, true, &BasicConstraints { ca: false, path_len_constraint: None })?,
            self.aki_extension()?,
            extension(
                AuthorityInfoAccessSyntax::OID,
                false,
                &AuthorityInfoAccessSyntax(vec![AccessDescription {
                    access_method: rfc5280::ID_AD_CA_ISSUERS,
                    access_location: GeneralName::UniformResourceIdentifier(ia5(&req.issuer_url)?),
                }]),
            )?,
            // RFC 5280 §4.2.1.6: critical because the subject is empty.
            extension(SubjectAltName::OID, true, &SubjectAltName(sans))?,
            extension(
                CertificatePolicies::OID,
                false,
                &CertificatePolicies(vec![PolicyInformation {
                    policy_identifier: DOMAIN_VALIDATED,
                    policy_qualifiers: None,
                }]),
            )?,
        ];
        if let Some(url) = &req.crl_url {
            exts.push(extension(
                CrlDistributionPoints::OID,
                false,
                &CrlDistributionPoints(vec![DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![
                        GeneralName::UniformResourceIdentifier(ia5(url)?),
                    ])),
                    reasons: None,
                    crl_issuer: None,
                }]),
            )?);
        }
        let profile = FixedProfile { issuer: self.subject.clone(), subject, extensions: exts };
        let validity = Validity::new(time_from_unix(req.not_before)?, time_from_unix(req.not_after)?);
        let builder = CertificateBuilder::new(profile, positive_serial(req.serial), validity, spki)
            .map_err(build_failed("leaf certificate"))?;
        to_der(&sign(&self.key, builder)?)
    }

    /// Signs a complete v2 CRL (RFC 5280 §5) of `revoked`, with authorityKeyIdentifier and
    /// cRLNumber extensions. Reason codes become entry extensions; `None` and
    /// unspecified (0) are omitted, as BR §7.2.2 requires.
    pub fn sign_crl(
        &self,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        crl_number: u64,
    ) -> Result<Vec<u8>, Problem> {
        if next_update <= this_update {
            return Err(internal("CRL nextUpdate must be after thisUpdate"));
        }
        let mut entries = Vec::with_capacity(revoked.len());
        for r in revoked {
            let serial_number = SerialNumber::new(&r.serial)
                .map_err(|e| internal(format!("revoked serial {:02x?} is not a valid serial number: {e}", r.serial)))?;
            let reason = match r.reason {
                None | Some(0) => None,
                Some(code) => Some(vec![extension(CrlReason::OID, false, &crl_reason(code)?)?]),
            };
            entries.push(RevokedCert {
                serial_number,
                revocation_date: time_from_unix(r.revoked_at)?,
                crl_entry_extensions: reason,
            });
        }
        let number = Uint::new(&crl_number.to_be_bytes()).map_err(encode_failed)?;
        let tbs = TbsCertList {
            version: Version::V2,
            // Replaced by the signer's algorithm in CrlDraft::finalize.
            signature: spki::AlgorithmIdentifierOwned { oid: rfc5912::ECDSA_WITH_SHA_256, parameters: None },
            issuer: self.subject.clone(),
            this_update: time_from_unix(this_update)?,
            next_update: Some(time_from_unix(next_update)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![self.aki_extension()?, extension(CrlNumber::OID, false, &CrlNumber(number))?]),
        };
        to_der(&sign(&self.key, CrlDraft(tbs))?)
    }

    fn aki_extension(&self) -> Result<Extension, Problem> {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.key_id.clone()).map_err(encode_failed)?),
            ..Default::default()
        };
        extension(AuthorityKeyIdentifier::OID, false, &aki)
    }
}

/// A serial number from 16 fresh random bytes.
fn random_serial(random: &mut dyn FnMut(&mut [u8])) -> SerialNumber {
    let mut b = [0u8; 16];
    random(&mut b);
    positive_serial(b)
}

/// A positive, non-zero serial number from 16 random bytes: the top bit is cleared so
/// the DER INTEGER needs no sign byte (RFC 5280 §4.1.2.2), leaving 127 random bits.
fn positive_serial(mut b: [u8; 16]) -> SerialNumber {
    b[0] &= 0x7f;
    if b.iter().all(|x| *x == 0) {
        b[15] = 1;
    }
    SerialNumber::new(&b).expect("16 bytes fit a serial number")
}

fn crl_reason(code: u8) -> Result<CrlReason, Problem> {
    Ok(match code {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        _ => return Err(internal(format!("{code} is not a CRL reason code (RFC 5280 §5.3.1)"))),
    })
}

fn ia5(s: &str) -> Result<Ia5String, Problem> {
    Ia5String::new(s).map_err(|_| internal(format!("{s:?} is not an IA5 (ASCII) string")))
}

/// The CA's private key.
///
/// Kept apart from [`crate::jose::SigningKey`] on purpose: that enum's methods match on
/// RSA, P-521 and Ed25519 keys too, which would link private-key code the CA never runs
/// into the Worker.
#[derive(Clone)]
enum CaKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// Retries before concluding the randomness source is broken (a try fails with
/// probability below 2^-32).
const MAX_KEYGEN_TRIES: usize = 128;

impl CaKey {
    /// Draws a scalar from the host's randomness, retrying out-of-range values.
    fn generate(kind: KeyKind, random: &mut dyn FnMut(&mut [u8])) -> Result<CaKey, Problem> {
        for _ in 0..MAX_KEYGEN_TRIES {
            let key = match kind {
                KeyKind::P256 => {
                    let mut b = [0u8; 32];
                    random(&mut b);
                    p256::ecdsa::SigningKey::from_slice(&b).ok().map(CaKey::P256)
                }
                KeyKind::P384 => {
                    let mut b = [0u8; 48];
                    random(&mut b);
                    p384::ecdsa::SigningKey::from_slice(&b).ok().map(CaKey::P384)
                }
                _ => return Err(internal("CA keys must be ECDSA P-256 or P-384")),
            };
            if let Some(k) = key {
                return Ok(k);
            }
        }
        Err(internal("random source produced no valid CA private key"))
    }

    fn from_pkcs8_der(der: &[u8]) -> Option<CaKey> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            Some(CaKey::P256(k))
        } else {
            p384::ecdsa::SigningKey::from_pkcs8_der(der).ok().map(CaKey::P384)
        }
    }

    fn to_pkcs8_der(&self) -> Vec<u8> {
        let doc = match self {
            CaKey::P256(k) => k.to_pkcs8_der(),
            CaKey::P384(k) => k.to_pkcs8_der(),
        };
        doc.expect("PKCS#8 encoding of a valid private key").as_bytes().to_vec()
    }

    /// The SubjectPublicKeyInfo of the public half.
    fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, Problem> {
        let spki = match self {
            CaKey::P256(k) => SubjectPublicKeyInfoOwned::from_key(k.verifying_key()),
            CaKey::P384(k) => SubjectPublicKeyInfoOwned::from_key(k.verifying_key()),
        };
        spki.map_err(|e| internal(format!("CA public key encoding failed: {e}")))
    }
}

impl core::fmt::Debug for CaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print private material.
        f.write_str(match self {
            CaKey::P256(_) => "CaKey::P256",
            CaKey::P384(_) => "CaKey::P384",
        })
    }
}

fn short_random(random: &mut dyn FnMut(&mut [u8])) -> String {
    let mut b = [0u8; 4];
    random(&mut b);
    let mut s = String::with_capacity(8);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `O=edge-acme, CN=<cn>`, built attribute by attribute (Name::from_str costs 25 KB of wasm).
fn dev_name(cn: &str) -> Result<Name, Problem> {
    let mut rdns = RdnSequence::default();
    for (oid, value) in [(rfc4519::ORGANIZATION_NAME, "edge-acme"), (rfc4519::COMMON_NAME, cn)] {
        let value = Any::encode_from(&Utf8StringRef::new(value).map_err(encode_failed)?).map_err(encode_failed)?;
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue { oid, value }).map_err(encode_failed)?;
        rdns.push(rdn);
    }
    // `Name` has no public constructor from an RdnSequence (outside x509-cert's hazmat
    // feature); both encode the same, so go through DER.
    Name::from_der(&to_der(&rdns)?).map_err(encode_failed)
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey bits.
fn key_identifier(key: &CaKey) -> Result<Vec<u8>, Problem> {
    let spki = key.spki()?;
    Ok(Sha256::digest(spki.subject_public_key.raw_bytes())[..20].to_vec())
}

/// What differs between a root and an intermediate certificate.
struct CaCert<'a> {
    signer: &'a CaKey,
    issuer: &'a Name,
    /// None for a self-signed certificate (the AKI is then the subject's own key id).
    issuer_key_id: Option<&'a [u8]>,
    subject: Name,
    subject_key: &'a CaKey,
    serial: SerialNumber,
    not_before: u64,
    not_after: u64,
    /// None for a root; Some(0) for an intermediate that issues only subscriber certificates.
    path_len: Option<u8>,
}

/// A CA certificate per BR §7.1.2.1 (root) or §7.1.2.6 (TLS subordinate CA).
fn ca_certificate(c: &CaCert<'_>) -> Result<Vec<u8>, Problem> {
    let ski = key_identifier(c.subject_key)?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(c.issuer_key_id.unwrap_or(&ski)).map_err(encode_failed)?),
        ..Default::default()
    };
    let mut exts = vec![
        extension(KeyUsage::OID, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        extension(BasicConstraints::OID, true, &BasicConstraints { ca: true, path_len_constraint: c.path_len })?,
        extension(SubjectKeyIdentifier::OID, false, &OctetString::new(ski).map_err(encode_failed)?)?,
        extension(AuthorityKeyIdentifier::OID, false, &aki)?,
    ];
    if c.path_len.is_some() {
        // A TLS subordinate CA names its purpose and policy (BR §7.1.2.6.1).
        exts.push(extension(ExtendedKeyUsage::OID, false, &ExtendedKeyUsage(vec![rfc5280::ID_KP_SERVER_AUTH]))?);
        exts.push(extension(
            CertificatePolicies::OID,
            false,
            &CertificatePolicies(vec![PolicyInformation {
                policy_identifier: DOMAIN_VALIDATED,
                policy_qualifiers: None,
            }]),
        )?);
    }
    let profile = FixedProfile { issuer: c.issuer.clone(), subject: c.subject.clone(), extensions: exts };
    let validity = Validity::new(time_from_unix(c.not_before)?, time_from_unix(c.not_after)?);
    let builder = CertificateBuilder::new(profile, c.serial.clone(), validity, c.subject_key.spki()?)
        .map_err(build_failed("CA certificate"))?;
    to_der(&sign(c.signer, builder)?)
}

/// Runs a certificate or CRL builder through the CA key (DER ECDSA signatures).
fn sign<B: Builder>(key: &CaKey, builder: B) -> Result<B::Output, Problem> {
    let out = match key {
        CaKey::P256(k) => builder.build::<_, p256::ecdsa::DerSignature>(k),
        CaKey::P384(k) => builder.build::<_, p384::ecdsa::DerSignature>(k),
    };
    out.map_err(build_failed("signing"))
}

/// A builder profile whose names and extensions are decided beforehand, so the whole
/// profile reads in one place ([`LocalCa::issue_leaf`], [`ca_certificate`]).
struct FixedProfile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for FixedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// A CRL to be signed. `x509_cert::builder::CrlBuilder` copies the issuer certificate's
/// own AKI into the CRL, which names the wrong key for an intermediate, so the CRL is
/// assembled here and only the signing goes through the `Builder` trait.
struct CrlDraft(TbsCertList);

impl Builder for CrlDraft {
    type Output = CertificateList;

    fn finalize<S>(&mut self, signer: &S) -> builder::Result<Vec<u8>>
    where
        S: Keypair + DynSignatureAlgorithmIdentifier,
        S::VerifyingKey: EncodePublicKey,
    {
        self.0.signature = signer.signature_algorithm_identifier()?;
        Ok(self.0.to_der()?)
    }

    fn assemble<S>(self, signature: BitString, _signer: &S) -> builder::Result<CertificateList>
    where
        S: Keypair + DynSignatureAlgorithmIdentifier,
        S::VerifyingKey: EncodePublicKey,
    {
        Ok(CertificateList { signature_algorithm: self.0.signature.clone(), tbs_cert_list: self.0, signature })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::testutil::{
        assert_clean, assert_pkilint_clean, ca, fixture, leaf_request, openssl, pkilint, pkilint_crl, TempDir, NOW,
    };
    use super::super::{cert::pem_chain, inspect};
    use super::*;
    use crate::host::testing::SeededRng;
    use crate::host::Rng;
    use crate::jose::SigningKey;
    use crate::problem::ProblemType;
    use alloc::string::ToString;
    use std::println;

    fn pem(der: &[u8]) -> String {
        pem_chain(der, &[])
    }

    fn cert(der: &[u8]) -> Certificate {
        Certificate::from_der(der).unwrap()
    }

    fn ext(c: &Certificate, oid: ObjectIdentifier) -> Option<&Extension> {
        c.tbs_certificate().extensions().into_iter().flatten().find(|e| e.extn_id == oid)
    }

    /// `openssl verify` at NOW + 1 hour, strict X.509 and the TLS server purpose.
    fn openssl_verify(dir: &TempDir, root: &[u8], intermediate: Option<&[u8]>, leaf: &[u8]) {
        let root = dir.write("root.pem", pem(root).as_bytes());
        let leaf = dir.write("leaf.pem", pem(leaf).as_bytes());
        let at = (NOW + 3600).to_string();
        let mut args =
            vec!["verify", "-x509_strict", "-purpose", "sslserver", "-attime", &at, "-CAfile", root.to_str().unwrap()];
        let int_path;
        if let Some(i) = intermediate {
            int_path = dir.write("intermediate.pem", pem(i).as_bytes());
            args.push("-untrusted");
            args.push(int_path.to_str().unwrap());
        }
        args.push(leaf.to_str().unwrap());
        let (ok, out) = openssl(&args);
        assert!(ok && out.contains(": OK"), "openssl verify failed:\n{out}");
    }

    #[test]
    fn leaves_verify_with_openssl_against_the_root() {
        let dir = TempDir::new("verify-root");
        for (kind, seed) in [(KeyKind::P256, 21), (KeyKind::P384, 22)] {
            let ca = ca(kind, seed);
            for csr in ["p256-sha256.der", "rsa2048-sha256.der", "p384-sha384.der"] {
                let leaf = ca.issue_leaf(&leaf_request(csr, 90, true)).unwrap();
                openssl_verify(&dir, &ca.chain()[0], None, &leaf);
            }
        }
    }

    #[test]
    fn hierarchy_leaf_verifies_with_openssl_through_the_intermediate() {
        let dir = TempDir::new("verify-hierarchy");
        let rng = SeededRng::new(23);
        let (root, ca) =
            LocalCa::generate_hierarchy("local", KeyKind::P256, &mut |b| rng.fill(b), NOW - 86400).unwrap();
        assert_eq!(ca.chain().len(), 1, "the root is not served");
        let int = cert(&ca.chain()[0]);
        let root_cert = cert(&root);
        assert_eq!(int.tbs_certificate().issuer(), root_cert.tbs_certificate().subject());
        let bc = int.tbs_certificate().get_extension::<BasicConstraints>().unwrap().unwrap();
        assert_eq!((bc.0, bc.1.ca, bc.1.path_len_constraint), (true, true, Some(0)));
        let leaf = ca.issue_leaf(&leaf_request("p256-sha256.der", 90, true)).unwrap();
        openssl_verify(&dir, &root, Some(&ca.chain()[0]), &leaf);
        // Without the intermediate the leaf does not chain to the root.
        let root_path = dir.write("root.pem", pem(&root).as_bytes());
        let leaf_path = dir.write("leaf.pem", pem(&leaf).as_bytes());
        let at = (NOW + 3600).to_string();
        let (ok, _) =
            openssl(&["verify", "-attime", &at, "-CAfile", root_path.to_str().unwrap(), leaf_path.to_str().unwrap()]);
        assert!(!ok);
    }

    #[test]
    fn leaves_pass_pkilint_with_no_errors_or_warnings() {
        let dir = TempDir::new("pkilint");
        let ca = ca(KeyKind::P256, 24);
        for csr in ["rsa2048-sha256.der", "p256-sha256.der"] {
            for days in [90, 7] {
                let leaf = ca.issue_leaf(&leaf_request(csr, days, true)).unwrap();
                let path = dir.write("leaf.pem", pem(&leaf).as_bytes());
                assert_pkilint_clean(&path, &format!("{csr}, {days} days, CRL DP"));
            }
        }
        // A P-384 CA signs with ecdsa-with-SHA384, which pkilint accepts too.
        let ca384 = super::super::testutil::ca(KeyKind::P384, 25);
        let leaf = ca384.issue_leaf(&leaf_request("p384-sha384.der", 90, true)).unwrap();
        assert_pkilint_clean(&dir.write("leaf384.pem", pem(&leaf).as_bytes()), "P-384 CA, P-384 leaf");
    }

    /// pkilint's findings (ERROR and WARNING) as `validator-id` lines.
    fn finding_ids(report: &str) -> Vec<String> {
        let mut ids: Vec<String> = report
            .lines()
            .filter(|l| l.contains("(ERROR)") || l.contains("(WARNING)"))
            .map(|l| l.trim().to_string())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn short_lived_leaf_without_crl_dp_draws_only_the_microsoft_revocation_error() {
        // BR §7.1.2.11.2 lets a short-lived certificate (at most 7 days, counted
        // inclusively) omit the CRL DP, and pkilint's CA/B check agrees. pkilint also
        // applies Microsoft Root Program 3.A.5 (revocation information in every
        // end-entity certificate) with no short-lived exception, so the zero-error bar
        // needs the CRL DP on short-lived certificates as well.
        let dir = TempDir::new("pkilint-short");
        let ca = ca(KeyKind::P256, 26);
        let mut req = leaf_request("p256-sha256.der", 7, false);
        let leaf = ca.issue_leaf(&req).unwrap();
        let report = pkilint(&dir.write("leaf.pem", pem(&leaf).as_bytes()));
        println!("7 days, no CRL DP:\n{report}");
        assert_eq!(finding_ids(&report), ["msft.end_entity.revocation_information_absent (ERROR)"], "{report}");

        // One second longer and it is no longer short-lived for the CA/B rules either.
        req.not_after = req.not_before + 7 * 86400;
        let leaf = ca.issue_leaf(&req).unwrap();
        let report = pkilint(&dir.write("leaf.pem", pem(&leaf).as_bytes()));
        println!("7 days + 1 s, no CRL DP:\n{report}");
        assert_eq!(
            finding_ids(&report),
            [
                "cabf.serverauth.subscriber.revocation_information_absent (ERROR)",
                "msft.end_entity.revocation_information_absent (ERROR)"
            ],
            "{report}"
        );
    }

    #[test]
    fn leaf_profile_has_empty_subject_critical_san_and_no_ski() {
        let ca = ca(KeyKind::P256, 27);
        for (csr, usage) in [
            ("p256-sha256.der", KeyUsage(KeyUsages::DigitalSignature.into())),
            ("rsa2048-sha256.der", KeyUsage(KeyUsages::DigitalSignature.into())),
        ] {
            let leaf = cert(&ca.issue_leaf(&leaf_request(csr, 90, true)).unwrap());
            let tbs = leaf.tbs_certificate();
            assert!(tbs.subject().is_empty());
            assert_eq!(tbs.version(), Version::V3);
            assert!(ext(&leaf, SubjectKeyIdentifier::OID).is_none());
            assert!(ext(&leaf, SubjectAltName::OID).unwrap().critical);
            let (critical, ku) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
            assert!(critical);
            assert_eq!(ku, usage, "{csr}");
            let (_, eku) = tbs.get_extension::<ExtendedKeyUsage>().unwrap().unwrap();
            assert_eq!(eku.0, vec![rfc5280::ID_KP_SERVER_AUTH]);
            let (_, aki) = tbs.get_extension::<AuthorityKeyIdentifier>().unwrap().unwrap();
            assert_eq!(aki.key_identifier.unwrap().as_bytes(), ca.key_identifier());
            let (_, cp) = tbs.get_extension::<CertificatePolicies>().unwrap().unwrap();
            assert_eq!(cp.0[0].policy_identifier, DOMAIN_VALIDATED);
            assert!(ext(&leaf, CrlDistributionPoints::OID).is_some());
        }
        let short = cert(&ca.issue_leaf(&leaf_request("p256-sha256.der", 7, false)).unwrap());
        assert!(ext(&short, CrlDistributionPoints::OID).is_none());
    }

    #[test]
    fn serials_are_positive_non_zero_and_127_random_bits() {
        let ca = ca(KeyKind::P256, 28);
        let mut req = leaf_request("p256-sha256.der", 90, true);
        let rng = SeededRng::new(29);
        let mut full_length = 0;
        for i in 0..64 {
            rng.fill(&mut req.serial);
            if i == 0 {
                req.serial = [0xff; 16];
            }
            if i == 1 {
                req.serial = [0x80; 16];
                req.serial[1..].fill(0);
            }
            let s = inspect(&ca.issue_leaf(&req).unwrap()).unwrap();
            assert!(s.serial[0] < 0x80, "positive: {:02x?}", s.serial);
            assert!(s.serial.len() <= 16);
            assert!(s.serial.iter().any(|b| *b != 0), "non-zero");
            full_length += usize::from(s.serial.len() == 16);
        }
        assert!(full_length > 50, "the top byte is random except for its sign bit");
        assert_eq!(positive_serial([0x80; 16].map(|_| 0)).as_bytes(), [1]);
    }

    #[test]
    fn crl_parses_with_openssl_and_lists_serials_and_reasons() {
        let dir = TempDir::new("crl");
        let rng = SeededRng::new(30);
        let (root, ca) =
            LocalCa::generate_hierarchy("local", KeyKind::P256, &mut |b| rng.fill(b), NOW - 86400).unwrap();
        let leaf = inspect(&ca.issue_leaf(&leaf_request("p256-sha256.der", 90, true)).unwrap()).unwrap();
        let revoked = [
            RevokedEntry { serial: leaf.serial.clone(), revoked_at: NOW, reason: Some(1) },
            RevokedEntry { serial: vec![0x00, 0x87, 0x65, 0x43, 0x21], revoked_at: NOW + 60, reason: Some(4) },
            RevokedEntry { serial: vec![0x12, 0x34], revoked_at: NOW + 120, reason: Some(0) },
            RevokedEntry { serial: vec![0x56], revoked_at: NOW + 180, reason: None },
        ];
        let crl = ca.sign_crl(&revoked, NOW + 200, NOW + 200 + 7 * 86400, 42).unwrap();
        let crl_path = dir.write("crl.der", &crl);
        let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", crl_path.to_str().unwrap(), "-noout", "-text"]);
        assert!(ok, "openssl crl failed:\n{text}");
        println!("{text}");
        let upper = leaf.serial_hex.to_ascii_uppercase();
        assert!(text.contains(&format!("Serial Number: {upper}")), "leaf serial in:\n{text}");
        assert!(text.contains("Serial Number: 87654321"), "{text}");
        assert!(text.contains("Serial Number: 1234"), "{text}");
        assert!(text.contains("Serial Number: 56"), "{text}");
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("Superseded"), "{text}");
        assert!(!text.contains("Unspecified"), "reason 0 is omitted:\n{text}");
        assert_eq!(text.matches("CRL Reason Code").count(), 2, "{text}");
        assert!(text.contains("Version 2"), "{text}");
        assert!(text.contains("X509v3 CRL Number") && text.contains("42"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        let hex_id: Vec<String> = ca.key_identifier().iter().map(|b| format!("{b:02X}")).collect();
        assert!(text.contains(&hex_id.join(":")), "AKI is the intermediate's own key id:\n{text}");

        // The signature verifies with the issuing CA's certificate.
        let bundle = dir.write("cas.pem", format!("{}{}", pem(&ca.chain()[0]), pem(&root)).as_bytes());
        let (ok, out) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            crl_path.to_str().unwrap(),
            "-noout",
            "-CAfile",
            bundle.to_str().unwrap(),
        ]);
        assert!(ok && out.contains("verify OK"), "{out}");
        assert_clean(&pkilint_crl(&crl_path), "CRL (BR profile)");
    }

    #[test]
    fn empty_crl_is_valid_and_bad_reasons_are_refused() {
        let ca = ca(KeyKind::P384, 31);
        let crl = ca.sign_crl(&[], NOW, NOW + 86400, 0).unwrap();
        let parsed: CertificateList = CertificateList::from_der(&crl).unwrap();
        assert!(parsed.tbs_cert_list.revoked_certificates.is_none());
        assert_eq!(parsed.signature_algorithm.oid, rfc5912::ECDSA_WITH_SHA_384);
        for reason in [7, 11, 255] {
            let entry = RevokedEntry { serial: vec![1], revoked_at: NOW, reason: Some(reason) };
            let p = ca.sign_crl(&[entry], NOW, NOW + 86400, 1).unwrap_err();
            assert_eq!(p.kind, ProblemType::ServerInternal);
        }
        assert!(ca.sign_crl(&[], NOW, NOW, 1).is_err());
        let too_long = RevokedEntry { serial: vec![0x7f; 21], revoked_at: NOW, reason: None };
        assert!(ca.sign_crl(&[too_long], NOW, NOW + 1, 1).is_err());
    }

    #[test]
    fn generated_root_follows_the_root_profile() {
        let rng = SeededRng::new(32);
        let ca = LocalCa::generate("local", KeyKind::P256, &mut |b| rng.fill(b), NOW).unwrap();
        let root = cert(&ca.chain()[0]);
        let tbs = root.tbs_certificate();
        assert_eq!(tbs.issuer(), tbs.subject());
        let cn = tbs.subject().common_name().unwrap().unwrap().value().into_owned();
        assert!(
            cn.starts_with("edge-acme development CA ") && cn.len() == "edge-acme development CA ".len() + 8,
            "{cn}"
        );
        let (critical, bc) = tbs.get_extension::<BasicConstraints>().unwrap().unwrap();
        assert!(critical && bc.ca && bc.path_len_constraint.is_none());
        let (critical, ku) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
        assert!(critical && ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
        let (_, ski) = tbs.get_extension::<SubjectKeyIdentifier>().unwrap().unwrap();
        assert_eq!(ski.0.as_bytes(), ca.key_identifier());
        assert_eq!(ca.key_identifier().len(), 20);
        let validity = tbs.validity();
        assert_eq!(validity.not_before.to_unix_duration().as_secs(), NOW);
        assert_eq!(validity.not_after.to_unix_duration().as_secs() - NOW, 3653 * 86400);
        assert_eq!(root.signature_algorithm().oid, rfc5912::ECDSA_WITH_SHA_256);
    }

    #[test]
    fn parts_round_trip_and_mismatched_parts_are_refused() {
        let a = ca(KeyKind::P256, 33);
        let b = ca(KeyKind::P384, 34);
        let (key, cert_der) = a.to_parts();
        let again = LocalCa::from_parts("local", &key, &cert_der).unwrap();
        assert_eq!(again.to_parts(), (key.clone(), cert_der.clone()));
        assert_eq!(again.key_identifier(), a.key_identifier());
        // The restored CA issues leaves the original CA's certificate verifies.
        let dir = TempDir::new("parts");
        let leaf = again.issue_leaf(&leaf_request("p256-sha256.der", 90, true)).unwrap();
        openssl_verify(&dir, &cert_der, None, &leaf);

        let refused = |k: &[u8], c: &[u8]| {
            let p = LocalCa::from_parts("local", k, c).unwrap_err();
            assert_eq!(p.kind, ProblemType::ServerInternal);
            p.detail
        };
        assert!(refused(&b.to_parts().0, &cert_der).contains("does not certify"));
        assert!(refused(&key, b"junk").contains("not DER"));
        assert!(refused(b"junk", &cert_der).contains("private key"));
        // A leaf certificate is not a CA certificate, even with the right key.
        let rng = SeededRng::new(35);
        let leaf_key = SigningKey::from_random_bytes(KeyKind::P256, &mut |b| rng.fill(b)).unwrap();
        let mut req = leaf_request("p256-sha256.der", 90, true);
        req.spki_der = leaf_key.public_jwk().to_spki_der();
        let leaf = a.issue_leaf(&req).unwrap();
        assert!(refused(&leaf_key.to_pkcs8_der(), &leaf).contains("not a CA"));
        // Only P-256 and P-384 keys may sign.
        let ed = SigningKey::from_random_bytes(KeyKind::Ed25519, &mut |b| rng.fill(b)).unwrap();
        assert!(refused(&ed.to_pkcs8_der(), &cert_der).contains("P-256 or P-384"));
    }

    #[test]
    fn generate_refuses_key_kinds_other_than_p256_and_p384() {
        let rng = SeededRng::new(36);
        for kind in [KeyKind::P521, KeyKind::Ed25519] {
            assert!(LocalCa::generate("local", kind, &mut |b| rng.fill(b), NOW).is_err());
            assert!(LocalCa::generate_hierarchy("local", kind, &mut |b| rng.fill(b), NOW).is_err());
        }
    }

    #[test]
    fn malformed_leaf_requests_are_server_internal() {
        let ca = ca(KeyKind::P256, 37);
        let base = leaf_request("p256-sha256.der", 90, true);
        type Edit = fn(&mut LeafRequest);
        let cases: [(&str, Edit); 6] = [
            ("no names", |r| {
                r.dns_names.clear();
                r.ip_addrs.clear();
            }),
            ("bad IP", |r| r.ip_addrs.push("1.2.3".into())),
            ("non-ASCII name", |r| r.dns_names.push("bücher.example".into())),
            ("inverted validity", |r| r.not_after = r.not_before),
            ("outlives the CA", |r| r.not_after = NOW + 20 * 365 * 86400),
            ("bad key", |r| r.spki_der = fixture("p256-sha256.der")),
        ];
        for (what, edit) in cases {
            let mut req = base.clone();
            edit(&mut req);
            let p = ca.issue_leaf(&req).expect_err(what);
            assert_eq!(p.kind, ProblemType::ServerInternal, "{what}");
        }
        // Duplicates collapse; IPs are written in binary whatever their spelling.
        let mut req = base.clone();
        req.dns_names.push("example.com".into());
        req.ip_addrs = vec!["2606:4700:4700:0000:0000:0000:0000:1111".into()];
        let s = inspect(&ca.issue_leaf(&req).unwrap()).unwrap();
        assert_eq!(s.dns_names.len(), 2);
        assert_eq!(s.ip_addrs.iter().collect::<Vec<_>>(), ["2606:4700:4700::1111"]);
    }
}
