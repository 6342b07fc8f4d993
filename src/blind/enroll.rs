//! Enrolment: building a signed, blinded watchlist (issuer side, holds the PRF key).
//!
//! One entry per person, its template the normalised mean of their enrolment embeddings. Entries
//! are shuffled so that indices carry no meaning; each gets a random 128-bit record key, shared
//! m-of-L across the buckets its template's codes fall into.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::format::{bucket_aad, record_aad, EntryRecord, Header};
use super::lsh::CrossPolytope;
use super::prf::{code_input, derive, key_check_input, Prf, TAG_BYTES};
use super::shares::{Dealer, KEY_BYTES, MAX_TABLES, MIN_THRESHOLD};
use super::BlindError;
use crate::embed::{Embedding, EMBEDDING_DIM};

/// The embedding model a watchlist's templates come from; a device with another model refuses it.
pub const MODEL_ID: &str = "sface-2021dec-int8bq";

#[derive(Clone)]
pub struct Enrolment {
    pub template: Embedding,
    pub record: EntryRecord,
}

#[derive(Debug, Clone)]
pub struct WatchlistParams {
    pub tables: u16,
    pub threshold: u16,
    pub valid_from: i64,
    pub valid_until: i64,
}

impl WatchlistParams {
    /// The default tables and threshold, valid from a minute before `now` for a day: for watchlists
    /// that live only in one process (the demo, benchmarks).
    pub fn default_for_a_day(now: i64) -> WatchlistParams {
        WatchlistParams {
            tables: super::DEFAULT_TABLES,
            threshold: super::DEFAULT_THRESHOLD,
            valid_from: now - 60,
            valid_until: now + 86_400,
        }
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

pub(crate) fn record_key(key: &[u8; KEY_BYTES]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, key)
        .expand(b"veilwatch/blind-lsh/v1/record", &mut out[..])
        .expect("32 bytes is a valid HKDF length");
    out
}

/// A local-custody watchlist that lives only in this process: a fresh issuer and PRF key, the
/// default tables and threshold, valid from a minute before `now` for a day; built, verified
/// against its issuer and loaded. For the demo kiosk's "Enrol me" and the browser benchmark.
pub fn ephemeral_local(
    entries: Vec<Enrolment>,
    now: i64,
) -> Result<(super::matcher::Matcher, super::prf::LocalHmac), BlindError> {
    let issuer = SigningKey::generate(&mut OsRng);
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let prf = super::prf::LocalHmac::new(key);
    let file = build(entries, &WatchlistParams::default_for_a_day(now), &prf, &issuer)?;
    let parsed = super::format::Watchlist::parse(file, &issuer.verifying_key())?;
    let matcher = super::matcher::Matcher::new(parsed, &prf, now)?;
    Ok((matcher, prf))
}

/// Builds the watchlist file's bytes.
pub fn build(
    mut entries: Vec<Enrolment>,
    params: &WatchlistParams,
    prf: &dyn Prf,
    issuer: &SigningKey,
) -> Result<Vec<u8>, BlindError> {
    let (tables, threshold) = (params.tables as usize, params.threshold as usize);
    if entries.is_empty() {
        return Err(BlindError::Enrolment("no entries to enrol".into()));
    }
    if !(1..=MAX_TABLES).contains(&tables) || !(MIN_THRESHOLD..=tables).contains(&threshold) {
        return Err(BlindError::Enrolment(format!(
            "threshold must be between {MIN_THRESHOLD} and the table count ({tables}), tables at most {MAX_TABLES}"
        )));
    }
    if params.valid_until <= params.valid_from {
        return Err(BlindError::Enrolment("the validity window ends before it starts".into()));
    }
    // Fisher–Yates with the OS RNG: entry order must not follow the input (e.g. alphabetical).
    for i in (1..entries.len()).rev() {
        entries.swap(i, (OsRng.next_u64() % (i as u64 + 1)) as usize);
    }

    let mut watchlist_id = [0u8; 16];
    let mut rotation_seed = [0u8; 32];
    OsRng.fill_bytes(&mut watchlist_id);
    OsRng.fill_bytes(&mut rotation_seed);
    let family = CrossPolytope::new(&rotation_seed, EMBEDDING_DIM, tables);
    let dealer = Dealer::new(tables, threshold);

    // (table, code) → [(entry index, share)], and one sealed record per entry.
    let mut buckets: BTreeMap<(u16, u16), Vec<u8>> = BTreeMap::new();
    let mut record_keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        OsRng.fill_bytes(&mut key[..]);
        let shares = dealer.split(&key, &mut OsRng);
        for (table, (&code, share)) in family.codes(entry.template.values()).iter().zip(&shares).enumerate() {
            let items = buckets.entry((table as u16, code)).or_default();
            items.extend_from_slice(&(index as u32).to_be_bytes()[1..]);
            items.extend_from_slice(share);
        }
        record_keys.push(key);
    }

    let check = prf.evaluate(&[key_check_input(&watchlist_id)])?;
    let header = Header {
        watchlist_id,
        model_id: MODEL_ID.into(),
        dim: EMBEDDING_DIM as u16,
        tables: params.tables,
        code_space: family.code_space() as u16,
        rotation_seed,
        threshold: params.threshold,
        suite: prf.suite(),
        key_check: derive(&check[0]).tag,
        valid_from: params.valid_from,
        valid_until: params.valid_until,
        issuer: issuer.verifying_key().to_bytes(),
        entries: entries.len() as u32,
        buckets: buckets.len() as u32,
    };
    let mut file = header.encode();
    let header_hash: [u8; 32] = Sha256::digest(&file).into();

    let inputs: Vec<Vec<u8>> = buckets.keys().map(|&(l, c)| code_input(&watchlist_id, l, c)).collect();
    let outputs = prf.evaluate(&inputs)?;
    let mut sealed: Vec<([u8; TAG_BYTES], u32, Vec<u8>)> = buckets
        .iter()
        .zip(&outputs)
        .map(|(((table, _), items), y)| {
            let derived = derive(y);
            let cipher = ChaCha20Poly1305::new((&*derived.bucket_key).into());
            let blob = cipher
                .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: items, aad: &bucket_aad(&header_hash, *table) })
                .expect("sealing in memory cannot fail");
            (derived.tag, (items.len() / 7) as u32, blob)
        })
        .collect();
    sealed.sort_by(|a, b| a.0.cmp(&b.0));
    if sealed.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(BlindError::Enrolment(
            "two buckets derived the same tag (astronomically unlikely); enrol again".into(),
        ));
    }
    for (tag, items, _) in &sealed {
        file.extend_from_slice(tag);
        file.extend_from_slice(&items.to_be_bytes()[1..]);
    }
    for (_, _, blob) in &sealed {
        file.extend_from_slice(blob);
    }

    for (index, (entry, key)) in entries.iter().zip(&record_keys).enumerate() {
        let plaintext = Zeroizing::new(serde_json::to_vec(&entry.record).expect("records serialise"));
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new((&*record_key(key)).into());
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload { msg: &plaintext, aad: &record_aad(&header_hash, index as u32) },
            )
            .expect("sealing in memory cannot fail");
        if sealed.len() > super::format::MAX_RECORD {
            return Err(BlindError::Enrolment(format!("record {} is larger than 1 MiB", entry.record.reference_id)));
        }
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        file.extend_from_slice(&sealed);
    }
    let signature = issuer.sign(&file);
    file.extend_from_slice(&signature.to_bytes());
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ephemeral_watchlist_opens_its_own_entries_and_expires_after_a_day() {
        let entries = synthetic_enrolments(3);
        let probe = entries[1].template.clone();
        let now = 1_800_000_000;
        let (matcher, prf) = ephemeral_local(entries, now).unwrap();
        let found = matcher.match_embedding(&probe, &prf, now).unwrap();
        assert_eq!(found.len(), 1);
        assert!(matcher.match_embedding(&probe, &prf, now + 86_401).is_err());
    }
}
