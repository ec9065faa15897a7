//! Test doubles for running the whole server in-process: a fixed clock, seeded
//! randomness, in-memory storage, a tiny executor that can interleave many requests in
//! a seeded random order, and a test client built on this crate's own JWS signing.
//!
//! Only compiled for tests or with the `testing` feature.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::ca::local::LocalCa;
use crate::config::Config;
use crate::host::testing::{FixedClock, SeededRng};
use crate::jose::{sign_flattened, SignerRef, SigningKey};
use crate::nonce::{MemoryNonces, Nonces};
use crate::problem::Problem;
use crate::sa::{Entry, Key, MemoryStore, Precondition, Store, Write};
use crate::va::testing::FakeVa;
use crate::va::{CaaRecord, HttpResponse, TransportError, Va};
use crate::wfe::{paths, Engine, Request, Response};

/// Runs a future to completion on the current thread (all test futures are ready or
/// yield and wake themselves).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A future that is pending once, then ready: a point where other tasks may run.
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// Yields once to the executor.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// A boxed task for [`run_interleaved`].
pub type Task<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Polls `tasks` in an order drawn from `seed` until all finish; results keep the
/// tasks' order. With [`YieldingStore`] every storage call is a switch point, so a
/// seed is one interleaving of all the requests' storage operations.
pub fn run_interleaved<T>(tasks: Vec<Task<'_, T>>, seed: u64) -> Vec<T> {
    let rng = SeededRng::new(seed);
    let mut tasks: Vec<Option<Task<'_, T>>> = tasks.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = tasks.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    let mut left = tasks.len();
    while left > 0 {
        let live: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].is_some()).collect();
        let i = live[(rng.next_u64() % live.len() as u64) as usize];
        if let Poll::Ready(v) = tasks[i].as_mut().expect("live").as_mut().poll(&mut cx) {
            out[i] = Some(v);
            tasks[i] = None;
            left -= 1;
        }
    }
    out.into_iter().map(|v| v.expect("finished")).collect()
}

/// Wraps a store so that every operation first yields to the executor.
pub struct YieldingStore<S>(pub S);

impl<S: Store> Store for YieldingStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, Problem> {
        yield_now().await;
        self.0.get(key).await
    }
    async fn put(&self, key: &Key, value: Vec<u8>, pre: Precondition) -> Result<Write, Problem> {
        yield_now().await;
        self.0.put(key, value, pre).await
    }
    async fn delete(&self, key: &Key, version: u64) -> Result<bool, Problem> {
        yield_now().await;
        self.0.delete(key, version).await
    }
    async fn count_up(&self, key: &Key, limit: u64) -> Result<Option<u64>, Problem> {
        yield_now().await;
        self.0.count_up(key, limit).await
    }
    async fn count_down(&self, key: &Key) -> Result<(), Problem> {
        yield_now().await;
        self.0.count_down(key).await
    }
    async fn count(&self, key: &Key) -> Result<u64, Problem> {
        yield_now().await;
        self.0.count(key).await
    }
}

/// Wraps a nonce store so that every operation first yields to the executor.
pub struct YieldingNonces<N>(pub N);

impl<N: Nonces> Nonces for YieldingNonces<N> {
    async fn issue(&self) -> Result<String, Problem> {
        yield_now().await;
        self.0.issue().await
    }
    async fn redeem(&self, nonce: &str) -> Result<bool, Problem> {
        yield_now().await;
        self.0.redeem(nonce).await
    }
}

/// A [`FakeVa`] that tests can change while clients hold the server.
#[derive(Default)]
pub struct SharedVa(pub RefCell<FakeVa>);

impl SharedVa {
    /// Replaces the fake with `f(fake)` (FakeVa's builders take it by value).
    pub fn set(&self, f: impl FnOnce(FakeVa) -> FakeVa) {
        let v = self.0.take();
        self.0.replace(f(v));
    }
}

#[allow(clippy::await_holding_refcell_ref)]
impl Va for SharedVa {
    async fn http_get(&self, url: &str, max_body: usize) -> Result<HttpResponse, TransportError> {
        let va = self.0.borrow();
        va.http_get(url, max_body).await
    }
    async fn txt_lookup(&self, name: &str) -> Result<Vec<String>, TransportError> {
        let va = self.0.borrow();
        va.txt_lookup(name).await
    }
    async fn caa_lookup(&self, name: &str) -> Result<Vec<CaaRecord>, TransportError> {
        let va = self.0.borrow();
        va.caa_lookup(name).await
    }
}

/// The base URL test servers use.
pub const BASE: &str = "https://ca.test";

/// The engine type of [`TestCa`].
pub type TestEngine<'a> =
    Engine<'a, YieldingStore<MemoryStore>, YieldingNonces<MemoryNonces<'static>>, SharedVa, LocalCa>;

/// A whole server in memory. Clock and randomness are leaked so the nonce store can
/// borrow them for `'static` (a few bytes per test).
pub struct TestCa {
    /// Configuration; tests change it before sending requests.
    pub config: Config,
    /// Storage (every operation yields, so interleaving tests can reuse it).
    pub store: YieldingStore<MemoryStore>,
    /// Nonces.
    pub nonces: YieldingNonces<MemoryNonces<'static>>,
    /// The clock.
    pub clock: &'static FixedClock,
    /// Randomness.
    pub rng: &'static SeededRng,
    /// Challenge transport answers.
    pub va: SharedVa,
    /// The built-in CA (an intermediate named "local" under [`TestCa::root_der`]).
    pub issuer: LocalCa,
    /// The root certificate the issuer chains to.
    pub root_der: Vec<u8>,
}

impl TestCa {
    /// A server at [`BASE`] with default configuration and a 32-byte EAB secret.
    pub fn new() -> Self {
        Self::with_seed(0x5eed)
    }

    /// Like [`TestCa::new`], with randomness (keys, CA, serials) drawn from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(1_767_225_600)));
        let rng: &'static SeededRng = Box::leak(Box::new(SeededRng::new(seed)));
        let mut config = Config::new(BASE);
        config.eab.master_secret = crate::config::Secret(alloc::vec![0x42; 32]);
        config.admin_token = Some(crate::config::Secret(b"test-admin-token".to_vec()));
        config.caa_identities = alloc::vec!["ca.test".into()];
        let mut fill = |b: &mut [u8]| crate::host::Rng::fill(rng, b);
        let (root_der, issuer) =
            LocalCa::generate_hierarchy("local", crate::jose::KeyKind::P256, &mut fill, clock.0.get() - 86_400)
                .expect("test CA");
        TestCa {
            config,
            store: YieldingStore(MemoryStore::new()),
            nonces: YieldingNonces(MemoryNonces::new(rng, clock)),
            clock,
            rng,
            va: SharedVa::default(),
            issuer,
            root_der,
        }
    }

    /// The engine over this server's services.
    pub fn engine(&self) -> TestEngine<'_> {
        Engine {
            config: &self.config,
            store: &self.store,
            nonces: &self.nonces,
            clock: self.clock,
            rng: self.rng,
            va: &self.va,
            issuer: &self.issuer,
        }
    }

    /// Serves one request to completion.
    pub fn handle(&self, req: &Request) -> Response {
        block_on(self.engine().handle(req))
    }

    /// A fresh nonce from `HEAD newNonce`.
    pub fn nonce(&self) -> String {
        let r = self.handle(&Request { method: "HEAD".into(), path: paths::NEW_NONCE.into(), ..Default::default() });
        r.header("Replay-Nonce").expect("nonce").to_string()
    }

    /// Deterministic key material for a test key of `kind`.
    pub fn key(&self, kind: crate::jose::KeyKind) -> SigningKey {
        let mut fill = |b: &mut [u8]| crate::host::Rng::fill(self.rng, b);
        SigningKey::from_random_bytes(kind, &mut fill).expect("test key")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A POST request carrying a JWS body.
pub fn jose_request(path: &str, body: &serde_json::Value) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        headers: alloc::vec![("Content-Type".into(), "application/jose+json".into())],
        body: serde_json::to_vec(body).expect("json"),
    }
}

/// The JSON body of a response (panics on non-JSON: tests only).
pub fn body_json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).expect("JSON body")
}

/// The problem type URI's short name of an error response, or "" for success.
pub fn problem_name(r: &Response) -> String {
    if r.header("Content-Type") != Some("application/problem+json") {
        return String::new();
    }
    let v = body_json(r);
    let t = v["type"].as_str().unwrap_or("");
    t.rsplit(':').next().unwrap_or("").to_string()
}

/// An ACME client in tests: one key, optionally an account URL, and the last nonce.
pub struct TestClient<'c> {
    /// The server.
    pub ca: &'c TestCa,
    /// The account key.
    pub key: SigningKey,
    /// The account URL once known.
    pub kid: Option<String>,
    nonce: RefCell<Option<String>>,
}

impl<'c> TestClient<'c> {
    /// A client with `key` and no account yet.
    pub fn new(ca: &'c TestCa, key: SigningKey) -> Self {
        TestClient { ca, key, kid: None, nonce: RefCell::new(None) }
    }

    fn take_nonce(&self) -> String {
        self.nonce.borrow_mut().take().unwrap_or_else(|| self.ca.nonce())
    }

    /// Signs `payload` (None: POST-as-GET) for `path` with the account's kid if it has
    /// one, else with the jwk.
    pub fn sign(&self, path: &str, payload: Option<&serde_json::Value>) -> serde_json::Value {
        let url = self.ca.config.url(path);
        let bytes = payload.map(|p| serde_json::to_vec(p).expect("json")).unwrap_or_default();
        let nonce = self.take_nonce();
        let signer = match &self.kid {
            Some(k) => SignerRef::Kid(k),
            None => SignerRef::Jwk,
        };
        sign_flattened(&self.key, signer, Some(&nonce), &url, &bytes)
    }

    /// Signs and sends; remembers the response's nonce. Like real clients, retries once
    /// on `badNonce` with the nonce from the error response.
    pub fn post(&self, path: &str, payload: Option<&serde_json::Value>) -> Response {
        let body = self.sign(path, payload);
        let r = self.send(&jose_request(path, &body));
        if problem_name(&r) != "badNonce" {
            return r;
        }
        let body = self.sign(path, payload);
        self.send(&jose_request(path, &body))
    }

    /// Sends a prepared request; remembers the response's nonce.
    pub fn send(&self, req: &Request) -> Response {
        let r = self.ca.handle(req);
        *self.nonce.borrow_mut() = r.header("Replay-Nonce").map(|s| s.to_string());
        r
    }

    /// newAccount with `payload`; on 200/201 the client adopts the account URL.
    pub fn new_account(&mut self, payload: &serde_json::Value) -> Response {
        self.kid = None;
        let r = self.post(paths::NEW_ACCOUNT, Some(payload));
        if r.status == 200 || r.status == 201 {
            self.kid = r.header("Location").map(|s| s.to_string());
        }
        r
    }

    /// The path part of an absolute URL of this server.
    pub fn path_of<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(self.ca.config.base_url.as_str()).expect("URL of this server")
    }
}
