//! Anti-replay nonces (RFC 8555 §6.5): the trait the engine uses, an in-memory store,
//! and signed nonces.
//!
//! A nonce is issued into every response and may be redeemed exactly once. The Worker
//! uses [`SignedNonces`]: issuing costs no storage (the nonce authenticates itself), and
//! only a redemption records it, in the one Durable Object shard a hash of the nonce
//! picks.

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

/// Where redeemed [`SignedNonces`] are remembered until they expire: the only state
/// signed nonces need, and only when one is used.
#[allow(async_fn_in_trait)]
pub trait SpentNonces {
    /// Records `id` (unique per nonce) as spent; true only the first time. `issued` is
    /// the nonce's issue time: entries older than [`NONCE_LIFETIME_SECS`] may be dropped.
    async fn spend(&self, id: &str, issued: u64) -> Result<bool, Problem>;
}

impl<T: SpentNonces> SpentNonces for &T {
    async fn spend(&self, id: &str, issued: u64) -> Result<bool, Problem> {
        (**self).spend(id, issued).await
    }
}

/// Length of a signed nonce in bytes: version, issue time (5), random (8), tag (10).
/// A multiple of three, so the base64url form is canonical without padding (32 chars).
const SIGNED_NONCE_LEN: usize = 24;
const SIGNED_NONCE_VERSION: u8 = 1;
const SIGNED_NONCE_TAG: usize = 10;

/// Nonces that cost nothing to issue: each carries its issue time and 64 random bits,
/// authenticated with HMAC-SHA256 under a key of the deployment, so any instance can
/// tell a nonce this service issued from a forgery without storage. Redeeming checks
/// the tag (in constant time) and the age, then spends the nonce in a [`SpentNonces`]
/// store, which answers "first use" exactly once. A nonce is never refused for being
/// issued by another instance, and fresh nonces are never refused at all.
pub struct SignedNonces<'a, U> {
    key: [u8; 32],
    rng: &'a dyn Rng,
    clock: &'a dyn Clock,
    spent: U,
}

impl<'a, U: SpentNonces> SignedNonces<'a, U> {
    /// Signed nonces under `key` (32 secret bytes shared by every instance).
    pub fn new(key: [u8; 32], rng: &'a dyn Rng, clock: &'a dyn Clock, spent: U) -> Self {
        SignedNonces { key, rng, clock, spent }
    }

    fn tag(&self, body: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"edge-acme nonce v1");
        mac.update(body);
        mac
    }

    /// The issue time and spend id of a nonce this service issued, if the tag is right.
    fn open(&self, nonce: &str) -> Option<(u64, String)> {
        use hmac::Mac;
        let raw = crate::b64::decode(nonce).ok()?;
        if raw.len() != SIGNED_NONCE_LEN || raw[0] != SIGNED_NONCE_VERSION {
            return None;
        }
        let (body, tag) = raw.split_at(SIGNED_NONCE_LEN - SIGNED_NONCE_TAG);
        self.tag(body).verify_truncated_left(tag).ok()?;
        let issued = body[1..6].iter().fold(0u64, |t, b| (t << 8) | u64::from(*b));
        Some((issued, crate::b64::encode(&body[1..])))
    }
}

impl<U: SpentNonces> Nonces for SignedNonces<'_, U> {
    async fn issue(&self) -> Result<String, Problem> {
        use hmac::Mac;
        let mut raw = [0u8; SIGNED_NONCE_LEN];
        raw[0] = SIGNED_NONCE_VERSION;
        let now = self.clock.now();
        for (i, b) in raw[1..6].iter_mut().enumerate() {
            *b = (now >> (8 * (4 - i))) as u8;
        }
        self.rng.fill(&mut raw[6..14]);
        let tag = self.tag(&raw[..14]).finalize().into_bytes();
        raw[14..].copy_from_slice(&tag[..SIGNED_NONCE_TAG]);
        Ok(crate::b64::encode(&raw))
    }

    async fn redeem(&self, nonce: &str) -> Result<bool, Problem> {
        let Some((issued, id)) = self.open(nonce) else { return Ok(false) };
        let now = self.clock.now();
        // A little slack for instances whose clocks differ.
        if issued > now + 60 || now.saturating_sub(issued) > NONCE_LIFETIME_SECS {
            return Ok(false);
        }
        self.spent.spend(&id, issued).await
    }
}

/// A [`SpentNonces`] store in memory (tests and single-process hosts).
#[derive(Default)]
pub struct MemorySpent(RefCell<BTreeMap<String, u64>>);

impl SpentNonces for MemorySpent {
    async fn spend(&self, id: &str, issued: u64) -> Result<bool, Problem> {
        let mut spent = self.0.borrow_mut();
        let newest = spent.values().copied().max().unwrap_or(issued).max(issued);
        spent.retain(|_, t| newest.saturating_sub(*t) <= NONCE_LIFETIME_SECS);
        Ok(spent.insert(id.into(), issued).is_none())
    }
}

#[cfg(test)]
mod signed_tests {
    use super::*;
    use crate::host::testing::{FixedClock, SeededRng};

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        crate::testkit::block_on(f)
    }

    #[test]
    fn a_signed_nonce_is_redeemed_once_by_any_instance_and_forgeries_never() {
        let clock = FixedClock(core::cell::Cell::new(1_800_000_000));
        let (rng_a, rng_b) = (SeededRng::new(1), SeededRng::new(2));
        let spent = MemorySpent::default();
        let a = SignedNonces::new([7; 32], &rng_a, &clock, &spent);
        let b = SignedNonces::new([7; 32], &rng_b, &clock, &spent);
        let n = block_on(a.issue()).unwrap();
        assert_eq!(n.len(), 32);
        assert!(crate::b64::decode(&n).is_ok(), "canonical base64url");
        assert_ne!(n, block_on(a.issue()).unwrap());
        assert!(block_on(b.redeem(&n)).unwrap(), "another instance accepts it");
        assert!(!block_on(a.redeem(&n)).unwrap(), "but only once");
        // Another key, a flipped bit, a truncation, garbage: refused.
        let other = SignedNonces::new([8; 32], &rng_a, &clock, MemorySpent::default());
        assert!(!block_on(other.redeem(&block_on(a.issue()).unwrap())).unwrap());
        let mut raw = crate::b64::decode(&block_on(a.issue()).unwrap()).unwrap();
        raw[8] ^= 1;
        assert!(!block_on(a.redeem(&crate::b64::encode(&raw))).unwrap());
        let fresh = block_on(a.issue()).unwrap();
        assert!(!block_on(a.redeem(&fresh[..30])).unwrap());
        assert!(!block_on(a.redeem("not a nonce")).unwrap());
        assert!(block_on(a.redeem(&fresh)).unwrap(), "the untouched nonce still works");
    }

    #[test]
    fn signed_nonces_expire_after_their_lifetime() {
        let clock = FixedClock(core::cell::Cell::new(1_800_000_000));
        let rng = SeededRng::new(3);
        let nonces = SignedNonces::new([1; 32], &rng, &clock, MemorySpent::default());
        let old = block_on(nonces.issue()).unwrap();
        let fine = block_on(nonces.issue()).unwrap();
        clock.advance(NONCE_LIFETIME_SECS);
        assert!(block_on(nonces.redeem(&fine)).unwrap(), "still within its lifetime");
        clock.advance(1);
        assert!(!block_on(nonces.redeem(&old)).unwrap(), "expired");
    }
}
