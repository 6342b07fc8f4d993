//! Matching one embedding against a loaded watchlist: L codes → L PRF evaluations → the buckets
//! that exist → per-entry collision counts and shares → for each entry with at least m
//! collisions, rebuild its record key and open its record.
//!
//! Guarantees: a record that fails to open is a non-match, never an error (the shares of a
//! near-miss are not a fault); codes, PRF outputs, shares and keys are wiped when the call ends;
//! nothing is matched outside the validity window.

use std::collections::HashMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use serde::Serialize;
use zeroize::Zeroizing;

use super::enroll::{record_key, MODEL_ID};
use super::format::{bucket_aad, record_aad, EntryRecord, Watchlist, BUCKET_ITEM};
use super::lsh::{implied_cosine, CrossPolytope};
use super::prf::{code_input, derive, key_check_input, Prf};
use super::shares::{combine, SHARE_BYTES};
use super::BlindError;
use crate::embed::Embedding;

/// A record that opened: the probe collided with this entry in `collisions` of `tables` tables.
#[derive(Debug, Clone, Serialize)]
pub struct BlindMatch {
    pub entry: u32,
    pub record: EntryRecord,
    pub collisions: u16,
    pub tables: u16,
    /// The cosine the collision count implies, through the family's collision probability.
    pub implied_cosine: f32,
}

pub struct Matcher {
    pub watchlist: Watchlist,
    family: CrossPolytope,
}

impl Matcher {
    /// Prepares a parsed watchlist for matching: checks that it is for this model, that `now` is
    /// inside its window, and that `prf` is its PRF (same suite, same key).
    pub fn new(watchlist: Watchlist, prf: &dyn Prf, now_unix: i64) -> Result<Matcher, BlindError> {
        let header = &watchlist.header;
        if header.model_id != MODEL_ID {
            return Err(BlindError::Malformed(format!(
                "the watchlist was made for model {}, this device runs {MODEL_ID}",
                header.model_id
            )));
        }
        if prf.suite() != header.suite {
            return Err(BlindError::SuiteMismatch { needed: header.suite.name(), given: prf.suite().name() });
        }
        watchlist.check_window(now_unix)?;
        let check = prf.evaluate(&[key_check_input(&header.watchlist_id)])?;
        if derive(&check[0]).tag != header.key_check {
            return Err(BlindError::WrongPrfKey);
        }
        let family = CrossPolytope::new(&header.rotation_seed, header.dim as usize, header.tables as usize);
        Ok(Matcher { watchlist, family })
    }

    pub fn match_embedding(
        &self,
        probe: &Embedding,
        prf: &dyn Prf,
        now_unix: i64,
    ) -> Result<Vec<BlindMatch>, BlindError> {
        let header = &self.watchlist.header;
        self.watchlist.check_window(now_unix)?;
        if probe.values().len() != header.dim as usize {
            return Err(BlindError::Dimension { expected: header.dim as usize, got: probe.values().len() });
        }
        let codes = self.family.codes(probe.values());
        let inputs: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(
            codes.iter().enumerate().map(|(l, &c)| code_input(&header.watchlist_id, l as u16, c)).collect(),
        );
        let outputs = prf.evaluate(&inputs)?;

        let mut collected: HashMap<u32, Vec<(u16, [u8; SHARE_BYTES])>> = HashMap::new();
        for (table, y) in outputs.iter().enumerate() {
            let derived = derive(y);
            let Some(bucket) = self.watchlist.find_bucket(&derived.tag) else { continue };
            let cipher = ChaCha20Poly1305::new((&*derived.bucket_key).into());
            let aad = bucket_aad(&self.watchlist.header_hash, table as u16);
            let Ok(items) = cipher
                .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: self.watchlist.bucket_blob(bucket), aad: &aad })
            else {
                continue;
            };
            let items = Zeroizing::new(items);
            for item in items.chunks_exact(BUCKET_ITEM) {
                let entry = u32::from_be_bytes([0, item[0], item[1], item[2]]);
                let share: [u8; SHARE_BYTES] = item[3..].try_into().expect("item is 7 bytes");
                collected.entry(entry).or_default().push((table as u16, share));
            }
        }

        let threshold = header.threshold as usize;
        let mut matches = Vec::new();
        for (entry, shares) in &mut collected {
            if shares.len() < threshold {
                continue;
            }
            let Some(record) = combine(shares, threshold).and_then(|key| self.open_record(*entry, &key)) else {
                continue;
            };
            let collisions = shares.len() as u16;
            matches.push(BlindMatch {
                entry: *entry,
                record,
                collisions,
                tables: header.tables,
                implied_cosine: implied_cosine(collisions as f32 / header.tables as f32),
            });
        }
        for (_, share) in collected.values_mut().flatten() {
            zeroize::Zeroize::zeroize(share);
        }
        matches.sort_by(|a, b| b.collisions.cmp(&a.collisions));
        Ok(matches)
    }

    fn open_record(&self, entry: u32, key: &[u8; 16]) -> Option<EntryRecord> {
        let (nonce, sealed) = self.watchlist.record(entry)?;
        let cipher = ChaCha20Poly1305::new((&*record_key(key)).into());
        let aad = record_aad(&self.watchlist.header_hash, entry);
        let plaintext =
            Zeroizing::new(cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }).ok()?);
        serde_json::from_slice(&plaintext).ok()
    }
}
