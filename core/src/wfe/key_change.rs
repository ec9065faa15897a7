//! keyChange (RFC 8555 §7.3.5): an outer JWS signed by the account's current key
//! carries an inner JWS signed by the new key.

use super::auth::KeyRule;
use super::{Engine, Request, Response};
use crate::ca::Issuer;
use crate::jose::{Jwk, Jws, KeyRef};
use crate::nonce::Nonces;
use crate::problem::Problem;
use crate::ra;
use crate::ra::account::KeyChangeError;
use crate::sa::Store;
use crate::va::Va;
use crate::wire::KeyChangeRequest;

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    pub(super) async fn key_change(&self, req: &Request) -> Result<Response, Problem> {
        let auth = self.authenticate(req, KeyRule::Account).await?;
        let account = auth.account();
        let outer = auth.payload.as_ref().ok_or_else(|| Problem::malformed("keyChange needs an inner JWS"))?;
        let inner = Jws::from_value(outer)?;
        let KeyRef::Jwk(new_key) = &inner.header.key else {
            return Err(Problem::malformed("the inner JWS must carry the new key as jwk"));
        };
        if inner.header.nonce.is_some() {
            return Err(Problem::malformed("the inner JWS must not have a nonce"));
        }
        if inner.header.url != auth.jws.header.url {
            return Err(Problem::malformed("the inner JWS url must equal the outer url"));
        }
        inner
            .verify(new_key)
            .map_err(|_| Problem::malformed("the inner JWS signature does not verify with its jwk"))?;
        let body: KeyChangeRequest = serde_json::from_value(
            inner.payload_json()?.ok_or_else(|| Problem::malformed("the inner JWS payload is empty"))?,
        )
        .map_err(|e| Problem::malformed(alloc::format!("inner payload: {e}")))?;
        let kid_url = self.config.account_url(&account.id);
        if body.account != kid_url {
            return Err(Problem::malformed("the inner payload's account does not match the outer kid"));
        }
        let old_key = Jwk::from_value(&body.old_key)?;
        if old_key.thumbprint() != account.thumbprint {
            return Err(Problem::malformed("oldKey is not the account's current key"));
        }
        if new_key.thumbprint() == account.thumbprint {
            return Err(Problem::malformed("the new key is the same as the current key"));
        }
        match ra::account::change_key(self.store, &account.id, &account.thumbprint, new_key).await {
            Ok(rec) => Ok(Response::json(200, &self.account_object(&rec)).with_location(kid_url)),
            Err(KeyChangeError::KeyInUse(other)) => {
                let p = Problem::malformed("the new key is already in use by another account").with_status(409);
                let mut r = super::problem_response(&p, self.config.retry_after_secs);
                r.set_header("Location", self.config.account_url(&other));
                Ok(r)
            }
            Err(KeyChangeError::Problem(p)) => Err(p),
        }
    }
}
