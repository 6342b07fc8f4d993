//! Kiosk credentials (DESIGN §5): every `/v1/*` call is signed by a registered kiosk key.
//!
//! Headers: [`KIOSK`] (Ed25519 public key, 64 hex), [`DEPLOYMENT`] (watchlist id, 32 hex),
//! [`TIMESTAMP`] (unix seconds), [`NONCE`] (16 random bytes, 32 hex) and [`SIGNATURE`] (128 hex),
//! the signature over the UTF-8 bytes of
//!
//! ```text
//! VEILWATCH-REQUEST-V1\n{METHOD}\n{path}\n{deployment}\n{kiosk}\n{timestamp}\n{nonce}\n{sha256(body) hex}
//! ```
//!
//! (hex lowercase; path without query). The browser builds the same bytes in
//! `www/kiosk/authority-client.js` and signs them with its non-extractable WebCrypto key; the
//! CLI, the tests and the load generator sign here with [`RequestSigner`].

use ed25519_dalek::{Signer, SigningKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::hex::hex;

pub const KIOSK: &str = "veilwatch-kiosk";
pub const DEPLOYMENT: &str = "veilwatch-deployment";
pub const TIMESTAMP: &str = "veilwatch-timestamp";
pub const NONCE: &str = "veilwatch-nonce";
pub const SIGNATURE: &str = "veilwatch-signature";
/// The header of a refusal naming its reason as a token (`stale`, `replayed`, `budget_minute`, …).
pub const REFUSAL: &str = "veilwatch-refusal";
/// Bytes of a request nonce.
pub const NONCE_BYTES: usize = 16;

/// The bytes a kiosk signs for one request.
pub fn request_message(
    method: &str,
    path: &str,
    deployment_hex: &str,
    kiosk_hex: &str,
    timestamp: i64,
    nonce_hex: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "VEILWATCH-REQUEST-V1\n{}\n{path}\n{deployment_hex}\n{kiosk_hex}\n{timestamp}\n{nonce_hex}\n{}",
        method.to_ascii_uppercase(),
        hex(&Sha256::digest(body))
    )
    .into_bytes()
}

/// Signs requests of one kiosk for one deployment.
pub struct RequestSigner {
    key: SigningKey,
    kiosk_hex: String,
    deployment_hex: String,
}

impl RequestSigner {
    pub fn new(key: SigningKey, deployment: &[u8; 16]) -> RequestSigner {
        let kiosk_hex = hex(key.verifying_key().as_bytes());
        RequestSigner { key, kiosk_hex, deployment_hex: hex(deployment) }
    }

    /// The kiosk's public key, 64 hex digits (what the issuer registers).
    pub fn kiosk_hex(&self) -> &str {
        &self.kiosk_hex
    }

    /// The five credential headers, `(name, value)`, for `method path` with `body`, signed at
    /// `now_unix` with a fresh random nonce.
    pub fn headers(&self, method: &str, path: &str, body: &[u8], now_unix: i64) -> Vec<(&'static str, String)> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        self.headers_with_nonce(method, path, body, now_unix, &nonce)
    }

    /// [`RequestSigner::headers`] with a given nonce (for tests that replay one).
    pub fn headers_with_nonce(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        now_unix: i64,
        nonce: &[u8; NONCE_BYTES],
    ) -> Vec<(&'static str, String)> {
        let nonce_hex = hex(nonce);
        let message = request_message(method, path, &self.deployment_hex, &self.kiosk_hex, now_unix, &nonce_hex, body);
        let signature = self.key.sign(&message);
        vec![
            (KIOSK, self.kiosk_hex.clone()),
            (DEPLOYMENT, self.deployment_hex.clone()),
            (TIMESTAMP, now_unix.to_string()),
            (NONCE, nonce_hex),
            (SIGNATURE, hex(&signature.to_bytes())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn the_signature_covers_every_signed_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signer = RequestSigner::new(key.clone(), &[1; 16]);
        let headers = signer.headers_with_nonce("post", "/v1/evaluate", b"body", 1_700_000_000, &[2; 16]);
        let value = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let signature = Signature::from_slice(&crate::hex::from_hex(&value(SIGNATURE)).unwrap()).unwrap();
        let signed = |method, path, deployment: &str, time, nonce: &str, body: &[u8]| {
            request_message(method, path, deployment, signer.kiosk_hex(), time, nonce, body)
        };
        let (d, n) = (value(DEPLOYMENT), value(NONCE));
        assert!(key.verifying_key().verify(&signed("POST", "/v1/evaluate", &d, 1_700_000_000, &n, b"body"), &signature).is_ok());
        for altered in [
            signed("GET", "/v1/evaluate", &d, 1_700_000_000, &n, b"body"),
            signed("POST", "/v1/disclose", &d, 1_700_000_000, &n, b"body"),
            signed("POST", "/v1/evaluate", &hex(&[3; 16]), 1_700_000_000, &n, b"body"),
            signed("POST", "/v1/evaluate", &d, 1_700_000_001, &n, b"body"),
            signed("POST", "/v1/evaluate", &d, 1_700_000_000, &hex(&[4; 16]), b"body"),
            signed("POST", "/v1/evaluate", &d, 1_700_000_000, &n, b"bodz"),
        ] {
            assert!(key.verifying_key().verify(&altered, &signature).is_err());
        }
    }
}
