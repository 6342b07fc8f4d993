//! Entry records: what a reviewer sees once a probe opens an entry (reference id, label,
//! category, source, enrolment date, optional small reference photo), and how each is sealed
//! under a key derived from the entry's record key K_i — the key the shares rebuild.
//!
//! Enrolment seals records and the matcher opens them; both use this module and nothing of each
//! other. Guarantees: a record is never stored in the clear; it is padded to its file's record
//! class ([`RecordClass`]) inside the sealed plaintext, so its length says nothing (photo or not,
//! label length); a dummy entry's record is the same size and opens under no key; derived keys and
//! plaintexts are wiped after use; a record that fails to open is `None`, never an error (a
//! near-miss is not a fault).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::format::{
    read_record_plaintext, record_aad, write_record_plaintext, RecordClass, RecordRef, HANDLE_BYTES,
    MAX_RECORD_METADATA,
};
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

/// A record as it is padded: its metadata (the JSON of the record without its photo) and its
/// photo's JPEG bytes.
struct Encoded {
    metadata: Zeroizing<Vec<u8>>,
    photo: Zeroizing<Vec<u8>>,
}

fn encode(record: &EntryRecord) -> Result<Encoded, BlindError> {
    let photo = match &record.photo_jpeg_hex {
        Some(hex) => crate::hex::from_hex(hex)
            .ok_or_else(|| BlindError::Enrolment(format!("the photo of record {} is not hex", record.reference_id)))?,
        None => Vec::new(),
    };
    let metadata =
        serde_json::to_vec(&EntryRecord { photo_jpeg_hex: None, ..record.clone() }).expect("records serialise");
    Ok(Encoded { metadata: Zeroizing::new(metadata), photo: Zeroizing::new(photo) })
}

/// The smallest record class that holds `record`, or a clear error if none does.
pub fn class_of(record: &EntryRecord) -> Result<RecordClass, BlindError> {
    let encoded = encode(record)?;
    RecordClass::smallest_for(encoded.metadata.len(), encoded.photo.len()).ok_or_else(|| {
        BlindError::Enrolment(format!(
            "record {} takes {} bytes of text and a {}-byte photo, more than the largest record class holds \
             ({} bytes of text and a photo of up to 16 KiB); use a smaller reference photo or shorter texts",
            record.reference_id,
            encoded.metadata.len(),
            encoded.photo.len(),
            MAX_RECORD_METADATA,
        ))
    })
}

/// Seals record `index` of the watchlist whose header hashes to `header_hash`, padded to `class`.
pub fn seal(
    record: &EntryRecord,
    class: RecordClass,
    key: &[u8; KEY_BYTES],
    header_hash: &[u8; 32],
    index: u32,
) -> Result<SealedRecord, BlindError> {
    let plaintext = padded_plaintext(record, class)?;
    Ok(seal_plaintext(&plaintext, key, header_hash, index))
}

/// The record's plaintext padded to `class` (a material class): what a local-custody file seals,
/// and what the authority keeps sealed as reviewer material ([`super::material`]).
pub fn padded_plaintext(record: &EntryRecord, class: RecordClass) -> Result<Zeroizing<Vec<u8>>, BlindError> {
    let encoded = encode(record)?;
    write_record_plaintext(&encoded.metadata, &encoded.photo, class)
        .ok_or_else(|| BlindError::Enrolment(format!("record {} does not fit {}", record.reference_id, class.name())))
}

/// The mirror of [`padded_plaintext`]: the record, or `None` if the plaintext is not one.
pub fn read_padded_plaintext(plaintext: &[u8]) -> Option<EntryRecord> {
    let (metadata, photo) = read_record_plaintext(plaintext)?;
    let record: EntryRecord = serde_json::from_slice(metadata).ok()?;
    Some(EntryRecord { photo_jpeg_hex: (!photo.is_empty()).then(|| crate::hex::hex(photo)), ..record })
}

/// Seals entry `index`'s handle as its record under authority custody (class
/// [`RecordClass::Handle`]).
pub fn seal_handle(
    handle: &[u8; HANDLE_BYTES],
    key: &[u8; KEY_BYTES],
    header_hash: &[u8; 32],
    index: u32,
) -> SealedRecord {
    seal_plaintext(handle, key, header_hash, index)
}

/// Opens entry `index`'s handle with a rebuilt record key; `None` if the key is not the entry's.
pub fn open_handle(
    sealed: RecordRef,
    key: &[u8; KEY_BYTES],
    header_hash: &[u8; 32],
    index: u32,
) -> Option<[u8; HANDLE_BYTES]> {
    let plaintext = open_plaintext(sealed, key, header_hash, index)?;
    (*plaintext).as_slice().try_into().ok()
}

fn open_plaintext(
    sealed: RecordRef,
    key: &[u8; KEY_BYTES],
    header_hash: &[u8; 32],
    index: u32,
) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = ChaCha20Poly1305::new((&*sealing_key(key)).into());
    let aad = record_aad(header_hash, index);
    Some(Zeroizing::new(
        cipher.decrypt(Nonce::from_slice(sealed.nonce), Payload { msg: sealed.ciphertext, aad: &aad }).ok()?,
    ))
}

/// The record of a dummy entry (either custody): zeros of the class's length sealed under a fresh random key that
/// is then dropped, so it is the size of a real record and nothing opens it.
pub fn seal_dummy(class: RecordClass, header_hash: &[u8; 32], index: u32) -> SealedRecord {
    let plaintext = Zeroizing::new(vec![0u8; class.plaintext_len()]);
    seal_plaintext(&plaintext, &random_record_key(), header_hash, index)
}

fn seal_plaintext(plaintext: &[u8], key: &[u8; KEY_BYTES], header_hash: &[u8; 32], index: u32) -> SealedRecord {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new((&*sealing_key(key)).into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &record_aad(header_hash, index) })
        .expect("sealing in memory cannot fail");
    SealedRecord { nonce, ciphertext }
}

/// Opens record `index` with a rebuilt record key; `None` if the key is not the record's.
pub fn open(sealed: RecordRef, key: &[u8; KEY_BYTES], header_hash: &[u8; 32], index: u32) -> Option<EntryRecord> {
    read_padded_plaintext(&open_plaintext(sealed, key, header_hash, index)?)
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
        let class = class_of(&record).unwrap();
        let sealed = seal(&record, class, &key, &[7; 32], 3).unwrap();
        assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 3), Some(record));
        assert_eq!(open(sealed.as_ref(), &random_record_key(), &[7; 32], 3), None);
        assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 4), None);
        assert_eq!(open(sealed.as_ref(), &key, &[8; 32], 3), None);
    }

    fn with_photo(label: &str, photo_bytes: usize) -> EntryRecord {
        let photo = vec![0xD8; photo_bytes];
        EntryRecord::new(
            "REF-7".into(),
            label.into(),
            "c".into(),
            "s".into(),
            1_800_000_000,
            (photo_bytes > 0).then_some(&photo[..]),
        )
    }

    #[test]
    fn records_of_each_class_seal_to_one_length_whatever_their_content() {
        for (class, photos) in [
            (RecordClass::NoPhoto, [0, 0]),
            (RecordClass::Photo8KiB, [1024, 8 * 1024]),
            (RecordClass::Photo16KiB, [9 * 1024, 16 * 1024]),
        ] {
            let mut lengths = Vec::new();
            for (label, photo) in [("A", photos[0]), (&*"B".repeat(700), photos[1])] {
                let record = with_photo(label, photo);
                assert_eq!(class_of(&record).unwrap(), class, "{photo}-byte photo");
                let key = random_record_key();
                let sealed = seal(&record, class, &key, &[7; 32], 0).unwrap();
                assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 0), Some(record));
                lengths.push(sealed.ciphertext.len());
            }
            lengths.push(seal_dummy(class, &[7; 32], 0).ciphertext.len());
            assert_eq!(lengths, [class.plaintext_len() + 16; 3], "{class:?}");
        }
        // A small record also fits a larger class (a file has one class for all its records).
        let small = with_photo("A", 0);
        let key = random_record_key();
        let sealed = seal(&small, RecordClass::Photo16KiB, &key, &[7; 32], 0).unwrap();
        assert_eq!(open(sealed.as_ref(), &key, &[7; 32], 0), Some(small));
    }

    #[test]
    fn a_record_larger_than_the_largest_class_is_refused_with_a_reason() {
        let err = class_of(&with_photo("A", 16 * 1024 + 1)).unwrap_err().to_string();
        assert!(
            err.contains("REF-7") && err.contains("largest record class") && err.contains("smaller reference photo"),
            "{err}"
        );
        let err = class_of(&with_photo(&"L".repeat(1100), 0)).unwrap_err().to_string();
        assert!(err.contains("largest record class"), "{err}");
        let err = seal(&with_photo("A", 2000), RecordClass::NoPhoto, &random_record_key(), &[7; 32], 0).err().unwrap();
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}
