//! The server's URL space: one function that parses a path into a [`Route`], and the
//! builders for every URL the server hands out, side by side so they cannot drift.
//!
//! Resources that belong to an account carry the account id in their path, so a host
//! can send the request to the account's storage partition without a lookup.

use alloc::format;
use alloc::string::String;

use crate::config::Config;

/// The directory path.
pub const DIRECTORY: &str = "/directory";
/// The newNonce path.
pub const NEW_NONCE: &str = "/acme/new-nonce";
/// The newAccount path.
pub const NEW_ACCOUNT: &str = "/acme/new-account";
/// The newOrder path.
pub const NEW_ORDER: &str = "/acme/new-order";
/// The newAuthz path.
pub const NEW_AUTHZ: &str = "/acme/new-authz";
/// The revokeCert path.
pub const REVOKE_CERT: &str = "/acme/revoke-cert";
/// The keyChange path.
pub const KEY_CHANGE: &str = "/acme/key-change";
/// The renewalInfo path prefix (RFC 9773).
pub const RENEWAL_INFO: &str = "/acme/renewal-info";

/// A parsed request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /directory`.
    Directory,
    /// newNonce.
    NewNonce,
    /// newAccount.
    NewAccount,
    /// newOrder.
    NewOrder,
    /// newAuthz.
    NewAuthz,
    /// revokeCert.
    RevokeCert,
    /// keyChange.
    KeyChange,
    /// renewalInfo with a CertID.
    RenewalInfo(String),
    /// An account.
    Account(String),
    /// An account's orders list.
    AccountOrders(String),
    /// An order: account id, order id.
    Order(String, String),
    /// An order's finalize URL.
    Finalize(String, String),
    /// An authorization: account id, authz id.
    Authz(String, String),
    /// A challenge: account id, authz id, challenge type.
    Challenge(String, String, String),
    /// A certificate chain: serial (hex), alternate chain index.
    Certificate(String, usize),
    /// An issuer certificate (DER), by issuer name.
    IssuerCert(String),
    /// A CRL, by issuer name.
    Crl(String),
    /// Anything else.
    NotFound,
}

impl Route {
    /// The value of the `Allow` header for this resource.
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Route::Directory | Route::RenewalInfo(_) | Route::IssuerCert(_) | Route::Crl(_) => "GET, HEAD",
            Route::NewNonce => "GET, HEAD",
            Route::NotFound => "",
            _ => "POST",
        }
    }
}

fn seg_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

/// Parses a path (query ignored) into a route.
pub fn route(path_and_query: &str) -> Route {
    let path = path_and_query.split('?').next().unwrap_or("");
    let parts: alloc::vec::Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if !parts.iter().all(|p| seg_ok(p)) {
        return Route::NotFound;
    }
    let s = |i: usize| String::from(parts[i]);
    match parts.as_slice() {
        ["directory"] => Route::Directory,
        ["acme", "new-nonce"] => Route::NewNonce,
        ["acme", "new-account"] => Route::NewAccount,
        ["acme", "new-order"] => Route::NewOrder,
        ["acme", "new-authz"] => Route::NewAuthz,
        ["acme", "revoke-cert"] => Route::RevokeCert,
        ["acme", "key-change"] => Route::KeyChange,
        ["acme", "renewal-info", _] => Route::RenewalInfo(s(2)),
        ["acme", "acct", _] => Route::Account(s(2)),
        ["acme", "acct", _, "orders"] => Route::AccountOrders(s(2)),
        ["acme", "order", _, _] => Route::Order(s(2), s(3)),
        ["acme", "order", _, _, "finalize"] => Route::Finalize(s(2), s(3)),
        ["acme", "authz", _, _] => Route::Authz(s(2), s(3)),
        ["acme", "chall", _, _, _] => Route::Challenge(s(2), s(3), s(4)),
        ["acme", "cert", _] => Route::Certificate(s(2), 0),
        ["acme", "cert", _, n] => match n.parse::<usize>() {
            Ok(i) if i >= 1 => Route::Certificate(s(2), i),
            _ => Route::NotFound,
        },
        ["acme", "issuer", _] => Route::IssuerCert(s(2)),
        ["acme", "crl", _] => Route::Crl(s(2)),
        _ => Route::NotFound,
    }
}

/// URL builders.
impl Config {
    /// The account URL (also the `kid` of its requests).
    pub fn account_url(&self, id: &str) -> String {
        self.url(&format!("/acme/acct/{id}"))
    }
    /// The account's orders list URL.
    pub fn orders_url(&self, id: &str) -> String {
        self.url(&format!("/acme/acct/{id}/orders"))
    }
    /// An order URL.
    pub fn order_url(&self, account: &str, order: &str) -> String {
        self.url(&format!("/acme/order/{account}/{order}"))
    }
    /// An order's finalize URL.
    pub fn finalize_url(&self, account: &str, order: &str) -> String {
        self.url(&format!("/acme/order/{account}/{order}/finalize"))
    }
    /// An authorization URL.
    pub fn authz_url(&self, account: &str, authz: &str) -> String {
        self.url(&format!("/acme/authz/{account}/{authz}"))
    }
    /// A challenge URL.
    pub fn challenge_url(&self, account: &str, authz: &str, kind: &str) -> String {
        self.url(&format!("/acme/chall/{account}/{authz}/{kind}"))
    }
    /// A certificate chain URL (`alternate` 0 is the default chain).
    pub fn certificate_url(&self, serial: &str, alternate: usize) -> String {
        match alternate {
            0 => self.url(&format!("/acme/cert/{serial}")),
            n => self.url(&format!("/acme/cert/{serial}/{n}")),
        }
    }
    /// An issuer certificate URL on this origin (served to plain GETs).
    pub fn issuer_url(&self, issuer: &str) -> String {
        self.url(&format!("/acme/issuer/{issuer}"))
    }
    /// A CRL URL.
    pub fn crl_url(&self, issuer: &str) -> String {
        self.url(&format!("/acme/crl/{issuer}"))
    }
    /// The issuer certificate URL written into certificates (AIA caIssuers, http).
    pub fn issuer_url_in_certificates(&self, issuer: &str) -> String {
        format!("{}/acme/issuer/{issuer}", self.certificate_base())
    }
    /// The CRL URL written into certificates (CRL distribution point, http).
    pub fn crl_url_in_certificates(&self, issuer: &str) -> String {
        format!("{}/acme/crl/{issuer}", self.certificate_base())
    }
    /// Extracts the account id from an account URL (a JWS `kid`).
    pub fn account_id_from_url<'u>(&self, url: &'u str) -> Option<&'u str> {
        let rest = url.strip_prefix(self.base_url.as_str())?;
        match route(rest) {
            Route::Account(_) => rest.strip_prefix("/acme/acct/"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_url_routes_back_to_its_resource() {
        let c = Config::new("https://ca.test");
        let r = |u: String| route(u.strip_prefix("https://ca.test").unwrap());
        assert_eq!(r(c.account_url("a1")), Route::Account("a1".into()));
        assert_eq!(r(c.orders_url("a1")), Route::AccountOrders("a1".into()));
        assert_eq!(r(c.order_url("a1", "o1")), Route::Order("a1".into(), "o1".into()));
        assert_eq!(r(c.finalize_url("a1", "o1")), Route::Finalize("a1".into(), "o1".into()));
        assert_eq!(r(c.authz_url("a1", "z1")), Route::Authz("a1".into(), "z1".into()));
        assert_eq!(
            r(c.challenge_url("a1", "z1", "http-01")),
            Route::Challenge("a1".into(), "z1".into(), "http-01".into())
        );
        assert_eq!(r(c.certificate_url("0a", 0)), Route::Certificate("0a".into(), 0));
        assert_eq!(r(c.certificate_url("0a", 2)), Route::Certificate("0a".into(), 2));
        assert_eq!(r(c.issuer_url("r1")), Route::IssuerCert("r1".into()));
        assert_eq!(r(c.crl_url("r1")), Route::Crl("r1".into()));
        assert_eq!(c.crl_url_in_certificates("r1"), "http://ca.test/acme/crl/r1");
        assert_eq!(c.issuer_url_in_certificates("r1"), "http://ca.test/acme/issuer/r1");
        assert_eq!(c.account_id_from_url(&c.account_url("a1")), Some("a1"));
        assert_eq!(c.account_id_from_url("https://evil.test/acme/acct/a1"), None);
        assert_eq!(c.account_id_from_url(&c.orders_url("a1")), None);
    }

    #[test]
    fn odd_paths_are_not_found() {
        for p in
            ["/", "/acme", "/acme/acct/", "/acme/acct/a/b/c", "/acme/acct/a%2F", "/acme/cert/x/0", "/acme//new-order"]
        {
            assert_eq!(route(p), Route::NotFound, "{p}");
        }
        assert_eq!(route("/acme/acct/x/orders?cursor=3"), Route::AccountOrders("x".into()));
    }
}
