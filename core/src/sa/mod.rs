//! Storage authority: the one storage trait the host implements, and the typed
//! records the engine keeps in it.
//!
//! The host provides a versioned key-value store with compare-and-set per key
//! ([`Store`]). Every atomic operation the protocol needs — create an account only if
//! its key is new, move an order from `ready` to `processing` exactly once — is a read
//! followed by a conditional write here, retried on conflict. Counters that many
//! requests hit at once (the uses of an EAB key) have their own indivisible operation,
//! [`Store::count_up`], so contention never turns into retries. Keys carry a [`Partition`], which tells the host
//! what must be strongly consistent together: the Worker maps each partition to one
//! Durable Object, the in-memory store ignores it.

mod memory;
pub mod records;

pub use memory::MemoryStore;

use alloc::string::String;
use alloc::vec::Vec;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::Problem;

/// Which group of keys a key belongs to; a host keeps each group strongly consistent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    /// Account-key thumbprint → account id.
    KeyIndex,
    /// One account: the account, its orders, authorizations and orders list.
    Account(String),
    /// One tenant: its EAB credential state and its domain claims.
    Tenant(String),
    /// Certificate metadata and revocation status, sharded by serial.
    Certificates(u32),
    /// Write-once blobs under unique names (certificate chains, CRLs): a host may keep
    /// these in an eventually consistent store such as Workers KV.
    Immutable,
    /// CA-wide state (CRL numbers, the CA's own records).
    Ca,
}

impl Partition {
    /// A stable name for routing (e.g. a Durable Object name).
    pub fn object_name(&self) -> String {
        match self {
            Partition::KeyIndex => "keys".into(),
            Partition::Account(id) => alloc::format!("acct:{id}"),
            Partition::Tenant(id) => alloc::format!("tenant:{id}"),
            Partition::Certificates(n) => alloc::format!("certs:{n}"),
            Partition::Immutable => "blobs".into(),
            Partition::Ca => "ca".into(),
        }
    }
}

/// A storage key: a partition and a name inside it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The consistency group.
    pub partition: Partition,
    /// The record's name inside the partition.
    pub name: String,
}

impl Key {
    /// Builds a key.
    pub fn new(partition: Partition, name: impl Into<String>) -> Self {
        Key { partition, name: name.into() }
    }
}

/// A stored value with its version (incremented on every write; first write is 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The serialized record.
    pub value: Vec<u8>,
    /// The version to pass back in [`Precondition::Version`].
    pub version: u64,
}

/// When a write may happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Only if the key has no value.
    Absent,
    /// Only if the key's current version is this one.
    Version(u64),
}

/// The result of a conditional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Written; the new version.
    Done(u64),
    /// The precondition failed; the current entry, if any.
    Conflict(Option<Entry>),
}

/// The storage the host provides: per-key compare-and-set, strongly consistent
/// within a [`Partition`]. Errors are infrastructure failures (mapped to
/// `serverInternal` by the caller); conflicts are not errors.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Reads a key.
    async fn get(&self, key: &Key) -> Result<Option<Entry>, Problem>;
    /// Writes a key if `pre` holds.
    async fn put(&self, key: &Key, value: Vec<u8>, pre: Precondition) -> Result<Write, Problem>;
    /// Deletes a key if its version is `version`; true if deleted.
    async fn delete(&self, key: &Key, version: u64) -> Result<bool, Problem>;
    /// Atomically adds one to the counter `key` (a missing counter is 0) if it is
    /// below `limit`; the new value, or `None` when the counter is at the limit. One
    /// indivisible operation in the host, so contention never costs retries.
    async fn count_up(&self, key: &Key, limit: u64) -> Result<Option<u64>, Problem>;
    /// Atomically takes one from the counter `key` (never below 0).
    async fn count_down(&self, key: &Key) -> Result<(), Problem>;
    /// The counter's current value (0 when missing).
    async fn count(&self, key: &Key) -> Result<u64, Problem>;
}

/// How often a read-modify-write loop retries before giving up with `serverInternal`.
const MAX_CAS_ATTEMPTS: usize = 64;

fn decode<T: DeserializeOwned>(key: &Key, bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|_| Problem::server_internal(alloc::format!("stored record {:?} is unreadable", key.name)))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialize")
}

/// Reads and decodes a record with its version.
pub async fn get_json<S: Store, T: DeserializeOwned>(store: &S, key: &Key) -> Result<Option<(T, u64)>, Problem> {
    match store.get(key).await? {
        Some(e) => Ok(Some((decode(key, &e.value)?, e.version))),
        None => Ok(None),
    }
}

/// Creates a record only if the key is empty; returns the existing record otherwise.
pub async fn create_json<S: Store, T: Serialize + DeserializeOwned>(
    store: &S,
    key: &Key,
    value: &T,
) -> Result<Result<u64, T>, Problem> {
    match store.put(key, encode(value), Precondition::Absent).await? {
        Write::Done(v) => Ok(Ok(v)),
        Write::Conflict(Some(e)) => Ok(Err(decode(key, &e.value)?)),
        Write::Conflict(None) => Err(Problem::server_internal("store reported a conflict on an empty key")),
    }
}

/// The record at `key`, made by `make` and stored first if there is none. When two
/// callers race, the first write wins and the other gets the winner's record.
pub async fn get_or_create_json<S: Store, T: Serialize + DeserializeOwned>(
    store: &S,
    key: &Key,
    make: impl FnOnce() -> Result<T, Problem>,
) -> Result<T, Problem> {
    if let Some((existing, _)) = get_json(store, key).await? {
        return Ok(existing);
    }
    let fresh = make()?;
    Ok(match create_json(store, key, &fresh).await? {
        Ok(_) => fresh,
        Err(winner) => winner,
    })
}

/// What an [`update_json`] closure decided.
pub enum Change<T, R> {
    /// Write this new value and return `R`.
    Write(T, R),
    /// Leave the record unchanged and return `R`.
    Keep(R),
}

/// Atomically transforms an existing record: reads it, applies `f`, and writes the
/// result with compare-and-set, retrying from a fresh read on conflict. `f` may run
/// several times, so it must not have side effects. A missing record gives `Ok(None)`.
pub async fn update_json<S, T, R, F>(store: &S, key: &Key, mut f: F) -> Result<Option<R>, Problem>
where
    S: Store,
    T: Serialize + DeserializeOwned,
    F: FnMut(T) -> Result<Change<T, R>, Problem>,
{
    for _ in 0..MAX_CAS_ATTEMPTS {
        let Some((current, version)) = get_json::<S, T>(store, key).await? else {
            return Ok(None);
        };
        match f(current)? {
            Change::Keep(r) => return Ok(Some(r)),
            Change::Write(next, r) => match store.put(key, encode(&next), Precondition::Version(version)).await? {
                Write::Done(_) => return Ok(Some(r)),
                Write::Conflict(_) => continue,
            },
        }
    }
    Err(Problem::server_internal("too much contention on one record; try again").with_status(503))
}

/// Writes a record unconditionally-by-retry (last writer wins) — for records that have
/// a single writer by construction.
pub async fn put_json<S: Store, T: Serialize>(store: &S, key: &Key, value: &T) -> Result<(), Problem> {
    let bytes = encode(value);
    for _ in 0..MAX_CAS_ATTEMPTS {
        let pre = match store.get(key).await? {
            Some(e) => Precondition::Version(e.version),
            None => Precondition::Absent,
        };
        if let Write::Done(_) = store.put(key, bytes.clone(), pre).await? {
            return Ok(());
        }
    }
    Err(Problem::server_internal("too much contention on one record; try again").with_status(503))
}
