//! Accounts and their keys: creation that is atomic per key, updates, deactivation and
//! key rollover. The key index (thumbprint → account id) is what makes "one account
//! per key" hold under concurrency: it is only ever written create-if-absent.

use alloc::string::String;

use crate::jose::Jwk;
use crate::problem::Problem;
use crate::sa::records::{AccountRecord, KeyIndexRecord};
use crate::sa::{self, Change, Store};
use crate::wire::AccountStatus;

/// Reads an account.
pub async fn load<S: Store>(store: &S, id: &str) -> Result<Option<AccountRecord>, Problem> {
    Ok(sa::get_json(store, &AccountRecord::key(id)).await?.map(|(r, _)| r))
}

/// The account holding a key, by the key's RFC 7638 thumbprint.
pub async fn find_by_thumbprint<S: Store>(store: &S, thumbprint: &str) -> Result<Option<AccountRecord>, Problem> {
    match sa::get_json::<S, KeyIndexRecord>(store, &KeyIndexRecord::key(thumbprint)).await? {
        Some((idx, _)) => load(store, &idx.account).await,
        None => Ok(None),
    }
}

/// The outcome of [`create`].
#[derive(Debug)]
pub enum Created {
    /// A new account was stored.
    New(AccountRecord),
    /// The key already had this account; nothing was stored.
    Existing(AccountRecord),
}

/// Stores a new account unless its key already has one. The account record is
/// written first and the key index entry second (create-if-absent), so an index entry
/// always points at a complete account; the loser of a race removes its record.
pub async fn create<S: Store>(store: &S, rec: AccountRecord) -> Result<Created, Problem> {
    let key = AccountRecord::key(&rec.id);
    let version = match sa::create_json(store, &key, &rec).await? {
        Ok(v) => v,
        Err(_) => return Err(Problem::server_internal("account id collision; try again")),
    };
    let idx = KeyIndexRecord { account: rec.id.clone() };
    match sa::create_json(store, &KeyIndexRecord::key(&rec.thumbprint), &idx).await? {
        Ok(_) => Ok(Created::New(rec)),
        Err(existing) => {
            store.delete(&key, version).await?;
            let acct = load(store, &existing.account)
                .await?
                .ok_or_else(|| Problem::server_internal("key index names a missing account"))?;
            Ok(Created::Existing(acct))
        }
    }
}

/// Applies `f` to an account atomically and returns the stored result.
pub async fn update<S, F>(store: &S, id: &str, mut f: F) -> Result<AccountRecord, Problem>
where
    S: Store,
    F: FnMut(&mut AccountRecord) -> Result<(), Problem>,
{
    sa::update_json(store, &AccountRecord::key(id), |mut rec: AccountRecord| {
        if rec.status != AccountStatus::Valid {
            return Err(Problem::unauthorized("the account is not valid"));
        }
        f(&mut rec)?;
        Ok(Change::Write(rec.clone(), rec))
    })
    .await?
    .ok_or_else(|| Problem::account_does_not_exist("no such account"))
}

/// Why a key change was refused.
pub enum KeyChangeError {
    /// The new key already belongs to this account (RFC 8555 §7.3.5: 409 + Location).
    KeyInUse(String),
    /// Any other problem.
    Problem(Problem),
}

impl From<Problem> for KeyChangeError {
    fn from(p: Problem) -> Self {
        KeyChangeError::Problem(p)
    }
}

/// Moves an account from its current key to `new_key`. The new index entry is claimed
/// first (so two accounts can never race to the same key), then the account is
/// switched only if its key is still `old_thumbprint`, then the old entry is removed.
pub async fn change_key<S: Store>(
    store: &S,
    account_id: &str,
    old_thumbprint: &str,
    new_key: &Jwk,
) -> Result<AccountRecord, KeyChangeError> {
    let new_tp = new_key.thumbprint();
    let idx = KeyIndexRecord { account: account_id.into() };
    let new_idx_key = KeyIndexRecord::key(&new_tp);
    let idx_version = match sa::create_json(store, &new_idx_key, &idx).await? {
        Ok(v) => v,
        Err(other) => return Err(KeyChangeError::KeyInUse(other.account)),
    };
    let switched = update(store, account_id, |rec| {
        if rec.thumbprint != old_thumbprint {
            return Err(Problem::malformed("the account key changed while this request was processed"));
        }
        rec.jwk = new_key.to_value();
        rec.thumbprint = new_tp.clone();
        Ok(())
    })
    .await;
    match switched {
        Ok(rec) => {
            if let Some(e) = store.get(&KeyIndexRecord::key(old_thumbprint)).await? {
                store.delete(&KeyIndexRecord::key(old_thumbprint), e.version).await?;
            }
            Ok(rec)
        }
        Err(p) => {
            store.delete(&new_idx_key, idx_version).await?;
            Err(p.into())
        }
    }
}
