//! newAccount (RFC 8555 §7.3), the account resource (§7.3.2 update, §7.3.6
//! deactivation) and the account's orders list (§7.1.2.1).

use alloc::format;

use super::auth::{KeyRule, Signer};
use super::{paths, Engine, Request, Response};
use crate::ca::Issuer;
use crate::eab;
use crate::host::random_id;
use crate::nonce::Nonces;
use crate::policy;
use crate::problem::Problem;
use crate::ra;
use crate::ra::account::Created;
use crate::sa::records::{AccountRecord, OrdersIndexRecord};
use crate::sa::{self, Store};
use crate::va::Va;
use crate::wire::{Account, AccountStatus, AccountUpdateRequest, NewAccountRequest, OrdersList};

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// The account object as served.
    pub(crate) fn account_object(&self, rec: &AccountRecord) -> Account {
        Account {
            id: Some(rec.id.clone()),
            status: rec.status,
            contact: rec.contact.clone(),
            terms_of_service_agreed: Some(rec.tos_agreed),
            external_account_binding: rec.eab_binding.clone(),
            orders: self.config.orders_url(&rec.id),
            key: Some(rec.jwk.clone()),
        }
    }

    fn account_response(&self, status: u16, rec: &AccountRecord) -> Response {
        Response::json(status, &self.account_object(rec)).with_location(self.config.account_url(&rec.id))
    }

    pub(super) async fn new_account(&self, req: &Request) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Jwk).await?;
        let body: NewAccountRequest = auth.payload_as()?;
        let Signer::Key(jwk) = &auth.signer else { unreachable!("KeyRule::Jwk") };
        let thumbprint = jwk.thumbprint();

        if let Some(existing) = ra::account::find_by_thumbprint(self.store, &thumbprint).await? {
            // RFC 8555 §7.3.6: a request signed by a deactivated account's key gets 401.
            if existing.status != AccountStatus::Valid {
                let state = if existing.status == AccountStatus::Revoked { "revoked" } else { "deactivated" };
                return Err(Problem::unauthorized(format!("the account for this key is {state}")).with_status(401));
            }
            return Ok(self.account_response(200, &existing));
        }
        if body.only_return_existing == Some(true) {
            return Err(Problem::account_does_not_exist("no account exists for this key"));
        }
        let contact = body.contact.unwrap_or_default();
        policy::check_contacts(&contact, self.config.max_contacts)?;
        if let Some(tos) = &self.config.terms_of_service {
            if body.terms_of_service_agreed != Some(true) {
                let mut p = Problem::user_action_required(format!("agree to the terms of service at {tos}"));
                p.instance = Some(tos.clone());
                return Err(p);
            }
        }

        let now = self.clock.now();
        let bound = match &body.external_account_binding {
            Some(binding) => {
                let binding = eab::parse_binding(binding, jwk, &self.config.url(paths::NEW_ACCOUNT))?;
                Some(ra::eab::bind(self.store, &self.config.eab, now, &binding).await?)
            }
            None if self.config.eab.required => {
                return Err(Problem::external_account_required(
                    "this server requires an external account binding (EAB key id and MAC key)",
                ))
            }
            None => None,
        };

        let id = random_id(self.rng);
        let rec = AccountRecord {
            tenant: bound.as_ref().map_or_else(|| id.clone(), |b| b.kid.clone()),
            id,
            status: AccountStatus::Valid,
            contact,
            tos_agreed: body.terms_of_service_agreed.unwrap_or(false),
            jwk: jwk.to_value(),
            thumbprint,
            eab_kid: bound.as_ref().map(|b| b.kid.clone()),
            eab_binding: body.external_account_binding.clone(),
            created_at: now,
        };
        match ra::account::create(self.store, rec).await? {
            Created::New(rec) => {
                ra::eab::add_tenant_account(self.store, &rec.tenant, &rec.id).await?;
                Ok(self.account_response(201, &rec))
            }
            Created::Existing(rec) => {
                if let Some(b) = &bound {
                    ra::eab::refund(self.store, b).await?;
                }
                Ok(self.account_response(200, &rec))
            }
        }
    }

    pub(super) async fn account(&self, req: &Request, id: &str) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let acct = auth.account();
        if acct.id != id {
            return Err(Problem::unauthorized("the JWS kid does not match the account URL"));
        }
        if auth.payload.is_none() {
            return Ok(self.account_response(200, acct));
        }
        let update: AccountUpdateRequest = auth.payload_as()?;
        if let Some(contact) = &update.contact {
            policy::check_contacts(contact, self.config.max_contacts)?;
        }
        let deactivate = match update.status {
            None | Some(AccountStatus::Valid) => false,
            Some(AccountStatus::Deactivated) => true,
            Some(AccountStatus::Revoked) => {
                return Err(Problem::malformed("a client may only set the account status to deactivated"))
            }
        };
        let rec = ra::account::update(self.store, id, |rec| {
            if let Some(contact) = &update.contact {
                rec.contact = contact.clone();
            }
            if update.terms_of_service_agreed == Some(true) {
                rec.tos_agreed = true;
            }
            if deactivate {
                rec.status = AccountStatus::Deactivated;
            }
            Ok(())
        })
        .await?;
        Ok(self.account_response(200, &rec))
    }

    pub(super) async fn account_orders(&self, req: &Request, id: &str) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        auth.require_post_as_get()?;
        if auth.account().id != id {
            return Err(Problem::unauthorized("an account may only list its own orders"));
        }
        let cursor = query_param(&req.path, "cursor")
            .map(|c| c.parse::<usize>().map_err(|_| Problem::malformed("cursor must be a number")))
            .transpose()?
            .unwrap_or(0);
        let ids = sa::get_json::<S, OrdersIndexRecord>(self.store, &OrdersIndexRecord::key(id))
            .await?
            .map(|(r, _)| r.ids)
            .unwrap_or_default();
        let page = self.config.orders_page_size.max(1);
        let start = cursor.saturating_mul(page).min(ids.len());
        let end = (start + page).min(ids.len());
        let list = OrdersList { orders: ids[start..end].iter().map(|o| self.config.order_url(id, o)).collect() };
        let mut resp = Response::json(200, &list);
        if end < ids.len() {
            resp.add_header("Link", format!("<{}?cursor={}>;rel=\"next\"", self.config.orders_url(id), cursor + 1));
        }
        Ok(resp)
    }
}

/// The value of a query parameter.
pub(crate) fn query_param<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let (_, q) = path.split_once('?')?;
    q.split('&').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == name => Some(v),
        _ => None,
    })
}
