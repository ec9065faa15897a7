//! Finalizing an order (RFC 8555 §7.4): CSR checks, CAA, exactly-once issuance, and
//! asynchronous issuers that finish later (the order stays `processing`).

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::auth::KeyRule;
use super::{Engine, Request, Response};
use crate::ca::{self, IssueOutcome, Issuer, LeafRequest};
use crate::host::random_bytes;
use crate::nonce::Nonces;
use crate::problem::Problem;
use crate::ra::order as orders;
use crate::sa::records::{AuthzRecord, CertRecord, OrderRecord, PendingIssuance};
use crate::sa::{self, Store};
use crate::va::{self, CaaParams, Va};
use crate::wire::{ChallengeStatus, FinalizeRequest, Identifier, IdentifierType, OrderStatus};

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    pub(super) async fn finalize(&self, req: &Request, account: &str, id: &str) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let acct = auth.account();
        if acct.id != account {
            return Err(Problem::unauthorized("an account may only finalize its own orders"));
        }
        let body: FinalizeRequest = auth.payload_as()?;
        let now = self.clock.now();
        let (order, authzs) = orders::load_order(self.store, account, id, now)
            .await?
            .ok_or_else(|| Problem::not_found("no such order"))?;
        if order.status != OrderStatus::Ready {
            return Err(Problem::order_not_ready(format!(
                "the order is {:?}, not ready; complete its authorizations first",
                order.status
            )));
        }
        let profile = self
            .config
            .profile(Some(&order.profile))
            .ok_or_else(|| Problem::server_internal("the order's profile no longer exists"))?
            .clone();
        let der = crate::b64::decode(&body.csr)
            .or_else(|_| crate::b64::decode_lenient(&body.csr))
            .map_err(|e| Problem::bad_csr(format!("the csr field is not base64url DER: {e}")))?;
        let csr = ca::parse_csr(&der, false)?;
        check_csr_names(&order.identifiers, &csr.dns_names, &csr.ip_addrs)?;
        if csr.key.thumbprint() == acct.thumbprint {
            return Err(Problem::bad_csr("the certificate key must differ from the account key"));
        }
        if self.config.check_caa {
            if let Err(p) = self.check_caa_for_order(acct, &order, &authzs).await {
                self.fail_order(&order, OrderStatus::Ready, p.clone()).await?;
                return Err(p);
            }
        }
        let started = orders::transition(self.store, account, id, OrderStatus::Ready, |o| {
            o.status = OrderStatus::Processing;
        })
        .await?;
        let Some(order) = started else {
            return Err(Problem::order_not_ready("the order is already being finalized"));
        };
        let not_before = order.not_before.unwrap_or(now);
        let leaf = LeafRequest {
            csr_der: der.clone(),
            spki_der: csr.spki_der.clone(),
            dns_names: csr.dns_names.iter().cloned().collect(),
            ip_addrs: csr.ip_addrs.iter().cloned().collect(),
            serial: random_bytes::<16>(self.rng),
            not_before,
            not_after: order.not_after.unwrap_or_else(|| ca::not_after(not_before, profile.validity_secs)),
            // Always: pkilint applies the Microsoft root program's revocation rule to
            // every end-entity certificate, short-lived ones included.
            crl_url: Some(self.config.crl_url_in_certificates(&profile.issuer)),
            issuer_url: self.config.issuer_url_in_certificates(&profile.issuer),
        };
        let outcome = self.issuer.issue(&profile, &leaf).await;
        let order = self.record_issuance(order, &leaf.spki_der, outcome).await?;
        Ok(self.order_response(200, &order))
    }

    /// RFC 8659 before issuance, for every name, with the method that authorized it.
    async fn check_caa_for_order(
        &self,
        acct: &crate::sa::records::AccountRecord,
        order: &OrderRecord,
        authzs: &[AuthzRecord],
    ) -> Result<(), Problem> {
        let account_uri = self.config.account_url(&acct.id);
        for a in authzs.iter().filter(|a| a.identifier.kind == IdentifierType::Dns) {
            let method = a
                .challenges
                .iter()
                .find(|c| c.status == ChallengeStatus::Valid)
                .map(|c| super::order::challenge_name(&c.kind))
                .unwrap_or("dns-01");
            let params = CaaParams { ca_identities: &self.config.caa_identities, account_uri: &account_uri, method };
            va::check_caa(self.va, &a.identifier.value, a.wildcard, &params)
                .await
                .map_err(|p| p.with_identifier(a.identifier.clone()))?;
        }
        let _ = order;
        Ok(())
    }

    async fn fail_order(
        &self,
        order: &OrderRecord,
        from: OrderStatus,
        p: Problem,
    ) -> Result<Option<OrderRecord>, Problem> {
        orders::transition(self.store, &order.account, &order.id, from, |o| {
            o.status = OrderStatus::Invalid;
            o.error = Some(p.clone());
            o.issuance = None;
        })
        .await
    }

    /// Applies an issuer's answer to a `processing` order.
    async fn record_issuance(
        &self,
        order: OrderRecord,
        spki_der: &[u8],
        outcome: Result<IssueOutcome, Problem>,
    ) -> Result<OrderRecord, Problem> {
        let now = self.clock.now();
        let profile = self.config.profile(Some(&order.profile)).cloned();
        let result = match (outcome, profile) {
            (Err(p), _) => Err(p),
            (Ok(_), None) => Err(Problem::server_internal("the order's profile no longer exists")),
            (Ok(IssueOutcome::Pending { handle, retry_after }), _) => {
                let started = order.issuance.as_ref().map_or(now, |p| if p.started > 0 { p.started } else { now });
                let pending =
                    PendingIssuance { handle, spki_der: spki_der.into(), next_poll: now + retry_after, started };
                let updated = orders::transition(self.store, &order.account, &order.id, OrderStatus::Processing, |o| {
                    o.issuance = Some(pending.clone());
                })
                .await?;
                return Ok(updated.unwrap_or(order));
            }
            (Ok(IssueOutcome::Issued { leaf, chain }), Some(profile)) => {
                let ips: Vec<String> = ids_of(&order.identifiers, IdentifierType::Ip);
                let dns: Vec<String> = ids_of(&order.identifiers, IdentifierType::Dns);
                ca::check_issued(&leaf, &dns, &ips, spki_der, profile.validity_secs)
                    .map(|summary| (leaf, chain, summary, profile))
            }
        };
        match result {
            Err(p) => {
                let p = if p.kind == crate::problem::ProblemType::ServerInternal {
                    p
                } else {
                    Problem::server_internal(format!("issuance failed: {}", p.detail))
                };
                Ok(self.fail_order(&order, OrderStatus::Processing, p).await?.unwrap_or(order))
            }
            Ok((leaf, chain, summary, profile)) => {
                let serial = summary.serial_hex.clone();
                let pem = ca::pem_chain(&leaf, &chain);
                sa::create_json(self.store, &CertRecord::chain_key(&serial), &pem).await?.ok();
                let rec = CertRecord {
                    serial: serial.clone(),
                    account: order.account.clone(),
                    order: order.id.clone(),
                    issuer: profile.issuer.clone(),
                    profile: profile.name.clone(),
                    identifiers: order.identifiers.clone(),
                    spki: crate::b64::encode(&summary.spki_der),
                    not_before: summary.not_before,
                    not_after: summary.not_after,
                    cert_id: ca::cert_id(&summary).encode(),
                    revoked: None,
                    replaced_by: None,
                };
                sa::create_json(self.store, &CertRecord::key(&serial), &rec).await?.ok();
                let updated = orders::transition(self.store, &order.account, &order.id, OrderStatus::Processing, |o| {
                    o.status = OrderStatus::Valid;
                    o.certificate = Some(serial.clone());
                    o.issuance = None;
                })
                .await?;
                Ok(updated.unwrap_or(order))
            }
        }
    }

    /// Reads an order and, if an asynchronous issuance is due for a poll, polls the
    /// issuer once. Hosts call this from a timer too (the Worker's alarm).
    pub async fn advance_order(&self, account: &str, id: &str) -> Result<(OrderRecord, Vec<AuthzRecord>), Problem> {
        let now = self.clock.now();
        let (order, authzs) = orders::load_order(self.store, account, id, now)
            .await?
            .ok_or_else(|| Problem::not_found("no such order"))?;
        let Some(pending) = order.issuance.clone() else {
            return Ok((order, authzs));
        };
        if order.status != OrderStatus::Processing || now < pending.next_poll {
            return Ok((order, authzs));
        }
        let profile = self
            .config
            .profile(Some(&order.profile))
            .cloned()
            .ok_or_else(|| Problem::server_internal("the order's profile no longer exists"))?;
        let outcome = self.issuer.poll(&profile, &pending.handle).await;
        let order = self.record_issuance(order, &pending.spki_der, outcome).await?;
        Ok((order, authzs))
    }
}

fn ids_of(ids: &[Identifier], kind: IdentifierType) -> Vec<String> {
    ids.iter().filter(|i| i.kind == kind).map(|i| i.value.clone()).collect()
}

/// The CSR must request exactly the order's names (RFC 8555 §7.4).
fn check_csr_names(order: &[Identifier], dns: &BTreeSet<String>, ips: &BTreeSet<String>) -> Result<(), Problem> {
    let want_dns: BTreeSet<String> = ids_of(order, IdentifierType::Dns).into_iter().collect();
    let want_ip: BTreeSet<String> = ids_of(order, IdentifierType::Ip).into_iter().collect();
    let missing: Vec<&String> = want_dns.difference(dns).chain(want_ip.difference(ips)).collect();
    let extra: Vec<&String> = dns.difference(&want_dns).chain(ips.difference(&want_ip)).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(Problem::bad_csr(format!(
        "the CSR's names must equal the order's identifiers; missing from the CSR: {missing:?}, not in the order: {extra:?}"
    )))
}
