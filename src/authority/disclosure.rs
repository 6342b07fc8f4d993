//! Reviewer material at the authority (protocol E, DESIGN §3.3): what a kiosk proves to get the
//! sealed material of one alert's record handle, and how that material is sealed.
//!
//! From an entry's 32-byte record key (HKDF-SHA256, no salt):
//!
//! - `disclosure key = HKDF(record key, info "veilwatch/record/v2/disclosure")`: the registration's
//!   `verifier` for the entry's handle; the authority holds it and cannot get the others from it;
//! - `material key = HKDF(record key, info "veilwatch/record/v2/material")`: seals the material,
//!   ChaCha20-Poly1305 with a random 12-byte nonce prepended, AAD
//!   `"veilwatch/material/v1" || watchlist id || handle`.
//!
//! `POST /v1/disclose` carries `{"handle":hex32,"proof":hex64}` with
//! `proof = HMAC-SHA256(disclosure key, "VEILWATCH-DISCLOSE-V1\n{deployment}\n{kiosk}\n{nonce}\n{handle}")`,
//! the nonce being the request's own `Veilwatch-Nonce`: a proof is good for one signed request of
//! one kiosk, so an observed proof cannot be replayed by anyone.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::registration::HexBytes;

const DISCLOSURE_INFO: &[u8] = b"veilwatch/record/v2/disclosure";
const MATERIAL_INFO: &[u8] = b"veilwatch/record/v2/material";
const MATERIAL_AAD: &[u8] = b"veilwatch/material/v1";
const NONCE_BYTES: usize = 12;
/// The largest `/v1/disclose` body (the JSON is ~120 bytes).
pub const MAX_REQUEST_BYTES: usize = 512;

fn expand(record_key: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, record_key).expand(info, &mut out[..]).expect("32 bytes is a valid HKDF length");
    out
}

/// The entry's disclosure key: the authority's verifier of its proofs.
pub fn disclosure_key(record_key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    expand(record_key, DISCLOSURE_INFO)
}

/// The key the entry's reviewer material is sealed under.
pub fn material_key(record_key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    expand(record_key, MATERIAL_INFO)
}

fn aad(watchlist_id: &[u8; 16], handle: &[u8; 16]) -> Vec<u8> {
    [MATERIAL_AAD, watchlist_id, handle].concat()
}

/// Seals `plaintext` (the padded record plaintext) for the authority to hold.
pub fn seal_material(record_key: &[u8; 32], watchlist_id: &[u8; 16], handle: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new((&*material_key(record_key)).into());
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad(watchlist_id, handle) })
        .expect("ChaCha20-Poly1305 seals any length a record has");
    [&nonce[..], &sealed].concat()
}

/// Opens what [`seal_material`] sealed; `None` if it was sealed for another key, list or handle,
/// or altered.
pub fn open_material(
    record_key: &[u8; 32],
    watchlist_id: &[u8; 16],
    handle: &[u8; 16],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let cipher = ChaCha20Poly1305::new((&*material_key(record_key)).into());
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad(watchlist_id, handle) })
        .ok()
        .map(Zeroizing::new)
}

fn proof_mac(disclosure_key: &[u8; 32], deployment: &str, kiosk: &str, nonce: &str, handle: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(disclosure_key).expect("HMAC takes any key length");
    mac.update(format!("VEILWATCH-DISCLOSE-V1\n{deployment}\n{kiosk}\n{nonce}\n{handle}").as_bytes());
    mac
}

/// The kiosk's proof of the record key for one request (all arguments lowercase hex).
pub fn proof(disclosure_key: &[u8; 32], deployment: &str, kiosk: &str, nonce: &str, handle: &str) -> [u8; 32] {
    proof_mac(disclosure_key, deployment, kiosk, nonce, handle).finalize().into_bytes().into()
}

/// Checks a proof in constant time.
pub fn verify_proof(
    verifier: &[u8; 32],
    deployment: &str,
    kiosk: &str,
    nonce: &str,
    handle: &str,
    proof: &[u8; 32],
) -> bool {
    proof_mac(verifier, deployment, kiosk, nonce, handle).verify_slice(proof).is_ok()
}

/// The body of `POST /v1/disclose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscloseRequest {
    pub handle: HexBytes<16>,
    pub proof: HexBytes<32>,
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

    #[test]
    fn the_proof_binds_key_deployment_kiosk_nonce_and_handle() {
        let record_key = [7u8; 32];
        let key = disclosure_key(&record_key);
        let p = proof(&key, "d", "k", "n", "h");
        assert!(verify_proof(&key, "d", "k", "n", "h", &p));
        for (d, k, n, h) in [("x", "k", "n", "h"), ("d", "x", "n", "h"), ("d", "k", "x", "h"), ("d", "k", "n", "x")] {
            assert!(!verify_proof(&key, d, k, n, h, &p));
        }
        assert!(!verify_proof(&disclosure_key(&[8; 32]), "d", "k", "n", "h", &p));
        assert_ne!(*key, *material_key(&record_key), "the verifier is not the sealing key");
    }

    #[test]
    fn sealed_material_opens_only_for_its_key_list_and_handle() {
        let (record_key, list, handle) = ([1u8; 32], [2u8; 16], [3u8; 16]);
        let sealed = seal_material(&record_key, &list, &handle, b"record plaintext");
        assert_eq!(&open_material(&record_key, &list, &handle, &sealed).unwrap()[..], b"record plaintext");
        assert!(open_material(&[9; 32], &list, &handle, &sealed).is_none());
        assert!(open_material(&record_key, &[9; 16], &handle, &sealed).is_none());
        assert!(open_material(&record_key, &list, &[9; 16], &sealed).is_none());
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert!(open_material(&record_key, &list, &handle, &altered).is_none());
        assert_ne!(seal_material(&record_key, &list, &handle, b"record plaintext"), sealed, "a fresh nonce each time");
    }
}
