//! Matching one template against a loaded watchlist: L codes → L PRF evaluations → each code's
//! buckets (slots 0, 1, … until a tag is missing) → per-entry collision counts and shares → for
//! each entry with at least m collisions, rebuild its record key and open its record.
//!
//! Guarantees: a watchlist is matched only after it was parsed, its signature verified, its model
//! and PRF checked and its window found open ([`Matcher::load`]); a record that fails to open is a
//! non-match, never an error (the shares of a near-miss are not a fault), so a dummy entry, whose
//! record no key opens, is never a match; filler items are skipped; codes, PRF outputs,
//! shares and keys are wiped when the call ends; nothing is matched outside the validity window.
//! Under authority custody an opened entry yields its handle and the keys for its reviewer
//! material ([`Opened::Handle`]), which its holder wipes once the material was fetched.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use zeroize::Zeroizing;

use super::format::{RecordClass, Watchlist};
use super::lsh::{implied_cosine, CrossPolytope};
use super::material::{Handle, MaterialKeys};
use super::prf::{code_input, derive, key_check_input, Prf};
use super::record::{self, EntryRecord};
use super::shares::{combine, KEY_BYTES, SHARE_BYTES};
use super::{bucket, BlindError};
use crate::template::Embedding;

/// What an entry's rebuilt record key opened in the file.
#[derive(Debug)]
pub enum Opened {
    /// Local custody: the record itself.
    Record(EntryRecord),
    /// Authority custody: the entry's handle, and the keys that fetch and open its reviewer
    /// material at the authority ([`super::material`]); wiped on drop.
    Handle { handle: Handle, keys: MaterialKeys },
}

/// A record that opened: the probe collided with this entry in `collisions` of `tables` tables.
#[derive(Debug, Serialize)]
pub struct BlindMatch {
    pub entry: u32,
    /// The record, or under authority custody the handle to ask the authority for it.
    #[serde(skip)]
    pub opened: Opened,
    pub collisions: u16,
    pub tables: u16,
    /// The cosine the collision count implies, through the family's collision probability.
    pub implied_cosine: f32,
}

impl BlindMatch {
    /// The record, if the file held it (local custody).
    pub fn record(&self) -> Option<&EntryRecord> {
        match &self.opened {
            Opened::Record(record) => Some(record),
            Opened::Handle { .. } => None,
        }
    }
}

pub struct Matcher {
    pub watchlist: Watchlist,
    family: CrossPolytope,
}

impl Matcher {
    /// A verified, loaded watchlist, from the file's bytes: parsed and checked against the
    /// `issuer` ([`Watchlist::parse`]), then prepared for matching ([`Matcher::new`]).
    pub fn load(
        file: Vec<u8>,
        issuer: &VerifyingKey,
        prf: &dyn Prf,
        model_id: &str,
        now_unix: i64,
    ) -> Result<Matcher, BlindError> {
        Matcher::new(Watchlist::parse(file, issuer)?, prf, model_id, now_unix)
    }

    /// Prepares a parsed watchlist for matching: checks that it is for `model_id` (the model the
    /// caller's templates come from), that `now` is inside its window, and that `prf` is its PRF
    /// (same suite, same key).
    pub fn new(watchlist: Watchlist, prf: &dyn Prf, model_id: &str, now_unix: i64) -> Result<Matcher, BlindError> {
        if prf.suite() != watchlist.header.suite {
            return Err(BlindError::SuiteMismatch { needed: watchlist.header.suite.name(), given: prf.suite().name() });
        }
        if prf.public_key().is_some() && prf.public_key() != watchlist.header.authority_key {
            return Err(BlindError::WrongPrfKey);
        }
        let unchecked = Matcher::without_key_check(watchlist, model_id, now_unix)?;
        let check = prf.evaluate_key_check(&unchecked.key_check_input())?;
        unchecked.check_key(&check)?;
        Ok(unchecked)
    }

    /// [`Matcher::new`] up to, not including, the key check: model and window. The caller must
    /// evaluate [`Matcher::key_check_input`] through the watchlist's PRF (the authority,
    /// asynchronously) and pass the output to [`Matcher::check_key`] before matching with it.
    pub fn without_key_check(watchlist: Watchlist, model_id: &str, now_unix: i64) -> Result<Matcher, BlindError> {
        let header = &watchlist.header;
        if header.model_id != model_id {
            return Err(BlindError::Malformed(format!(
                "the watchlist was made for model {}, this device runs {model_id}",
                header.model_id
            )));
        }
        watchlist.check_window(now_unix)?;
        let family = CrossPolytope::new(&header.rotation_seed, header.dim as usize, header.tables as usize);
        Ok(Matcher { watchlist, family })
    }

    /// The PRF input whose output proves the PRF holds this watchlist's key.
    pub fn key_check_input(&self) -> Vec<u8> {
        key_check_input(&self.watchlist.header.watchlist_id)
    }

    /// Whether `output`, the PRF's output for [`Matcher::key_check_input`], is the one the header
    /// records: `WrongPrfKey` if not.
    pub fn check_key(&self, output: &[u8]) -> Result<(), BlindError> {
        if derive(output, 0).tag != self.watchlist.header.key_check {
            return Err(BlindError::WrongPrfKey);
        }
        Ok(())
    }

    pub fn match_embedding(
        &self,
        probe: &Embedding,
        prf: &dyn Prf,
        now_unix: i64,
    ) -> Result<Vec<BlindMatch>, BlindError> {
        let inputs = self.prf_inputs(probe, now_unix)?;
        let outputs = prf.evaluate(&inputs)?;
        Ok(self.open_matches(&outputs))
    }

    /// The first half of [`Matcher::match_embedding`], for a PRF evaluated elsewhere (the
    /// authority, asynchronously): the L PRF inputs of `probe`'s codes, wiped on drop.
    pub fn prf_inputs(&self, probe: &Embedding, now_unix: i64) -> Result<Zeroizing<Vec<Vec<u8>>>, BlindError> {
        let header = &self.watchlist.header;
        self.watchlist.check_window(now_unix)?;
        if probe.values().len() != header.dim as usize {
            return Err(BlindError::Dimension { expected: header.dim as usize, got: probe.values().len() });
        }
        let codes = self.family.codes(probe.values());
        Ok(Zeroizing::new(
            codes.iter().enumerate().map(|(l, &c)| code_input(&header.watchlist_id, l as u16, c)).collect(),
        ))
    }

    /// The second half: the records that open with the L PRF outputs of one probe's codes.
    pub fn open_matches(&self, outputs: &[Zeroizing<Vec<u8>>]) -> Vec<BlindMatch> {
        let header = &self.watchlist.header;
        let mut collected: HashMap<u32, Vec<(u16, [u8; SHARE_BYTES])>> = HashMap::new();
        for (table, y) in outputs.iter().enumerate() {
            for slot in 0..=u16::MAX {
                let derived = derive(y, slot);
                let Some(found) = self.watchlist.find_bucket(&derived.tag) else { break };
                let blob = self.watchlist.bucket_blob(found);
                // A tag that matched by chance, or the probe's code in another table: not ours.
                let Some(items) = bucket::open(&derived, &self.watchlist.header_hash, table as u16, blob) else {
                    break;
                };
                for item in items.iter().filter(|item| item.entry < header.entries) {
                    collected.entry(item.entry).or_default().push((table as u16, item.share));
                }
            }
        }

        let threshold = header.threshold as usize;
        let mut matches = Vec::new();
        for (entry, shares) in &collected {
            if shares.len() < threshold {
                continue;
            }
            let Some(opened) = combine(shares, threshold).and_then(|key| self.open_record(*entry, &key)) else {
                continue;
            };
            let collisions = shares.len() as u16;
            matches.push(BlindMatch {
                entry: *entry,
                opened,
                collisions,
                tables: header.tables,
                implied_cosine: implied_cosine(collisions as f32 / header.tables as f32),
            });
        }
        for (_, share) in collected.values_mut().flatten() {
            zeroize::Zeroize::zeroize(share);
        }
        matches.sort_by_key(|m| std::cmp::Reverse(m.collisions));
        matches
    }

    /// Opens entry `entry`'s record (local custody) or handle (authority custody) with its rebuilt
    /// record key; the handle comes with the material keys derived from the record key, which the
    /// caller's copy of then drops (wiped).
    fn open_record(&self, entry: u32, key: &[u8; KEY_BYTES]) -> Option<Opened> {
        let sealed = self.watchlist.record(entry)?;
        let hash = &self.watchlist.header_hash;
        if self.watchlist.header.record_class == RecordClass::Handle {
            let handle = record::open_handle(sealed, key, hash, entry)?;
            return Some(Opened::Handle { handle, keys: MaterialKeys::derive(key) });
        }
        record::open(sealed, key, hash, entry).map(Opened::Record)
    }
}
