//! The wasm API as JavaScript gets it: every key kind signs what core verifies,
//! WebCrypto verifies what is signed here, keys cross between WebCrypto and this crate
//! in both directions (PKCS#8 and JWK), EAB bindings verify, CSRs parse, certificates
//! are inspected, and errors carry their problem type. The tests are in tests/api/.
//!
//! This target runs them in Chromium: `wasm-pack test --headless --chrome js --test browser`.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod api;
