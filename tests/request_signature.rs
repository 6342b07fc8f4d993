//! The kiosk's request signature, as a test vector shared with the browser: the Rust signer
//! (`RequestSigner`, what the CLI and the authority's tests use) must produce exactly the headers in
//! `tests/vectors/request-signature.json`, and `tests/e2e/request_signature.test.mjs` signs the same
//! request with WebCrypto through `www/kiosk/authority-client.js` and must produce them too. Ed25519
//! signatures are deterministic, so equal signatures mean equal signed bytes.
//! `VEILWATCH_WRITE_VECTORS=1` rewrites the file (only after a deliberate change of the message).

use ed25519_dalek::{Signature, SigningKey, Verifier};
use serde_json::{json, Value};
use veilwatch::authority::credential::{request_message, AuthorityOrigin, RequestSigner, SIGNATURE};
use veilwatch::hex::{from_hex, hex};

const SEED: [u8; 32] = [7; 32];
/// The authority the request is for: its origin, as the browser spells `new URL(url).origin`.
const AUTHORITY: &str = "https://authority.example:8787";
const DEPLOYMENT: [u8; 16] = [0xA1; 16];
const NONCE: [u8; 16] = [0x5E; 16];
const TIMESTAMP: i64 = 1_800_000_123;
const BODY: &str = r#"{"handle":"00112233445566778899aabbccddeeff","proof":"ab"}"#;

fn vector() -> Value {
    let signer = RequestSigner::new(SigningKey::from_bytes(&SEED), &DEPLOYMENT);
    let authority = AuthorityOrigin::of_url(AUTHORITY).unwrap();
    let headers = signer.headers_with_nonce(&authority, "post", "/v1/disclose", BODY.as_bytes(), TIMESTAMP, &NONCE);
    json!({
        "seedHex": hex(&SEED),
        "authority": AUTHORITY,
        "method": "POST",
        "path": "/v1/disclose",
        "deploymentHex": hex(&DEPLOYMENT),
        "timestamp": TIMESTAMP,
        "nonceHex": hex(&NONCE),
        "body": BODY,
        "headers": headers.into_iter().map(|(name, value)| (name.to_owned(), Value::String(value))).collect::<serde_json::Map<_, _>>(),
    })
}

#[test]
fn the_rust_signer_produces_the_shared_vector() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/request-signature.json");
    let expected = vector();
    if std::env::var_os("VEILWATCH_WRITE_VECTORS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&expected).unwrap() + "\n").unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored, expected, "the request message or signer changed: update the browser's signer too");
    // And the signature verifies over request_message's bytes (what the authority checks).
    let key = SigningKey::from_bytes(&SEED).verifying_key();
    let signature = Signature::from_slice(&from_hex(stored["headers"][SIGNATURE].as_str().unwrap()).unwrap()).unwrap();
    let message = request_message(
        AUTHORITY,
        "POST",
        "/v1/disclose",
        &hex(&DEPLOYMENT),
        &hex(key.as_bytes()),
        TIMESTAMP,
        &hex(&NONCE),
        BODY.as_bytes(),
    );
    assert!(key.verify_strict(&message, &signature).is_ok());
    assert!(key.verify(&[message.as_slice(), b"x"].concat(), &signature).is_err());
    // Signed for this authority, it does not verify as a request for another one.
    let elsewhere = request_message(
        "https://staging.authority.example:8787",
        "POST",
        "/v1/disclose",
        &hex(&DEPLOYMENT),
        &hex(key.as_bytes()),
        TIMESTAMP,
        &hex(&NONCE),
        BODY.as_bytes(),
    );
    assert!(key.verify(&elsewhere, &signature).is_err());
}
