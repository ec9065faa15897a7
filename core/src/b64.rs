//! Strict base64url (RFC 4648 §5) as JOSE and ACME use it.
//!
//! Output never has padding. Input is decoded strictly: padding, characters outside
//! the URL-safe alphabet and non-canonical trailing bits are all errors, because a
//! JWS part that decodes from two different strings is a malleability hazard.
//! [`decode_lenient`] exists only for EAB MAC keys, which operators paste with or
//! without `=` padding.

use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use core::fmt;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

/// Why a base64url string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct B64Error(String);

impl fmt::Display for B64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

/// Decodes unpadded, canonical base64url; anything else is an error.
pub fn decode(s: &str) -> Result<Vec<u8>, B64Error> {
    if s.contains('=') {
        return Err(B64Error("base64url must not be padded".into()));
    }
    STRICT.decode(s).map_err(|e| B64Error(alloc::format!("invalid base64url: {e}")))
}

/// Decodes base64url with or without `=` padding (for EAB MAC keys only).
pub fn decode_lenient(s: &str) -> Result<Vec<u8>, B64Error> {
    LENIENT.decode(s.trim()).map_err(|e| B64Error(alloc::format!("invalid base64url: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_without_padding() {
        for n in 0..40u8 {
            let v: Vec<u8> = (0..n).collect();
            let s = encode(&v);
            assert!(!s.contains('='));
            assert_eq!(decode(&s).unwrap(), v);
        }
    }

    #[test]
    fn rfc4648_vectors_in_url_alphabet() {
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn padding_is_rejected_strictly_but_accepted_leniently() {
        assert!(decode("Zm8=").is_err());
        assert_eq!(decode_lenient("Zm8=").unwrap(), b"fo");
        assert_eq!(decode_lenient("Zm8").unwrap(), b"fo");
    }

    #[test]
    fn standard_alphabet_and_junk_are_rejected() {
        assert!(decode("+/8").is_err());
        assert!(decode("Zm 8").is_err());
        assert!(decode("Zm8\n").is_err());
        assert!(decode("Z").is_err());
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // "Zm8" is canonical for "fo"; "Zm9" has non-zero trailing bits.
        assert!(decode("Zm9").is_err());
    }
}
