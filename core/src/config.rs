//! Server configuration: everything an operator can set, with the defaults a small
//! CA wants. The host builds it from its environment; the engine only reads it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// Secret bytes whose `Debug` output never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret([{} bytes redacted])", self.0.len())
    }
}

impl Secret {
    /// Constant-time equality with `other`.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

/// Limits and policy for External Account Binding credentials.
#[derive(Clone, Debug)]
pub struct EabPolicy {
    /// Whether newAccount requires a binding.
    pub required: bool,
    /// Secret from which MAC keys are derived, so that they are never stored.
    pub master_secret: Secret,
    /// How long a MAC key may be used for new bindings after it was generated.
    pub mac_lifetime_secs: u64,
    /// How many bindings one MAC key may make.
    pub mac_max_uses: u32,
    /// How many accounts one credential may bind over all its MAC keys (None: no cap).
    pub max_accounts_per_credential: Option<u32>,
}

impl Default for EabPolicy {
    fn default() -> Self {
        EabPolicy {
            required: false,
            master_secret: Secret::default(),
            mac_lifetime_secs: 30 * 24 * 3600,
            mac_max_uses: 1000,
            max_accounts_per_credential: None,
        }
    }
}

/// A certificate profile (ACME profiles draft): what `order.profile` selects.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The name clients send.
    pub name: String,
    /// Human-readable description for the directory.
    pub description: String,
    /// Certificate lifetime in seconds.
    pub validity_secs: u64,
    /// The issuer that signs this profile's certificates.
    pub issuer: String,
}

/// Engine configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Scheme, host and optional port every URL starts with, without a trailing slash.
    pub base_url: String,
    /// Terms of service URL; when set, newAccount must agree to it.
    pub terms_of_service: Option<String>,
    /// Website advertised in the directory.
    pub website: Option<String>,
    /// CAA issuer domain names of this CA.
    pub caa_identities: Vec<String>,
    /// External account binding policy.
    pub eab: EabPolicy,
    /// Maximum number of contact URLs on an account.
    pub max_contacts: usize,
    /// Maximum request body size in bytes.
    pub max_body_bytes: usize,
    /// Maximum identifiers in one order.
    pub max_identifiers_per_order: usize,
    /// Orders per page of an account's orders list.
    pub orders_page_size: usize,
    /// `Retry-After` seconds on pending and processing resources.
    pub retry_after_secs: u64,
    /// Certificate profiles; the first one is the default.
    pub profiles: Vec<Profile>,
    /// Names under these suffixes are refused (`rejectedIdentifier`).
    pub blocked_suffixes: Vec<String>,
    /// When not empty, only names under these suffixes are accepted.
    pub allowed_suffixes: Vec<String>,
    /// Whether `ip` identifiers (RFC 8738) are accepted.
    pub allow_ip_identifiers: bool,
    /// How long a validation keeps authorizing a tenant's names (the FAQ's 397 days).
    pub claim_lifetime_secs: u64,
    /// How long a pending order and its pending authorizations live.
    pub order_lifetime_secs: u64,
    /// Whether CAA is checked before issuance.
    pub check_caa: bool,
    /// `Retry-After` seconds sent with renewal information.
    pub ari_retry_after_secs: u64,
    /// Bearer token of the admin API; `None` disables it.
    pub admin_token: Option<Secret>,
    /// Base of the URLs written into certificates (AIA caIssuers, CRL distribution
    /// point). The Baseline Requirements want plain `http://` there; `None`: the base
    /// URL with its scheme changed to http.
    pub certificate_url_base: Option<String>,
}

impl Config {
    /// A configuration with defaults for the given base URL.
    pub fn new(base_url: impl Into<String>) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Config {
            base_url,
            terms_of_service: None,
            website: None,
            caa_identities: Vec::new(),
            eab: EabPolicy::default(),
            max_contacts: 8,
            max_body_bytes: 64 * 1024,
            max_identifiers_per_order: 100,
            orders_page_size: 50,
            retry_after_secs: 1,
            blocked_suffixes: Vec::new(),
            allowed_suffixes: Vec::new(),
            allow_ip_identifiers: true,
            claim_lifetime_secs: 397 * 24 * 3600,
            order_lifetime_secs: 7 * 24 * 3600,
            check_caa: true,
            ari_retry_after_secs: 6 * 3600,
            admin_token: None,
            certificate_url_base: None,
            profiles: alloc::vec![
                Profile {
                    name: "classic".into(),
                    description: "90-day TLS server certificate".into(),
                    validity_secs: 90 * 24 * 3600,
                    issuer: "local".into(),
                },
                Profile {
                    name: "shortlived".into(),
                    description: "7-day TLS server certificate".into(),
                    validity_secs: 7 * 24 * 3600,
                    issuer: "local".into(),
                },
            ],
        }
    }

    /// Profile names and descriptions, as the directory's `meta.profiles` lists them.
    pub fn profile_descriptions(&self) -> BTreeMap<String, String> {
        self.profiles.iter().map(|p| (p.name.clone(), p.description.clone())).collect()
    }

    /// The profile named `name`, or the default profile for `None`.
    pub fn profile(&self, name: Option<&str>) -> Option<&Profile> {
        match name {
            None => self.profiles.first(),
            Some(n) => self.profiles.iter().find(|p| p.name == n),
        }
    }

    /// The base of the URLs written into certificates: always `http://`.
    pub fn certificate_base(&self) -> String {
        match &self.certificate_url_base {
            Some(b) => String::from(b.trim_end_matches('/')),
            None => match self.base_url.strip_prefix("https://") {
                Some(rest) => alloc::format!("http://{rest}"),
                None => self.base_url.clone(),
            },
        }
    }

    /// The absolute URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        alloc::format!("{}{}", self.base_url, path)
    }
}
