//! Buckets: the items of a (table, code) that some entry falls into (each such entry's index and
//! share for that table), cut into buckets of exactly k items, the last topped up with filler. A
//! bucket is found by its tag and opened with its key, both derived from the PRF output of its
//! code and its slot ([`super::prf::derive`]); enrolment seals buckets and the matcher opens them
//! through this module alone.
//!
//! Guarantees: each bucket key seals exactly one blob (so the zero nonce is safe); the AAD binds
//! the watchlist's header and the table, so a blob moved to another file or table does not open;
//! opened plaintexts are wiped when dropped.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use zeroize::Zeroizing;

use super::format::{bucket_aad, read_bucket_items, write_bucket_items, BucketItem};
use super::prf::Derived;

/// Seals the items of the bucket of `table` whose PRF output gave `derived`.
pub fn seal(derived: &Derived, header_hash: &[u8; 32], table: u16, items: &[BucketItem]) -> Vec<u8> {
    let plaintext = Zeroizing::new(write_bucket_items(items));
    ChaCha20Poly1305::new((&*derived.bucket_key).into())
        .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: &plaintext, aad: &bucket_aad(header_hash, table) })
        .expect("sealing in memory cannot fail")
}

/// Opens a bucket blob as the bucket of `table`; `None` if it is not (a tag that matched by
/// chance, or the probe's code in another table).
pub fn open(derived: &Derived, header_hash: &[u8; 32], table: u16, blob: &[u8]) -> Option<Zeroizing<Vec<BucketItem>>> {
    let plaintext = Zeroizing::new(
        ChaCha20Poly1305::new((&*derived.bucket_key).into())
            .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: blob, aad: &bucket_aad(header_hash, table) })
            .ok()?,
    );
    Some(Zeroizing::new(read_bucket_items(&plaintext).collect()))
}
