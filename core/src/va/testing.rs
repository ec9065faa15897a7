//! An in-memory [`Va`] for tests: fixed answers per URL and name, and a log of every
//! request made, so tests can check both the verdict and what was asked for.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{CaaRecord, HttpResponse, TransportError, Va};

/// A validation transport that answers from maps.
///
/// Unknown URLs fail with [`TransportError::Connection`], unknown TXT names with
/// [`TransportError::NxDomain`], and unknown CAA names have no records (the usual case
/// for a name in the real DNS).
#[derive(Debug, Default)]
pub struct FakeVa {
    http: BTreeMap<String, Result<HttpResponse, TransportError>>,
    txt: BTreeMap<String, Result<Vec<String>, TransportError>>,
    caa: BTreeMap<String, Result<Vec<CaaRecord>, TransportError>>,
    log: RefCell<Vec<String>>,
}

impl FakeVa {
    /// An empty transport.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers GET `url` with `status` and `body`.
    pub fn http(mut self, url: &str, status: u16, body: impl AsRef<[u8]>) -> Self {
        let resp = HttpResponse { status, location: None, body: body.as_ref().to_vec() };
        self.http.insert(url.into(), Ok(resp));
        self
    }

    /// Answers GET `url` with a redirect (`status`) to `location`.
    pub fn redirect(mut self, url: &str, status: u16, location: &str) -> Self {
        let resp = HttpResponse { status, location: Some(location.into()), body: Vec::new() };
        self.http.insert(url.into(), Ok(resp));
        self
    }

    /// Fails GET `url` with `err`.
    pub fn http_error(mut self, url: &str, err: TransportError) -> Self {
        self.http.insert(url.into(), Err(err));
        self
    }

    /// Publishes TXT `values` at `name`.
    pub fn txt(mut self, name: &str, values: &[&str]) -> Self {
        self.txt.insert(name.into(), Ok(values.iter().map(|v| String::from(*v)).collect()));
        self
    }

    /// Fails TXT lookups at `name` with `err`.
    pub fn txt_error(mut self, name: &str, err: TransportError) -> Self {
        self.txt.insert(name.into(), Err(err));
        self
    }

    /// Publishes CAA `records` at `name`.
    pub fn caa(mut self, name: &str, records: &[CaaRecord]) -> Self {
        self.caa.insert(name.into(), Ok(records.to_vec()));
        self
    }

    /// Fails CAA lookups at `name` with `err`.
    pub fn caa_error(mut self, name: &str, err: TransportError) -> Self {
        self.caa.insert(name.into(), Err(err));
        self
    }

    /// Every request so far, in order: `GET <url>`, `TXT <name>` or `CAA <name>`.
    pub fn requests(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

impl Va for FakeVa {
    async fn http_get(&self, url: &str, max_body: usize) -> Result<HttpResponse, TransportError> {
        self.log.borrow_mut().push(format!("GET {url}"));
        let mut resp = self
            .http
            .get(url)
            .cloned()
            .unwrap_or_else(|| Err(TransportError::Connection(format!("nothing listens for {url}"))))?;
        // Like a real host: never hand more than `max_body` bytes to the core.
        resp.body.truncate(max_body);
        Ok(resp)
    }

    async fn txt_lookup(&self, name: &str) -> Result<Vec<String>, TransportError> {
        self.log.borrow_mut().push(format!("TXT {name}"));
        self.txt.get(name).cloned().unwrap_or(Err(TransportError::NxDomain))
    }

    async fn caa_lookup(&self, name: &str) -> Result<Vec<CaaRecord>, TransportError> {
        self.log.borrow_mut().push(format!("CAA {name}"));
        self.caa.get(name).cloned().unwrap_or(Ok(Vec::new()))
    }
}
