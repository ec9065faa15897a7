//! An in-memory [`Store`] for tests and for hosts without persistence.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{Entry, Key, Precondition, Store, Write};
use crate::problem::Problem;

/// A `BTreeMap` behind a `RefCell`: single-threaded, like a wasm host.
#[derive(Default)]
pub struct MemoryStore {
    map: RefCell<BTreeMap<Key, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored keys (for tests).
    pub fn len(&self) -> usize {
        self.map.borrow().len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.borrow().is_empty()
    }

    /// All keys whose name starts with `prefix` (for tests and admin listings).
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<Key> {
        self.map.borrow().keys().filter(|k| k.name.starts_with(prefix)).cloned().collect()
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, Problem> {
        Ok(self.map.borrow().get(key).cloned())
    }

    async fn put(&self, key: &Key, value: Vec<u8>, pre: Precondition) -> Result<Write, Problem> {
        let mut map = self.map.borrow_mut();
        let current = map.get(key);
        let ok = match (pre, current) {
            (Precondition::Absent, None) => true,
            (Precondition::Version(v), Some(e)) => e.version == v,
            _ => false,
        };
        if !ok {
            return Ok(Write::Conflict(current.cloned()));
        }
        let version = current.map_or(1, |e| e.version + 1);
        map.insert(key.clone(), Entry { value, version });
        Ok(Write::Done(version))
    }

    async fn delete(&self, key: &Key, version: u64) -> Result<bool, Problem> {
        let mut map = self.map.borrow_mut();
        if map.get(key).is_some_and(|e| e.version == version) {
            map.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn count_up(&self, key: &Key, limit: u64) -> Result<Option<u64>, Problem> {
        let n = self.count(key).await?;
        if n >= limit {
            return Ok(None);
        }
        self.set_count(key, n + 1);
        Ok(Some(n + 1))
    }

    async fn count_down(&self, key: &Key) -> Result<(), Problem> {
        let n = self.count(key).await?;
        self.set_count(key, n.saturating_sub(1));
        Ok(())
    }

    async fn count(&self, key: &Key) -> Result<u64, Problem> {
        let map = self.map.borrow();
        Ok(map.get(key).and_then(|e| core::str::from_utf8(&e.value).ok()?.parse().ok()).unwrap_or(0))
    }
}

impl MemoryStore {
    fn set_count(&self, key: &Key, n: u64) {
        let mut map = self.map.borrow_mut();
        let version = map.get(key).map_or(1, |e| e.version + 1);
        map.insert(key.clone(), Entry { value: n.to_string().into_bytes(), version });
    }
}
