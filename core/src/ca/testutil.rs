//! Test helpers for `ca`: fixtures, a seeded CA, and the external checkers (openssl,
//! pkilint). A missing tool fails the test; it never skips it.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{not_after, parse_csr, LeafRequest, LocalCa};
use crate::host::testing::SeededRng;
use crate::host::Rng;
use crate::jose::KeyKind;

/// 2026-12-01T00:00:00Z: the tests' "now" (pkilint applies the rules in force then).
pub(crate) const NOW: u64 = 1_796_083_200;

/// A committed fixture from `testdata/` (see `testdata/make.sh`).
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ca/testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A development root generated from a seed, valid from 30 days before [`NOW`].
pub(crate) fn ca(kind: KeyKind, seed: u64) -> LocalCa {
    let rng = SeededRng::new(seed);
    LocalCa::generate("local", kind, &mut |b| rng.fill(b), NOW - 30 * 86400).unwrap()
}

/// A request for the key of CSR fixture `csr`, for example.com, www.example.com and two
/// public IP addresses, valid `days` days from [`NOW`], with a CRL URL if `with_crl`.
pub(crate) fn leaf_request(csr: &str, days: u64, with_crl: bool) -> LeafRequest {
    let info = parse_csr(&fixture(csr), false).unwrap();
    let rng = SeededRng::new(days ^ 0x5eed);
    let mut serial = [0u8; 16];
    rng.fill(&mut serial);
    LeafRequest {
        csr_der: fixture(csr),
        spki_der: info.spki_der,
        dns_names: ["example.com", "www.example.com"].iter().map(|s| s.to_string()).collect(),
        ip_addrs: ["1.1.1.1", "2606:4700:4700::1111"].iter().map(|s| s.to_string()).collect(),
        serial,
        not_before: NOW,
        not_after: not_after(NOW, days * 86400),
        crl_url: with_crl.then(|| "http://acme.example.com/crl/local/0.crl".to_string()),
        issuer_url: "http://acme.example.com/issuer/local.der".to_string(),
    }
}

/// Runs a future that never waits on I/O (the local CA's) to completion.
pub(crate) fn block_on<F: core::future::Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("edge-acme-ca-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is required by this test and could not be run: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs the openssl CLI; returns (success, stdout + stderr).
pub(crate) fn openssl(args: &[&str]) -> (bool, String) {
    let out = run("openssl", args);
    (out.status.success(), text(&out))
}

/// A pkilint command: `$<env>`, or `tool` in the project venv (scripts/bootstrap.sh).
fn pkilint_tool(env: &str, tool: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| format!("{}/../.cache/venv/bin/{tool}", env!("CARGO_MANIFEST_DIR")))
}

/// Lints a PEM or DER certificate with `lint_cabf_serverauth_cert lint -d` (`$PKILINT`)
/// and returns its report from INFO up, so notices show in the output too.
pub(crate) fn pkilint(file: &Path) -> String {
    let path = pkilint_tool("PKILINT", "lint_cabf_serverauth_cert");
    let out = run(&path, &["lint", "-d", "-s", "INFO", file.to_str().unwrap()]);
    text(&out)
}

/// Lints a DER CRL with `lint_crl lint -t CRL -p BR` (`$PKILINT_CRL`).
pub(crate) fn pkilint_crl(file: &Path) -> String {
    let path = pkilint_tool("PKILINT_CRL", "lint_crl");
    let out = run(&path, &["lint", "-t", "CRL", "-p", "BR", "-s", "INFO", file.to_str().unwrap()]);
    text(&out)
}

/// Panics, printing the report, unless it has no FATAL, ERROR or WARNING finding.
pub(crate) fn assert_clean(report: &str, what: &str) {
    std::println!("pkilint, {what}:\n{report}");
    let bad = report.lines().any(|l| ["(FATAL)", "(ERROR)", "(WARNING)", "Traceback"].iter().any(|s| l.contains(s)));
    assert!(!bad, "pkilint findings for {what}:\n{report}");
}

/// [`assert_clean`] on the [`pkilint`] report of a certificate file.
pub(crate) fn assert_pkilint_clean(file: &Path, what: &str) {
    assert_clean(&pkilint(file), what);
}
