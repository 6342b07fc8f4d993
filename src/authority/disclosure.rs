//! The server's side of reviewer material (protocol E, DESIGN §3.3): the body of
//! `POST /v1/disclose`, parsed; the check of its proof against the registered verifier; and the
//! disclosure log's entry.
//!
//! `POST /v1/disclose` carries `{"handle":hex32,"proof":hex64}` (nothing else, at most
//! [`MAX_REQUEST_BYTES`]). The proof is the kiosk's HMAC over the deployment, the kiosk, the
//! request's own `Veilwatch-Nonce` and the handle, keyed with the entry's disclosure key: a proof is
//! good for one signed request of one kiosk, so an observed proof cannot be replayed by anyone.
//! The key derivations, the proof and the sealing are [`crate::blind::material`]'s, the one
//! implementation the kiosk, the enrolment and the authority share; this module adds no crypto.

use serde::{Deserialize, Serialize};

use super::registration::HexBytes;
use crate::blind::material;

/// The largest `/v1/disclose` body (the JSON is ~120 bytes).
pub const MAX_REQUEST_BYTES: usize = 512;

/// The body of `POST /v1/disclose`, as the authority reads it: both fields exact-length hex, no
/// other field. (The kiosk writes it with [`material::DisclosureBody`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscloseRequest {
    pub handle: HexBytes<16>,
    pub proof: HexBytes<32>,
}

impl DiscloseRequest {
    /// The request in `body`, or a message for the kiosk's developer saying what the body must be.
    pub fn parse(body: &[u8]) -> Result<DiscloseRequest, String> {
        serde_json::from_slice(body)
            .map_err(|e| format!("the body must be {{\"handle\":<32 hex>,\"proof\":<64 hex>}}: {e}"))
    }

    /// Whether the proof shows knowledge of the record key whose disclosure key is `verifier`,
    /// for the signed request of kiosk `kiosk_hex` of `deployment_hex` that carried `nonce_hex`
    /// (constant-time comparison).
    pub fn proves(&self, verifier: &[u8; 32], deployment_hex: &str, kiosk_hex: &str, nonce_hex: &str) -> bool {
        material::verify_proof(verifier, deployment_hex, kiosk_hex, nonce_hex, &self.handle.0, &self.proof.0)
    }
}

/// One released material, as the disclosure log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disclosure {
    pub deployment: HexBytes<16>,
    pub kiosk: HexBytes<32>,
    pub handle: HexBytes<16>,
    /// Unix seconds.
    pub time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blind::material::{DisclosureBody, MaterialKeys};

    #[test]
    fn what_the_kiosk_writes_the_authority_reads_and_verifies_for_that_request_only() {
        let keys = MaterialKeys::derive(&[7u8; 16]);
        let handle = [3u8; 16];
        let body = DisclosureBody::encode(&keys, "d", "k", "n", &handle);
        let request = DiscloseRequest::parse(&body).unwrap();
        assert_eq!(request.handle.0, handle);
        assert!(request.proves(&keys.verifier(), "d", "k", "n"));
        for (d, k, n) in [("x", "k", "n"), ("d", "x", "n"), ("d", "k", "x")] {
            assert!(!request.proves(&keys.verifier(), d, k, n));
        }
        assert!(!request.proves(&MaterialKeys::derive(&[8u8; 16]).verifier(), "d", "k", "n"));
        let other_handle = DiscloseRequest { handle: HexBytes([4; 16]), ..request };
        assert!(!other_handle.proves(&keys.verifier(), "d", "k", "n"));
    }

    #[test]
    fn a_body_with_a_short_field_or_an_extra_field_is_refused_with_its_shape() {
        let proof = "ab".repeat(32);
        for body in [
            format!(r#"{{"handle":"{}","proof":"{proof}"}}"#, "00".repeat(15)),
            format!(r#"{{"handle":"{}","proof":"{}"}}"#, "00".repeat(16), "ab".repeat(31)),
            format!(r#"{{"handle":"{}","proof":"{proof}","x":1}}"#, "00".repeat(16)),
        ] {
            assert!(DiscloseRequest::parse(body.as_bytes()).unwrap_err().contains("<32 hex>"), "{body}");
        }
    }
}
