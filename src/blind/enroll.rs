//! Enrolment: building a signed, blinded watchlist (issuer side, holds the PRF key).
//!
//! One entry per person, its template the normalised mean of their enrolment embeddings (the
//! caller computes it, and names the model it came from). [`build`] is the recipe, one named step
//! per line: check, shuffle (so indices carry no meaning), deal each entry's random record key
//! m-of-L into the buckets its template's codes fall into, seal the buckets under their PRF-derived
//! keys, seal the records under their record keys, lay out and sign the file.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::format::{self, BucketItem, BucketRef, Header, RecordRef};
use super::lsh::CrossPolytope;
use super::matcher::Matcher;
use super::prf::{code_input, derive, key_check_input, LocalHmac, Prf, TAG_BYTES};
use super::record::{self, random_record_key, EntryRecord, RecordKey, SealedRecord};
use super::shares::{Dealer, MAX_TABLES, MIN_THRESHOLD};
use super::{bucket, BlindError};
use crate::template::{Embedding, EMBEDDING_DIM};

#[derive(Clone)]
pub struct Enrolment {
    pub template: Embedding,
    pub record: EntryRecord,
}

#[derive(Debug, Clone)]
pub struct WatchlistParams {
    /// The embedding model the templates come from; a device running another refuses the file.
    pub model_id: String,
    pub tables: u16,
    pub threshold: u16,
    pub valid_from: i64,
    pub valid_until: i64,
}

impl WatchlistParams {
    /// The default tables and threshold, valid from a minute before `now` for a day: for watchlists
    /// that live only in one process (the demo, benchmarks).
    pub fn default_for_a_day(model_id: &str, now: i64) -> WatchlistParams {
        WatchlistParams {
            model_id: model_id.to_owned(),
            tables: super::DEFAULT_TABLES,
            threshold: super::DEFAULT_THRESHOLD,
            valid_from: now - 60,
            valid_until: now + 86_400,
        }
    }

    fn check(&self, entries: usize) -> Result<(), BlindError> {
        let (tables, threshold) = (self.tables as usize, self.threshold as usize);
        if entries == 0 {
            return Err(BlindError::Enrolment("no entries to enrol".into()));
        }
        if entries > format::MAX_ENTRIES as usize {
            return Err(BlindError::Enrolment(format!("at most {} entries fit a watchlist", format::MAX_ENTRIES)));
        }
        if !(1..=MAX_TABLES).contains(&tables) || !(MIN_THRESHOLD..=tables).contains(&threshold) {
            return Err(BlindError::Enrolment(format!(
                "threshold must be between {MIN_THRESHOLD} and the table count ({tables}), tables at most {MAX_TABLES}"
            )));
        }
        if self.model_id.is_empty() || self.model_id.len() > 64 {
            return Err(BlindError::Enrolment("the model id must be 1 to 64 bytes".into()));
        }
        if self.valid_until <= self.valid_from {
            return Err(BlindError::Enrolment("the validity window ends before it starts".into()));
        }
        Ok(())
    }
}

/// `n` random unit vectors with placeholder records: the watchlist both benchmarks (native and
/// in the browser) time. Nothing in it comes from a face.
pub fn synthetic_enrolments(n: usize) -> Vec<Enrolment> {
    (0..n)
        .map(|i| {
            let values: Vec<f32> =
                (0..EMBEDDING_DIM).map(|_| OsRng.next_u32() as f32 / u32::MAX as f32 - 0.5).collect();
            Enrolment {
                template: Embedding::from_values(&values).expect("random values are not all zero"),
                record: EntryRecord {
                    reference_id: format!("REF-{i:06}"),
                    label: format!("Synthetic person {i}"),
                    category: "benchmark".into(),
                    source: "random unit vectors".into(),
                    enrolled: "2026-11-22".into(),
                    photo_jpeg_hex: None,
                },
            }
        })
        .collect()
}

/// A local-custody watchlist that lives only in this process: a fresh issuer and PRF key, the
/// default tables and threshold, valid from a minute before `now` for a day; built, verified
/// against its issuer and loaded. For the demo kiosk's "Enrol me" and the browser benchmark.
pub fn ephemeral_local(entries: Vec<Enrolment>, model_id: &str, now: i64) -> Result<(Matcher, LocalHmac), BlindError> {
    let issuer = SigningKey::generate(&mut OsRng);
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut key[..]);
    let prf = LocalHmac::new(*key);
    let file = build(entries, &WatchlistParams::default_for_a_day(model_id, now), &prf, &issuer)?;
    let matcher = Matcher::load(file, &issuer.verifying_key(), &prf, model_id, now)?;
    Ok((matcher, prf))
}

/// Builds the watchlist file's bytes.
pub fn build(
    entries: Vec<Enrolment>,
    params: &WatchlistParams,
    prf: &dyn Prf,
    issuer: &SigningKey,
) -> Result<Vec<u8>, BlindError> {
    params.check(entries.len())?;
    let entries = shuffled(entries);
    let mut header = new_header(params, prf, issuer, entries.len())?;
    let family = CrossPolytope::new(&header.rotation_seed, EMBEDDING_DIM, params.tables as usize);
    let (buckets, record_keys) = deal_shares(&entries, &family, params);
    header.buckets = buckets.len() as u32;
    let header_hash = header.hash();
    let sealed_buckets = seal_buckets(&buckets, prf, &header.watchlist_id, &header_hash)?;
    let sealed_records = entries
        .iter()
        .zip(&record_keys)
        .enumerate()
        .map(|(index, (entry, key))| record::seal(&entry.record, key, &header_hash, index as u32))
        .collect::<Result<Vec<SealedRecord>, BlindError>>()?;
    let bucket_refs: Vec<BucketRef> = sealed_buckets.iter().map(|(tag, blob)| BucketRef { tag: *tag, blob }).collect();
    let record_refs: Vec<RecordRef> = sealed_records.iter().map(SealedRecord::as_ref).collect();
    Ok(format::write(&header, &bucket_refs, &record_refs, issuer))
}

/// Fisher–Yates with the OS RNG: entry order must not follow the input (e.g. alphabetical).
fn shuffled(mut entries: Vec<Enrolment>) -> Vec<Enrolment> {
    for i in (1..entries.len()).rev() {
        entries.swap(i, (OsRng.next_u64() % (i as u64 + 1)) as usize);
    }
    entries
}

/// A header with a fresh random watchlist id and rotation seed, and the PRF's key check; the
/// bucket count is filled in once the buckets are known.
fn new_header(params: &WatchlistParams, prf: &dyn Prf, issuer: &SigningKey, entries: usize) -> Result<Header, BlindError> {
    let mut watchlist_id = [0u8; 16];
    let mut rotation_seed = [0u8; 32];
    OsRng.fill_bytes(&mut watchlist_id);
    OsRng.fill_bytes(&mut rotation_seed);
    let check = prf.evaluate(&[key_check_input(&watchlist_id)])?;
    Ok(Header {
        watchlist_id,
        model_id: params.model_id.clone(),
        dim: EMBEDDING_DIM as u16,
        tables: params.tables,
        code_space: CrossPolytope::code_space_for(EMBEDDING_DIM) as u16,
        rotation_seed,
        threshold: params.threshold,
        suite: prf.suite(),
        key_check: derive(&check[0]).tag,
        valid_from: params.valid_from,
        valid_until: params.valid_until,
        issuer: issuer.verifying_key().to_bytes(),
        entries: entries as u32,
        buckets: 0,
    })
}

/// (table, code) → the items of that bucket; and one random record key per entry, whose share
/// for table l goes into the bucket of (l, c_l(template)).
type Buckets = BTreeMap<(u16, u16), Zeroizing<Vec<BucketItem>>>;

fn deal_shares(entries: &[Enrolment], family: &CrossPolytope, params: &WatchlistParams) -> (Buckets, Vec<RecordKey>) {
    let dealer = Dealer::new(params.tables as usize, params.threshold as usize);
    let mut buckets = Buckets::new();
    let mut record_keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let key = random_record_key();
        let shares = dealer.split(&key, &mut OsRng);
        for (table, (&code, share)) in family.codes(entry.template.values()).iter().zip(&shares).enumerate() {
            let item = BucketItem { entry: index as u32, share: *share };
            buckets.entry((table as u16, code)).or_default().push(item);
        }
        record_keys.push(key);
    }
    (buckets, record_keys)
}

/// A bucket's tag and sealed blob.
type SealedBucket = ([u8; TAG_BYTES], Vec<u8>);

/// Each bucket sealed under the key its code's PRF output derives, sorted by tag (the directory's
/// order, which says nothing about tables or codes).
fn seal_buckets(
    buckets: &Buckets,
    prf: &dyn Prf,
    watchlist_id: &[u8; 16],
    header_hash: &[u8; 32],
) -> Result<Vec<SealedBucket>, BlindError> {
    let inputs: Vec<Vec<u8>> = buckets.keys().map(|&(l, c)| code_input(watchlist_id, l, c)).collect();
    let outputs = prf.evaluate(&inputs)?;
    let mut sealed: Vec<SealedBucket> = buckets
        .iter()
        .zip(&outputs)
        .map(|(((table, _), items), y)| {
            let derived = derive(y);
            (derived.tag, bucket::seal(&derived, header_hash, *table, items))
        })
        .collect();
    sealed.sort_by_key(|(tag, _)| *tag);
    if sealed.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(BlindError::Enrolment(
            "two buckets derived the same tag (astronomically unlikely); enrol again".into(),
        ));
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ephemeral_watchlist_opens_its_own_entries_and_expires_after_a_day() {
        let entries = synthetic_enrolments(3);
        let probe = entries[1].template.clone();
        let now = 1_800_000_000;
        let (matcher, prf) = ephemeral_local(entries, "test-model", now).unwrap();
        let found = matcher.match_embedding(&probe, &prf, now).unwrap();
        assert_eq!(found.len(), 1);
        assert!(matcher.match_embedding(&probe, &prf, now + 86_401).is_err());
    }
}
