//! Entry records: what a reviewer sees once a probe opens an entry (reference id, label,
//! category, source, enrolment date, optional small reference photo), and how each is sealed
//! under a key derived from the entry's record key K_i — the key the shares rebuild.
//!
//! Enrolment seals records and the matcher opens them; both use this module and nothing of each
//! other. Guarantees: a record is never stored in the clear; derived keys and plaintexts are wiped
//! after use; a record that fails to open is `None`, never an error (a near-miss is not a fault).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::format::{record_aad, RecordRef, MAX_RECORD};
use super::shares::KEY_BYTES;
use super::BlindError;

/// What a reviewer sees once a record opens. Never stored in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct EntryRecord {
    pub reference_id: String,
    pub label: String,
    pub category: String,
    /// Source and legal basis of the enrolment.
    pub source: String,
    /// Date of enrolment, `YYYY-MM-DD`.
    pub enrolled: String,
    /// Optional small reference photo (JPEG bytes, hex) for the human reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub photo_jpeg_hex: Option<String>,
}

impl EntryRecord {
    /// A record enrolled at `now_unix`, with its reference photo (JPEG bytes) if there is one.
    pub fn new(
        reference_id: String,
        label: String,
        category: String,
        source: String,
        now_unix: i64,
        photo_jpeg: Option<&[u8]>,
    ) -> EntryRecord {
        EntryRecord {
            reference_id,
            label,
            category,
            source,
            enrolled: crate::time::format_utc(now_unix)[..10].to_owned(),
            photo_jpeg_hex: photo_jpeg.map(crate::hex::hex),
        }
    }
}

/// An entry's random record key K_i, as the shares carry it.
pub type RecordKey = Zeroizing<[u8; KEY_BYTES]>;

/// A fresh random record key.
pub fn random_record_key() -> RecordKey {
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    OsRng.fill_bytes(&mut key[..]);
    key
}

/// The AEAD key a record is sealed under: HKDF(K_i, "record").
fn sealing_key(key: &[u8; KEY_BYTES]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, key)
        .expand(b"veilwatch/blind-lsh/v1/record", &mut out[..])
        .expect("32 bytes is a valid HKDF length");
    out
}

/// A sealed record as the file stores it.
pub struct SealedRecord {
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
}

impl SealedRecord {
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef { nonce: &self.nonce, ciphertext: &self.ciphertext }
    }
}

/// Seals record `index` of the watchlist whose header hashes to `header_hash`.
pub fn seal(
    record: &EntryRecord,
    key: &[u8; KEY_BYTES],
    header_hash: &[u8; 32],
    index: u32,
) -> Result<SealedRecord, BlindError> {
    let plaintext = Zeroizing::new(serde_json::to_vec(record).expect("records serialise"));
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new((&*sealing_key(key)).into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &record_aad(header_hash, index) })
        .expect("sealing in memory cannot fail");
    if ciphertext.len() > MAX_RECORD {
        return Err(BlindError::Enrolment(format!("record {} is larger than 1 MiB", record.reference_id)));
    }
    Ok(SealedRecord { nonce, ciphertext })
}

/// Opens record `index` with a rebuilt record key; `None` if the key is not the record's.
pub fn open(sealed: RecordRef, key: &[u8; KEY_BYTES], header_hash: &[u8; 32], index: u32) -> Option<EntryRecord> {
    let cipher = ChaCha20Poly1305::new((&*sealing_key(key)).into());
    let aad = record_aad(header_hash, index);
    let plaintext = Zeroizing::new(
        cipher.decrypt(Nonce::from_slice(sealed.nonce), Payload { msg: sealed.ciphertext, aad: &aad }).ok()?,
    );
    serde_json::from_slice(&plaintext).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_with_its_key_index_and_header_only() {
        let record = EntryRecord::new("REF-1".into(), "A".into(), "c".into(), "s".into(), 1_800_000_000, Some(&[1, 2]));
        assert_eq!(record.enrolled, "2027-01-15");
        assert_eq!(record.photo_jpeg_hex.as_deref(), Some("0102"));
        let key = random_record_key();
        let sealed = seal(&record, &key, &[7; 32], 3).unwrap();
        assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 3), Some(record));
        assert_eq!(open(sealed.as_ref(), &random_record_key(), &[7; 32], 3), None);
        assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 4), None);
        assert_eq!(open(sealed.as_ref(), &key, &[8; 32], 3), None);
    }
}
