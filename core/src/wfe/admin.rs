//! The operator's admin API under `/admin/`: EAB credentials, tenant domain claims,
//! tenant accounts and revocation by serial. JSON in and out; a bearer token compared
//! in constant time. MAC keys appear in exactly two responses (create and rotate) and
//! nowhere else.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;
use serde_json::json;

use super::{Engine, Request, Response};
use crate::ca::Issuer;
use crate::nonce::Nonces;
use crate::problem::Problem;
use crate::ra;
use crate::sa::records::{Claim, ClaimScope};
use crate::sa::Store;
use crate::time::rfc3339;
use crate::va::Va;

/// Path prefix of the admin API.
pub const ADMIN_PREFIX: &str = "/admin/";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateCredential {
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddClaim {
    name: String,
    #[serde(default)]
    scope: Option<ClaimScope>,
    #[serde(default)]
    days: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBySerial {
    #[serde(default)]
    reason: Option<u8>,
}

fn parse<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<T, Problem> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| Problem::malformed(format!("request body: {e}")))
}

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// Serves `/admin/...`; 401 without the configured bearer token.
    pub async fn handle_admin(&self, req: &Request) -> Response {
        match self.admin(req).await {
            Ok(r) => r,
            Err(p) => Response::problem(&p),
        }
    }

    fn admin_authorized(&self, req: &Request) -> bool {
        let Some(token) = &self.config.admin_token else { return false };
        let presented = req.header("Authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        !token.0.is_empty() && token.ct_eq(presented.trim().as_bytes())
    }

    async fn admin(&self, req: &Request) -> Result<Response, Problem> {
        if !self.admin_authorized(req) {
            let mut r =
                Response::problem(&Problem::unauthorized("admin API: missing or wrong bearer token").with_status(401));
            r.set_header("WWW-Authenticate", "Bearer");
            return Ok(r);
        }
        let path = req.path.split('?').next().unwrap_or("");
        let rest = path.strip_prefix(ADMIN_PREFIX).unwrap_or("");
        let parts: Vec<&str> = rest.split('/').collect();
        let now = self.clock.now();
        let eab = &self.config.eab;
        match (req.method.as_str(), parts.as_slice()) {
            ("POST", ["eab"]) => {
                let body: CreateCredential = parse(&req.body)?;
                let issued = ra::eab::create(self.store, eab, now, self.rng, &body.label).await?;
                Ok(Response::json(201, &issued))
            }
            ("GET", ["eab", kid]) => {
                let rec =
                    ra::eab::get(self.store, kid).await?.ok_or_else(|| Problem::not_found("no such credential"))?;
                let (uses, accounts) = ra::eab::usage(self.store, &rec).await?;
                Ok(Response::json(
                    200,
                    &json!({
                        "kid": rec.kid, "label": rec.label, "status": rec.status,
                        "macKeyVersion": rec.mac.version,
                        "macKeyExpires": rfc3339(rec.mac.created_at + eab.mac_lifetime_secs),
                        "macKeyUses": uses, "macKeyMaxUses": eab.mac_max_uses,
                        "accounts": accounts,
                    }),
                ))
            }
            ("POST", ["eab", kid, "rotate"]) => {
                Ok(Response::json(200, &ra::eab::rotate(self.store, eab, now, kid).await?))
            }
            ("POST", ["eab", kid, "revoke"]) => {
                let rec = ra::eab::revoke(self.store, kid).await?;
                Ok(Response::json(200, &json!({"kid": rec.kid, "status": rec.status})))
            }
            ("GET", ["tenants", tenant, "claims"]) => {
                let claims: Vec<Claim> =
                    ra::order::claims(self.store, tenant).await?.into_iter().filter(|c| c.expires > now).collect();
                Ok(Response::json(200, &json!({ "claims": claims })))
            }
            ("POST", ["tenants", tenant, "claims"]) => {
                let body: AddClaim =
                    serde_json::from_slice(&req.body).map_err(|e| Problem::malformed(format!("request body: {e}")))?;
                let ids = crate::policy::check_order_identifiers(
                    self.config,
                    &[crate::wire::Identifier::dns(body.name.clone())],
                )?;
                if ids[0].wildcard {
                    return Err(Problem::malformed("claim the base name; a subtree claim covers its wildcard"));
                }
                let days = body.days.unwrap_or(self.config.claim_lifetime_secs / 86_400).clamp(1, 397);
                let claim = Claim {
                    name: body.name,
                    scope: body.scope.unwrap_or(ClaimScope::Subtree),
                    method: "operator".into(),
                    created_at: now,
                    expires: now + days * 86_400,
                };
                ra::order::add_claim(self.store, tenant, claim.clone(), now).await?;
                Ok(Response::json(201, &claim))
            }
            ("DELETE", ["tenants", tenant, "claims", name]) => {
                if ra::order::remove_claim(self.store, tenant, name).await? {
                    Ok(Response::empty(204))
                } else {
                    Err(Problem::not_found("no such claim"))
                }
            }
            ("GET", ["tenants", tenant, "accounts"]) => {
                let ids = ra::eab::tenant_accounts(self.store, tenant).await?;
                let urls: Vec<String> = ids.iter().map(|id| self.config.account_url(id)).collect();
                Ok(Response::json(200, &json!({ "accounts": urls })))
            }
            ("POST", ["certificates", serial, "revoke"]) => {
                let body: RevokeBySerial = parse(&req.body)?;
                let reason = super::certificate::check_reason(body.reason)?;
                let rec = self.revoke_serial(&serial.to_ascii_lowercase(), reason).await?;
                Ok(Response::json(200, &json!({"serial": rec.serial, "revoked": rec.revoked})))
            }
            _ => Err(Problem::not_found("no such admin endpoint")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{body_json, TestCa};
    use alloc::string::ToString;
    use alloc::vec;

    fn call(ca: &TestCa, method: &str, path: &str, body: &str, token: Option<&str>) -> Response {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if let Some(t) = token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        ca.handle(&Request { method: method.into(), path: path.into(), headers, body: body.as_bytes().to_vec() })
    }

    const T: Option<&str> = Some("test-admin-token");

    #[test]
    fn admin_api_refuses_missing_or_wrong_tokens_with_401() {
        let mut ca = TestCa::new();
        for token in [None, Some("wrong"), Some(""), Some("test-admin-token-longer")] {
            let r = call(&ca, "POST", "/admin/eab", "{}", token);
            assert_eq!(r.status, 401, "{token:?}");
            assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
        }
        ca.config.admin_token = None;
        assert_eq!(call(&ca, "POST", "/admin/eab", "{}", T).status, 401);
    }

    #[test]
    fn credentials_are_created_shown_once_rotated_and_revoked() {
        let ca = TestCa::new();
        let r = call(&ca, "POST", "/admin/eab", r#"{"label":"team a"}"#, T);
        assert_eq!(r.status, 201);
        let v = body_json(&r);
        let kid = v["kid"].as_str().unwrap().to_string();
        assert_eq!(crate::eab::decode_mac_key(v["macKey"].as_str().unwrap()).unwrap().len(), 32);
        let info = call(&ca, "GET", &format!("/admin/eab/{kid}"), "", T);
        let iv = body_json(&info);
        assert_eq!(iv["label"], "team a");
        assert_eq!(iv["macKeyMaxUses"], 1000);
        assert!(
            !String::from_utf8_lossy(&info.body).contains(v["macKey"].as_str().unwrap()),
            "MAC key never shown again"
        );
        let rot = body_json(&call(&ca, "POST", &format!("/admin/eab/{kid}/rotate"), "", T));
        assert_eq!(rot["version"], 2);
        assert_ne!(rot["macKey"], v["macKey"]);
        assert_eq!(body_json(&call(&ca, "POST", &format!("/admin/eab/{kid}/revoke"), "", T))["status"], "revoked");
        assert_eq!(call(&ca, "GET", "/admin/eab/kid-nope", "", T).status, 404);
        assert_eq!(call(&ca, "POST", "/admin/eab", r#"{"bogus":1}"#, T).status, 400);
    }

    #[test]
    fn claims_are_added_listed_and_removed() {
        let ca = TestCa::new();
        let r = call(&ca, "POST", "/admin/tenants/t1/claims", r#"{"name":"corp.example","days":30}"#, T);
        assert_eq!(r.status, 201);
        assert_eq!(body_json(&r)["scope"], "subtree");
        let list = body_json(&call(&ca, "GET", "/admin/tenants/t1/claims", "", T));
        assert_eq!(list["claims"][0]["name"], "corp.example");
        assert_eq!(call(&ca, "POST", "/admin/tenants/t1/claims", r#"{"name":"Bad_Name"}"#, T).status, 400);
        assert_eq!(call(&ca, "DELETE", "/admin/tenants/t1/claims/corp.example", "", T).status, 204);
        assert_eq!(call(&ca, "DELETE", "/admin/tenants/t1/claims/corp.example", "", T).status, 404);
        assert!(body_json(&call(&ca, "GET", "/admin/tenants/t1/claims", "", T))["claims"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(call(&ca, "GET", "/admin/tenants/t1/accounts", "", T).status, 200);
        assert_eq!(call(&ca, "POST", "/admin/certificates/00ff/revoke", "", T).status, 404);
        assert_eq!(call(&ca, "POST", "/admin/certificates/00ff/revoke", r#"{"reason":7}"#, T).status, 400);
        assert_eq!(call(&ca, "GET", "/admin/nothing", "", T).status, 404);
    }

    #[test]
    fn cors_preflight_and_headers_are_served() {
        let ca = TestCa::new();
        let r = call(&ca, "OPTIONS", "/acme/new-order", "", None);
        assert_eq!(r.status, 204);
        assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
        assert!(r.header("Access-Control-Allow-Methods").unwrap().contains("POST"));
        let r = call(&ca, "GET", "/directory", "", None);
        assert!(r.header("Access-Control-Expose-Headers").unwrap().contains("Replay-Nonce"));
    }
}
