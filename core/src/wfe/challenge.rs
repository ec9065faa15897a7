//! Responding to a challenge (RFC 8555 §7.5.1) and validating it (§8.3, §8.4).
//!
//! Validation runs inside the request that triggers it: the challenge is first moved
//! to `processing` with compare-and-set, so concurrent triggers validate once; the
//! validation authority then decides, and the outcome moves challenge, authorization
//! (and with it the order) in one write. A success records a domain claim for the
//! account's tenant.

use alloc::format;

use super::auth::KeyRule;
use super::order::challenge_name;
use super::{Engine, Request, Response};
use crate::ca::Issuer;
use crate::jose::Jwk;
use crate::keyauth;
use crate::nonce::Nonces;
use crate::problem::Problem;
use crate::ra::order as orders;
use crate::sa::records::{AuthzRecord, ChallengeRecord};
use crate::sa::{self, Change, Store};
use crate::va::{self, Va};
use crate::wire::{AuthorizationStatus, ChallengeStatus, ChallengeType, IdentifierType};

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    fn challenge_response(&self, a: &AuthzRecord, ch: &ChallengeRecord) -> Response {
        let mut r = Response::json(200, &self.challenge_object(a, ch));
        r.add_header("Link", format!("<{}>;rel=\"up\"", self.config.authz_url(&a.account, &a.id)));
        if ch.status == ChallengeStatus::Processing {
            r.set_header("Retry-After", format!("{}", self.config.retry_after_secs));
        }
        r
    }

    pub(super) async fn challenge(
        &self,
        req: &Request,
        account: &str,
        authz_id: &str,
        kind: &str,
    ) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let acct = auth.account();
        if acct.id != account {
            return Err(Problem::unauthorized("an account may only use its own challenges"));
        }
        let now = self.clock.now();
        let not_found = || Problem::not_found("no such challenge");
        let authz = orders::load_authz(self.store, account, authz_id, now).await?.ok_or_else(not_found)?;
        let idx = authz.challenges.iter().position(|c| challenge_name(&c.kind) == kind).ok_or_else(not_found)?;
        if auth.payload.is_none() {
            return Ok(self.challenge_response(&authz, &authz.challenges[idx]));
        }
        if !auth.payload.as_ref().is_some_and(|p| p.is_object()) {
            return Err(Problem::malformed("a challenge response must be a JSON object, {}"));
        }
        if authz.status != AuthorizationStatus::Pending || authz.challenges[idx].status != ChallengeStatus::Pending {
            return Ok(self.challenge_response(&authz, &authz.challenges[idx]));
        }
        // Claim the right to validate: pending → processing, once.
        let key = AuthzRecord::key(account, authz_id);
        let claimed = sa::update_json(self.store, &key, |mut a: AuthzRecord| {
            if a.status != AuthorizationStatus::Pending || a.challenges[idx].status != ChallengeStatus::Pending {
                return Ok(Change::Keep(None));
            }
            a.challenges[idx].status = ChallengeStatus::Processing;
            Ok(Change::Write(a.clone(), Some(a)))
        })
        .await?
        .flatten();
        let Some(authz) = claimed else {
            let a = orders::load_authz(self.store, account, authz_id, now).await?.ok_or_else(not_found)?;
            return Ok(self.challenge_response(&a, &a.challenges[idx]));
        };

        let jwk = Jwk::from_value(&acct.jwk)?;
        let key_auth = keyauth::key_authorization(&authz.token, &jwk);
        let kind_t = authz.challenges[idx].kind.clone();
        let outcome = match &kind_t {
            ChallengeType::Http01 => {
                va::validate_http01(self.va, &authz.identifier.value, &authz.token, &key_auth).await
            }
            ChallengeType::Dns01 => {
                va::validate_dns01(self.va, &authz.identifier.value, &keyauth::dns01_txt_value(&key_auth)).await
            }
            other => Err(Problem::malformed(format!("challenge type {other:?} is not supported"))),
        };
        let outcome = outcome.map_err(|p| p.with_identifier(authz.identifier.clone()));
        let done = sa::update_json(self.store, &key, |mut a: AuthzRecord| {
            let ch = &mut a.challenges[idx];
            match &outcome {
                Ok(()) => {
                    ch.status = ChallengeStatus::Valid;
                    ch.validated = Some(now);
                    a.status = AuthorizationStatus::Valid;
                    // The authorization's lifetime is now the claim's.
                    a.expires = now.saturating_add(self.config.claim_lifetime_secs);
                }
                Err(p) => {
                    ch.status = ChallengeStatus::Invalid;
                    ch.error = Some(p.clone());
                    a.status = AuthorizationStatus::Invalid;
                }
            }
            Ok(Change::Write(a.clone(), a))
        })
        .await?
        .ok_or_else(not_found)?;
        if outcome.is_ok() {
            let id_kind: &IdentifierType = &authz.identifier.kind;
            let claim = orders::claim_for_validation(
                &authz.identifier.value,
                id_kind,
                &kind_t,
                now,
                self.config.claim_lifetime_secs,
            );
            orders::add_claim(self.store, &acct.tenant, claim, now).await?;
        }
        Ok(self.challenge_response(&done, &done.challenges[idx]))
    }
}
