//! The records the engine stores, and where each one lives.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{Key, Partition};
use crate::problem::Problem;
use crate::wire::{AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus};

/// An ACME account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Random id; the account URL ends with it.
    pub id: String,
    /// Status.
    pub status: AccountStatus,
    /// Contact URLs.
    pub contact: Vec<String>,
    /// Whether the terms of service were agreed to.
    pub tos_agreed: bool,
    /// The account's public key as a JWK.
    pub jwk: serde_json::Value,
    /// RFC 7638 thumbprint of `jwk` (the key index entry's name).
    pub thumbprint: String,
    /// The tenant that owns the account's domain claims.
    pub tenant: String,
    /// The EAB credential the account is bound to.
    pub eab_kid: Option<String>,
    /// The binding as the client sent it, echoed in the account object.
    pub eab_binding: Option<serde_json::Value>,
    /// Creation time (Unix seconds).
    pub created_at: u64,
}

impl AccountRecord {
    /// Where an account is stored.
    pub fn key(id: &str) -> Key {
        Key::new(Partition::Account(id.into()), "account")
    }
}

/// Key index entry: which account holds a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIndexRecord {
    /// The account id.
    pub account: String,
}

impl KeyIndexRecord {
    /// Where the index entry for a thumbprint is stored.
    pub fn key(thumbprint: &str) -> Key {
        Key::new(Partition::KeyIndex, thumbprint)
    }
}

/// The ids of an account's orders, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersIndexRecord {
    /// Order ids.
    pub ids: Vec<String>,
}

impl OrdersIndexRecord {
    /// Where an account's orders index is stored.
    pub fn key(account: &str) -> Key {
        Key::new(Partition::Account(account.into()), "orders")
    }
}

/// Whether a credential may still be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatus {
    /// Usable; bound accounts work.
    Active,
    /// Revoked by the operator; bound accounts are refused.
    Revoked,
}

/// The current MAC key generation of a credential. The key itself is derived from
/// the EAB master secret, the key id and `version`, and never stored; its uses are
/// counted in [`CredentialRecord::uses_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacKeyState {
    /// Generation number, starting at 1.
    pub version: u32,
    /// When this generation was made (Unix seconds).
    pub created_at: u64,
}

/// An External Account Binding credential; its key id is also its tenant id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// The EAB key id.
    pub kid: String,
    /// Status.
    pub status: CredentialStatus,
    /// A label the operator chose.
    pub label: String,
    /// The current MAC key generation.
    pub mac: MacKeyState,
    /// Creation time.
    pub created_at: u64,
}

impl CredentialRecord {
    /// Where a credential is stored.
    pub fn key(kid: &str) -> Key {
        Key::new(Partition::Tenant(kid.into()), "credential")
    }

    /// The counter of bindings made with MAC key generation `version`.
    pub fn uses_key(kid: &str, version: u32) -> Key {
        Key::new(Partition::Tenant(kid.into()), alloc::format!("uses/{version}"))
    }

    /// The counter of accounts bound over all generations.
    pub fn accounts_key(kid: &str) -> Key {
        Key::new(Partition::Tenant(kid.into()), "accounts-bound")
    }
}

/// One account bound to a tenant, for the admin API: slot `n` of the tenant's list.
/// Slots come from a counter that only grows, so concurrent bindings never write the
/// same record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantAccountRecord {
    /// The account id.
    pub account: String,
}

impl TenantAccountRecord {
    /// Where slot `n` of a tenant's account list is stored.
    pub fn key(tenant: &str, n: u64) -> Key {
        Key::new(Partition::Tenant(tenant.into()), alloc::format!("account/{n}"))
    }

    /// The counter of slots handed out.
    pub fn slots_key(tenant: &str) -> Key {
        Key::new(Partition::Tenant(tenant.into()), "account-slots")
    }
}

/// A challenge inside an authorization record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// Challenge type.
    pub kind: ChallengeType,
    /// Status.
    pub status: ChallengeStatus,
    /// When it was validated.
    pub validated: Option<u64>,
    /// Why it failed.
    pub error: Option<Problem>,
}

/// An authorization of one account for one identifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthzRecord {
    /// Random id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// The identifier (a wildcard's base name, without `*.`).
    pub identifier: Identifier,
    /// Whether the order asked for `*.identifier`.
    pub wildcard: bool,
    /// Status.
    pub status: AuthorizationStatus,
    /// Expiry (Unix seconds).
    pub expires: u64,
    /// The token all challenges of this authorization share.
    pub token: String,
    /// Challenges offered.
    pub challenges: Vec<ChallengeRecord>,
}

impl AuthzRecord {
    /// Where an authorization is stored.
    pub fn key(account: &str, id: &str) -> Key {
        Key::new(Partition::Account(account.into()), alloc::format!("authz/{id}"))
    }
}

/// An order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Random id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Status as last stored (pending orders are re-evaluated when read).
    pub status: OrderStatus,
    /// Requested identifiers, normalized and sorted.
    pub identifiers: Vec<Identifier>,
    /// Authorization ids, one per identifier, same order.
    pub authz_ids: Vec<String>,
    /// Expiry (Unix seconds).
    pub expires: u64,
    /// Requested notBefore.
    pub not_before: Option<u64>,
    /// Requested notAfter.
    pub not_after: Option<u64>,
    /// The profile name.
    pub profile: String,
    /// ARI CertID of the certificate this order replaces.
    pub replaces: Option<String>,
    /// The error that made the order invalid.
    pub error: Option<Problem>,
    /// Serial (hex) of the issued certificate.
    pub certificate: Option<String>,
    /// An asynchronous issuance in progress: the issuer's handle.
    pub issuance: Option<PendingIssuance>,
    /// Creation time.
    pub created_at: u64,
}

/// What the engine remembers about an issuance an issuer has not finished yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingIssuance {
    /// The issuer's handle for polling.
    pub handle: String,
    /// The serial the certificate will be recorded under, if the issuer chose it.
    pub spki_der: Vec<u8>,
    /// When to poll next.
    pub next_poll: u64,
    /// When the order went to `processing` (0 in records written before this field).
    #[serde(default)]
    pub started: u64,
}

impl OrderRecord {
    /// Where an order is stored.
    pub fn key(account: &str, id: &str) -> Key {
        Key::new(Partition::Account(account.into()), alloc::format!("order/{id}"))
    }
}

/// How much of the namespace a domain claim covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimScope {
    /// Exactly the name (from http-01).
    Exact,
    /// The name, every subdomain and the wildcard (from dns-01 or the operator).
    Subtree,
}

/// A tenant's proof of control over a name, reusable until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    /// The validated name (an IP address for ip claims).
    pub name: String,
    /// What it covers.
    pub scope: ClaimScope,
    /// How it was established: `dns-01`, `http-01` or `operator`.
    pub method: String,
    /// When it was established.
    pub created_at: u64,
    /// When it stops covering new orders.
    pub expires: u64,
}

/// A tenant's domain claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRecord {
    /// Claims, newest last.
    pub claims: Vec<Claim>,
}

impl ClaimsRecord {
    /// Where a tenant's claims are stored.
    pub fn key(tenant: &str) -> Key {
        Key::new(Partition::Tenant(tenant.into()), "claims")
    }
}

/// Revocation of a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When (Unix seconds).
    pub at: u64,
    /// CRL reason code.
    pub reason: u8,
}

/// An issued certificate's metadata and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Issuing account.
    pub account: String,
    /// Order it was issued for.
    pub order: String,
    /// Issuer name.
    pub issuer: String,
    /// Profile name.
    pub profile: String,
    /// Names in the certificate.
    pub identifiers: Vec<Identifier>,
    /// The certificate's public key (SPKI DER, base64url).
    pub spki: String,
    /// Validity start.
    pub not_before: u64,
    /// Validity end.
    pub not_after: u64,
    /// ARI CertID.
    pub cert_id: String,
    /// Revocation, if revoked.
    pub revoked: Option<Revocation>,
    /// The order that replaces it (RFC 9773).
    pub replaced_by: Option<String>,
}

/// A serial number as lowercase hex of its positive integer value (leading zero
/// octets dropped), the form used in URLs and storage keys.
pub fn serial_hex(der_integer_bytes: &[u8]) -> String {
    let start = der_integer_bytes.iter().position(|b| *b != 0).unwrap_or(der_integer_bytes.len().saturating_sub(1));
    let mut s = String::with_capacity(2 * der_integer_bytes.len());
    for b in &der_integer_bytes[start..] {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    s
}

/// Certificates are spread over this many storage shards by serial.
pub const CERT_SHARDS: u32 = 16;

impl CertRecord {
    /// Where a certificate's metadata is stored: a shard chosen by the serial.
    pub fn key(serial_hex: &str) -> Key {
        let shard = u32::from_str_radix(serial_hex.get(serial_hex.len().saturating_sub(2)..).unwrap_or("0"), 16)
            .unwrap_or(0)
            % CERT_SHARDS;
        Key::new(Partition::Certificates(shard), alloc::format!("cert/{serial_hex}"))
    }

    /// Where the certificate chain (PEM) is stored; written once, never changed.
    pub fn chain_key(serial_hex: &str) -> Key {
        Key::new(Partition::Immutable, alloc::format!("chain/{serial_hex}"))
    }
}

/// An issuer's revoked serials, the input of its CRL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedListRecord {
    /// (serial hex, revocation time, reason).
    pub entries: Vec<(String, u64, u8)>,
    /// Number of the last CRL signed.
    pub crl_number: u64,
}

impl RevokedListRecord {
    /// Where an issuer's revoked list is stored.
    pub fn key(issuer: &str) -> Key {
        Key::new(Partition::Ca, alloc::format!("revoked/{issuer}"))
    }

    /// Where an issuer's latest CRL (DER) is stored; a new key per CRL number.
    pub fn crl_key(issuer: &str, number: u64) -> Key {
        Key::new(Partition::Immutable, alloc::format!("crl/{issuer}/{number}"))
    }
}
