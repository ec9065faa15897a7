//! Challenge tokens and key authorizations (RFC 8555 §8.1, §8.3, §8.4).
//!
//! A key authorization ties a challenge token to the account key: `token "."
//! thumbprint`. http-01 serves it verbatim; dns-01 publishes its SHA-256, base64url.

use alloc::format;
use alloc::string::String;
use sha2::{Digest, Sha256};

use crate::b64;
use crate::jose::Jwk;

/// The key authorization: `token || "." || base64url(JWK thumbprint)`.
pub fn key_authorization(token: &str, jwk: &Jwk) -> String {
    format!("{token}.{}", jwk.thumbprint())
}

/// The http-01 response body: exactly the key authorization (RFC 8555 §8.3).
pub fn http01_body(token: &str, jwk: &Jwk) -> String {
    key_authorization(token, jwk)
}

/// The http-01 resource path for `token`.
pub fn http01_path(token: &str) -> String {
    format!("/.well-known/acme-challenge/{token}")
}

/// The dns-01 TXT record value: base64url(SHA-256(key authorization)) (RFC 8555 §8.4).
pub fn dns01_txt_value(key_authorization: &str) -> String {
    b64::encode(&Sha256::digest(key_authorization.as_bytes()))
}

/// A challenge token from 256 random bits: 43 base64url characters (RFC 8555 §8.1 asks for ≥ 128 bits).
pub fn new_token(random: &[u8; 32]) -> String {
    b64::encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::testutil::{RFC7638_N, RFC7638_THUMBPRINT};
    use serde_json::json;

    const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    /// base64url(SHA-256) of TOKEN + "." + RFC7638_THUMBPRINT, computed with Python's hashlib.
    const PY_DNS01: &str = "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8";

    fn jwk() -> Jwk {
        Jwk::from_value(&json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})).unwrap()
    }

    #[test]
    fn key_authorization_is_token_dot_thumbprint() {
        let ka = key_authorization(TOKEN, &jwk());
        assert_eq!(ka, alloc::format!("{TOKEN}.{RFC7638_THUMBPRINT}"));
        assert_eq!(http01_body(TOKEN, &jwk()), ka);
    }

    #[test]
    fn dns01_value_is_base64url_sha256_of_key_authorization() {
        assert_eq!(dns01_txt_value(&key_authorization(TOKEN, &jwk())), PY_DNS01);
    }

    #[test]
    fn http01_path_is_under_well_known() {
        assert_eq!(http01_path(TOKEN), alloc::format!("/.well-known/acme-challenge/{TOKEN}"));
    }

    #[test]
    fn tokens_are_43_base64url_characters() {
        let t = new_token(&[0xff; 32]);
        assert_eq!(t.len(), 43);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(new_token(&[0; 32]), new_token(&[1; 32]));
    }
}
