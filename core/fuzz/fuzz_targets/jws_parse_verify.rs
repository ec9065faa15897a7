//! Arbitrary request bodies through the account-JWS parser and, when the JWS embeds
//! its key, through signature verification: nothing may panic, and every key the
//! parser accepts must survive its own canonical JWK and SPKI forms unchanged.
#![no_main]

use edge_acme_core::jose::{parse_flattened, Jwk, KeyRef};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(jws) = parse_flattened(data) else { return };
    let _ = jws.payload_json();
    if let KeyRef::Jwk(jwk) = &jws.header.key {
        let _ = jws.verify(jwk);
        let reparsed = Jwk::from_value(&jwk.to_value()).expect("canonical JWK reparses");
        assert_eq!(&reparsed, jwk);
        assert_eq!(reparsed.thumbprint(), jwk.thumbprint());
        let from_spki = Jwk::from_spki_der(&jwk.to_spki_der()).expect("own SPKI reparses");
        assert_eq!(&from_spki, jwk);
    }
});
