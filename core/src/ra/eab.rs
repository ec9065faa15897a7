//! External Account Binding credentials, run the way the user's CA runs them: a
//! credential has a key id and a MAC key; a MAC key binds at most `mac_max_uses`
//! accounts within `mac_lifetime_secs` of being generated; generating a new MAC key
//! replaces the old one for new bindings only, so bound accounts keep working; revoking
//! the credential disables every account bound to it.
//!
//! MAC keys are never stored. Each is derived from the operator's EAB master secret,
//! the key id and the key's generation number, and shown once when generated.

use alloc::string::String;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::config::EabPolicy;
use crate::eab::Binding;
use crate::host::Rng;
use crate::problem::Problem;
use crate::sa::records::{CredentialRecord, CredentialStatus, MacKeyState, TenantAccountsRecord};
use crate::sa::{self, Change, Store};

/// What the operator is shown once when a MAC key is generated.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedMacKey {
    /// The EAB key id (`--eab-kid`).
    pub kid: String,
    /// The MAC key, base64url (`--eab-hmac-key`).
    pub mac_key: String,
    /// Generation number of this MAC key.
    pub version: u32,
    /// Unix time after which this MAC key makes no new bindings.
    pub expires_at: u64,
    /// How many bindings this MAC key may make.
    pub max_uses: u32,
}

impl core::fmt::Debug for IssuedMacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssuedMacKey").field("kid", &self.kid).field("version", &self.version).finish_non_exhaustive()
    }
}

/// Derives the MAC key of generation `version` of credential `kid`.
pub fn derive_mac_key(master_secret: &[u8], kid: &str, version: u32) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(master_secret).expect("HMAC takes any key length");
    mac.update(b"edge-acme eab mac key\0");
    mac.update(kid.as_bytes());
    mac.update(&version.to_be_bytes());
    mac.finalize().into_bytes().into()
}

fn issued(policy: &EabPolicy, rec: &CredentialRecord) -> IssuedMacKey {
    let key = derive_mac_key(&policy.master_secret.0, &rec.kid, rec.mac.version);
    IssuedMacKey {
        kid: rec.kid.clone(),
        mac_key: crate::b64::encode(&key),
        version: rec.mac.version,
        expires_at: rec.mac.created_at + policy.mac_lifetime_secs,
        max_uses: policy.mac_max_uses,
    }
}

fn check_master(policy: &EabPolicy) -> Result<(), Problem> {
    if policy.master_secret.0.len() < crate::eab::MIN_MAC_KEY_BYTES {
        return Err(Problem::server_internal("the EAB master secret is not configured (32 bytes or more)"));
    }
    Ok(())
}

/// Creates a credential with a fresh key id and its first MAC key.
pub async fn create<S: Store>(
    store: &S,
    policy: &EabPolicy,
    now: u64,
    rng: &dyn Rng,
    label: &str,
) -> Result<IssuedMacKey, Problem> {
    check_master(policy)?;
    let rec = CredentialRecord {
        kid: alloc::format!("kid-{}", crate::host::random_id(rng)),
        status: CredentialStatus::Active,
        label: label.into(),
        mac: MacKeyState { version: 1, created_at: now, uses: 0 },
        accounts: 0,
        created_at: now,
    };
    match sa::create_json(store, &CredentialRecord::key(&rec.kid), &rec).await? {
        Ok(_) => Ok(issued(policy, &rec)),
        Err(_) => Err(Problem::server_internal("key id collision; try again")),
    }
}

/// Generates a new MAC key for a credential; the previous one stops making bindings.
pub async fn rotate<S: Store>(store: &S, policy: &EabPolicy, now: u64, kid: &str) -> Result<IssuedMacKey, Problem> {
    check_master(policy)?;
    let rec = sa::update_json(store, &CredentialRecord::key(kid), |mut rec: CredentialRecord| {
        if rec.status == CredentialStatus::Revoked {
            return Err(Problem::unauthorized("the credential is revoked"));
        }
        rec.mac = MacKeyState { version: rec.mac.version + 1, created_at: now, uses: 0 };
        Ok(Change::Write(rec.clone(), rec))
    })
    .await?
    .ok_or_else(|| Problem::not_found("no such EAB credential"))?;
    Ok(issued(policy, &rec))
}

/// Revokes a credential; every account bound to it is refused from now on.
pub async fn revoke<S: Store>(store: &S, kid: &str) -> Result<CredentialRecord, Problem> {
    sa::update_json(store, &CredentialRecord::key(kid), |mut rec: CredentialRecord| {
        rec.status = CredentialStatus::Revoked;
        Ok(Change::Write(rec.clone(), rec))
    })
    .await?
    .ok_or_else(|| Problem::not_found("no such EAB credential"))
}

/// Reads a credential.
pub async fn get<S: Store>(store: &S, kid: &str) -> Result<Option<CredentialRecord>, Problem> {
    Ok(sa::get_json(store, &CredentialRecord::key(kid)).await?.map(|(r, _)| r))
}

/// Fails with `unauthorized` when the credential an account is bound to was revoked.
pub async fn ensure_not_revoked<S: Store>(store: &S, kid: &str) -> Result<(), Problem> {
    match get(store, kid).await? {
        Some(rec) if rec.status == CredentialStatus::Active => Ok(()),
        _ => Err(Problem::unauthorized("the external account credential of this account was revoked")),
    }
}

/// A successful binding: which credential and MAC key generation it used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The credential's key id (also the tenant id).
    pub kid: String,
    /// The MAC key generation used.
    pub version: u32,
}

/// Checks a binding against the credential's current MAC key and, if it is valid,
/// atomically counts one use — only while under the use and account limits.
pub async fn bind<S: Store>(store: &S, policy: &EabPolicy, now: u64, binding: &Binding) -> Result<Bound, Problem> {
    check_master(policy)?;
    let unknown = || Problem::unauthorized("unknown external account key id");
    let key = CredentialRecord::key(&binding.key_id);
    let (rec, _) = sa::get_json::<S, CredentialRecord>(store, &key).await?.ok_or_else(unknown)?;
    if rec.status == CredentialStatus::Revoked {
        return Err(Problem::unauthorized("the external account credential is revoked"));
    }
    let mac_key = derive_mac_key(&policy.master_secret.0, &rec.kid, rec.mac.version);
    binding.verify(&mac_key)?;
    let version = rec.mac.version;
    let bound = sa::update_json(store, &key, |mut rec: CredentialRecord| {
        if rec.status == CredentialStatus::Revoked {
            return Err(Problem::unauthorized("the external account credential is revoked"));
        }
        if rec.mac.version != version {
            return Err(Problem::unauthorized("the MAC key was replaced by a newer one; use the new MAC key"));
        }
        if now >= rec.mac.created_at.saturating_add(policy.mac_lifetime_secs) {
            return Err(Problem::unauthorized("the MAC key has expired; generate a new MAC key for this credential"));
        }
        if rec.mac.uses >= policy.mac_max_uses {
            return Err(Problem::unauthorized(alloc::format!(
                "the MAC key was used the maximum of {} times; generate a new MAC key",
                policy.mac_max_uses
            )));
        }
        if let Some(max) = policy.max_accounts_per_credential {
            if rec.accounts >= max {
                return Err(Problem::rate_limited(alloc::format!(
                    "this credential already has the maximum of {max} accounts"
                )));
            }
        }
        rec.mac.uses += 1;
        rec.accounts += 1;
        Ok(Change::Write(rec, Bound { kid: binding.key_id.clone(), version }))
    })
    .await?;
    bound.ok_or_else(unknown)
}

/// Gives back a use counted by [`bind`] when no account was created after all (the key
/// turned out to have an account already), so the count equals the bound accounts.
pub async fn refund<S: Store>(store: &S, bound: &Bound) -> Result<(), Problem> {
    sa::update_json(store, &CredentialRecord::key(&bound.kid), |mut rec: CredentialRecord| {
        if rec.mac.version == bound.version {
            rec.mac.uses = rec.mac.uses.saturating_sub(1);
        }
        rec.accounts = rec.accounts.saturating_sub(1);
        Ok(Change::Write(rec, ()))
    })
    .await?;
    Ok(())
}

/// Records that `account` is bound to tenant `tenant` (for the admin listing).
pub async fn add_tenant_account<S: Store>(store: &S, tenant: &str, account: &str) -> Result<(), Problem> {
    let key = TenantAccountsRecord::key(tenant);
    loop {
        let updated = sa::update_json(store, &key, |mut rec: TenantAccountsRecord| {
            rec.ids.push(account.into());
            Ok(Change::Write(rec, ()))
        })
        .await?;
        if updated.is_some() {
            return Ok(());
        }
        let first = TenantAccountsRecord { ids: alloc::vec![account.into()] };
        if sa::create_json(store, &key, &first).await?.is_ok() {
            return Ok(());
        }
    }
}

/// The accounts bound to a tenant.
pub async fn tenant_accounts<S: Store>(store: &S, tenant: &str) -> Result<alloc::vec::Vec<String>, Problem> {
    Ok(sa::get_json::<S, TenantAccountsRecord>(store, &TenantAccountsRecord::key(tenant))
        .await?
        .map(|(r, _)| r.ids)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_mac_keys_differ_by_kid_version_and_secret() {
        let a = derive_mac_key(&[7; 32], "kid-a", 1);
        assert_ne!(a, derive_mac_key(&[7; 32], "kid-a", 2));
        assert_ne!(a, derive_mac_key(&[7; 32], "kid-b", 1));
        assert_ne!(a, derive_mac_key(&[8; 32], "kid-a", 1));
        assert_eq!(a, derive_mac_key(&[7; 32], "kid-a", 1));
    }
}
