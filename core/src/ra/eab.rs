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
use crate::sa::records::{CredentialRecord, CredentialStatus, MacKeyState, TenantAccountRecord};
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
        mac: MacKeyState { version: 1, created_at: now },
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
        rec.mac = MacKeyState { version: rec.mac.version + 1, created_at: now };
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
/// counts one use — only while under the use and account limits. Each count is one
/// indivisible store operation, exact under any concurrency.
pub async fn bind<S: Store>(store: &S, policy: &EabPolicy, now: u64, binding: &Binding) -> Result<Bound, Problem> {
    check_master(policy)?;
    let unknown = || Problem::unauthorized("unknown external account key id");
    let (rec, _) = sa::get_json::<S, CredentialRecord>(store, &CredentialRecord::key(&binding.key_id))
        .await?
        .ok_or_else(unknown)?;
    if rec.status == CredentialStatus::Revoked {
        return Err(Problem::unauthorized("the external account credential is revoked"));
    }
    let mac_key = derive_mac_key(&policy.master_secret.0, &rec.kid, rec.mac.version);
    binding.verify(&mac_key)?;
    if now >= rec.mac.created_at.saturating_add(policy.mac_lifetime_secs) {
        return Err(Problem::unauthorized("the MAC key has expired; generate a new MAC key for this credential"));
    }
    let version = rec.mac.version;
    let uses = CredentialRecord::uses_key(&rec.kid, version);
    if store.count_up(&uses, u64::from(policy.mac_max_uses)).await?.is_none() {
        return Err(Problem::unauthorized(alloc::format!(
            "the MAC key was used the maximum of {} times; generate a new MAC key",
            policy.mac_max_uses
        )));
    }
    let max_accounts = policy.max_accounts_per_credential.map_or(u64::MAX, u64::from);
    if store.count_up(&CredentialRecord::accounts_key(&rec.kid), max_accounts).await?.is_none() {
        store.count_down(&uses).await?;
        return Err(Problem::rate_limited(alloc::format!(
            "this credential already has the maximum of {max_accounts} accounts"
        )));
    }
    Ok(Bound { kid: rec.kid, version })
}

/// Gives back a use counted by [`bind`] when no account was created after all (the key
/// turned out to have an account already), so the counts equal the bound accounts.
pub async fn refund<S: Store>(store: &S, bound: &Bound) -> Result<(), Problem> {
    store.count_down(&CredentialRecord::uses_key(&bound.kid, bound.version)).await?;
    store.count_down(&CredentialRecord::accounts_key(&bound.kid)).await
}

/// Uses of the current MAC key and accounts bound over all keys.
pub async fn usage<S: Store>(store: &S, rec: &CredentialRecord) -> Result<(u64, u64), Problem> {
    let uses = store.count(&CredentialRecord::uses_key(&rec.kid, rec.mac.version)).await?;
    Ok((uses, store.count(&CredentialRecord::accounts_key(&rec.kid)).await?))
}

/// Records that `account` belongs to tenant `tenant` (for the admin listing), in a
/// slot of its own.
pub async fn add_tenant_account<S: Store>(store: &S, tenant: &str, account: &str) -> Result<(), Problem> {
    let slot = store
        .count_up(&TenantAccountRecord::slots_key(tenant), u64::MAX)
        .await?
        .ok_or_else(|| Problem::server_internal("tenant account slots exhausted"))?;
    let rec = TenantAccountRecord { account: account.into() };
    sa::create_json(store, &TenantAccountRecord::key(tenant, slot), &rec)
        .await?
        .map_err(|_| Problem::server_internal("tenant account slot taken twice"))?;
    Ok(())
}

/// The accounts bound to a tenant, in binding order.
pub async fn tenant_accounts<S: Store>(store: &S, tenant: &str) -> Result<alloc::vec::Vec<String>, Problem> {
    let slots = store.count(&TenantAccountRecord::slots_key(tenant)).await?;
    let mut ids = alloc::vec::Vec::new();
    for n in 1..=slots {
        if let Some((rec, _)) =
            sa::get_json::<S, TenantAccountRecord>(store, &TenantAccountRecord::key(tenant, n)).await?
        {
            ids.push(rec.account);
        }
    }
    Ok(ids)
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
