//! The POST pipeline of RFC 8555 §6.2–§6.5: content type, size, JWS syntax, `url`,
//! nonce, key (embedded `jwk` or account `kid`), signature, payload — in that order,
//! for every POST, in one place.

use serde::de::DeserializeOwned;

use super::{Engine, Request};
use crate::ca::Issuer;
use crate::jose::{parse_flattened, Jwk, Jws, KeyRef};
use crate::nonce::Nonces;
use crate::problem::Problem;
use crate::ra;
use crate::sa::records::AccountRecord;
use crate::sa::Store;
use crate::va::Va;
use crate::wire::AccountStatus;

/// Which key forms an endpoint accepts (RFC 8555 §6.2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRule {
    /// Only `kid` naming an existing, valid account.
    Account,
    /// Only `jwk` (newAccount).
    Jwk,
    /// Either (revokeCert).
    Either,
}

/// Who signed a request.
pub(crate) enum Signer {
    /// An existing account (signed with `kid`), with its record's version.
    Account(AccountRecord),
    /// A key embedded in the request (signed with `jwk`).
    Key(Jwk),
}

/// A request that passed every JWS check.
pub(crate) struct Authenticated {
    /// The parsed JWS.
    pub jws: Jws,
    /// The payload; `None` for POST-as-GET.
    pub payload: Option<serde_json::Value>,
    /// The signer.
    pub signer: Signer,
}

impl Authenticated {
    /// The signing account; only call where [`KeyRule::Account`] was required.
    pub fn account(&self) -> &AccountRecord {
        match &self.signer {
            Signer::Account(a) => a,
            Signer::Key(_) => unreachable!("endpoint requires kid"),
        }
    }

    /// The payload decoded as `T`; POST-as-GET is `malformed` here.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let v = self.payload.clone().ok_or_else(|| Problem::malformed("this resource needs a JSON payload"))?;
        serde_json::from_value(v).map_err(|e| Problem::malformed(alloc::format!("payload: {e}")))
    }

    /// Requires POST-as-GET (empty payload).
    pub fn require_post_as_get(&self) -> Result<(), Problem> {
        match self.payload {
            None => Ok(()),
            Some(_) => Err(Problem::malformed("POST-as-GET requests must have an empty payload")),
        }
    }
}

fn is_jose_json(ct: Option<&str>) -> bool {
    ct.map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/jose+json")).unwrap_or(false)
}

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// Runs the whole pipeline for a POST to `req.path`.
    pub(crate) async fn authenticate(&self, req: &Request, rule: KeyRule) -> Result<Authenticated, Problem> {
        if !is_jose_json(req.header("Content-Type")) {
            return Err(Problem::malformed("Content-Type must be application/jose+json").with_status(415));
        }
        if req.body.len() > self.config.max_body_bytes {
            return Err(Problem::malformed(alloc::format!(
                "request body exceeds {} bytes",
                self.config.max_body_bytes
            ))
            .with_status(413));
        }
        let jws = parse_flattened(&req.body)?;
        let expected_url = self.config.url(&req.path);
        if jws.header.url != expected_url {
            return Err(Problem::unauthorized(alloc::format!(
                "JWS url header {:?} does not match the request URL {:?}",
                jws.header.url,
                expected_url
            )));
        }
        self.redeem_nonce(jws.header.nonce.as_deref()).await?;
        let signer = match (&jws.header.key, rule) {
            (KeyRef::Jwk(_), KeyRule::Account) => {
                return Err(Problem::malformed("this resource requires a kid header naming the account"))
            }
            (KeyRef::Kid(_), KeyRule::Jwk) => {
                return Err(Problem::malformed("newAccount requests must carry a jwk header, not kid"))
            }
            (KeyRef::Jwk(jwk), _) => {
                jws.verify(jwk)?;
                Signer::Key(jwk.clone())
            }
            (KeyRef::Kid(kid), _) => {
                let account = self.account_for_kid(kid).await?;
                let jwk = Jwk::from_value(&account.jwk)?;
                jws.verify(&jwk)?;
                Signer::Account(account)
            }
        };
        let payload = jws.payload_json()?;
        Ok(Authenticated { jws, payload, signer })
    }

    /// Redeems the JWS nonce; missing, unknown, expired or reused → `badNonce`.
    async fn redeem_nonce(&self, nonce: Option<&str>) -> Result<(), Problem> {
        // Every detail starts with the phrase Let's Encrypt uses: acme.sh retries a
        // badNonce only when the body contains it.
        let nonce = nonce.ok_or_else(|| {
            Problem::bad_nonce("JWS has an invalid anti-replay nonce: the protected header has no nonce")
        })?;
        // Only the store that issued a nonce judges it: a nonce this server issued is
        // never refused for its form.
        if nonce.is_empty() || nonce.len() > 256 {
            return Err(Problem::bad_nonce("JWS has an invalid anti-replay nonce: it is empty or too long"));
        }
        if !self.nonces.redeem(nonce).await? {
            return Err(Problem::bad_nonce(
                "JWS has an invalid anti-replay nonce: it is unknown, expired or already used; \
                 retry with the nonce from this response",
            ));
        }
        Ok(())
    }

    /// Resolves a `kid` to a usable account: it must exist, be valid, and its EAB
    /// credential (if any) must not be revoked.
    pub(crate) async fn account_for_kid(&self, kid: &str) -> Result<AccountRecord, Problem> {
        let id = self.config.account_id_from_url(kid).ok_or_else(|| {
            Problem::account_does_not_exist(alloc::format!("kid {kid:?} is not an account URL of this server"))
        })?;
        let account = ra::account::load(self.store, id)
            .await?
            .ok_or_else(|| Problem::account_does_not_exist("no account with this URL"))?;
        match account.status {
            AccountStatus::Valid => {}
            // RFC 8555 §7.3.6: a request from a deactivated account MUST get 401 (Unauthorized)
            // with type unauthorized (the type's default status is 403).
            AccountStatus::Deactivated => {
                return Err(Problem::unauthorized("the account is deactivated").with_status(401))
            }
            AccountStatus::Revoked => return Err(Problem::unauthorized("the account was revoked by the CA")),
        }
        if let Some(eab_kid) = &account.eab_kid {
            ra::eab::ensure_not_revoked(self.store, eab_kid).await?;
        }
        Ok(account)
    }
}
