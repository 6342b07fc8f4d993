//! The watchlist file format, version 2: its spec (below), its one parser and its one writer,
//! side by side so that they stay mirrors of each other (a property test writes what it parsed
//! and compares bytes).
//!
//! All integers are big-endian. The header fixes the size of everything that follows, so the
//! parser computes the file's exact length (with checked arithmetic) and compares it with the
//! bytes it was given before it allocates anything.
//!
//! ```text
//! offset  bytes   field
//! 0       6       magic "VWLIST"
//! 6       2       version = 2
//! 8       4       header length H (≤ 1024)
//! 12      H       header
//!                   16  watchlist id (random)
//!                   1   model id length n (1..=64), then n bytes of UTF-8 model id
//!                   2   embedding dimension d (1..=1024)
//!                   2   tables L (1..=16384)
//!                   2   code space C = 2 · next_power_of_two(d)
//!                   32  rotation seed (public; derives the LSH tables)
//!                   2   threshold m (8..=L)
//!                   1   PRF suite: 1 = hmac-sha256-local, 3 = voprf-ristretto255-sha512 (2, plain
//!                       OPRF mode, is refused: its answers cannot be verified)
//!                   32  suite 3 only: the deployment's VOPRF public key, a ristretto255 element
//!                       (RFC 9497 DeriveKeyPair(authority master secret, info = watchlist id));
//!                       the device verifies every authority answer's proof against it
//!                   8   key check: tag of slot 0 derived from PRF("veilwatch/blind-lsh/v1/key-check" || id)
//!                   8   valid from, Unix seconds (i64)
//!                   8   valid until, Unix seconds (i64)
//!                   32  issuer Ed25519 public key
//!                   4   entry size class N (a multiple of 64 up to 1 024, then of 1 024; ≤ 2^20)
//!                   1   bucket items k (1..=64)
//!                   1   record class: 1, 2 or 3 under local custody, 4 under authority custody (below)
//!                 (the fields fill H exactly)
//! 12+H    8·B     bucket directory: B tags, strictly ascending, where
//!                   B = L · (min(N, C) + ⌊max(N − C, 0) / k⌋)
//!                   tag = HKDF(PRF(x_l), "veilwatch/blind-lsh/v2/tag" || u16 slot)[..8]
//!         B·(7k+16)  bucket blobs, in directory order, each ChaCha20-Poly1305 under
//!                   HKDF(PRF(x_l), "veilwatch/blind-lsh/v2/bucket" || u16 slot), nonce 0 (each key
//!                   seals one blob), AAD = "veilwatch/bucket" || header hash || u16 table l,
//!                   sealing exactly k × (u24 entry index, 4-byte share); index 0xFFFFFF is filler
//!         N·(12+P+16)  records, by entry index: 12 nonce, then P + 16 bytes of ChaCha20-Poly1305
//!                   under HKDF(record key K_i, "record"), AAD = "veilwatch/record" || header hash
//!                   || u32 index, sealing P bytes of padded record:
//!                     2  metadata length a (1..=1020), a bytes of JSON (the record without photo)
//!                     2  photo length p, p bytes of JPEG
//!                     zeros up to P
//! end−64  64      Ed25519 signature by the issuer over every preceding byte
//! ```
//!
//! Record classes (P, the padded plaintext; metadata at most 1 020 bytes): 1 = 1 024 bytes (no
//! photo), 2 = 9 216 (a photo of 1 byte to 8 KiB), 3 = 17 408 (8 KiB + 1 to 16 KiB). A file has
//! one record class, the largest its real records need, and every record (dummies included) is
//! that size, so no record's size tells it from another; a record that fits no class is refused at
//! enrolment.
//!
//! ## Authority custody: the file holds handles, the authority the reviewer material
//!
//! Under a PRF suite other than `hmac-sha256-local` the record class is 4 (P = 16) and each record's
//! plaintext is only the entry's *handle*: 16 random bytes, sealed as above (dummies: 16 zero bytes
//! under a random key). The reviewer material (the padded plaintext a local-custody record would
//! hold, in classes 1–3) is kept by the authority, sealed by enrolment (`src/blind/material.rs`,
//! DESIGN §3.3): `material_key = HKDF-SHA256(K_i, "veilwatch/record/v2/material")`, ChaCha20-Poly1305
//! with a random 12-byte nonce prepended, AAD = `"veilwatch/material/v1" || watchlist id || handle`.
//! The authority releases it for a handle on proof of `disclosure_key = HKDF-SHA256(K_i,
//! "veilwatch/record/v2/disclosure")` (an HMAC over the request), so neither the file nor the
//! authority alone yields a name or a photo. A parser refuses class 4 under local custody and
//! classes 1–3 under authority custody.
//!
//! The header hash is SHA-256 of bytes `0..12+H`.
//!
//! ## What the file reveals (G3, T1): its size class, nothing finer
//!
//! The real entry count n is padded to the class N with dummy entries: random shares in random
//! buckets, and records sealed under random keys (their shares rebuild nothing that opens them).
//! Entry indices are shuffled, so a dummy's index says nothing.
//!
//! Padding the entries alone would not hide n. A bucket holds every entry whose template falls in
//! the same (table, code); real faces share codes more often than random dummies do, so the number
//! of buckets and their sizes would still estimate n (v1's 30-person list had 27 790 buckets for
//! 30 × 1 024 entry-tables). So a (table, code)'s items are cut into buckets of exactly k items,
//! found as slots 0, 1, … of its PRF output (the matcher reads slots until a tag is missing); the
//! last one is topped up with filler items (index 0xFFFFFF, random share, sealed with the rest).
//! Whatever the codes, a table then needs at most min(N, C) + ⌊max(N − C, 0) / k⌋ buckets (each
//! code used adds one, every further bucket holds k items), and the writer fills every table's
//! share of B with filler buckets (random tags and random blobs, which no key opens). Every bucket
//! has the same size and B depends on (N, C, k, L) only, so directory and blobs are a function of
//! the class. k is the 1..=64 that minimises the bucket bytes of a table (filler items against the
//! 24 bytes of tag and AEAD tag per bucket): 1 up to C entries, 3 at 1 024, 11 at 10 240.
//!
//! The directory does not say which table a bucket belongs to; only a party that evaluated the PRF
//! on a code learns that, and only for buckets it can open.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::prf::{check_public_key, PrfSuite, PUBLIC_KEY_BYTES, RETIRED_OPRF_SUITE_ID, TAG_BYTES};
use super::shares::{MAX_TABLES, MIN_THRESHOLD, SHARE_BYTES};
use super::BlindError;
use crate::hex::hex;

pub const MAGIC: &[u8; 6] = b"VWLIST";
pub const VERSION: u16 = 2;
pub const MAX_HEADER: usize = 1024;
/// The largest entry size class.
pub const MAX_ENTRIES: u32 = 1 << 20;
pub const MAX_DIM: u16 = 1024;
pub const MAX_BUCKET_ITEMS: u8 = 64;
pub const BUCKET_ITEM: usize = 3 + SHARE_BYTES;
/// The entry index of a filler item: never an entry (indices are below [`MAX_ENTRIES`]).
pub const FILLER_ENTRY: u32 = (1 << 24) - 1;
pub const AEAD_TAG: usize = 16;
pub const RECORD_NONCE: usize = 12;
pub const SIGNATURE: usize = 64;
/// The longest record metadata (JSON without the photo).
pub const MAX_RECORD_METADATA: usize = 1020;
const MAX_PHOTO_8K: usize = 8 * 1024;
const MAX_PHOTO_16K: usize = 16 * 1024;
/// Bytes of an entry handle (the whole record plaintext under authority custody).
pub const HANDLE_BYTES: usize = 16;

/// The padded size of a record's plaintext: the file holds only this, never a record's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordClass {
    /// 1 024 bytes: metadata, no photo.
    NoPhoto = 1,
    /// 9 216 bytes: metadata and a photo of up to 8 KiB.
    Photo8KiB = 2,
    /// 17 408 bytes: metadata and a photo of up to 16 KiB.
    Photo16KiB = 3,
    /// 16 bytes: an entry handle (authority custody; the reviewer material is at the authority).
    Handle = 4,
}

impl RecordClass {
    /// The classes of reviewer material (what a local-custody file, or the authority, holds).
    pub const ALL: [RecordClass; 3] = [RecordClass::NoPhoto, RecordClass::Photo8KiB, RecordClass::Photo16KiB];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<RecordClass> {
        RecordClass::ALL.into_iter().chain([RecordClass::Handle]).find(|c| c.id() == id)
    }

    /// Bytes of padded plaintext.
    pub fn plaintext_len(self) -> usize {
        match self {
            RecordClass::NoPhoto => 1024,
            RecordClass::Photo8KiB => 9 * 1024,
            RecordClass::Photo16KiB => 17 * 1024,
            RecordClass::Handle => HANDLE_BYTES,
        }
    }

    /// Bytes a record of this class takes in the file: nonce, ciphertext, AEAD tag.
    pub fn sealed_len(self) -> usize {
        RECORD_NONCE + self.plaintext_len() + AEAD_TAG
    }

    /// The class of a record with `metadata` bytes of text and a `photo` of that many bytes: by
    /// its photo (none, up to 8 KiB, up to 16 KiB); `None` if the photo is larger or the metadata
    /// is empty or longer than [`MAX_RECORD_METADATA`].
    pub fn smallest_for(metadata: usize, photo: usize) -> Option<RecordClass> {
        if metadata == 0 || metadata > MAX_RECORD_METADATA {
            return None;
        }
        match photo {
            0 => Some(RecordClass::NoPhoto),
            1..=MAX_PHOTO_8K => Some(RecordClass::Photo8KiB),
            _ if photo <= MAX_PHOTO_16K => Some(RecordClass::Photo16KiB),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RecordClass::NoPhoto => "no photo (1 024 bytes)",
            RecordClass::Photo8KiB => "photo up to 8 KiB (9 216 bytes)",
            RecordClass::Photo16KiB => "photo up to 16 KiB (17 408 bytes)",
            RecordClass::Handle => "handle (16 bytes; the reviewer material is at the authority)",
        }
    }
}

/// Whether a file under `suite` holds entry handles (authority custody) rather than records.
pub fn holds_handles(suite: PrfSuite) -> bool {
    suite != PrfSuite::HmacSha256Local
}

/// The entry size class that holds `n` entries: the next multiple of 64 up to 1 024, then of
/// 1 024; `None` above [`MAX_ENTRIES`].
pub fn entry_class(n: u32) -> Option<u32> {
    let step = if n <= 1024 { 64 } else { 1024 };
    let class = n.max(1).div_ceil(step) * step;
    (class <= MAX_ENTRIES).then_some(class)
}

fn is_entry_class(n: u32) -> bool {
    n >= 1 && entry_class(n) == Some(n)
}

/// Buckets of one table: the most that `entries` items spread over `code_space` codes can need
/// in buckets of `k` items (each code used adds one; every further bucket holds k items).
pub fn buckets_per_table(entries: u32, code_space: u16, k: u8) -> u64 {
    let (n, c) = (entries as u64, code_space as u64);
    n.min(c) + n.saturating_sub(c) / k.max(1) as u64
}

/// The bucket size k for a class: the one of 1..=64 that minimises a table's bucket bytes
/// (smallest on ties).
pub fn bucket_items_for(entries: u32, code_space: u16) -> u8 {
    let table_bytes = |k: u8| buckets_per_table(entries, code_space, k) * (TAG_BYTES + blob_len(k)) as u64;
    (1..=MAX_BUCKET_ITEMS).min_by_key(|&k| table_bytes(k)).expect("a non-empty range")
}

/// Bytes of one sealed bucket of `k` items.
pub fn blob_len(k: u8) -> usize {
    k as usize * BUCKET_ITEM + AEAD_TAG
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub watchlist_id: [u8; 16],
    pub model_id: String,
    pub dim: u16,
    pub tables: u16,
    pub code_space: u16,
    pub rotation_seed: [u8; 32],
    pub threshold: u16,
    pub suite: PrfSuite,
    /// The deployment's VOPRF public key: `Some` exactly when `suite` is
    /// `voprf-ristretto255-sha512`.
    pub authority_key: Option<[u8; PUBLIC_KEY_BYTES]>,
    pub key_check: [u8; TAG_BYTES],
    pub valid_from: i64,
    pub valid_until: i64,
    pub issuer: [u8; 32],
    /// The entry size class: real entries and dummies.
    pub entries: u32,
    /// Items per bucket, k.
    pub bucket_items: u8,
    pub record_class: RecordClass,
}

impl Header {
    /// B, the number of buckets the directory lists.
    pub fn bucket_count(&self) -> u64 {
        self.tables as u64 * buckets_per_table(self.entries, self.code_space, self.bucket_items)
    }

    /// Bytes of one sealed bucket.
    pub fn blob_len(&self) -> usize {
        blob_len(self.bucket_items)
    }
}

/// One item of a bucket's plaintext: an entry index and that entry's share for the bucket's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, zeroize::Zeroize)]
pub struct BucketItem {
    pub entry: u32,
    pub share: [u8; SHARE_BYTES],
}

/// A sealed bucket as it is written: its tag and its blob.
#[derive(Debug, Clone, Copy)]
pub struct BucketRef<'a> {
    pub tag: [u8; TAG_BYTES],
    pub blob: &'a [u8],
}

/// A sealed record as it is written: nonce and ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub nonce: &'a [u8; RECORD_NONCE],
    pub ciphertext: &'a [u8],
}

/// Writes a 24-bit big-endian integer (entry indices); `value` must be < 2^24.
fn put_u24(out: &mut Vec<u8>, value: u32) {
    debug_assert!(value <= FILLER_ENTRY, "{value} does not fit 24 bits");
    out.extend_from_slice(&value.to_be_bytes()[1..]);
}

fn u24(bytes: [u8; 3]) -> u32 {
    u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]])
}

/// A cursor over untrusted bytes: every read is bounds-checked and names what it was reading.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], BlindError> {
        let remaining = self.bytes.len() - self.at;
        if n > remaining {
            return Err(BlindError::Truncated { what, needed: n - remaining });
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], BlindError> {
        Ok(self.take(N, what)?.try_into().expect("took N bytes"))
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, BlindError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, BlindError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, BlindError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, BlindError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
}

fn limit(what: &'static str, value: u64, min: u64, max: u64) -> Result<(), BlindError> {
    if value < min {
        return Err(BlindError::Malformed(format!("{what} is {value}, below the minimum of {min}")));
    }
    if value > max {
        return Err(BlindError::Limit { what, value, max });
    }
    Ok(())
}

impl Header {
    /// Bytes `0..12+H` of the file: magic, version, header length and the header fields.
    pub fn write(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(256);
        h.extend_from_slice(&self.watchlist_id);
        h.push(self.model_id.len() as u8);
        h.extend_from_slice(self.model_id.as_bytes());
        for v in [self.dim, self.tables, self.code_space] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h.extend_from_slice(&self.rotation_seed);
        h.extend_from_slice(&self.threshold.to_be_bytes());
        h.push(self.suite.id());
        if let Some(key) = &self.authority_key {
            h.extend_from_slice(key);
        }
        h.extend_from_slice(&self.key_check);
        h.extend_from_slice(&self.valid_from.to_be_bytes());
        h.extend_from_slice(&self.valid_until.to_be_bytes());
        h.extend_from_slice(&self.issuer);
        h.extend_from_slice(&self.entries.to_be_bytes());
        h.push(self.bucket_items);
        h.push(self.record_class.id());
        let mut out = Vec::with_capacity(12 + h.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        out.extend_from_slice(&h);
        out
    }

    /// SHA-256 of [`Header::write`]'s bytes: bound into every bucket's and record's AAD.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.write()).into()
    }

    /// Reads bytes `0..12+H` of a file (the mirror of [`Header::write`]).
    fn read(r: &mut Reader) -> Result<Header, BlindError> {
        if r.take(MAGIC.len(), "magic").map_err(|_| BlindError::NotAWatchlist)? != MAGIC {
            return Err(BlindError::NotAWatchlist);
        }
        let version = r.u16("version")?;
        if version != VERSION {
            return Err(BlindError::UnsupportedVersion(version));
        }
        let header_len = r.u32("header length")? as usize;
        limit("header length", header_len as u64, 1, MAX_HEADER as u64)?;
        let mut r = Reader { bytes: r.take(header_len, "header")?, at: 0 };
        let watchlist_id = r.array("watchlist id")?;
        let model_len = r.u8("model id length")? as usize;
        limit("model id length", model_len as u64, 1, 64)?;
        let model_id = std::str::from_utf8(r.take(model_len, "model id")?)
            .map_err(|_| BlindError::Malformed("the model id is not UTF-8".into()))?
            .to_owned();
        let dim = r.u16("embedding dimension")?;
        limit("embedding dimension", dim as u64, 1, MAX_DIM as u64)?;
        let tables = r.u16("table count")?;
        limit("table count", tables as u64, 1, MAX_TABLES as u64)?;
        let code_space = r.u16("code space")?;
        if code_space as usize != 2 * (dim as usize).next_power_of_two().max(2) {
            return Err(BlindError::Malformed(format!("code space {code_space} does not fit dimension {dim}")));
        }
        let rotation_seed = r.array("rotation seed")?;
        let threshold = r.u16("threshold")?;
        limit("threshold", threshold as u64, MIN_THRESHOLD as u64, tables as u64)?;
        let suite_id = r.u8("PRF suite")?;
        if suite_id == RETIRED_OPRF_SUITE_ID {
            return Err(BlindError::PlainOprfRetired);
        }
        let suite = PrfSuite::from_id(suite_id)
            .ok_or_else(|| BlindError::Malformed(format!("unknown PRF suite {suite_id}")))?;
        let authority_key = match suite {
            PrfSuite::HmacSha256Local => None,
            PrfSuite::VoprfRistretto255Sha512 => {
                let key = r.array("deployment public key")?;
                if !check_public_key(&key) {
                    return Err(BlindError::Malformed(
                        "the deployment public key is not a valid ristretto255 element".into(),
                    ));
                }
                Some(key)
            }
        };
        let key_check = r.array("key check")?;
        let valid_from = r.i64("validity start")?;
        let valid_until = r.i64("validity end")?;
        if valid_until <= valid_from {
            return Err(BlindError::Malformed("the validity window ends before it starts".into()));
        }
        let issuer = r.array("issuer key")?;
        let entries = r.u32("entry size class")?;
        limit("entry size class", entries as u64, 1, MAX_ENTRIES as u64)?;
        if !is_entry_class(entries) {
            return Err(BlindError::Malformed(format!("{entries} is not an entry size class")));
        }
        let bucket_items = r.u8("bucket items")?;
        limit("bucket items", bucket_items as u64, 1, MAX_BUCKET_ITEMS as u64)?;
        let class_id = r.u8("record class")?;
        let record_class = RecordClass::from_id(class_id)
            .ok_or_else(|| BlindError::Malformed(format!("unknown record class {class_id}")))?;
        if (record_class == RecordClass::Handle) != holds_handles(suite) {
            return Err(BlindError::Malformed(format!(
                "record class {class_id} does not go with PRF suite {} (authority custody holds handles, local custody records)",
                suite.name()
            )));
        }
        if r.at != r.bytes.len() {
            return Err(BlindError::Malformed("the header has trailing bytes".into()));
        }
        Ok(Header {
            watchlist_id,
            model_id,
            dim,
            tables,
            code_space,
            rotation_seed,
            threshold,
            suite,
            authority_key,
            key_check,
            valid_from,
            valid_until,
            issuer,
            entries,
            bucket_items,
            record_class,
        })
    }

    pub fn issuer_hex(&self) -> String {
        hex(&self.issuer)
    }
}

/// A bucket's plaintext: `k × (u24 entry index, share)`.
pub fn write_bucket_items(items: &[BucketItem]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * BUCKET_ITEM);
    for item in items {
        put_u24(&mut out, item.entry);
        out.extend_from_slice(&item.share);
    }
    out
}

/// The mirror of [`write_bucket_items`] (on a plaintext that authenticated, so its length is
/// a whole number of items). Filler items are included; they name no entry.
pub fn read_bucket_items(plaintext: &[u8]) -> impl Iterator<Item = BucketItem> + '_ {
    plaintext.chunks_exact(BUCKET_ITEM).map(|item| BucketItem {
        entry: u24([item[0], item[1], item[2]]),
        share: item[3..].try_into().expect("an item is 3 + SHARE_BYTES bytes"),
    })
}

/// A record's padded plaintext: `u16 a, a bytes of metadata, u16 p, p bytes of photo, zeros`.
/// `None` if they do not fit `class`.
pub fn write_record_plaintext(
    metadata: &[u8],
    photo: &[u8],
    class: RecordClass,
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if class == RecordClass::Handle || RecordClass::smallest_for(metadata.len(), photo.len())? > class {
        return None;
    }
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(class.plaintext_len()));
    out.extend_from_slice(&(metadata.len() as u16).to_be_bytes());
    out.extend_from_slice(metadata);
    out.extend_from_slice(&(photo.len() as u16).to_be_bytes());
    out.extend_from_slice(photo);
    out.resize(class.plaintext_len(), 0);
    Some(out)
}

/// The mirror of [`write_record_plaintext`]: (metadata, photo), or `None` if the lengths do not
/// fit or the padding is not zeros.
pub fn read_record_plaintext(plaintext: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut r = Reader { bytes: plaintext, at: 0 };
    let a = r.u16("metadata length").ok()? as usize;
    if a == 0 || a > MAX_RECORD_METADATA {
        return None;
    }
    let metadata = r.take(a, "metadata").ok()?;
    let p = r.u16("photo length").ok()? as usize;
    let photo = r.take(p, "photo").ok()?;
    plaintext[r.at..].iter().all(|&b| b == 0).then_some((metadata, photo))
}

/// Lays out a whole file: header, directory (buckets must be sorted by tag), blobs, records, and
/// the issuer's signature over all of it. The mirror of [`Watchlist::parse`].
pub fn write(header: &Header, buckets: &[BucketRef], records: &[RecordRef], issuer: &SigningKey) -> Vec<u8> {
    debug_assert_eq!(header.bucket_count(), buckets.len() as u64);
    debug_assert_eq!(header.entries as usize, records.len());
    debug_assert!(buckets.iter().all(|b| b.blob.len() == header.blob_len()));
    debug_assert!(records.iter().all(|r| r.ciphertext.len() == header.record_class.plaintext_len() + AEAD_TAG));
    let mut file = header.write();
    for bucket in buckets {
        file.extend_from_slice(&bucket.tag);
    }
    for bucket in buckets {
        file.extend_from_slice(bucket.blob);
    }
    for record in records {
        file.extend_from_slice(record.nonce);
        file.extend_from_slice(record.ciphertext);
    }
    let signature = issuer.sign(&file);
    file.extend_from_slice(&signature.to_bytes());
    file
}

/// The byte layout [`Header`] implies: where directory, blobs and records start and the file's
/// total length. `None` if a size overflows (a 32-bit wasm `usize` included).
struct Layout {
    directory: usize,
    blobs: usize,
    records: usize,
    signature: usize,
    total: usize,
}

impl Layout {
    fn of(header: &Header, header_end: usize) -> Option<Layout> {
        let buckets = usize::try_from(header.bucket_count()).ok()?;
        let directory = header_end;
        let blobs = directory.checked_add(buckets.checked_mul(TAG_BYTES)?)?;
        let records = blobs.checked_add(buckets.checked_mul(header.blob_len())?)?;
        let signature =
            records.checked_add((header.entries as usize).checked_mul(header.record_class.sealed_len())?)?;
        let total = signature.checked_add(SIGNATURE)?;
        Some(Layout { directory, blobs, records, signature, total })
    }
}

/// A parsed, signature-checked watchlist. The file's bytes are kept and sliced by offset; every
/// bucket and record has the size the header implies.
pub struct Watchlist {
    pub header: Header,
    pub header_hash: [u8; 32],
    /// The directory's tags, ascending; bucket `i`'s blob is the `i`-th.
    pub tags: Vec<[u8; TAG_BYTES]>,
    layout: Layout,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Watchlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watchlist(size class {}, {} bytes)", self.header.entries, self.bytes.len())
    }
}

impl Watchlist {
    /// Parses and verifies a watchlist file: structure, issuer, signature, in that order. The
    /// validity window is checked separately ([`Watchlist::check_window`]) because it must also
    /// hold while running. The mirror of [`write`].
    pub fn parse(bytes: Vec<u8>, issuer: &VerifyingKey) -> Result<Watchlist, BlindError> {
        let mut r = Reader { bytes: &bytes, at: 0 };
        let header = Header::read(&mut r)?;
        let header_hash: [u8; 32] = Sha256::digest(&bytes[..r.at]).into();

        // The header fixes every size: the file must be exactly that long before anything is
        // allocated (the tag vector is then at most an eighth of the file).
        let layout = Layout::of(&header, r.at)
            .ok_or_else(|| BlindError::Malformed("a size in the watchlist overflows".into()))?;
        if bytes.len() < layout.total {
            return Err(BlindError::Truncated { what: "watchlist body", needed: layout.total - bytes.len() });
        }
        if bytes.len() > layout.total {
            return Err(BlindError::Malformed(format!(
                "{} unexpected bytes after the signature",
                bytes.len() - layout.total
            )));
        }
        let tags: Vec<[u8; TAG_BYTES]> = bytes[layout.directory..layout.blobs]
            .chunks_exact(TAG_BYTES)
            .map(|t| t.try_into().expect("TAG_BYTES bytes"))
            .collect();
        if tags.windows(2).any(|w| w[0] >= w[1]) {
            return Err(BlindError::Malformed("the bucket directory is not strictly sorted".into()));
        }
        if header.issuer != issuer.to_bytes() {
            return Err(BlindError::ForeignIssuer { expected: hex(&issuer.to_bytes()), found: header.issuer_hex() });
        }
        let signature: [u8; SIGNATURE] = bytes[layout.signature..].try_into().expect("SIGNATURE bytes");
        issuer
            .verify_strict(&bytes[..layout.signature], &Signature::from_bytes(&signature))
            .map_err(|_| BlindError::BadSignature)?;
        Ok(Watchlist { header, header_hash, tags, layout, bytes })
    }

    /// Refuses to run outside the validity window.
    pub fn check_window(&self, now_unix: i64) -> Result<(), BlindError> {
        if now_unix < self.header.valid_from {
            return Err(BlindError::NotYetValid(crate::time::format_utc(self.header.valid_from)));
        }
        if now_unix >= self.header.valid_until {
            return Err(BlindError::Expired(crate::time::format_utc(self.header.valid_until)));
        }
        Ok(())
    }

    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The directory position of the bucket with `tag`.
    pub fn find_bucket(&self, tag: &[u8; TAG_BYTES]) -> Option<usize> {
        self.tags.binary_search(tag).ok()
    }

    /// The sealed blob of bucket `index` (a directory position).
    pub fn bucket_blob(&self, index: usize) -> &[u8] {
        let len = self.header.blob_len();
        let start = self.layout.blobs + index * len;
        &self.bytes[start..start + len]
    }

    /// Every bucket as [`write`] takes it, in directory order.
    pub fn bucket_refs(&self) -> Vec<BucketRef<'_>> {
        self.tags.iter().enumerate().map(|(i, tag)| BucketRef { tag: *tag, blob: self.bucket_blob(i) }).collect()
    }

    /// Record `index` as [`write`] takes it.
    pub fn record(&self, index: u32) -> Option<RecordRef<'_>> {
        if index >= self.header.entries {
            return None;
        }
        let start = self.layout.records + index as usize * self.header.record_class.sealed_len();
        let nonce = self.bytes[start..start + RECORD_NONCE].try_into().expect("nonce bytes");
        let ciphertext = &self.bytes[start + RECORD_NONCE..start + self.header.record_class.sealed_len()];
        Some(RecordRef { nonce, ciphertext })
    }
}

pub fn bucket_aad(header_hash: &[u8; 32], table: u16) -> Vec<u8> {
    [b"veilwatch/bucket".as_slice(), header_hash, &table.to_be_bytes()].concat()
}

pub fn record_aad(header_hash: &[u8; 32], index: u32) -> Vec<u8> {
    [b"veilwatch/record".as_slice(), header_hash, &index.to_be_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn deployment_public_key(master: &[u8; 32], id: &[u8; 16]) -> [u8; PUBLIC_KEY_BYTES] {
        let master = crate::blind::prf::MasterSecret::from_bytes(master).unwrap();
        crate::blind::prf::DeploymentKey::derive(&master, id).unwrap().public_key()
    }

    fn header() -> impl Strategy<Value = Header> {
        (
            (any::<[u8; 16]>(), "[a-z0-9-]{1,64}", 1u16..=MAX_DIM, 8u16..=MAX_TABLES as u16, any::<[u8; 32]>()),
            (any::<bool>(), any::<[u8; TAG_BYTES]>(), any::<i64>(), 1i64..i64::MAX, any::<[u8; 32]>()),
            (1u32..=MAX_ENTRIES, any::<u64>(), 1u8..=MAX_BUCKET_ITEMS, 1u8..=3),
        )
            .prop_map(
                |((id, model, dim, tables, seed), (local, check, from, span, issuer), (n, t, k, class))| {
                    let code_space = 2 * (dim as u32).next_power_of_two().max(2);
                    let valid_from = from.min(i64::MAX - span);
                    Header {
                        watchlist_id: id,
                        model_id: model,
                        dim,
                        tables,
                        code_space: code_space as u16,
                        rotation_seed: seed,
                        threshold: 8 + (t % (tables as u64 - 7)) as u16,
                        suite: if local { PrfSuite::HmacSha256Local } else { PrfSuite::VoprfRistretto255Sha512 },
                        authority_key: (!local).then(|| deployment_public_key(&seed, &id)),
                        key_check: check,
                        valid_from,
                        valid_until: valid_from + span,
                        issuer,
                        entries: entry_class(n).unwrap(),
                        bucket_items: k,
                        record_class: if local { RecordClass::from_id(class).unwrap() } else { RecordClass::Handle },
                    }
                },
            )
    }

    fn small_header(entries: u32) -> Header {
        Header {
            watchlist_id: [1; 16],
            model_id: "m".into(),
            dim: 128,
            tables: 8,
            code_space: 256,
            rotation_seed: [2; 32],
            threshold: 8,
            suite: PrfSuite::HmacSha256Local,
            authority_key: None,
            key_check: [3; TAG_BYTES],
            valid_from: 0,
            valid_until: 1,
            issuer: [4; 32],
            entries,
            bucket_items: bucket_items_for(entries, 256),
            record_class: RecordClass::NoPhoto,
        }
    }

    #[test]
    fn a_claimed_size_is_checked_against_the_bytes_before_anything_is_allocated() {
        // ~150 bytes that claim the largest class: refused as truncated, with no tag vector or
        // record table allocated for a million entries.
        let mut file = small_header(MAX_ENTRIES).write();
        file.extend_from_slice(&[5; 64]);
        let issuer = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        match Watchlist::parse(file, &issuer) {
            Err(BlindError::Truncated { what: "watchlist body", needed }) => assert!(needed > 1_000_000_000),
            other => panic!("{other:?}"),
        }
    }

    /// Bytes `0..12+H` of `header` with its suite byte (and what follows it) replaced.
    fn with_suite_bytes(header: &Header, suite: &[u8]) -> Vec<u8> {
        let bytes = header.write();
        let at = 12 + 16 + 1 + header.model_id.len() + 6 + 32 + 2;
        assert_eq!(bytes[at], header.suite.id());
        let key_len = header.authority_key.map_or(0, |k| k.len());
        let mut h = [&bytes[12..at], suite, &bytes[at + 1 + key_len..]].concat();
        let mut out = bytes[..8].to_vec();
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        out.append(&mut h);
        out
    }

    #[test]
    fn the_header_carries_the_deployment_public_key_and_refuses_plain_oprf() {
        let key = deployment_public_key(&[9; 32], &[1; 16]);
        let voprf = Header {
            suite: PrfSuite::VoprfRistretto255Sha512,
            authority_key: Some(key),
            record_class: RecordClass::Handle,
            ..small_header(64)
        };
        let bytes = voprf.write();
        assert_eq!(bytes.len(), small_header(64).write().len() + PUBLIC_KEY_BYTES);
        assert_eq!(Header::read(&mut Reader { bytes: &bytes, at: 0 }).unwrap().authority_key, Some(key));

        // Suite 2 (plain OPRF, no key in its header) is refused with the reason and what to do.
        let plain = with_suite_bytes(&voprf, &[2]);
        let refused = Header::read(&mut Reader { bytes: &plain, at: 0 }).unwrap_err();
        assert!(matches!(refused, BlindError::PlainOprfRetired), "{refused:?}");
        assert!(refused.to_string().contains("re-enrol the list"), "{refused}");

        // A suite-3 header whose key is not a group element is malformed.
        let not_a_point = with_suite_bytes(&voprf, &[[3].as_slice(), &[0xFF; 32]].concat());
        let refused = Header::read(&mut Reader { bytes: &not_a_point, at: 0 }).unwrap_err();
        assert!(refused.to_string().contains("deployment public key"), "{refused}");
        assert!(Header::read(&mut Reader {
            bytes: &with_suite_bytes(&voprf, &[[3].as_slice(), &key].concat()),
            at: 0
        })
        .is_ok());
    }

    #[test]
    fn entry_counts_round_up_to_their_size_class() {
        let classes: Vec<Option<u32>> =
            [1, 10, 50, 64, 65, 1000, 1024, 1025, 10_000, MAX_ENTRIES, MAX_ENTRIES + 1].map(entry_class).into();
        let expected = [64, 64, 64, 64, 128, 1024, 1024, 2048, 10_240, MAX_ENTRIES].map(Some);
        assert_eq!(classes[..10], expected);
        assert_eq!(classes[10], None);
        assert!(!is_entry_class(1000) && !is_entry_class(0) && is_entry_class(2048));
    }

    #[test]
    fn the_bucket_count_bounds_every_way_the_class_can_fall_into_codes() {
        // k = 1 below C; larger k as the class grows (filler items against per-bucket overhead).
        assert_eq!([64, 1024, 10_240].map(|n| bucket_items_for(n, 256)), [1, 3, 11]);
        for (n, k) in [(64u32, 1u8), (1024, 3), (10_240, 11)] {
            let bound = buckets_per_table(n, 256, k);
            // All N in one code, N spread one per code, and a skewed spread: never above the bound.
            let spreads: [Vec<u64>; 3] = [
                vec![n as u64],
                (0..256).map(|c| n as u64 / 256 + u64::from(c < n as u64 % 256)).collect(),
                (0..256).map(|c| if c == 0 { n as u64 - 255 } else { 1 }).collect(),
            ];
            for spread in spreads {
                let needed: u64 = spread.iter().map(|&items| items.div_ceil(k as u64)).sum();
                assert!(needed <= bound, "{n} entries need {needed} > {bound} buckets");
            }
        }
    }

    #[test]
    fn a_record_fills_its_class_and_reads_back() {
        let photo = vec![0xAB; 8 * 1024];
        for (metadata, photo, class) in [
            (&b"{}"[..], &[][..], RecordClass::NoPhoto),
            (&[b'x'; MAX_RECORD_METADATA][..], &[][..], RecordClass::NoPhoto),
            (&b"{}"[..], &photo[..100], RecordClass::Photo8KiB),
            (&b"{}"[..], &photo[..], RecordClass::Photo8KiB),
            (&[b'x'; MAX_RECORD_METADATA][..], &photo[..], RecordClass::Photo8KiB),
            (&b"{}"[..], &[photo.as_slice(), &photo].concat()[..], RecordClass::Photo16KiB),
        ] {
            assert_eq!(RecordClass::smallest_for(metadata.len(), photo.len()), Some(class));
            let plaintext = write_record_plaintext(metadata, photo, class).unwrap();
            assert_eq!(plaintext.len(), class.plaintext_len());
            assert_eq!(read_record_plaintext(&plaintext), Some((metadata, photo)));
            if class != RecordClass::Photo16KiB {
                let bigger = RecordClass::from_id(class.id() + 1).unwrap();
                assert_eq!(write_record_plaintext(metadata, photo, bigger).unwrap().len(), bigger.plaintext_len());
            }
        }
        assert_eq!(RecordClass::smallest_for(2, 16 * 1024 + 1), None, "larger than the largest class");
        assert_eq!(RecordClass::smallest_for(MAX_RECORD_METADATA + 1, 0), None, "metadata over 1 020 bytes");
        assert!(write_record_plaintext(b"{}", &photo, RecordClass::NoPhoto).is_none());
        let mut padded = write_record_plaintext(b"{}", b"jpeg", RecordClass::Photo8KiB).unwrap();
        padded[100] = 1;
        assert_eq!(read_record_plaintext(&padded), None, "padding must be zeros");
    }

    proptest! {
        /// `Header::read` is the mirror of `Header::write`, for every header the format allows.
        #[test]
        fn a_header_reads_back_as_written(header in header()) {
            let bytes = header.write();
            let mut r = Reader { bytes: &bytes, at: 0 };
            prop_assert_eq!(Header::read(&mut r).unwrap(), header.clone());
            prop_assert_eq!(r.at, bytes.len());
            prop_assert_eq!(header.hash(), <[u8; 32]>::from(Sha256::digest(&bytes)));
        }

        #[test]
        fn bucket_items_read_back_as_written(items in proptest::collection::vec((0u32..=FILLER_ENTRY, any::<[u8; SHARE_BYTES]>()), 0..50)) {
            let items: Vec<BucketItem> = items.into_iter().map(|(entry, share)| BucketItem { entry, share }).collect();
            let bytes = write_bucket_items(&items);
            prop_assert_eq!(bytes.len(), items.len() * BUCKET_ITEM);
            prop_assert_eq!(read_bucket_items(&bytes).collect::<Vec<_>>(), items);
        }

        #[test]
        fn record_plaintexts_read_back_as_written(metadata in proptest::collection::vec(any::<u8>(), 1..=MAX_RECORD_METADATA), photo in proptest::collection::vec(any::<u8>(), 0..17_000)) {
            match RecordClass::smallest_for(metadata.len(), photo.len()) {
                Some(class) => {
                    let plaintext = write_record_plaintext(&metadata, &photo, class).unwrap();
                    prop_assert_eq!(plaintext.len(), class.plaintext_len());
                    prop_assert_eq!(read_record_plaintext(&plaintext), Some((&metadata[..], &photo[..])));
                }
                None => prop_assert!(photo.len() > 16 * 1024),
            }
        }
    }
}
