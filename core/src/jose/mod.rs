//! JOSE as ACME uses it: JWKs, flattened JWS objects, thumbprints and signing.
//!
//! RFC 8555 §6.2 narrows JOSE a great deal, and this module narrows it exactly as far:
//! only the flattened JSON serialization, only a protected header, exactly one of
//! `jwk`/`kid`, no `crit`, no `b64`, no `none`, and only the public-key algorithms in
//! [`SUPPORTED_ACCOUNT_ALGS`] for account requests. HMAC algorithms exist only for
//! external account binding (see [`crate::eab`]) and are refused everywhere else.
//!
//! Parsing is strict on purpose. A JWS whose members or header parameters appear
//! twice, whose base64url parts have padding or foreign characters, or which carries
//! data after its JSON could be read two ways by two implementations; refusing it costs
//! nothing and closes that door. The module never hand-parses JSON, base64 or ASN.1:
//! [`from_slice_strict`] is a serde visitor over `serde_json`, [`crate::b64`] wraps `base64`, and DER
//! goes through the RustCrypto `pkcs8`/`spki` traits.
//!
//! ## Which error type
//! - `malformed`: the JWS (or a JWK inside it) cannot be read: bad JSON, duplicate or
//!   unknown members, bad base64url, a missing or mistyped header parameter, a
//!   signature of the wrong shape, or a signature that does not verify (RFC 8555 names
//!   no type for the latter; Boulder and Pebble answer `malformed`, and so do we).
//! - `badSignatureAlgorithm` (with `algorithms`): `alg` is `none`, unknown, an HMAC
//!   algorithm on an account request, or does not fit the key (ES256 with a P-384 key,
//!   RS256 with an EC key...). RFC 8555 §6.2 gives this type for an algorithm the server
//!   does not accept; an algorithm that cannot be used with the presented key is one
//!   the server does not accept *for that key*, and answering with the list lets a
//!   client correct itself. Boulder does the same.
//! - `badPublicKey`: the JWK reads fine but is not a key we accept: unsupported `kty`
//!   or `crv`, wrong coordinate length, a point off the curve, a weak Ed25519 point,
//!   RSA outside 2048..=8192 bits or with `e` other than 65537, or private members.

// `Problem` is the crate-wide error type; its size is problem.rs's decision, not ours.

mod json;
mod jwk;
mod jws;
pub(crate) mod sign;
#[cfg(test)]
pub(crate) mod testutil;

pub use json::from_slice_strict;
pub use jwk::Jwk;
pub use jws::{parse_flattened, Jws, KeyRef, ProtectedHeader, MAX_JWS_BYTES};
pub use sign::{sign_flattened, KeyKind, SignerRef, SigningKey};

use crate::problem::Problem;

/// The `alg` values this crate knows (RFC 7518 §3.1, RFC 8037 §3.1).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256, 32-byte salt.
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// EdDSA; this crate accepts only the Ed25519 curve.
    EdDSA,
    /// HMAC with SHA-256 (external account binding only).
    HS256,
    /// HMAC with SHA-384 (external account binding only).
    HS384,
    /// HMAC with SHA-512 (external account binding only).
    HS512,
}

/// Algorithms accepted on account JWS objects, as listed in `badSignatureAlgorithm` problems.
pub const SUPPORTED_ACCOUNT_ALGS: &[&str] = &["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"];

/// Algorithms accepted on external account bindings.
pub const SUPPORTED_MAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

impl Alg {
    /// Every algorithm, in declaration order.
    pub const ALL: [Alg; 9] =
        [Alg::RS256, Alg::PS256, Alg::ES256, Alg::ES384, Alg::ES512, Alg::EdDSA, Alg::HS256, Alg::HS384, Alg::HS512];

    /// The JOSE `alg` name.
    pub fn name(&self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
        }
    }

    /// Looks up an `alg` name; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// True for the HMAC algorithms, which only external account binding may use.
    pub fn is_mac(&self) -> bool {
        matches!(self, Alg::HS256 | Alg::HS384 | Alg::HS512)
    }
}

/// `badSignatureAlgorithm` listing [`SUPPORTED_ACCOUNT_ALGS`].
pub(crate) fn unsupported_alg(detail: impl Into<alloc::string::String>) -> Problem {
    Problem::bad_signature_algorithm(detail, SUPPORTED_ACCOUNT_ALGS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_and_are_case_sensitive() {
        for a in Alg::ALL {
            assert_eq!(Alg::from_name(a.name()), Some(a));
        }
        assert_eq!(Alg::from_name("es256"), None);
        assert_eq!(Alg::from_name("none"), None);
        assert_eq!(Alg::from_name("Ed25519"), None);
    }

    #[test]
    fn supported_account_algs_are_exactly_the_asymmetric_ones() {
        let asym: alloc::vec::Vec<&str> = Alg::ALL.iter().filter(|a| !a.is_mac()).map(|a| a.name()).collect();
        assert_eq!(asym, SUPPORTED_ACCOUNT_ALGS);
        let mac: alloc::vec::Vec<&str> = Alg::ALL.iter().filter(|a| a.is_mac()).map(|a| a.name()).collect();
        assert_eq!(mac, SUPPORTED_MAC_ALGS);
    }
}
