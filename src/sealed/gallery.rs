//! The sealed gallery: what the issuer registers at the authority for a sealed-custody deployment
//! (DESIGN §3.4 "Registration by the issuer carries the gallery, encrypted at rest"), and the one
//! reader and writer of its bytes.
//!
//! Guarantees: the templates leave the issuer's machine only sealed (ChaCha20-Poly1305) under a key
//! derived from the authority's master secret and the deployment id, so the registration document,
//! the admin listener and the authority's state store (SQLite file or Redis) hold ciphertext only;
//! the authority opens it in memory when it answers. A tampered byte, another deployment's gallery
//! or another master secret is refused ([`SealedError::Malformed`]).
//!
//! **Sealed form**: `nonce (12) || ChaCha20-Poly1305(key, nonce, plaintext, aad = MAGIC || deployment)`,
//! key = HKDF-SHA256(ikm = master secret, salt = [`KEY_SALT`], info = deployment id).
//!
//! **Plaintext** (little-endian):
//!
//! ```text
//! magic "VWSG1\n" (6) | threshold, cosine × 1000 (u16) | decoy probability × 1000 (u16) | count (u32)
//! count × { handle (16) | record key (16) | quantised template, 128 × i8 in [−63, 63] }
//! ```
//!
//! Each entry's reviewer material is registered beside it as under authority custody (handle →
//! material sealed under a key derived from the record key, `blind::material`); on a valid claim
//! on its row the authority releases the material *and* the record key, which the kiosk has no
//! other way to learn. So under sealed custody the authority can open the names and photos too:
//! it holds the templates already.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::quantise::{Quantised, MAX_COMPONENT};
use super::SealedError;
use crate::blind::prf::MasterSecret;
use crate::blind::shares::KEY_BYTES;
use crate::template::EMBEDDING_DIM;

const MAGIC: &[u8; 6] = b"VWSG1\n";
/// HKDF salt of the gallery key.
pub const KEY_SALT: &[u8] = b"veilwatch/sealed-gallery/v1";
const NONCE_BYTES: usize = 12;
const HEADER_BYTES: usize = MAGIC.len() + 2 + 2 + 4;
const ENTRY_BYTES: usize = 16 + KEY_BYTES + EMBEDDING_DIM;
/// The most entries one gallery holds (eight answer blocks).
pub const MAX_ENTRIES: usize = 65_536;

/// One listed person at the authority.
pub struct GalleryEntry {
    /// The handle their reviewer material is registered under.
    pub handle: [u8; 16],
    /// The key their reviewer material is sealed under (released on a valid claim of their row).
    pub record_key: Zeroizing<[u8; KEY_BYTES]>,
    pub template: Quantised,
}

/// A deployment's gallery and the tunables of its answers.
pub struct Gallery {
    /// Cosine threshold, in thousandths.
    pub threshold_milli: u16,
    /// Probability, in thousandths, that an answer carries a decoy.
    pub decoy_milli: u16,
    pub entries: Vec<GalleryEntry>,
}

impl std::fmt::Debug for Gallery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gallery({} entries, contents withheld)", self.entries.len())
    }
}

fn gallery_key(master: &MasterSecret, deployment: &[u8; 16]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(KEY_SALT), master.as_bytes())
        .expand(deployment, &mut key[..])
        .expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

fn aad(deployment: &[u8; 16]) -> Vec<u8> {
    [&MAGIC[..], deployment].concat()
}

impl Gallery {
    /// The cosine threshold as a number.
    pub fn threshold(&self) -> f32 {
        f32::from(self.threshold_milli) / 1000.0
    }

    /// The plaintext bytes.
    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_BYTES + self.entries.len() * ENTRY_BYTES));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.threshold_milli.to_le_bytes());
        out.extend_from_slice(&self.decoy_milli.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for entry in &self.entries {
            out.extend_from_slice(&entry.handle);
            out.extend_from_slice(&entry.record_key[..]);
            out.extend(entry.template.components().iter().map(|&c| c as i8 as u8));
        }
        out
    }

    /// Parses the plaintext: every length and value checked before use.
    fn from_bytes(bytes: &[u8]) -> Result<Gallery, SealedError> {
        let malformed = SealedError::Malformed;
        if bytes.len() < HEADER_BYTES || &bytes[..MAGIC.len()] != MAGIC {
            return Err(malformed("not a sealed gallery (magic)"));
        }
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let threshold_milli = u16_at(6);
        let decoy_milli = u16_at(8);
        let count = u32::from_le_bytes(bytes[10..14].try_into().expect("4 bytes")) as usize;
        if threshold_milli == 0 || threshold_milli >= 1000 || decoy_milli > 1000 {
            return Err(malformed("the gallery's threshold or decoy probability is out of range"));
        }
        if count == 0 || count > MAX_ENTRIES || bytes.len() != HEADER_BYTES + count * ENTRY_BYTES {
            return Err(malformed("the gallery's entry count does not match its length"));
        }
        let entries = bytes[HEADER_BYTES..]
            .chunks_exact(ENTRY_BYTES)
            .map(|chunk| {
                let components: Vec<i64> = chunk[16 + KEY_BYTES..].iter().map(|&b| i64::from(b as i8)).collect();
                let template = Quantised::from_components(&components)
                    .ok_or(malformed("a gallery template component is outside [−63, 63]"))?;
                let mut record_key = Zeroizing::new([0u8; KEY_BYTES]);
                record_key.copy_from_slice(&chunk[16..16 + KEY_BYTES]);
                Ok(GalleryEntry { handle: chunk[..16].try_into().expect("16 bytes"), record_key, template })
            })
            .collect::<Result<Vec<_>, SealedError>>()?;
        let mut handles: Vec<[u8; 16]> = entries.iter().map(|e| e.handle).collect();
        handles.sort_unstable();
        if handles.windows(2).any(|w| w[0] == w[1]) {
            return Err(malformed("two gallery entries have the same handle"));
        }
        Ok(Gallery { threshold_milli, decoy_milli, entries })
    }

    /// The gallery sealed for `deployment` under the key derived from `master`.
    pub fn seal(&self, master: &MasterSecret, deployment: &[u8; 16]) -> Vec<u8> {
        debug_assert!(self.entries.iter().all(|e| e.template.components().iter().all(|c| c.abs() <= MAX_COMPONENT)));
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new((&*gallery_key(master, deployment)).into());
        let plaintext = self.to_bytes();
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &aad(deployment) })
            .expect("ChaCha20-Poly1305 encrypts any length below 256 GiB");
        [&nonce[..], &ciphertext].concat()
    }

    /// Opens a sealed gallery of `deployment` with the key derived from `master`.
    pub fn open(sealed: &[u8], master: &MasterSecret, deployment: &[u8; 16]) -> Result<Gallery, SealedError> {
        if sealed.len() < NONCE_BYTES {
            return Err(SealedError::Malformed("the sealed gallery is truncated"));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let cipher = ChaCha20Poly1305::new((&*gallery_key(master, deployment)).into());
        let plaintext = Zeroizing::new(
            cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad(deployment) }).map_err(
                |_| {
                    SealedError::Malformed(
                        "the sealed gallery does not open: altered, of another deployment, or sealed under another \
                         master secret",
                    )
                },
            )?,
        );
        Gallery::from_bytes(&plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gallery() -> Gallery {
        let entries = (0..3u8)
            .map(|i| GalleryEntry {
                handle: [i; 16],
                record_key: Zeroizing::new([i + 10; KEY_BYTES]),
                template: Quantised::from_components(&[i64::from(i) * 10 - 10; EMBEDDING_DIM]).unwrap(),
            })
            .collect();
        Gallery { threshold_milli: 350, decoy_milli: 500, entries }
    }

    #[test]
    fn a_gallery_round_trips_and_opens_only_for_its_deployment_and_master() {
        let master = MasterSecret::from_bytes(&[4; 32]).unwrap();
        let sealed = gallery().seal(&master, &[1; 16]);
        let opened = Gallery::open(&sealed, &master, &[1; 16]).unwrap();
        assert_eq!(*opened.to_bytes(), *gallery().to_bytes());
        assert_eq!(opened.threshold(), 0.35);
        assert!(Gallery::open(&sealed, &master, &[2; 16]).is_err());
        assert!(Gallery::open(&sealed, &MasterSecret::from_bytes(&[5; 32]).unwrap(), &[1; 16]).is_err());
        for i in [0, 12, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(Gallery::open(&bad, &master, &[1; 16]).is_err(), "byte {i}");
        }
        assert!(Gallery::open(&sealed[..5], &master, &[1; 16]).is_err());
        let plaintext = gallery().to_bytes();
        assert!(Gallery::from_bytes(&plaintext[..plaintext.len() - 1]).is_err());
        let mut out_of_range = plaintext.to_vec();
        *out_of_range.last_mut().unwrap() = (MAX_COMPONENT + 1) as u8;
        assert!(Gallery::from_bytes(&out_of_range).is_err());
    }
}
