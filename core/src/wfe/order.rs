//! newOrder (RFC 8555 §7.4), the order resource, newAuthz (§7.4.1) and the
//! authorization resource with deactivation (§7.5, §7.5.2).

use alloc::format;

use super::auth::KeyRule;
use super::{Engine, Request, Response};
use crate::ca::Issuer;
use crate::nonce::Nonces;
use crate::policy;
use crate::problem::Problem;
use crate::ra::order::{self as orders, NewOrder};
use crate::sa::records::{AuthzRecord, CertRecord, OrderRecord};
use crate::sa::{self, Change, Store};
use crate::time::{parse_rfc3339, rfc3339};
use crate::va::Va;
use crate::wire::{
    Authorization, AuthorizationStatus, AuthorizationUpdateRequest, CertId, Challenge, NewAuthzRequest,
    NewOrderRequest, Order, OrderStatus,
};

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// The order object as served.
    pub(crate) fn order_object(&self, o: &OrderRecord) -> Order {
        let c = self.config;
        Order {
            status: o.status,
            expires: Some(rfc3339(o.expires)),
            identifiers: o.identifiers.clone(),
            not_before: o.not_before.map(rfc3339),
            not_after: o.not_after.map(rfc3339),
            error: o.error.clone(),
            authorizations: o.authz_ids.iter().map(|a| c.authz_url(&o.account, a)).collect(),
            finalize: c.finalize_url(&o.account, &o.id),
            certificate: o.certificate.as_ref().map(|s| c.certificate_url(s, 0)),
            profile: Some(o.profile.clone()),
            replaces: o.replaces.clone(),
        }
    }

    /// An order response with `Location` and, while work is outstanding, `Retry-After`.
    pub(crate) fn order_response(&self, status: u16, o: &OrderRecord) -> Response {
        let mut r =
            Response::json(status, &self.order_object(o)).with_location(self.config.order_url(&o.account, &o.id));
        match o.status {
            OrderStatus::Pending => r.set_header("Retry-After", format!("{}", self.config.retry_after_secs)),
            OrderStatus::Processing => r.set_header("Retry-After", format!("{}", self.processing_retry_after(o))),
            _ => {}
        }
        r
    }

    /// Seconds a client should wait before polling a `processing` order again: the
    /// configured interval at first, then a quarter of the time the issuance has taken
    /// so far (under a minute: Certify The Web ignores values of 60 and more), and never
    /// before the issuer's next poll. Clients that poll a fixed number of times (acme.sh:
    /// 30) then wait out a slow back end (connectors give up after ten minutes) instead
    /// of giving up after 30 seconds.
    fn processing_retry_after(&self, o: &OrderRecord) -> u64 {
        let now = self.clock.now();
        let base = self.config.retry_after_secs.max(1);
        let Some(p) = &o.issuance else { return base };
        let elapsed = if p.started > 0 { now.saturating_sub(p.started) } else { 0 };
        base.max(elapsed / 4).max(p.next_poll.saturating_sub(now)).min(59)
    }

    /// The authorization object as served.
    pub(crate) fn authz_object(&self, a: &AuthzRecord) -> Authorization {
        Authorization {
            identifier: a.identifier.clone(),
            status: a.status,
            expires: Some(rfc3339(a.expires)),
            challenges: a.challenges.iter().map(|ch| self.challenge_object(a, ch)).collect(),
            wildcard: a.wildcard.then_some(true),
        }
    }

    /// One challenge object as served.
    pub(crate) fn challenge_object(&self, a: &AuthzRecord, ch: &crate::sa::records::ChallengeRecord) -> Challenge {
        Challenge {
            url: self.config.challenge_url(&a.account, &a.id, challenge_name(&ch.kind)),
            kind: ch.kind.clone(),
            status: ch.status,
            token: Some(a.token.clone()),
            validated: ch.validated.map(rfc3339),
            error: ch.error.clone(),
        }
    }

    fn authz_response(&self, a: &AuthzRecord) -> Response {
        let mut r = Response::json(200, &self.authz_object(a));
        if a.status == AuthorizationStatus::Pending {
            r.set_header("Retry-After", format!("{}", self.config.retry_after_secs));
        }
        r
    }

    pub(super) async fn new_order(&self, req: &Request) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let account = auth.account();
        let body: NewOrderRequest = auth.payload_as()?;
        let now = self.clock.now();
        let identifiers = policy::check_order_identifiers(self.config, &body.identifiers)?;
        let profile = self.config.profile(body.profile.as_deref()).ok_or_else(|| {
            Problem::invalid_profile(format!(
                "profile {:?} is not offered; the directory lists the profiles",
                body.profile.as_deref().unwrap_or("")
            ))
        })?;
        let not_before = body.not_before.as_deref().map(parse_rfc3339).transpose()?;
        let not_after = body.not_after.as_deref().map(parse_rfc3339).transpose()?;
        check_validity_request(not_before, not_after, now, profile.validity_secs)?;
        if let Some(replaces) = &body.replaces {
            self.check_replaces(&account.id, replaces, &identifiers).await?;
        }
        let order = orders::create_order(
            self.store,
            self.config,
            self.rng,
            now,
            NewOrder {
                account: &account.id,
                tenant: &account.tenant,
                identifiers,
                not_before,
                not_after,
                profile: profile.name.clone(),
                replaces: body.replaces.clone(),
            },
        )
        .await?;
        if let Some(replaces) = &body.replaces {
            self.mark_replaced(replaces, &order.id).await?;
        }
        Ok(self.order_response(201, &order))
    }

    /// RFC 9773 §5: `replaces` must name a certificate of this account, sharing a name
    /// with the new order, not already replaced by another live order.
    async fn check_replaces(
        &self,
        account: &str,
        replaces: &str,
        ids: &[policy::OrderIdentifier],
    ) -> Result<(), Problem> {
        let cert_id = CertId::parse(replaces)?;
        let serial = crate::sa::records::serial_hex(&cert_id.serial);
        let (cert, _) = sa::get_json::<S, CertRecord>(self.store, &CertRecord::key(&serial))
            .await?
            .ok_or_else(|| Problem::malformed("replaces names a certificate this CA did not issue"))?;
        if cert.cert_id != replaces {
            return Err(Problem::malformed("replaces names a certificate this CA did not issue"));
        }
        if cert.account != account {
            // "ARI" in the detail: acme.sh then retries its order without `replaces`.
            return Err(Problem::unauthorized("ARI replaces: the certificate was issued to another account"));
        }
        if !ids.iter().any(|i| cert.identifiers.contains(&i.requested)) {
            return Err(Problem::malformed("the new order shares no identifier with the certificate it replaces"));
        }
        if let Some(other) = &cert.replaced_by {
            let live = match orders::load_order(self.store, account, other, self.clock.now()).await? {
                Some((o, _)) => o.status != OrderStatus::Invalid,
                None => false,
            };
            if live {
                return Err(Problem::already_replaced("this certificate was already replaced by another order"));
            }
        }
        Ok(())
    }

    async fn mark_replaced(&self, replaces: &str, order: &str) -> Result<(), Problem> {
        let cert_id = CertId::parse(replaces)?;
        let serial = crate::sa::records::serial_hex(&cert_id.serial);
        sa::update_json(self.store, &CertRecord::key(&serial), |mut c: CertRecord| {
            c.replaced_by = Some(order.into());
            Ok(Change::Write(c, ()))
        })
        .await?;
        Ok(())
    }

    pub(super) async fn order(&self, req: &Request, account: &str, id: &str) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        auth.require_post_as_get()?;
        if auth.account().id != account {
            return Err(Problem::unauthorized("an account may only read its own orders"));
        }
        let (order, _) = self.advance_order(account, id).await?;
        Ok(self.order_response(200, &order))
    }

    pub(super) async fn new_authz(&self, req: &Request) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let account = auth.account();
        let body: NewAuthzRequest = auth.payload_as()?;
        let ids = policy::check_order_identifiers(self.config, core::slice::from_ref(&body.identifier))?;
        if ids[0].wildcard {
            return Err(Problem::rejected_identifier("pre-authorization is not available for wildcard names"));
        }
        let now = self.clock.now();
        let authz =
            orders::create_authz(self.store, self.config, self.rng, now, &account.id, &account.tenant, &ids[0]).await?;
        let mut r = self.authz_response(&authz);
        r.status = 201;
        Ok(r.with_location(self.config.authz_url(&account.id, &authz.id)))
    }

    pub(super) async fn authz(&self, req: &Request, account: &str, id: &str) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        if auth.account().id != account {
            return Err(Problem::unauthorized("an account may only read its own authorizations"));
        }
        let now = self.clock.now();
        if auth.payload.is_none() {
            let a = orders::load_authz(self.store, account, id, now)
                .await?
                .ok_or_else(|| Problem::not_found("no such authorization"))?;
            return Ok(self.authz_response(&a));
        }
        let update: AuthorizationUpdateRequest = auth.payload_as()?;
        if update.status != AuthorizationStatus::Deactivated {
            return Err(Problem::malformed("an authorization can only be updated to deactivated"));
        }
        let (a, was_valid) = sa::update_json(self.store, &AuthzRecord::key(account, id), |mut a: AuthzRecord| {
            if now >= a.expires {
                return Err(Problem::malformed("the authorization has expired"));
            }
            match a.status {
                AuthorizationStatus::Pending | AuthorizationStatus::Valid => {
                    let was_valid = a.status == AuthorizationStatus::Valid;
                    a.status = AuthorizationStatus::Deactivated;
                    Ok(Change::Write(a.clone(), (a, was_valid)))
                }
                AuthorizationStatus::Deactivated => Ok(Change::Keep((a, false))),
                s => Err(Problem::malformed(format!("an authorization in state {s:?} cannot be deactivated"))),
            }
        })
        .await?
        .ok_or_else(|| Problem::not_found("no such authorization"))?;
        if was_valid {
            // The validation behind it (or the claim that made it valid) is given up too:
            // otherwise the next order would reuse it without a new challenge.
            let covered = policy::OrderIdentifier::of_authorization(&a.identifier, a.wildcard);
            orders::forget_validations_covering(self.store, &auth.account().tenant, &covered).await?;
        }
        Ok(self.authz_response(&a))
    }
}

/// The path segment and wire name of a challenge type.
pub(crate) fn challenge_name(kind: &crate::wire::ChallengeType) -> &str {
    use crate::wire::ChallengeType::*;
    match kind {
        Http01 => "http-01",
        Dns01 => "dns-01",
        TlsAlpn01 => "tls-alpn-01",
        Other(s) => s.as_str(),
    }
}

/// notBefore/notAfter are honoured when they describe a window inside the profile's
/// lifetime that has not ended; anything else is refused with a reason.
fn check_validity_request(nb: Option<u64>, na: Option<u64>, now: u64, max: u64) -> Result<(), Problem> {
    let start = nb.unwrap_or(now);
    if let Some(nb) = nb {
        if nb + 3600 < now {
            return Err(Problem::malformed("notBefore may not be more than an hour in the past"));
        }
        if nb > now + 30 * 24 * 3600 {
            return Err(Problem::malformed("notBefore may be at most 30 days in the future"));
        }
    }
    if let Some(na) = na {
        if na <= start {
            return Err(Problem::malformed("notAfter must be later than notBefore"));
        }
        if na - start > max {
            return Err(Problem::malformed(format!(
                "the requested validity exceeds this profile's {} days",
                max / 86_400
            )));
        }
    }
    Ok(())
}
