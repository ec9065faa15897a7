//! What the host provides besides storage: time and randomness.
//!
//! The engine never reads a clock or an entropy source itself; it asks these traits,
//! so tests can fix time and randomness and the Worker can use `Date.now()` and
//! `crypto.getRandomValues`.

/// Seconds since the Unix epoch, as the host sees them.
pub trait Clock {
    /// The current time in whole seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// A cryptographically secure random source.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// Draws `N` random bytes from `rng`.
pub fn random_bytes<const N: usize>(rng: &dyn Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill(&mut b);
    b
}

/// Draws 16 random bytes and renders them as a base64url identifier (22 characters).
pub fn random_id(rng: &dyn Rng) -> alloc::string::String {
    crate::b64::encode(&random_bytes::<16>(rng))
}

#[cfg(any(test, feature = "testing"))]
pub mod testing {
    //! Deterministic clock and randomness for tests.
    use core::cell::Cell;

    /// A clock that only moves when told to.
    pub struct FixedClock(pub Cell<u64>);

    impl FixedClock {
        /// A clock at `t`.
        pub fn at(t: u64) -> Self {
            FixedClock(Cell::new(t))
        }
        /// Moves the clock forward by `secs`.
        pub fn advance(&self, secs: u64) {
            self.0.set(self.0.get() + secs);
        }
    }

    impl super::Clock for FixedClock {
        fn now(&self) -> u64 {
            self.0.get()
        }
    }

    /// A seeded xorshift generator: reproducible, NOT secure, tests only.
    pub struct SeededRng(pub Cell<u64>);

    impl SeededRng {
        /// A generator with the given non-zero seed.
        pub fn new(seed: u64) -> Self {
            SeededRng(Cell::new(seed | 1))
        }
        /// The next 64-bit value.
        pub fn next_u64(&self) -> u64 {
            let mut x = self.0.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0.set(x);
            x
        }
    }

    impl super::Rng for SeededRng {
        fn fill(&self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
    }
}
