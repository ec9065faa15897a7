//! ACME wire types (RFC 8555 §7.1, RFC 9773, the profiles draft).
//!
//! These are the JSON objects exchanged with clients, shared by the server engine and
//! the client helpers. Field names follow the RFC through `rename_all = "camelCase"`;
//! optional fields are omitted when absent, never sent as `null`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// The directory object (RFC 8555 §7.1.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// URL of the newNonce resource.
    pub new_nonce: String,
    /// URL of the newAccount resource.
    pub new_account: String,
    /// URL of the newOrder resource.
    pub new_order: String,
    /// URL of the newAuthz resource (pre-authorization), if offered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new_authz: Option<String>,
    /// URL of the revokeCert resource.
    pub revoke_cert: String,
    /// URL of the keyChange resource.
    pub key_change: String,
    /// URL prefix of the ACME Renewal Information resource (RFC 9773).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub renewal_info: Option<String>,
    /// Server metadata.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub meta: Option<DirectoryMeta>,
}

/// The directory's `meta` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    /// URL of the current terms of service.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub terms_of_service: Option<String>,
    /// URL of a website about the CA.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub website: Option<String>,
    /// Hostnames the CA recognises as its own in CAA records.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub caa_identities: Vec<String>,
    /// Whether newAccount requires an external account binding.
    #[serde(skip_serializing_if = "core::ops::Not::not", default)]
    pub external_account_required: bool,
    /// Certificate profiles: name → human-readable description.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub profiles: BTreeMap<String, String>,
}

/// Identifier types (RFC 8555 §9.7.7, RFC 8738).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierType {
    /// A DNS name.
    Dns,
    /// An IP address (RFC 8738).
    Ip,
    /// Any other type; preserved so it can be refused with `unsupportedIdentifier`.
    #[serde(untagged)]
    Other(String),
}

/// An identifier: what a certificate is requested for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier type.
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The name or address.
    pub value: String,
}

impl Identifier {
    /// A `dns` identifier.
    pub fn dns(value: impl Into<String>) -> Self {
        Identifier { kind: IdentifierType::Dns, value: value.into() }
    }

    /// An `ip` identifier.
    pub fn ip(value: impl Into<String>) -> Self {
        Identifier { kind: IdentifierType::Ip, value: value.into() }
    }
}

/// Account status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Usable.
    Valid,
    /// Deactivated by its owner.
    Deactivated,
    /// Revoked by the server.
    Revoked,
}

/// The account object (RFC 8555 §7.1.2) as served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account's id (the last segment of its URL). Not an RFC 8555 field; served
    /// first because acme.sh reads it (`"id" *: *[^,]*,`) to retire a deactivated
    /// account, as Let's Encrypt's account objects let it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// Status.
    pub status: AccountStatus,
    /// Contact URLs.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub contact: Vec<String>,
    /// Whether the terms of service were agreed to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub terms_of_service_agreed: Option<bool>,
    /// The binding object, echoed back (RFC 8555 §7.3.4 allows it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub external_account_binding: Option<serde_json::Value>,
    /// URL of the account's orders list.
    pub orders: String,
    /// The account's public key as a JWK (served by many CAs; harmless).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<serde_json::Value>,
}

/// The newAccount request payload (RFC 8555 §7.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccountRequest {
    /// Contact URLs.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// Agreement to the terms of service.
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
    /// Look up only; never create.
    #[serde(default)]
    pub only_return_existing: Option<bool>,
    /// External account binding JWS (flattened JSON).
    #[serde(default)]
    pub external_account_binding: Option<serde_json::Value>,
}

/// The account update request payload (RFC 8555 §7.3.2, §7.3.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdateRequest {
    /// New contact list.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// `deactivated` to deactivate.
    #[serde(default)]
    pub status: Option<AccountStatus>,
    /// Agreement to (new) terms of service.
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
}

/// The orders list object (RFC 8555 §7.1.2.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrdersList {
    /// Order URLs.
    pub orders: Vec<String>,
}

/// Order status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Authorizations outstanding.
    Pending,
    /// All authorizations valid; may be finalized.
    Ready,
    /// Issuance under way.
    Processing,
    /// Certificate issued.
    Valid,
    /// Failed or expired.
    Invalid,
}

/// The order object (RFC 8555 §7.1.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Status.
    pub status: OrderStatus,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    /// Requested identifiers.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub not_before: Option<String>,
    /// Requested notAfter.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub not_after: Option<String>,
    /// The error that made the order invalid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<Problem>,
    /// Authorization URLs.
    pub authorizations: Vec<String>,
    /// Finalize URL.
    pub finalize: String,
    /// Certificate URL once valid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub certificate: Option<String>,
    /// The certificate profile (profiles draft).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
    /// The ARI CertID of the certificate this order replaces (RFC 9773).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replaces: Option<String>,
}

/// The newOrder request payload (RFC 8555 §7.4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrderRequest {
    /// Identifiers to certify.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore (RFC 3339).
    #[serde(default)]
    pub not_before: Option<String>,
    /// Requested notAfter (RFC 3339).
    #[serde(default)]
    pub not_after: Option<String>,
    /// Requested profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// ARI CertID of the certificate being replaced.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// The newAuthz request payload (RFC 8555 §7.4.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAuthzRequest {
    /// The identifier to pre-authorize.
    pub identifier: Identifier,
}

/// The finalize request payload (RFC 8555 §7.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalizeRequest {
    /// base64url DER PKCS#10.
    pub csr: String,
}

/// Authorization status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizationStatus {
    /// Awaiting a challenge.
    Pending,
    /// Validated.
    Valid,
    /// Failed.
    Invalid,
    /// Deactivated by the client.
    Deactivated,
    /// Expired.
    Expired,
    /// Revoked by the server.
    Revoked,
}

/// The authorization object (RFC 8555 §7.1.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The identifier, without the `*.` of a wildcard.
    pub identifier: Identifier,
    /// Status.
    pub status: AuthorizationStatus,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    /// Challenges offered (or the one that succeeded).
    pub challenges: Vec<Challenge>,
    /// True for a wildcard order's authorization.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wildcard: Option<bool>,
}

/// The authorization update payload (RFC 8555 §7.5.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationUpdateRequest {
    /// Must be `deactivated`.
    pub status: AuthorizationStatus,
}

/// Challenge types this crate knows; others are preserved as strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeType {
    /// RFC 8555 §8.3.
    #[serde(rename = "http-01")]
    Http01,
    /// RFC 8555 §8.4.
    #[serde(rename = "dns-01")]
    Dns01,
    /// RFC 8737.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// Any other type.
    #[serde(untagged)]
    Other(String),
}

/// Challenge status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    /// Not yet attempted.
    Pending,
    /// Validation under way.
    Processing,
    /// Validated.
    Valid,
    /// Failed.
    Invalid,
}

/// The challenge object (RFC 8555 §7.1.5, §8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Challenge type.
    #[serde(rename = "type")]
    pub kind: ChallengeType,
    /// URL to POST to.
    pub url: String,
    /// Status.
    pub status: ChallengeStatus,
    /// Token (http-01, dns-01, tls-alpn-01).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token: Option<String>,
    /// RFC 3339 time of successful validation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub validated: Option<String>,
    /// The error of a failed validation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<Problem>,
}

/// The revokeCert request payload (RFC 8555 §7.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevocationRequest {
    /// base64url DER certificate.
    pub certificate: String,
    /// CRL reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<u8>,
}

/// The keyChange inner payload (RFC 8555 §7.3.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChangeRequest {
    /// The account URL.
    pub account: String,
    /// The old key as a JWK.
    pub old_key: serde_json::Value,
}

/// RFC 9773 renewal information.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    /// The window within which to renew.
    pub suggested_window: SuggestedWindow,
    /// A page explaining the suggestion.
    #[serde(skip_serializing_if = "Option::is_none", default, rename = "explanationURL")]
    pub explanation_url: Option<String>,
}

/// The `suggestedWindow` of [`RenewalInfo`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestedWindow {
    /// RFC 3339 start.
    pub start: String,
    /// RFC 3339 end.
    pub end: String,
}

/// The ARI certificate identifier (RFC 9773 §4.1): the authority key identifier's
/// keyIdentifier and the certificate serial number, each base64url, joined by a dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertId {
    /// The AKI keyIdentifier octets.
    pub key_identifier: Vec<u8>,
    /// The DER INTEGER content octets of the serial number (with any leading zero).
    pub serial: Vec<u8>,
}

impl CertId {
    /// Renders the `aki.serial` form.
    pub fn encode(&self) -> String {
        let mut s = crate::b64::encode(&self.key_identifier);
        s.push('.');
        s.push_str(&crate::b64::encode(&self.serial));
        s
    }

    /// Parses the `aki.serial` form strictly.
    pub fn parse(s: &str) -> Result<Self, Problem> {
        let (a, b) = s
            .split_once('.')
            .ok_or_else(|| Problem::malformed("ARI CertID must be two base64url parts joined by '.'"))?;
        let key_identifier =
            crate::b64::decode(a).map_err(|e| Problem::malformed(alloc::format!("ARI CertID key identifier: {e}")))?;
        let serial = crate::b64::decode(b).map_err(|e| Problem::malformed(alloc::format!("ARI CertID serial: {e}")))?;
        if key_identifier.is_empty() || serial.is_empty() {
            return Err(Problem::malformed("ARI CertID parts must not be empty"));
        }
        Ok(CertId { key_identifier, serial })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use serde_json::json;

    #[test]
    fn directory_serializes_camel_case_and_omits_absent_fields() {
        let d = Directory {
            new_nonce: "n".into(),
            new_account: "a".into(),
            new_order: "o".into(),
            new_authz: None,
            revoke_cert: "r".into(),
            key_change: "k".into(),
            renewal_info: Some("ri".into()),
            meta: Some(DirectoryMeta {
                external_account_required: true,
                caa_identities: vec!["ca.example".into()],
                ..Default::default()
            }),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["newNonce"], "n");
        assert_eq!(v["renewalInfo"], "ri");
        assert!(v.get("newAuthz").is_none());
        assert_eq!(v["meta"]["externalAccountRequired"], true);
        assert_eq!(v["meta"]["caaIdentities"][0], "ca.example");
        assert!(v["meta"].get("termsOfService").is_none());
    }

    #[test]
    fn unknown_challenge_and_identifier_types_are_preserved() {
        let c: Challenge = serde_json::from_value(json!({
            "type": "device-attest-01", "url": "u", "status": "pending", "token": "t"
        }))
        .unwrap();
        assert_eq!(c.kind, ChallengeType::Other("device-attest-01".into()));
        assert_eq!(serde_json::to_value(&c).unwrap()["type"], "device-attest-01");
        let i: Identifier = serde_json::from_value(json!({"type": "email", "value": "x"})).unwrap();
        assert_eq!(i.kind, IdentifierType::Other("email".into()));
    }

    #[test]
    fn order_with_replaces_and_profile_round_trips() {
        let v = json!({
            "status": "pending", "identifiers": [{"type": "dns", "value": "a.example"}],
            "authorizations": ["x"], "finalize": "f", "profile": "shortlived",
            "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        });
        let o: Order = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(o.profile.as_deref(), Some("shortlived"));
        assert_eq!(serde_json::to_value(&o).unwrap(), v);
    }

    #[test]
    fn cert_id_matches_rfc9773_example() {
        // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21 → "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let id = CertId {
            key_identifier: vec![
                0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE,
                0x01, 0xC8, 0xD4,
            ],
            serial: vec![0x00, 0x87, 0x65, 0x43, 0x21],
        };
        assert_eq!(id.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap(), id);
        assert!(CertId::parse("nodot").is_err());
        assert!(CertId::parse("a+b.AIdlQyE").is_err());
    }

    #[test]
    fn problem_with_subproblems_parses() {
        let p: Problem = serde_json::from_value(json!({
            "type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "d", "status": 400,
            "subproblems": [{"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "x",
                             "identifier": {"type": "dns", "value": "bad.example"}}]
        }))
        .unwrap();
        assert_eq!(p.subproblems[0].identifier.as_ref().unwrap().value, "bad.example");
    }
}
