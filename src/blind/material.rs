//! Reviewer material held by the authority (authority custody, DESIGN §3.3, protocol E): the
//! file's record of an entry holds only its handle; the name, category, source, date and photo are
//! sealed under a key derived from the entry's record key and kept by the authority, which releases
//! them for one handle at a time, to a kiosk that proves it rebuilt that record key.
//!
//! This is the one implementation of protocol E's keys, proof and sealing: enrolment seals with
//! it, the kiosk proves and opens with it, and the authority (`authority::disclosure`) checks
//! proofs with [`verify_proof`].
//!
//! From the record key K_i (what the shares rebuild; [`KEY_BYTES`] = 16 bytes):
//! - `disclosure_key = HKDF-SHA256(salt none, K_i, "veilwatch/record/v2/disclosure")`: the
//!   registration's `verifier`; the authority checks a disclosure request's proof with it, and can
//!   derive neither K_i nor the material key from it.
//! - `material_key = HKDF-SHA256(salt none, K_i, "veilwatch/record/v2/material")`: seals the
//!   material, ChaCha20-Poly1305 with a random 12-byte nonce prepended, AAD =
//!   `"veilwatch/material/v1" || watchlist id || handle`, plaintext = the record plaintext exactly as
//!   local custody seals it in the file, padded to its record class ([`super::format`]).
//! - A request's proof: `HMAC-SHA256(disclosure_key, "VEILWATCH-DISCLOSE-V1\n{deployment}\n{kiosk}\n{nonce}\n{handle}")`
//!   (lowercase hex; nonce = the request's `Veilwatch-Nonce`), so a proof is bound to one kiosk and
//!   one signed request and cannot be replayed by another kiosk.
//!
//! Guarantees: keys are wiped on drop and never printed; a material opens only under its own
//! entry's key, watchlist and handle (`None` otherwise, never a panic); nothing here is logged.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::format::{RecordClass, HANDLE_BYTES};
use super::record::{self, EntryRecord};
use super::shares::KEY_BYTES;
use super::BlindError;
use crate::hex::{from_hex, hex};

const DISCLOSURE_INFO: &[u8] = b"veilwatch/record/v2/disclosure";
const MATERIAL_INFO: &[u8] = b"veilwatch/record/v2/material";
const MATERIAL_AAD: &[u8] = b"veilwatch/material/v1";
const NONCE_BYTES: usize = 12;

/// An entry's handle: 16 random bytes, all the file says of an entry under authority custody.
pub type Handle = [u8; HANDLE_BYTES];

/// A fresh random handle.
pub fn random_handle() -> Handle {
    let mut handle = [0u8; HANDLE_BYTES];
    OsRng.fill_bytes(&mut handle);
    handle
}

fn hkdf(record_key: &[u8; KEY_BYTES], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, &record_key[..]).expand(info, &mut out[..]).expect("32 bytes is a valid HKDF length");
    out
}

/// The two keys an entry's record key gives under authority custody. Wiped on drop.
pub struct MaterialKeys {
    disclosure: Zeroizing<[u8; 32]>,
    material: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MaterialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaterialKeys(withheld)")
    }
}

impl MaterialKeys {
    /// Derives both keys from a record key (the caller wipes its copy of the record key).
    pub fn derive(record_key: &[u8; KEY_BYTES]) -> MaterialKeys {
        MaterialKeys { disclosure: hkdf(record_key, DISCLOSURE_INFO), material: hkdf(record_key, MATERIAL_INFO) }
    }

    /// The registration's verifier for this entry: the disclosure key itself (protocol E).
    pub fn verifier(&self) -> [u8; 32] {
        *self.disclosure
    }

    /// The proof of a disclosure request for `handle` by kiosk `kiosk_hex` with request nonce
    /// `nonce_hex` for deployment `deployment_hex`.
    pub fn proof(&self, deployment_hex: &str, kiosk_hex: &str, nonce_hex: &str, handle: &Handle) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.disclosure[..]).expect("HMAC takes any key length");
        mac.update(&proof_message(deployment_hex, kiosk_hex, nonce_hex, handle));
        mac.finalize().into_bytes().into()
    }

    /// Seals `record` as reviewer material for `handle` of watchlist `watchlist_id`, padded to
    /// `class` (one of the classes of [`RecordClass::ALL`]): nonce || ciphertext.
    pub fn seal(
        &self,
        record: &EntryRecord,
        class: RecordClass,
        watchlist_id: &[u8; 16],
        handle: &Handle,
    ) -> Result<Vec<u8>, BlindError> {
        let plaintext = record::padded_plaintext(record, class)?;
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new((&*self.material).into());
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &aad(watchlist_id, handle) })
            .expect("sealing in memory cannot fail");
        Ok([&nonce[..], &ciphertext].concat())
    }

    /// Opens a sealed material (what `POST /v1/disclose` answers); `None` if it is not this
    /// entry's material for `handle` of `watchlist_id`, or not a padded record of a material class.
    pub fn open(&self, sealed: &[u8], watchlist_id: &[u8; 16], handle: &Handle) -> Option<EntryRecord> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let cipher = ChaCha20Poly1305::new((&*self.material).into());
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad(watchlist_id, handle) })
                .ok()?,
        );
        if !RecordClass::ALL.iter().any(|c| c.plaintext_len() == plaintext.len()) {
            return None;
        }
        record::read_padded_plaintext(&plaintext)
    }
}

fn aad(watchlist_id: &[u8; 16], handle: &Handle) -> Vec<u8> {
    [MATERIAL_AAD, watchlist_id, handle].concat()
}

/// The bytes a disclosure proof is an HMAC of.
pub fn proof_message(deployment_hex: &str, kiosk_hex: &str, nonce_hex: &str, handle: &Handle) -> Vec<u8> {
    format!("VEILWATCH-DISCLOSE-V1\n{deployment_hex}\n{kiosk_hex}\n{nonce_hex}\n{}", hex(handle)).into_bytes()
}

/// Whether `proof` proves knowledge of the record key whose disclosure key is `verifier`, for this
/// request (constant-time comparison): the authority's check.
pub fn verify_proof(
    verifier: &[u8; 32],
    deployment_hex: &str,
    kiosk_hex: &str,
    nonce_hex: &str,
    handle: &Handle,
    proof: &[u8],
) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(verifier).expect("HMAC takes any key length");
    mac.update(&proof_message(deployment_hex, kiosk_hex, nonce_hex, handle));
    mac.verify_slice(proof).is_ok()
}

/// One entry's line of `WATCHLIST.materials.json` (and of a registration's `materials`): its
/// handle (32 hex), verifier (64 hex) and sealed material (base64). Names and photos, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub handle: String,
    pub verifier: String,
    pub sealed: String,
}

impl Material {
    pub fn new(handle: &Handle, verifier: &[u8; 32], sealed: &[u8]) -> Material {
        Material {
            handle: hex(handle),
            verifier: hex(verifier),
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        }
    }

    /// The handle, verifier and sealed bytes, checked; a clear error naming the field otherwise.
    pub fn decode(&self) -> Result<(Handle, [u8; 32], Vec<u8>), BlindError> {
        let bad = |what: &str| BlindError::Malformed(format!("a material's {what} is malformed"));
        let handle = from_hex(&self.handle).and_then(|h| h.try_into().ok()).ok_or_else(|| bad("handle (32 hex)"))?;
        let verifier =
            from_hex(&self.verifier).and_then(|v| v.try_into().ok()).ok_or_else(|| bad("verifier (64 hex)"))?;
        let sealed =
            base64::engine::general_purpose::STANDARD.decode(&self.sealed).map_err(|_| bad("sealed bytes (base64)"))?;
        Ok((handle, verifier, sealed))
    }
}

/// The body of `POST /v1/disclose`: `{"handle": hex32, "proof": hex64}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureBody {
    pub handle: String,
    pub proof: String,
}

impl DisclosureBody {
    /// The JSON body for `handle`, proved by `keys` for the request that carries `nonce_hex`.
    pub fn encode(
        keys: &MaterialKeys,
        deployment_hex: &str,
        kiosk_hex: &str,
        nonce_hex: &str,
        handle: &Handle,
    ) -> Vec<u8> {
        let body = DisclosureBody {
            handle: hex(handle),
            proof: hex(&keys.proof(deployment_hex, kiosk_hex, nonce_hex, handle)),
        };
        serde_json::to_vec(&body).expect("a disclosure body serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> EntryRecord {
        EntryRecord::new(
            "REF-9".into(),
            "Jane Example".into(),
            "c".into(),
            "s".into(),
            1_800_000_000,
            Some(&[0xFF, 0xD8]),
        )
    }

    #[test]
    fn material_opens_only_under_its_entry_watchlist_and_handle() {
        let key = [5u8; 16];
        let keys = MaterialKeys::derive(&key);
        let handle = random_handle();
        let sealed = keys.seal(&record(), RecordClass::Photo8KiB, &[1; 16], &handle).unwrap();
        assert_eq!(sealed.len(), 12 + RecordClass::Photo8KiB.plaintext_len() + 16, "padded to its class");
        assert_eq!(keys.open(&sealed, &[1; 16], &handle), Some(record()));
        assert_eq!(MaterialKeys::derive(&[6; 16]).open(&sealed, &[1; 16], &handle), None, "another record key");
        assert_eq!(keys.open(&sealed, &[2; 16], &handle), None, "another watchlist");
        assert_eq!(keys.open(&sealed, &[1; 16], &random_handle()), None, "another handle");
        assert_eq!(keys.open(&sealed[..11], &[1; 16], &handle), None);
        assert!(!sealed.windows(12).any(|w| w == b"Jane Example"));
    }

    #[test]
    fn a_proof_verifies_for_its_own_request_only() {
        let keys = MaterialKeys::derive(&[5u8; 16]);
        let handle = [9u8; 16];
        let proof = keys.proof("d", "k", "n", &handle);
        assert!(verify_proof(&keys.verifier(), "d", "k", "n", &handle, &proof));
        for (d, k, n, h) in
            [("e", "k", "n", handle), ("d", "l", "n", handle), ("d", "k", "o", handle), ("d", "k", "n", [8; 16])]
        {
            assert!(!verify_proof(&keys.verifier(), d, k, n, &h, &proof));
        }
        let other = MaterialKeys::derive(&[6u8; 16]);
        assert!(!verify_proof(&keys.verifier(), "d", "k", "n", &handle, &other.proof("d", "k", "n", &handle)));
        assert_ne!(keys.verifier(), *keys.material, "the verifier is not the material key");
    }

    #[test]
    fn a_material_line_round_trips_and_names_its_bad_field() {
        let line = Material::new(&[1; 16], &[2; 32], b"sealed");
        assert_eq!(line.decode().unwrap(), ([1; 16], [2; 32], b"sealed".to_vec()));
        let bad = Material { verifier: "zz".into(), ..line };
        assert!(bad.decode().unwrap_err().to_string().contains("verifier"));
    }
}
