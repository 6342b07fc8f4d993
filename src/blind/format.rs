//! The watchlist file format, version 1: its spec (below), its one parser and its one writer,
//! side by side so that they stay mirrors of each other (a property test writes what it parsed
//! and compares bytes).
//!
//! All integers are big-endian. Every length is checked against a limit and against the bytes
//! that remain before anything is allocated or sliced.
//!
//! ```text
//! offset  bytes   field
//! 0       6       magic "VWLIST"
//! 6       2       version = 1
//! 8       4       header length H (≤ 1024)
//! 12      H       header
//!                   16  watchlist id (random)
//!                   1   model id length n (1..=64), then n bytes of UTF-8 model id
//!                   2   embedding dimension d (1..=1024)
//!                   2   tables L (1..=16384)
//!                   2   code space C = 2 · next_power_of_two(d)
//!                   32  rotation seed (public; derives the LSH tables)
//!                   2   threshold m (8..=L)
//!                   1   PRF suite: 1 = hmac-sha256-local, 2 = oprf-ristretto255-sha512
//!                   8   key check: tag derived from PRF("veilwatch/blind-lsh/v1/key-check" || id)
//!                   8   valid from, Unix seconds (i64)
//!                   8   valid until, Unix seconds (i64)
//!                   32  issuer Ed25519 public key
//!                   4   entries N (1..=2^24 − 1)
//!                   4   buckets B (1..=L·C)
//!                 (the fields fill H exactly)
//! 12+H    11·B    bucket directory, strictly ascending by tag:
//!                   8   tag = HKDF(PRF(x_l), "tag")[..8]
//!                   3   entries in the bucket k (1..=N)
//!         Σ       bucket blobs, in directory order, each 7·k + 16 bytes:
//!                   ChaCha20-Poly1305 under HKDF(PRF(x_l), "bucket"), nonce 0 (each key seals
//!                   one blob), AAD = "veilwatch/bucket" || header hash || u16 table l, sealing
//!                   k × (u24 entry index, 4-byte share)
//!         N×      records, by entry index: 12 nonce, u32 length ℓ (16..=1 MiB), ℓ bytes of
//!                   ChaCha20-Poly1305 under HKDF(record key K_i, "record"),
//!                   AAD = "veilwatch/record" || header hash || u32 index; plaintext = JSON EntryRecord
//! end−64  64      Ed25519 signature by the issuer over every preceding byte
//! ```
//!
//! The header hash is SHA-256 of bytes `0..12+H`. The directory does not say which table a
//! bucket belongs to; only a party that evaluated the PRF on a code learns that, and only for
//! buckets it can open.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::prf::{PrfSuite, TAG_BYTES};
use super::shares::{MAX_TABLES, MIN_THRESHOLD, SHARE_BYTES};
use super::BlindError;
use crate::hex::hex;

pub const MAGIC: &[u8; 6] = b"VWLIST";
pub const VERSION: u16 = 1;
pub const MAX_HEADER: usize = 1024;
pub const MAX_ENTRIES: u32 = (1 << 24) - 1;
pub const MAX_RECORD: usize = 1 << 20;
pub const MAX_DIM: u16 = 1024;
pub const DIRECTORY_ENTRY: usize = TAG_BYTES + 3;
pub const BUCKET_ITEM: usize = 3 + SHARE_BYTES;
pub const AEAD_TAG: usize = 16;
pub const RECORD_NONCE: usize = 12;
pub const SIGNATURE: usize = 64;

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
    pub key_check: [u8; TAG_BYTES],
    pub valid_from: i64,
    pub valid_until: i64,
    pub issuer: [u8; 32],
    pub entries: u32,
    pub buckets: u32,
}

/// One item of a bucket's plaintext: an entry index and that entry's share for the bucket's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, zeroize::Zeroize)]
pub struct BucketItem {
    pub entry: u32,
    pub share: [u8; SHARE_BYTES],
}

/// A sealed bucket as it is written: its tag and its blob (the directory's item count follows
/// from the blob's length).
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

/// Writes a 24-bit big-endian integer (entry indices, bucket sizes); `value` must be < 2^24.
fn put_u24(out: &mut Vec<u8>, value: u32) {
    debug_assert!(value <= MAX_ENTRIES, "{value} does not fit 24 bits");
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
    fn u24(&mut self, what: &'static str) -> Result<u32, BlindError> {
        Ok(u24(self.array(what)?))
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
        h.extend_from_slice(&self.key_check);
        h.extend_from_slice(&self.valid_from.to_be_bytes());
        h.extend_from_slice(&self.valid_until.to_be_bytes());
        h.extend_from_slice(&self.issuer);
        h.extend_from_slice(&self.entries.to_be_bytes());
        h.extend_from_slice(&self.buckets.to_be_bytes());
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
        let suite = PrfSuite::from_id(suite_id)
            .ok_or_else(|| BlindError::Malformed(format!("unknown PRF suite {suite_id}")))?;
        let key_check = r.array("key check")?;
        let valid_from = r.i64("validity start")?;
        let valid_until = r.i64("validity end")?;
        if valid_until <= valid_from {
            return Err(BlindError::Malformed("the validity window ends before it starts".into()));
        }
        let issuer = r.array("issuer key")?;
        let entries = r.u32("entry count")?;
        limit("entry count", entries as u64, 1, MAX_ENTRIES as u64)?;
        let buckets = r.u32("bucket count")?;
        limit("bucket count", buckets as u64, 1, tables as u64 * code_space as u64)?;
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
            key_check,
            valid_from,
            valid_until,
            issuer,
            entries,
            buckets,
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
/// a whole number of items).
pub fn read_bucket_items(plaintext: &[u8]) -> impl Iterator<Item = BucketItem> + '_ {
    plaintext.chunks_exact(BUCKET_ITEM).map(|item| BucketItem {
        entry: u24([item[0], item[1], item[2]]),
        share: item[3..].try_into().expect("an item is 3 + SHARE_BYTES bytes"),
    })
}

/// Lays out a whole file: header, directory (buckets must be sorted by tag), blobs, records, and
/// the issuer's signature over all of it. The mirror of [`Watchlist::parse`].
pub fn write(header: &Header, buckets: &[BucketRef], records: &[RecordRef], issuer: &SigningKey) -> Vec<u8> {
    debug_assert_eq!(header.buckets as usize, buckets.len());
    debug_assert_eq!(header.entries as usize, records.len());
    let mut file = header.write();
    for bucket in buckets {
        file.extend_from_slice(&bucket.tag);
        put_u24(&mut file, ((bucket.blob.len() - AEAD_TAG) / BUCKET_ITEM) as u32);
    }
    for bucket in buckets {
        file.extend_from_slice(bucket.blob);
    }
    for record in records {
        file.extend_from_slice(record.nonce);
        file.extend_from_slice(&(record.ciphertext.len() as u32).to_be_bytes());
        file.extend_from_slice(record.ciphertext);
    }
    let signature = issuer.sign(&file);
    file.extend_from_slice(&signature.to_bytes());
    file
}

/// One bucket: its tag and where its sealed blob lies in the file.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub tag: [u8; TAG_BYTES],
    pub items: u32,
    pub offset: usize,
}

/// A record: where its nonce and ciphertext lie in the file.
#[derive(Debug, Clone, Copy)]
pub struct RecordSpan {
    pub offset: usize,
    pub len: usize,
}

/// A parsed, signature-checked watchlist. The file's bytes are kept and sliced by offset.
pub struct Watchlist {
    pub header: Header,
    pub header_hash: [u8; 32],
    pub buckets: Vec<Bucket>,
    pub records: Vec<RecordSpan>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Watchlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watchlist({} entries, {} bytes)", self.header.entries, self.bytes.len())
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

        // Every count is checked against the bytes that remain before anything is allocated, and
        // every offset is computed with checked arithmetic (a 32-bit wasm usize included).
        let overflow = || BlindError::Malformed("a size in the watchlist overflows".into());
        let directory_len = (header.buckets as usize).checked_mul(DIRECTORY_ENTRY).ok_or_else(overflow)?;
        let directory = r.take(directory_len, "bucket directory")?;
        let mut d = Reader { bytes: directory, at: 0 };
        let mut buckets: Vec<Bucket> = Vec::with_capacity(header.buckets as usize);
        let mut offset = r.at;
        for _ in 0..header.buckets {
            let tag: [u8; TAG_BYTES] = d.array("bucket tag")?;
            let items = d.u24("bucket size")?;
            limit("bucket size", items as u64, 1, header.entries as u64)?;
            if buckets.last().is_some_and(|b| b.tag >= tag) {
                return Err(BlindError::Malformed("the bucket directory is not strictly sorted".into()));
            }
            buckets.push(Bucket { tag, items, offset });
            let blob = (items as usize).checked_mul(BUCKET_ITEM).and_then(|n| n.checked_add(AEAD_TAG));
            offset = blob.and_then(|n| offset.checked_add(n)).ok_or_else(overflow)?;
        }
        r.take(offset - r.at, "bucket blobs")?;

        // A record takes at least its nonce, length and AEAD tag: no more can follow than fit.
        const MIN_RECORD: usize = RECORD_NONCE + 4 + AEAD_TAG;
        let remaining = bytes.len() - r.at;
        if (header.entries as usize).saturating_mul(MIN_RECORD) > remaining {
            return Err(BlindError::Truncated {
                what: "records",
                needed: (header.entries as usize).saturating_mul(MIN_RECORD) - remaining,
            });
        }
        let mut records = Vec::with_capacity(header.entries as usize);
        for _ in 0..header.entries {
            let start = r.at;
            r.take(RECORD_NONCE, "record nonce")?;
            let len = r.u32("record length")? as usize;
            limit("record length", len as u64, AEAD_TAG as u64, MAX_RECORD as u64)?;
            r.take(len, "record")?;
            records.push(RecordSpan { offset: start, len });
        }
        let signed = r.at;
        let signature: [u8; SIGNATURE] = r.array("signature")?;
        if r.at != bytes.len() {
            return Err(BlindError::Malformed(format!("{} unexpected bytes after the signature", bytes.len() - r.at)));
        }
        if header.issuer != issuer.to_bytes() {
            return Err(BlindError::ForeignIssuer { expected: hex(&issuer.to_bytes()), found: header.issuer_hex() });
        }
        issuer
            .verify_strict(&bytes[..signed], &Signature::from_bytes(&signature))
            .map_err(|_| BlindError::BadSignature)?;
        Ok(Watchlist { header, header_hash, buckets, records, bytes })
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

    pub fn find_bucket(&self, tag: &[u8; TAG_BYTES]) -> Option<&Bucket> {
        self.buckets.binary_search_by(|b| b.tag.cmp(tag)).ok().map(|i| &self.buckets[i])
    }

    pub fn bucket_blob(&self, bucket: &Bucket) -> &[u8] {
        &self.bytes[bucket.offset..bucket.offset + bucket.items as usize * BUCKET_ITEM + AEAD_TAG]
    }

    /// Every bucket as [`write`] takes it, in directory order.
    pub fn bucket_refs(&self) -> Vec<BucketRef<'_>> {
        self.buckets.iter().map(|b| BucketRef { tag: b.tag, blob: self.bucket_blob(b) }).collect()
    }

    /// Record `index` as [`write`] takes it.
    pub fn record(&self, index: u32) -> Option<RecordRef<'_>> {
        let r = self.records.get(index as usize)?;
        let nonce = self.bytes[r.offset..r.offset + RECORD_NONCE].try_into().expect("nonce bytes");
        let start = r.offset + RECORD_NONCE + 4;
        Some(RecordRef { nonce, ciphertext: &self.bytes[start..start + r.len] })
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

    fn header() -> impl Strategy<Value = Header> {
        (
            (any::<[u8; 16]>(), "[a-z0-9-]{1,64}", 1u16..=MAX_DIM, 8u16..=MAX_TABLES as u16, any::<[u8; 32]>()),
            (any::<bool>(), any::<[u8; TAG_BYTES]>(), any::<i64>(), 1i64..i64::MAX, any::<[u8; 32]>()),
            (1u32..=MAX_ENTRIES, any::<u64>(), any::<u64>()),
        )
            .prop_map(|((id, model, dim, tables, seed), (local, check, from, span, issuer), (entries, t, b))| {
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
                    suite: if local { PrfSuite::HmacSha256Local } else { PrfSuite::OprfRistretto255Sha512 },
                    key_check: check,
                    valid_from,
                    valid_until: valid_from + span,
                    issuer,
                    entries,
                    buckets: 1 + (b % (tables as u64 * code_space as u64)) as u32,
                }
            })
    }

    #[test]
    fn a_claimed_entry_count_is_checked_against_the_bytes_before_anything_is_allocated() {
        // ~150 bytes that claim 2^24 − 1 entries: refused as truncated, with no 16M-record vector.
        let header = Header {
            watchlist_id: [1; 16],
            model_id: "m".into(),
            dim: 128,
            tables: 8,
            code_space: 256,
            rotation_seed: [2; 32],
            threshold: 8,
            suite: PrfSuite::HmacSha256Local,
            key_check: [3; TAG_BYTES],
            valid_from: 0,
            valid_until: 1,
            issuer: [4; 32],
            entries: MAX_ENTRIES,
            buckets: 1,
        };
        let mut file = header.write();
        file.extend_from_slice(&[5; TAG_BYTES]);
        put_u24(&mut file, 1);
        file.extend_from_slice(&[6; BUCKET_ITEM + AEAD_TAG]);
        let issuer = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        match Watchlist::parse(file, &issuer) {
            Err(BlindError::Truncated { what: "records", needed }) => assert!(needed > 500_000_000),
            other => panic!("{other:?}"),
        }
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
        fn bucket_items_read_back_as_written(items in proptest::collection::vec((0u32..=MAX_ENTRIES, any::<[u8; SHARE_BYTES]>()), 0..50)) {
            let items: Vec<BucketItem> = items.into_iter().map(|(entry, share)| BucketItem { entry, share }).collect();
            let bytes = write_bucket_items(&items);
            prop_assert_eq!(bytes.len(), items.len() * BUCKET_ITEM);
            prop_assert_eq!(read_bucket_items(&bytes).collect::<Vec<_>>(), items);
        }
    }
}
