//! Anti-replay nonces (RFC 8555 §6.5): the trait the host implements and an in-memory
//! implementation.
//!
//! A nonce is issued into every response and may be redeemed exactly once. The host
//! decides where nonces live (the Worker shards them over Durable Objects and puts the
//! shard's name inside the nonce, so redeeming goes straight to the issuing shard).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use core::cell::RefCell;

use crate::host::{Clock, Rng};
use crate::problem::Problem;

/// Issues and redeems single-use nonces.
#[allow(async_fn_in_trait)]
pub trait Nonces {
    /// A fresh nonce, never issued before.
    async fn issue(&self) -> Result<String, Problem>;
    /// Consumes `nonce`; true only the first time a nonce this store issued is redeemed
    /// (and while it has not expired).
    async fn redeem(&self, nonce: &str) -> Result<bool, Problem>;
}

/// How many outstanding nonces [`MemoryNonces`] keeps before forgetting the oldest.
pub const MEMORY_NONCE_CAPACITY: usize = 100_000;

/// Nonce lifetime in seconds; long enough that a client's previous nonce is never
/// stale in practice.
pub const NONCE_LIFETIME_SECS: u64 = 3600;

/// Nonces in memory: 128 random bits each, bounded in number and age.
pub struct MemoryNonces<'a> {
    rng: &'a dyn Rng,
    clock: &'a dyn Clock,
    issued: RefCell<BTreeMap<String, u64>>,
    order: RefCell<VecDeque<String>>,
}

impl<'a> MemoryNonces<'a> {
    /// A nonce store drawing randomness from `rng`.
    pub fn new(rng: &'a dyn Rng, clock: &'a dyn Clock) -> Self {
        MemoryNonces { rng, clock, issued: RefCell::default(), order: RefCell::default() }
    }
}

impl Nonces for MemoryNonces<'_> {
    async fn issue(&self) -> Result<String, Problem> {
        let nonce = crate::host::random_id(self.rng);
        let mut order = self.order.borrow_mut();
        let mut issued = self.issued.borrow_mut();
        if order.len() >= MEMORY_NONCE_CAPACITY {
            if let Some(old) = order.pop_front() {
                issued.remove(&old);
            }
        }
        issued.insert(nonce.clone(), self.clock.now());
        order.push_back(nonce.clone());
        Ok(nonce)
    }

    async fn redeem(&self, nonce: &str) -> Result<bool, Problem> {
        match self.issued.borrow_mut().remove(nonce) {
            Some(t) => Ok(self.clock.now().saturating_sub(t) <= NONCE_LIFETIME_SECS),
            None => Ok(false),
        }
    }
}
