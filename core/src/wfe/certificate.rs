//! Certificate download (RFC 8555 §7.4.2), issuer certificates (AIA caIssuers),
//! CRLs, revocation (§7.6) and renewal information (RFC 9773).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::auth::{KeyRule, Signer};
use super::{Engine, Request, Response};
use crate::ca::{self, Issuer, RevokedEntry};
use crate::nonce::Nonces;
use crate::policy::{claim_covers, OrderIdentifier};
use crate::problem::Problem;
use crate::ra::order as orders;
use crate::sa::records::{serial_hex, CertRecord, Revocation, RevokedListRecord};
use crate::sa::{self, Change, Store};
use crate::time::rfc3339;
use crate::va::Va;
use crate::wire::{CertId, RenewalInfo, RevocationRequest, SuggestedWindow};

/// How long a CRL is valid; a CRL older than half of this is re-signed when fetched.
const CRL_VALIDITY_SECS: u64 = 7 * 86_400;

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    pub(super) async fn certificate(&self, req: &Request, serial: &str, alternate: usize) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        auth.require_post_as_get()?;
        let not_found = || Problem::not_found("no such certificate");
        let (rec, _) =
            sa::get_json::<S, CertRecord>(self.store, &CertRecord::key(serial)).await?.ok_or_else(not_found)?;
        if rec.account != auth.account().id {
            return Err(Problem::unauthorized("an account may only download its own certificates"));
        }
        let (pem, _) =
            sa::get_json::<S, String>(self.store, &CertRecord::chain_key(serial)).await?.ok_or_else(not_found)?;
        let alternates = self.issuer.alternate_chains(&rec.issuer);
        let body = match alternate {
            0 => pem,
            n => {
                let chain = alternates.get(n - 1).ok_or_else(not_found)?;
                let leaf = ca::pem_to_ders(&pem).into_iter().next().ok_or_else(not_found)?;
                ca::pem_chain(&leaf, chain)
            }
        };
        let mut r = Response::empty(200);
        r.body = body.into_bytes();
        r.set_header("Content-Type", "application/pem-certificate-chain");
        // RFC 8555 §7.4.2 links a certificate only to alternate chains. No rel="up":
        // the chain already ends with the issuer, and clients that follow "up" (acmez,
        // Caddy's client) append what it names and fetch it with POST-as-GET.
        for n in 0..=alternates.len() {
            if n != alternate {
                r.add_header("Link", format!("<{}>;rel=\"alternate\"", self.config.certificate_url(serial, n)));
            }
        }
        Ok(r)
    }

    pub(super) fn issuer_certificate(&self, issuer: &str) -> Result<Response, Problem> {
        let chain = self.issuer.issuer_chain(issuer).ok_or_else(|| Problem::not_found("no such issuer"))?;
        let first = chain.into_iter().next().ok_or_else(|| Problem::not_found("no such issuer"))?;
        let mut r = Response::empty(200);
        r.body = first;
        r.set_header("Content-Type", "application/pkix-cert");
        Ok(r)
    }

    pub(super) async fn crl(&self, issuer: &str) -> Result<Response, Problem> {
        if self.issuer.issuer_chain(issuer).is_none() {
            return Err(Problem::not_found("no such issuer"));
        }
        let der = self.current_crl(issuer).await?;
        let mut r = Response::empty(200);
        r.body = der;
        r.set_header("Content-Type", "application/pkix-crl");
        r.set_header("Cache-Control", "public, max-age=300");
        Ok(r)
    }

    /// The issuer's current CRL, signing a new one if none exists or the last is stale.
    async fn current_crl(&self, issuer: &str) -> Result<Vec<u8>, Problem> {
        let now = self.clock.now();
        let list = sa::get_json::<S, RevokedListRecord>(self.store, &RevokedListRecord::key(issuer)).await?;
        if let Some((rec, _)) = &list {
            if let Some((der, signed_at)) = self.stored_crl(issuer, rec.crl_number).await? {
                if now < signed_at + CRL_VALIDITY_SECS / 2 {
                    return Ok(der);
                }
            }
        }
        self.sign_new_crl(issuer, None).await
    }

    async fn stored_crl(&self, issuer: &str, number: u64) -> Result<Option<(Vec<u8>, u64)>, Problem> {
        if number == 0 {
            return Ok(None);
        }
        let blob = sa::get_json::<S, (String, u64)>(self.store, &RevokedListRecord::crl_key(issuer, number)).await?;
        Ok(blob.and_then(|((b64, at), _)| crate::b64::decode(&b64).ok().map(|d| (d, at))))
    }

    /// Adds `entry` (if any) to the issuer's revoked list, takes the next CRL number and
    /// signs and stores that CRL.
    async fn sign_new_crl(&self, issuer: &str, entry: Option<(String, u64, u8)>) -> Result<Vec<u8>, Problem> {
        let key = RevokedListRecord::key(issuer);
        let mut rec = None;
        for _ in 0..8 {
            let bump = |mut r: RevokedListRecord| {
                if let Some(e) = &entry {
                    if !r.entries.iter().any(|x| x.0 == e.0) {
                        r.entries.push(e.clone());
                    }
                }
                r.crl_number += 1;
                r
            };
            if let Some(r) = sa::update_json(self.store, &key, |r: RevokedListRecord| {
                let r = bump(r);
                Ok(Change::Write(r.clone(), r))
            })
            .await?
            {
                rec = Some(r);
                break;
            }
            let first = bump(RevokedListRecord::default());
            if sa::create_json(self.store, &key, &first).await?.is_ok() {
                rec = Some(first);
                break;
            }
        }
        let rec = rec.ok_or_else(|| Problem::server_internal("could not update the revocation list"))?;
        let now = self.clock.now();
        let entries: Vec<RevokedEntry> = rec
            .entries
            .iter()
            .filter_map(|(s, at, reason)| {
                Some(RevokedEntry { serial: hex_bytes(s)?, revoked_at: *at, reason: (*reason != 0).then_some(*reason) })
            })
            .collect();
        let der = self.issuer.sign_crl(issuer, &entries, now, now + CRL_VALIDITY_SECS, rec.crl_number).await?;
        let blob = (crate::b64::encode(&der), now);
        sa::create_json(self.store, &RevokedListRecord::crl_key(issuer, rec.crl_number), &blob).await?.ok();
        Ok(der)
    }

    pub(super) async fn revoke(&self, req: &Request) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Either).await?;
        let body: RevocationRequest = auth.payload_as()?;
        let reason = check_reason(body.reason)?;
        let der = crate::b64::decode(&body.certificate)
            .map_err(|e| Problem::malformed(format!("certificate is not base64url DER: {e}")))?;
        let summary = ca::inspect(&der)?;
        let unknown = || Problem::malformed("the certificate was not issued by this CA");
        let (rec, _) = sa::get_json::<S, CertRecord>(self.store, &CertRecord::key(&summary.serial_hex))
            .await?
            .ok_or_else(unknown)?;
        if rec.cert_id != ca::cert_id(&summary).encode() || rec.spki != crate::b64::encode(&summary.spki_der) {
            return Err(unknown());
        }
        match &auth.signer {
            Signer::Key(jwk) => {
                if jwk.to_spki_der() != summary.spki_der {
                    return Err(Problem::unauthorized("the JWS key is not the certificate's key"));
                }
            }
            Signer::Account(a) if a.id == rec.account => {}
            Signer::Account(a) => {
                let now = self.clock.now();
                let claims = orders::claims(self.store, &a.tenant).await?;
                let covered = rec.identifiers.iter().all(|id| {
                    let oid = OrderIdentifier::from_requested(id);
                    claims.iter().any(|c| claim_covers(c, &oid, now))
                });
                if !covered {
                    return Err(Problem::unauthorized(
                        "the account neither issued this certificate nor holds authorizations for all its names",
                    ));
                }
            }
        }
        self.revoke_serial(&rec.serial, reason).await?;
        Ok(Response::empty(200))
    }

    /// Marks a certificate revoked (once) and publishes a new CRL for its issuer.
    pub(crate) async fn revoke_serial(&self, serial: &str, reason: u8) -> Result<CertRecord, Problem> {
        let now = self.clock.now();
        let rec = sa::update_json(self.store, &CertRecord::key(serial), |mut c: CertRecord| {
            if c.revoked.is_some() {
                return Err(Problem::already_revoked("the certificate is already revoked"));
            }
            c.revoked = Some(Revocation { at: now, reason });
            Ok(Change::Write(c.clone(), c))
        })
        .await?
        .ok_or_else(|| Problem::not_found("no certificate with this serial"))?;
        // Issuers behind us (no chain here) publish their own CRLs; ours lists only ours.
        if self.issuer.issuer_chain(&rec.issuer).is_some() {
            self.sign_new_crl(&rec.issuer, Some((rec.serial.clone(), now, reason))).await?;
        }
        let chain = sa::get_json::<S, String>(self.store, &CertRecord::chain_key(serial)).await?;
        if let Some(leaf) = chain.and_then(|(pem, _)| ca::pem_to_ders(&pem).into_iter().next()) {
            // Best effort: the revocation is recorded here whatever the back end says.
            let _ = self.issuer.revoke(&rec.issuer, &leaf, reason).await;
        }
        Ok(rec)
    }

    pub(super) async fn renewal_info(&self, cert_id: &str) -> Result<Response, Problem> {
        let id = CertId::parse(cert_id)?;
        let serial = serial_hex(&id.serial);
        let not_found = || Problem::not_found("no certificate with this CertID was issued here");
        let (rec, _) =
            sa::get_json::<S, CertRecord>(self.store, &CertRecord::key(&serial)).await?.ok_or_else(not_found)?;
        if rec.cert_id != cert_id {
            return Err(not_found());
        }
        let now = self.clock.now();
        let (start, end) = match &rec.revoked {
            // Renew at once: a window that has already begun.
            Some(_) => (now.saturating_sub(3600), now + 3600),
            None => {
                let span = rec.not_after.saturating_sub(rec.not_before);
                let start = rec.not_before + span / 3 * 2;
                (start, start + span / 6)
            }
        };
        let info = RenewalInfo {
            suggested_window: SuggestedWindow { start: rfc3339(start), end: rfc3339(end) },
            explanation_url: None,
        };
        let mut r = Response::json(200, &info);
        r.set_header("Retry-After", format!("{}", self.config.ari_retry_after_secs));
        Ok(r)
    }
}

/// RFC 5280 CRL reason codes a revocation may carry: 0 to 10 except 7 (unused).
pub(crate) fn check_reason(reason: Option<u8>) -> Result<u8, Problem> {
    match reason.unwrap_or(0) {
        r @ (0..=6 | 8..=10) => Ok(r),
        r => Err(Problem::bad_revocation_reason(format!(
            "reason {r} is not allowed; use an RFC 5280 reason code from 0 to 10 except 7"
        ))),
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = if s.len() % 2 == 1 { alloc::format!("0{s}") } else { String::from(s) };
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}
