//! The core's host traits on Cloudflare's platform: storage on SQLite Durable Objects
//! (one object per partition) and KV (write-once blobs), nonces on sharded objects,
//! validation over `fetch()` and DNS-over-HTTPS, the clock and `crypto.getRandomValues`.
//! No protocol logic lives here: every decision is the core's.

use std::cell::RefCell;

use edge_acme_core::ca::local::LocalCa;
use edge_acme_core::ca::Issuers;
use edge_acme_core::config::{Config, Secret};
use edge_acme_core::host::{Clock, Rng};
use edge_acme_core::nonce::{SignedNonces, SpentNonces, NONCE_LIFETIME_SECS};
use edge_acme_core::sa::{self, Entry, Key, Partition, Precondition, Store, Write};
use edge_acme_core::va::{doh, CaaRecord, HttpResponse, TransportError, Va};
use edge_acme_core::Problem;
use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use worker::{
    Date, Delay, Env, Fetch, Headers, KvStore, Method, ObjectNamespace, Request, RequestInit, RequestRedirect, Url,
};

use crate::store::{call, KvReply, QuotaReply, StoreOp, BINDING};

fn internal(what: &str, e: impl core::fmt::Display) -> Problem {
    Problem::server_internal(format!("{what}: {e}"))
}

/// Reads a plain variable or a secret binding.
pub fn setting(env: &Env, name: &str) -> Option<String> {
    if let Ok(v) = env.var(name) {
        return Some(v.to_string());
    }
    env.secret(name).ok().map(|s| s.to_string())
}

fn flag(env: &Env, name: &str) -> bool {
    matches!(setting(env, name).as_deref(), Some("1" | "true" | "yes"))
}

/// Builds the engine configuration from the Worker's variables and secrets.
pub fn config(env: &Env, request_origin: &str) -> Config {
    let base = setting(env, "BASE_URL").filter(|s| !s.is_empty()).unwrap_or_else(|| request_origin.to_string());
    let mut c = Config::new(base);
    c.terms_of_service = setting(env, "TOS_URL").filter(|s| !s.is_empty());
    c.website = setting(env, "WEBSITE").filter(|s| !s.is_empty());
    if let Some(ids) = setting(env, "CAA_IDENTITIES") {
        c.caa_identities = ids.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    c.eab.required = flag(env, "EAB_REQUIRED");
    if let Some(s) = setting(env, "EAB_MASTER_SECRET") {
        c.eab.master_secret = Secret(edge_acme_core::b64::decode_lenient(&s).unwrap_or_else(|_| s.into_bytes()));
    }
    if let Some(n) = setting(env, "EAB_MAC_MAX_USES").and_then(|v| v.parse().ok()) {
        c.eab.mac_max_uses = n;
    }
    if let Some(n) = setting(env, "EAB_MAX_ACCOUNTS").and_then(|v| v.parse().ok()) {
        c.eab.max_accounts_per_credential = Some(n);
    }
    c.admin_token = setting(env, "ADMIN_TOKEN").filter(|t| !t.is_empty()).map(|t| Secret(t.into_bytes()));
    if let Some(s) = setting(env, "ALLOWED_SUFFIXES") {
        c.allowed_suffixes = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
    }
    if let Some(s) = setting(env, "BLOCKED_SUFFIXES") {
        c.blocked_suffixes = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
    }
    c.check_caa = !flag(env, "SKIP_CAA");
    c
}

/// `Date.now()` in seconds.
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> u64 {
        Date::now().as_millis() / 1000
    }
}

/// `crypto.getRandomValues` through getrandom's JS backend.
pub struct WorkerRng;

impl Rng for WorkerRng {
    fn fill(&self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("crypto.getRandomValues is available in Workers");
    }
}

/// Storage: each partition is one SQLite Durable Object; write-once blobs are in KV.
pub struct DoStore {
    /// The Durable Object namespace.
    pub ns: ObjectNamespace,
    /// The KV namespace for immutable data.
    pub kv: KvStore,
}

impl DoStore {
    /// Binds to the Worker's `STORE` objects and `CERTS` KV namespace.
    pub fn new(env: &Env) -> worker::Result<Self> {
        Ok(DoStore { ns: env.durable_object(BINDING)?, kv: env.kv(crate::KV_BINDING)? })
    }

    async fn call(&self, key: &Key, op: &StoreOp) -> Result<KvReply, Problem> {
        self.call_as(key, op).await
    }

    async fn call_as<R: serde::de::DeserializeOwned>(&self, key: &Key, op: &StoreOp) -> Result<R, Problem> {
        if key.partition == Partition::Immutable {
            return Err(Problem::server_internal("counters cannot live in the immutable partition"));
        }
        call::<R>(&self.ns, &key.partition.object_name(), op).await.map_err(|e| internal("storage", e))
    }
}

fn entry(reply: KvReply) -> Option<Entry> {
    reply.value.map(|v| Entry { value: v.into_bytes(), version: reply.version as u64 })
}

fn text(value: Vec<u8>) -> Result<String, Problem> {
    String::from_utf8(value).map_err(|_| Problem::server_internal("records are UTF-8 JSON"))
}

impl Store for DoStore {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, Problem> {
        if key.partition == Partition::Immutable {
            let v = self.kv.get(&key.name).bytes().await.map_err(|e| internal("KV read", e))?;
            return Ok(v.map(|value| Entry { value, version: 1 }));
        }
        Ok(entry(self.call(key, &StoreOp::Get { name: key.name.clone() }).await?))
    }

    async fn put(&self, key: &Key, value: Vec<u8>, pre: Precondition) -> Result<Write, Problem> {
        if key.partition == Partition::Immutable {
            // Blobs are written once under names no one else uses (serials, CRL numbers).
            if pre != Precondition::Absent {
                return Ok(Write::Conflict(self.get(key).await?));
            }
            let put = self.kv.put_bytes(&key.name, &value).map_err(|e| internal("KV write", e))?;
            put.execute().await.map_err(|e| internal("KV write", e))?;
            return Ok(Write::Done(1));
        }
        let version = match pre {
            Precondition::Absent => None,
            Precondition::Version(v) => Some(v as i64),
        };
        let reply = self.call(key, &StoreOp::Put { name: key.name.clone(), value: text(value)?, version }).await?;
        Ok(if reply.ok { Write::Done(reply.version as u64) } else { Write::Conflict(entry(reply)) })
    }

    async fn delete(&self, key: &Key, version: u64) -> Result<bool, Problem> {
        if key.partition == Partition::Immutable {
            self.kv.delete(&key.name).await.map_err(|e| internal("KV delete", e))?;
            return Ok(true);
        }
        Ok(self.call(key, &StoreOp::Delete { name: key.name.clone(), version: version as i64 }).await?.ok)
    }

    async fn count_up(&self, key: &Key, limit: u64) -> Result<Option<u64>, Problem> {
        // JSON numbers cross into JavaScript: stay within its exact integers.
        let op = StoreOp::QuotaUse { key: key.name.clone(), limit: limit.min(1 << 52) as i64 };
        let reply: QuotaReply = self.call_as(key, &op).await?;
        Ok(reply.ok.then_some(reply.used as u64))
    }

    async fn count_down(&self, key: &Key) -> Result<(), Problem> {
        self.call_as::<QuotaReply>(key, &StoreOp::QuotaDown { key: key.name.clone() }).await.map(|_| ())
    }

    async fn count(&self, key: &Key) -> Result<u64, Problem> {
        let reply: QuotaReply = self.call_as(key, &StoreOp::QuotaGet { key: key.name.clone() }).await?;
        Ok(reply.used.max(0) as u64)
    }
}

/// Where spent nonces are remembered: `shards` Durable Objects, the shard chosen by a
/// hash of the nonce. Issuing a nonce touches no storage ([`SignedNonces`]); only a
/// redemption calls the one shard that can have seen it.
pub struct DoSpent {
    /// The Durable Object namespace.
    pub ns: ObjectNamespace,
    /// Number of shards (1 to 64).
    pub shards: usize,
}

/// The shard (of `shards`) that remembers the spent nonce `id` (FNV-1a).
fn spent_shard(id: &str, shards: usize) -> usize {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (h % shards.clamp(1, 64) as u64) as usize
}

impl SpentNonces for DoSpent {
    async fn spend(&self, id: &str, issued: u64) -> Result<bool, Problem> {
        let op = StoreOp::NonceSpend {
            id: id.into(),
            issued: issued as i64,
            now: WorkerClock.now() as i64,
            max_age: NONCE_LIFETIME_SECS as i64,
        };
        let shard = format!("nonces:{}", spent_shard(id, self.shards));
        let reply = call::<KvReply>(&self.ns, &shard, &op).await.map_err(|e| internal("nonce store", e))?;
        Ok(reply.ok)
    }
}

/// The engine's nonces: signed with the deployment's nonce key, spent in [`DoSpent`].
pub type WorkerNonces = SignedNonces<'static, DoSpent>;

#[derive(Serialize, Deserialize)]
struct StoredNonceKey {
    key: String,
}

thread_local! {
    static NONCE_KEY: RefCell<Option<[u8; 32]>> = const { RefCell::new(None) };
}

/// The nonce key every instance shares: 32 random bytes made on first use and kept in
/// the CA's Durable Object (never logged, never served); cached per isolate.
async fn nonce_key(store: &DoStore) -> Result<[u8; 32], Problem> {
    if let Some(k) = NONCE_KEY.with(|c| *c.borrow()) {
        return Ok(k);
    }
    let stored = sa::get_or_create_json(store, &Key::new(Partition::Ca, "nonce-key"), || {
        let mut fresh = [0u8; 32];
        WorkerRng.fill(&mut fresh);
        Ok(StoredNonceKey { key: edge_acme_core::b64::encode(&fresh) })
    })
    .await?;
    let bytes = decode(&stored.key)?;
    let k: [u8; 32] = bytes.try_into().map_err(|_| Problem::server_internal("stored nonce key: not 32 bytes"))?;
    NONCE_KEY.with(|c| *c.borrow_mut() = Some(k));
    Ok(k)
}

/// The nonces for one request.
pub async fn nonces(env: &Env, store: &DoStore) -> Result<WorkerNonces, Problem> {
    let shards = setting(env, "NONCE_SHARDS").and_then(|s| s.parse().ok()).unwrap_or(crate::NONCE_SHARDS);
    let ns = env.durable_object(BINDING).map_err(|e| internal("nonce store", e))?;
    Ok(SignedNonces::new(nonce_key(store).await?, &WorkerRng, &WorkerClock, DoSpent { ns, shards }))
}

/// How long one validation request may take.
const VA_TIMEOUT_MS: u64 = 10_000;

/// Validation transport: `fetch()` for http-01, DNS-over-HTTPS for TXT and CAA.
pub struct WorkerVa {
    /// Development only: send every http-01 request to this `host:port`.
    pub http01_override: Option<String>,
    /// RFC 8484 resolver URL.
    pub doh_url: String,
}

async fn with_timeout<T>(f: impl core::future::Future<Output = T>) -> Result<T, TransportError> {
    let f = core::pin::pin!(f);
    let timeout = core::pin::pin!(Delay::from(core::time::Duration::from_millis(VA_TIMEOUT_MS)));
    match select(f, timeout).await {
        Either::Left((v, _)) => Ok(v),
        Either::Right(_) => Err(TransportError::Timeout),
    }
}

impl WorkerVa {
    /// From the Worker's variables; production defaults use a public resolver and no override.
    pub fn new(env: &Env) -> Self {
        WorkerVa {
            http01_override: setting(env, "HTTP01_ADDR").filter(|s| !s.is_empty()),
            doh_url: setting(env, "DOH_URL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "https://cloudflare-dns.com/dns-query".into()),
        }
    }

    async fn dns(&self, name: &str, qtype: doh::RecordType) -> Result<Vec<u8>, TransportError> {
        let mut id = [0u8; 2];
        WorkerRng.fill(&mut id);
        let query = doh::query(name, qtype, u16::from_be_bytes(id))?;
        let headers = Headers::new();
        let _ = headers.set("Content-Type", doh::CONTENT_TYPE);
        let _ = headers.set("Accept", doh::CONTENT_TYPE);
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(worker::js_sys::Uint8Array::from(query.as_slice()).into()));
        let req = Request::new_with_init(&self.doh_url, &init).map_err(|e| TransportError::Dns(e.to_string()))?;
        let mut resp = with_timeout(Fetch::Request(req).send())
            .await?
            .map_err(|e| TransportError::Dns(format!("resolver unreachable: {e}")))?;
        if resp.status_code() != 200 {
            return Err(TransportError::Dns(format!("resolver answered HTTP {}", resp.status_code())));
        }
        resp.bytes().await.map_err(|e| TransportError::Dns(e.to_string()))
    }
}

impl Va for WorkerVa {
    async fn http_get(&self, url: &str, max_body: usize) -> Result<HttpResponse, TransportError> {
        let mut target = Url::parse(url).map_err(|e| TransportError::Connection(e.to_string()))?;
        if let Some(addr) = &self.http01_override {
            let path = target.path().to_string();
            target =
                Url::parse(&format!("http://{addr}{path}")).map_err(|e| TransportError::Connection(e.to_string()))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_redirect(RequestRedirect::Manual);
        let req =
            Request::new_with_init(target.as_str(), &init).map_err(|e| TransportError::Connection(e.to_string()))?;
        let mut resp =
            with_timeout(Fetch::Request(req).send()).await?.map_err(|e| TransportError::Connection(e.to_string()))?;
        let status = resp.status_code();
        let location = resp.headers().get("Location").ok().flatten();
        let mut body = with_timeout(resp.bytes()).await?.map_err(|e| TransportError::Connection(e.to_string()))?;
        body.truncate(max_body);
        Ok(HttpResponse { status, location, body })
    }

    async fn txt_lookup(&self, name: &str) -> Result<Vec<String>, TransportError> {
        doh::parse_txt(&self.dns(name, doh::RecordType::Txt).await?)
    }

    async fn caa_lookup(&self, name: &str) -> Result<Vec<CaaRecord>, TransportError> {
        doh::parse_caa(&self.dns(name, doh::RecordType::Caa).await?)
    }
}

/// The built-in CA as stored: PKCS#8 key, certificate and root, base64url.
#[derive(Clone, Serialize, Deserialize)]
struct StoredCa {
    key: String,
    cert: String,
    root: String,
}

thread_local! {
    static ISSUERS: RefCell<Option<(Issuers, Vec<u8>)>> = const { RefCell::new(None) };
}

fn decode(s: &str) -> Result<Vec<u8>, Problem> {
    edge_acme_core::b64::decode(s).map_err(|e| internal("stored CA", e))
}

/// The issuers (built-in CA "local") and its root certificate. Production: the
/// secrets `CA_KEY_PEM` (PKCS#8) and `CA_CERT_PEM` (certificate, then its chain).
/// Development (`DEV_CA=1`): a root and intermediate generated on first use and kept
/// in the CA's Durable Object, so every restart chains to the same root.
pub async fn issuers(env: &Env, store: &DoStore) -> Result<(Issuers, Vec<u8>), Problem> {
    if let Some(cached) = ISSUERS.with(|c| c.borrow().clone()) {
        return Ok(cached);
    }
    let loaded = load_issuers(env, store).await?;
    ISSUERS.with(|c| *c.borrow_mut() = Some(loaded.clone()));
    Ok(loaded)
}

async fn load_issuers(env: &Env, store: &DoStore) -> Result<(Issuers, Vec<u8>), Problem> {
    let mut issuers = Issuers::new();
    if let (Some(key_pem), Some(cert_pem)) = (setting(env, "CA_KEY_PEM"), setting(env, "CA_CERT_PEM")) {
        let (_, key) = der::pem::decode_vec(key_pem.trim().as_bytes()).map_err(|e| internal("CA_KEY_PEM", e))?;
        let certs = edge_acme_core::ca::pem_to_ders(&cert_pem);
        let cert = certs.first().ok_or_else(|| Problem::server_internal("CA_CERT_PEM holds no certificate"))?;
        let ca = LocalCa::from_parts("local", &key, cert)?;
        let root = certs.last().cloned().unwrap_or_default();
        issuers.insert(ca);
        return Ok((issuers, root));
    }
    if !flag(env, "DEV_CA") {
        return Err(Problem::server_internal("no CA configured: set CA_KEY_PEM and CA_CERT_PEM, or DEV_CA=1"));
    }
    let stored: StoredCa = sa::get_or_create_json(store, &Key::new(Partition::Ca, "issuer/local"), || {
        let mut fill = |b: &mut [u8]| WorkerRng.fill(b);
        let (root, ca) = LocalCa::generate_hierarchy(
            "local",
            edge_acme_core::jose::KeyKind::P256,
            &mut fill,
            WorkerClock.now() - 3600,
        )?;
        let (k, c) = ca.to_parts();
        Ok(StoredCa {
            key: edge_acme_core::b64::encode(&k),
            cert: edge_acme_core::b64::encode(&c),
            root: edge_acme_core::b64::encode(&root),
        })
    })
    .await?;
    let ca = LocalCa::from_parts("local", &decode(&stored.key)?, &decode(&stored.cert)?)?;
    issuers.insert(ca);
    Ok((issuers, decode(&stored.root)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_nonces_spread_over_every_shard() {
        for shards in [1usize, 4, 7, 64] {
            let mut seen = vec![0u32; shards];
            for i in 0..5000u32 {
                let id = edge_acme_core::b64::encode(&i.to_be_bytes());
                let s = spent_shard(&id, shards);
                assert!(s < shards);
                seen[s] += 1;
            }
            assert!(seen.iter().all(|&n| n > 5000 / shards as u32 / 2), "{shards}: {seen:?}");
        }
        assert_eq!(spent_shard("x", 0), 0, "0 shards means one");
    }
}
