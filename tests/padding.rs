//! G3 against T1, the holder of the watchlist file: the file reveals its size class and nothing
//! finer. Lists of different sizes in one class are the same length and structure; records are
//! padded to their class; the dummy entries that pad a list never open, not even for someone who
//! holds the PRF key and pools every share of every table (so they cannot change accuracy or false
//! alerts); a file of the old, leaky format is refused with a clear error.

mod common;

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use veilwatch::blind::enroll::{build, synthetic_enrolments, Enrolment, WatchlistParams};
use veilwatch::blind::format::{RecordClass, Watchlist, FILLER_ENTRY};
use veilwatch::blind::matcher::Matcher;
use veilwatch::blind::prf::{code_input, derive, LocalHmac, Prf};
use veilwatch::blind::record::{self, EntryRecord};
use veilwatch::blind::shares::combine;
use veilwatch::blind::{bucket, BlindError, DEFAULT_TABLES, DEFAULT_THRESHOLD};
use veilwatch::template::{Embedding, EMBEDDING_DIM};

const NOW: i64 = 1_800_000_000;
const MODEL: &str = "synthetic-unit-vectors";

fn params(model: &str) -> WatchlistParams {
    WatchlistParams {
        model_id: model.into(),
        tables: DEFAULT_TABLES,
        threshold: DEFAULT_THRESHOLD,
        valid_from: NOW - 3600,
        valid_until: NOW + 3600,
    }
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn parse(file: &[u8]) -> Watchlist {
    Watchlist::parse(file.to_vec(), &issuer().verifying_key()).unwrap()
}

#[test]
fn lists_of_10_and_50_entries_are_the_same_size_and_shape() {
    let prf = LocalHmac::new([1; 32]);
    let small = build(synthetic_enrolments(10), &params(MODEL), &prf, &issuer()).unwrap();
    let large = build(synthetic_enrolments(50), &params(MODEL), &prf, &issuer()).unwrap();
    assert_eq!(small.len(), large.len(), "file sizes differ");
    let (small, large) = (parse(&small), parse(&large));
    // Everything the header and the layout say, except the random ids, seeds and key checks.
    let shape = |w: &Watchlist| {
        let h = &w.header;
        (h.entries, h.bucket_items, h.record_class, h.bucket_count(), w.tags.len(), h.tables, h.threshold)
    };
    assert_eq!(shape(&small), shape(&large));
    assert_eq!(small.header.entries, 64, "10 and 50 both pad to the class of 64");
    assert_eq!(small.tags.len(), 64 * DEFAULT_TABLES as usize, "k = 1: one bucket per entry and table");
}

/// Every (table, code) of `w` opened with the PRF key: each entry index with the shares it holds.
/// This is what a holder of the local key (T4) can pool, far more than any probe collects.
fn every_share(w: &Watchlist, prf: &dyn Prf) -> HashMap<u32, Vec<(u16, [u8; 4])>> {
    let h = &w.header;
    let inputs: Vec<Vec<u8>> =
        (0..h.tables).flat_map(|l| (0..h.code_space).map(move |c| code_input(&h.watchlist_id, l, c))).collect();
    let outputs = prf.evaluate(&inputs).unwrap();
    let mut shares: HashMap<u32, Vec<(u16, [u8; 4])>> = HashMap::new();
    let mut opened = 0;
    for (i, y) in outputs.iter().enumerate() {
        let table = (i / h.code_space as usize) as u16;
        for slot in 0.. {
            let derived = derive(y, slot);
            let Some(found) = w.find_bucket(&derived.tag) else { break };
            let items =
                bucket::open(&derived, &w.header_hash, table, w.bucket_blob(found)).expect("a tag of ours opens");
            opened += 1;
            for item in items.iter().filter(|item| item.entry != FILLER_ENTRY) {
                shares.entry(item.entry).or_default().push((table, item.share));
            }
        }
    }
    assert!(opened <= w.tags.len());
    shares
}

#[test]
fn dummies_never_open_even_with_every_share_of_every_table() {
    let (Some(engine), Some(root)) = (common::engine(), common::lfw_images()) else { return };
    let people = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez", "Jennifer_Capriati", "Andre_Agassi"];
    let embed = |name: &str, i: usize| {
        let path = root.join(name).join(format!("{name}_{i:04}.jpg"));
        engine.analyse_still(&common::load(&path)).unwrap().unwrap().embedding
    };
    let records: Vec<EntryRecord> = people
        .iter()
        .map(|name| {
            EntryRecord::new(format!("REF-{name}"), name.replace('_', " "), "t".into(), "LFW".into(), NOW, None)
        })
        .collect();
    let entries: Vec<Enrolment> = people
        .iter()
        .zip(&records)
        .map(|(name, record)| {
            let embeddings: Vec<Embedding> = (2..=6).map(|k| embed(name, k)).collect();
            Enrolment { template: Embedding::mean(&embeddings).unwrap(), record: record.clone() }
        })
        .collect();
    let prf = LocalHmac::new([2; 32]);
    let file = build(entries, &params(engine.model_id()), &prf, &issuer()).unwrap();
    let w = parse(&file);
    assert_eq!(w.header.entries, 64);

    // All 64 entries hold a share in every table, so no item count tells a dummy from a person...
    let shares = every_share(&w, &prf);
    assert_eq!(shares.len(), 64);
    assert!(shares.values().all(|s| s.len() == DEFAULT_TABLES as usize));
    // ...but with all 1 024 shares pooled, only the six people's records open.
    let mut opened = Vec::new();
    for (entry, pooled) in &shares {
        let key = combine(pooled, w.header.threshold as usize).unwrap();
        if let Some(record) = record::open(w.record(*entry).unwrap(), &key, &w.header_hash, *entry) {
            opened.push(record.reference_id);
        }
    }
    opened.sort();
    let mut expected: Vec<String> = records.iter().map(|r| r.reference_id.clone()).collect();
    expected.sort();
    assert_eq!(opened, expected, "exactly the real entries open; the 58 dummies never do");

    // Through the matcher: each person's other photo alerts on them, and on nothing else.
    let matcher = Matcher::new(w, &prf, engine.model_id(), NOW).unwrap();
    for (name, record) in people.iter().zip(&records) {
        let found = matcher.match_embedding(&embed(name, 1), &prf, NOW).unwrap();
        assert_eq!(found.iter().map(|m| m.record()).collect::<Vec<_>>(), [Some(record)], "{name}");
    }
}

fn with_photo(i: usize, photo_bytes: usize) -> EntryRecord {
    let photo = vec![0xD8; photo_bytes];
    EntryRecord::new(
        format!("REF-{i}"),
        format!("Person {i}"),
        "t".into(),
        "s".into(),
        NOW,
        (photo_bytes > 0).then_some(&photo[..]),
    )
}

#[test]
fn every_record_of_a_file_is_the_size_of_its_class_and_opens_whole() {
    let prf = LocalHmac::new([3; 32]);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut random_unit =
        || -> Vec<f32> { (0..EMBEDDING_DIM).map(|_| rng.next_u32() as f32 / u32::MAX as f32 - 0.5).collect() };
    let mut sizes = Vec::new();
    for (photo, class) in
        [(0, RecordClass::NoPhoto), (5_000, RecordClass::Photo8KiB), (12_000, RecordClass::Photo16KiB)]
    {
        // One record of the class and one without a photo: both padded to the class.
        let records = [with_photo(1, photo), with_photo(2, 0)];
        let templates = [random_unit(), random_unit()];
        let entries: Vec<Enrolment> = records
            .iter()
            .zip(&templates)
            .map(|(record, t)| Enrolment { template: Embedding::from_values(t).unwrap(), record: record.clone() })
            .collect();
        let file = build(entries, &params(MODEL), &prf, &issuer()).unwrap();
        let w = parse(&file);
        assert_eq!(w.header.record_class, class);
        assert!((0..64).all(|i| w.record(i).unwrap().ciphertext.len() == class.plaintext_len() + 16));
        sizes.push(file.len());
        let matcher = Matcher::new(w, &prf, MODEL, NOW).unwrap();
        for (record, t) in records.iter().zip(&templates) {
            let found = matcher.match_embedding(&Embedding::from_values(t).unwrap(), &prf, NOW).unwrap();
            assert_eq!(found.iter().map(|m| m.record()).collect::<Vec<_>>(), [Some(record)]);
        }
    }
    // The three files differ by exactly 64 records' worth of class difference.
    assert_eq!(sizes[1] - sizes[0], 64 * (9 * 1024 - 1024));
    assert_eq!(sizes[2] - sizes[1], 64 * (17 * 1024 - 9 * 1024));

    let too_big = vec![Enrolment {
        template: Embedding::from_values(&random_unit()).unwrap(),
        record: with_photo(3, 16 * 1024 + 1),
    }];
    let err = build(too_big, &params(MODEL), &prf, &issuer()).unwrap_err();
    assert!(matches!(err, BlindError::Enrolment(_)), "{err}");
    assert!(err.to_string().contains("REF-3") && err.to_string().contains("largest record class"), "{err}");
}

#[test]
fn a_file_of_the_old_format_is_refused_with_a_clear_error() {
    let mut file = build(synthetic_enrolments(2), &params(MODEL), &LocalHmac::new([4; 32]), &issuer()).unwrap();
    file[6..8].copy_from_slice(&1u16.to_be_bytes());
    let err = Watchlist::parse(file, &issuer().verifying_key()).unwrap_err();
    assert!(matches!(err, BlindError::UnsupportedVersion(1)), "{err}");
    assert!(err.to_string().contains("enrol the list again"), "{err}");
}

#[test]
fn a_claimed_class_the_bytes_cannot_hold_is_refused_before_allocating() {
    // A valid file's header with the class raised to the largest: the parser must compute the
    // size that implies and refuse, not reserve a million records.
    let file = build(synthetic_enrolments(2), &params(MODEL), &LocalHmac::new([4; 32]), &issuer()).unwrap();
    let w = parse(&file);
    let mut header = w.header.clone();
    header.entries = veilwatch::blind::format::MAX_ENTRIES;
    let mut forged = header.write();
    forged.extend_from_slice(&file[w.header.write().len()..]);
    match Watchlist::parse(forged, &issuer().verifying_key()) {
        Err(BlindError::Truncated { what: "watchlist body", .. }) => {}
        other => panic!("{other:?}"),
    }
}
