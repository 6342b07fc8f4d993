//! Enrolment: building a signed, blinded watchlist (issuer side, holds the PRF key).
//!
//! One entry per person, its template the normalised mean of their enrolment embeddings (the
//! caller computes it, and names the model it came from). [`build`] is the recipe, one named step
//! per line: check, pad to the entry size class with dummies and shuffle (so neither the count nor
//! the indices carry meaning), deal each real entry's random record key m-of-L into the buckets its
//! template's codes fall into and each dummy's random shares into random codes, cut every code's
//! items into buckets of k and seal them under their PRF-derived keys, fill up to the class's
//! bucket count with filler buckets, seal the records (padded to one record class) under their
//! record keys and the dummies' under random keys, lay out and sign the file (the format's module
//! doc says why each step is needed for G3). Under authority custody the file's records are handles
//! and the records themselves become reviewer materials for the authority ([`super::material`]).

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::format::{self, BucketItem, BucketRef, Header, RecordClass, RecordRef, FILLER_ENTRY};
use super::lsh::CrossPolytope;
use super::matcher::Matcher;
use super::material::{random_handle, Material, MaterialKeys};
use super::prf::{code_input, derive, key_check_input, LocalHmac, Prf, PrfSuite, TAG_BYTES};
use super::record::{self, random_record_key, EntryRecord, RecordKey, SealedRecord};
use super::shares::{Dealer, MAX_TABLES, MIN_THRESHOLD, SHARE_BYTES};
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

/// A built watchlist: the file, and under authority custody the reviewer materials the
/// authority keeps (one per real entry, in no particular order; empty under local custody).
pub struct Enrolled {
    pub file: Vec<u8>,
    pub materials: Vec<Material>,
}

/// Builds the watchlist file's bytes. Under authority custody the reviewer materials are dropped:
/// use [`build_with_materials`] to register them with the authority.
pub fn build(
    entries: Vec<Enrolment>,
    params: &WatchlistParams,
    prf: &dyn Prf,
    issuer: &SigningKey,
) -> Result<Vec<u8>, BlindError> {
    Ok(build_with_materials(entries, params, prf, issuer)?.file)
}

/// Builds the watchlist file and, under authority custody (the file then holds handles, see
/// [`format`]'s module doc), each real entry's reviewer material for the authority.
pub fn build_with_materials(
    entries: Vec<Enrolment>,
    params: &WatchlistParams,
    prf: &dyn Prf,
    issuer: &SigningKey,
) -> Result<Enrolled, BlindError> {
    params.check(entries.len())?;
    let material_class = record_class(&entries)?;
    let handles = format::holds_handles(prf.suite());
    let file_class = if handles { RecordClass::Handle } else { material_class };
    let entries = padded_and_shuffled(entries);
    let header = new_header(params, prf, issuer, entries.len() as u32, file_class)?;
    let family = CrossPolytope::new(&header.rotation_seed, EMBEDDING_DIM, params.tables as usize);
    let (buckets, record_keys) = deal_shares(&entries, &family, &header);
    let header_hash = header.hash();
    let sealed_buckets = seal_buckets(&buckets, prf, &header, &header_hash)?;
    let mut materials = Vec::new();
    let mut sealed_records = Vec::with_capacity(entries.len());
    for (index, (entry, key)) in entries.iter().zip(&record_keys).enumerate() {
        let index = index as u32;
        sealed_records.push(match entry {
            None => record::seal_dummy(file_class, &header_hash, index),
            Some(entry) if !handles => record::seal(&entry.record, material_class, key, &header_hash, index)?,
            Some(entry) => {
                let handle = random_handle();
                let keys = MaterialKeys::derive(key);
                let sealed = keys.seal(&entry.record, material_class, &header.watchlist_id, &handle)?;
                materials.push(Material::new(&handle, &keys.verifier(), &sealed));
                record::seal_handle(&handle, key, &header_hash, index)
            }
        });
    }
    // The materials' order must not follow the (shuffled) entry indices either.
    materials.sort_unstable_by(|a, b| a.handle.cmp(&b.handle));
    let bucket_refs: Vec<BucketRef> = sealed_buckets.iter().map(|(tag, blob)| BucketRef { tag: *tag, blob }).collect();
    let record_refs: Vec<RecordRef> = sealed_records.iter().map(SealedRecord::as_ref).collect();
    Ok(Enrolled { file: format::write(&header, &bucket_refs, &record_refs, issuer), materials })
}

/// The one record class of the file (local custody) or of the materials (authority custody): the
/// smallest that holds every record (a record that fits none is
/// refused here, before anything is built).
fn record_class(entries: &[Enrolment]) -> Result<RecordClass, BlindError> {
    entries.iter().try_fold(RecordClass::NoPhoto, |class, entry| Ok(class.max(record::class_of(&entry.record)?)))
}

/// The entries padded with dummies (`None`) to their size class, in a uniformly random order
/// (Fisher–Yates with the OS RNG): entry order must not follow the input (e.g. alphabetical), and
/// a dummy's index must not tell it from a real entry.
fn padded_and_shuffled(entries: Vec<Enrolment>) -> Vec<Option<Enrolment>> {
    let class = format::entry_class(entries.len() as u32).expect("checked against MAX_ENTRIES") as usize;
    let mut padded: Vec<Option<Enrolment>> = entries.into_iter().map(Some).collect();
    padded.resize_with(class, || None);
    for i in (1..padded.len()).rev() {
        padded.swap(i, (OsRng.next_u64() % (i as u64 + 1)) as usize);
    }
    padded
}

/// A header with a fresh random watchlist id (or the one the PRF's key is bound to: a VOPRF
/// deployment key is derived for one watchlist id), a fresh rotation seed, the PRF's key check
/// and, under authority custody, the deployment's public key.
fn new_header(
    params: &WatchlistParams,
    prf: &dyn Prf,
    issuer: &SigningKey,
    entries: u32,
    record_class: RecordClass,
) -> Result<Header, BlindError> {
    let mut watchlist_id = [0u8; 16];
    let mut rotation_seed = [0u8; 32];
    OsRng.fill_bytes(&mut watchlist_id);
    let watchlist_id = prf.bound_watchlist().unwrap_or(watchlist_id);
    OsRng.fill_bytes(&mut rotation_seed);
    let authority_key = match prf.suite() {
        PrfSuite::HmacSha256Local => None,
        PrfSuite::VoprfRistretto255Sha512 => Some(
            prf.public_key()
                .ok_or_else(|| BlindError::Enrolment("a VOPRF watchlist needs its deployment's public key".into()))?,
        ),
    };
    let check = prf.evaluate(&[key_check_input(&watchlist_id)])?;
    let code_space = CrossPolytope::code_space_for(EMBEDDING_DIM) as u16;
    Ok(Header {
        watchlist_id,
        model_id: params.model_id.clone(),
        dim: EMBEDDING_DIM as u16,
        tables: params.tables,
        code_space,
        rotation_seed,
        threshold: params.threshold,
        suite: prf.suite(),
        authority_key,
        key_check: derive(&check[0], 0).tag,
        valid_from: params.valid_from,
        valid_until: params.valid_until,
        issuer: issuer.verifying_key().to_bytes(),
        entries,
        bucket_items: format::bucket_items_for(entries, code_space),
        record_class,
    })
}

/// (table, code) → the items of that code; and one random record key per real entry, whose share
/// for table l goes to (l, c_l(template)).
type Buckets = BTreeMap<(u16, u16), Zeroizing<Vec<BucketItem>>>;

fn random_share() -> [u8; SHARE_BYTES] {
    let mut share = [0u8; SHARE_BYTES];
    OsRng.fill_bytes(&mut share);
    share
}

/// Real entries: their record key dealt into their template's codes. Dummies: a random share in
/// a uniformly random code of every table, and a record key that seals nothing.
fn deal_shares(entries: &[Option<Enrolment>], family: &CrossPolytope, header: &Header) -> (Buckets, Vec<RecordKey>) {
    let dealer = Dealer::new(header.tables as usize, header.threshold as usize);
    let mut buckets = Buckets::new();
    let mut record_keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let key = random_record_key();
        let entry_index = index as u32;
        match entry {
            Some(entry) => {
                let shares = dealer.split(&key, &mut OsRng);
                for (table, (&code, share)) in family.codes(entry.template.values()).iter().zip(&shares).enumerate() {
                    let item = BucketItem { entry: entry_index, share: *share };
                    buckets.entry((table as u16, code)).or_default().push(item);
                }
            }
            None => {
                for table in 0..header.tables {
                    let code = (OsRng.next_u32() % header.code_space as u32) as u16;
                    let item = BucketItem { entry: entry_index, share: random_share() };
                    buckets.entry((table, code)).or_default().push(item);
                }
            }
        }
        record_keys.push(key);
    }
    (buckets, record_keys)
}

/// A bucket's tag and sealed blob.
type SealedBucket = ([u8; TAG_BYTES], Vec<u8>);

/// Each code's items cut into buckets of k (the last topped up with filler items), each sealed
/// under the key of its slot; then filler buckets (random tags, random blobs) up to the class's
/// bucket count; sorted by tag (the directory's order, which says nothing about tables or codes).
fn seal_buckets(
    buckets: &Buckets,
    prf: &dyn Prf,
    header: &Header,
    header_hash: &[u8; 32],
) -> Result<Vec<SealedBucket>, BlindError> {
    let k = header.bucket_items as usize;
    let inputs: Vec<Vec<u8>> = buckets.keys().map(|&(l, c)| code_input(&header.watchlist_id, l, c)).collect();
    let outputs = prf.evaluate(&inputs)?;
    let total = header.bucket_count() as usize;
    let mut sealed: Vec<SealedBucket> = Vec::with_capacity(total);
    for (((table, _), items), y) in buckets.iter().zip(&outputs) {
        for (slot, chunk) in items.chunks(k).enumerate() {
            let slot = u16::try_from(slot)
                .map_err(|_| BlindError::Enrolment("a code holds more buckets than the format allows".into()))?;
            let mut chunk = Zeroizing::new(chunk.to_vec());
            chunk.resize_with(k, || BucketItem { entry: FILLER_ENTRY, share: random_share() });
            let derived = derive(y, slot);
            sealed.push((derived.tag, bucket::seal(&derived, header_hash, *table, &chunk)));
        }
    }
    if sealed.len() > total {
        return Err(BlindError::Enrolment(format!(
            "the codes need {} buckets, more than the {total} the size class bounds (a bug: please report it)",
            sealed.len()
        )));
    }
    while sealed.len() < total {
        let mut tag = [0u8; TAG_BYTES];
        let mut blob = vec![0u8; header.blob_len()];
        OsRng.fill_bytes(&mut tag);
        OsRng.fill_bytes(&mut blob);
        sealed.push((tag, blob));
    }
    sealed.sort_unstable_by_key(|(tag, _)| *tag);
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
