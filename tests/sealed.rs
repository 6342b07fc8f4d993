//! Sealed custody's core (DESIGN §3.4) on real faces: what a user of the scheme relies on.
//!
//! - (What quantisation costs in TAR is `veilwatch eval`'s sealed column, checked on the whole
//!   development split by `tests/accuracy.rs`.)
//! - One face through the real scheme (kiosk keys, seeded query, the authority's rotations,
//!   permutation, masks, decoys, re-randomisation, flooding, modulus switch): every decrypted slot
//!   is exactly the r·x' + r' the authority's opening says, so a genuine probe's row is positive,
//!   strangers' rows are not, and the noise budget holds.
//! - Bytes that are not the fixed parameter set's canonical values are refused with a typed error.
//!
//! `cargo test --release --features cli --locked --test sealed -- --nocapture`

mod common;

use std::path::PathBuf;

use veilwatch::eval::dataset::list_identities;
use veilwatch::sealed::authority::{answer, AnswerOptions, RegisteredKiosk, SealedGallery, SlotContent};
use veilwatch::sealed::kiosk::{system_rng, SealedKiosk};
use veilwatch::sealed::params::{DEGREE, PLAINTEXT_MODULUS};
use veilwatch::sealed::quantise::{threshold, Quantised};
use veilwatch::sealed::SealedError;
use veilwatch::{Embedding, Engine, Frame, EMBEDDING_DIM};

fn figure(name: &str, value: impl std::fmt::Display) {
    println!("SEALED {name}: {value}");
}

fn embed(engine: &Engine, path: &PathBuf) -> Option<Embedding> {
    let frame = Frame::decode(&std::fs::read(path).unwrap()).unwrap();
    engine.analyse_still(&frame).unwrap().map(|a| a.embedding)
}

/// Up to `per_identity` photos of each LFW identity that has at least two, embedded, until
/// `limit` photos; (identity index, embedding).
fn lfw_samples(engine: &Engine, per_identity: usize, limit: usize) -> Option<Vec<(usize, Embedding)>> {
    let images = common::lfw_images()?;
    let mut out = Vec::new();
    for (i, identity) in list_identities(&images, per_identity).unwrap().into_iter().enumerate() {
        if identity.images.len() < 2 {
            continue;
        }
        for path in &identity.images {
            if let Some(e) = embed(engine, path) {
                out.push((i, e));
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    Some(out)
}

#[test]
fn one_face_through_the_scheme_decrypts_to_exactly_the_masked_scores_and_finds_its_person() {
    let Some(engine) = common::engine() else { return };
    let Some(samples) = lfw_samples(&engine, 2, 80) else { return };
    // The gallery: the first photo of each person; the probe: the second photo of person 0.
    let mut gallery_rows = Vec::new();
    let mut probe = None;
    let mut seen = std::collections::HashSet::new();
    for (id, e) in &samples {
        if seen.insert(*id) {
            gallery_rows.push(Quantised::of(e));
        } else if probe.is_none() && *id == samples[0].0 {
            probe = Some(Quantised::of(e));
        }
    }
    let probe = probe.expect("person 0 has a second photo");
    let cosine = 0.35;
    let tau = threshold(cosine);
    let expected_positive: Vec<usize> =
        (0..gallery_rows.len()).filter(|&r| probe.dot(&gallery_rows[r]) >= tau).collect();
    assert!(expected_positive.contains(&0), "the genuine pair is above the threshold in the clear");
    // Zero rows (never positive) past 8 192, so that the answer has two blocks, which the authority
    // computes side by side.
    let faces = gallery_rows.len();
    gallery_rows.resize(DEGREE + 8, Quantised::from_components(&[0; EMBEDDING_DIM]).unwrap());
    let dots: Vec<i64> = gallery_rows.iter().map(|t| probe.dot(t)).collect();
    let gallery = SealedGallery::new(gallery_rows);
    assert_eq!(gallery.blocks(), 2);

    let mut rng = system_rng();
    let key_seed = [7u8; 32];
    let (kiosk, registration) = SealedKiosk::generate(&key_seed, &mut rng).unwrap();
    let registered =
        RegisteredKiosk::register(&key_seed, &registration.public_key, &registration.rotation_key).unwrap();
    let query_seed = [9u8; 32];
    let query = kiosk.encrypt(&probe, &query_seed).unwrap();
    let options = AnswerOptions { threshold: cosine, decoy_probability: 1.0 };
    let (blocks, opening) = answer(&gallery, &registered, &query_seed, &query, options, &mut rng).unwrap();
    figure("bytes up per face (query c0)", query.len());
    figure("bytes down per face (one block of 8192 slots)", blocks[0].len());
    figure(
        "bytes of the registration (public key c0 + rotation key)",
        registration.public_key.len() + registration.rotation_key.len(),
    );

    let mut decoys = 0;
    for (b, block) in blocks.iter().enumerate() {
        let values = kiosk.decrypt(block).unwrap();
        for (s, slot) in opening.slots[b].iter().enumerate() {
            let x = match slot.content {
                SlotContent::Row(row) => 2 * (dots[row] - tau) + 1,
                SlotContent::Dummy => 1 - 2 * tau,
                SlotContent::Decoy => {
                    decoys += 1;
                    assert!(values[s] >= slot.r as i64, "a decoy decrypts positive");
                    continue;
                }
            };
            let expected = slot.r as i128 * x as i128 + slot.r_prime as i128;
            assert!(expected.abs() < (PLAINTEXT_MODULUS / 2) as i128);
            assert_eq!(values[s] as i128, expected, "block {b} slot {s} ({:?})", slot.content);
        }
    }
    assert_eq!(decoys, 1);
    let positives = kiosk.positive_slots(&blocks).unwrap();
    let mut real: Vec<usize> = positives
        .iter()
        .filter_map(|&(b, s)| match opening.slots[b][s].content {
            SlotContent::Row(row) => Some(row),
            _ => None,
        })
        .collect();
    real.sort_unstable();
    assert_eq!(real, expected_positive, "the positive rows are exactly the rows at or above τ");
    assert_eq!(positives.len(), expected_positive.len() + decoys);
    figure(
        "gallery rows (faces + zero rows) / positives claimed (real + decoy)",
        format!("{faces} + {} / {} + {decoys}", gallery.len() - faces, real.len()),
    );
}

#[test]
fn bytes_that_are_not_canonical_values_of_the_parameter_set_are_refused() {
    let mut rng = system_rng();
    let key_seed = [1u8; 32];
    let (kiosk, registration) = SealedKiosk::generate(&key_seed, &mut rng).unwrap();
    let values: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37).sin()).collect();
    let probe = Quantised::of(&Embedding::from_values(&values).unwrap());
    let query = kiosk.encrypt(&probe, &[2u8; 32]).unwrap();
    let gallery = SealedGallery::new(vec![probe.clone()]);
    let registered =
        RegisteredKiosk::register(&key_seed, &registration.public_key, &registration.rotation_key).unwrap();
    let options = AnswerOptions { threshold: 0.35, decoy_probability: 0.0 };

    let mut truncated = query.clone();
    truncated.pop();
    let mut extended = query.clone();
    extended.push(0);
    for (what, bad) in [("truncated", truncated), ("extended", extended), ("empty", Vec::new())] {
        let refused = answer(&gallery, &registered, &[2u8; 32], &bad, options, &mut rng);
        assert!(matches!(refused, Err(SealedError::Malformed(_))), "{what} query: {:?}", refused.err());
    }
    let mut rotation = registration.rotation_key.clone();
    rotation.push(0);
    assert!(matches!(
        RegisteredKiosk::register(&key_seed, &registration.public_key, &rotation),
        Err(SealedError::Malformed(_))
    ));
    let (blocks, _) = answer(&gallery, &registered, &[2u8; 32], &query, options, &mut rng).unwrap();
    let mut answer_bytes = blocks[0].clone();
    answer_bytes.truncate(answer_bytes.len() - 1);
    assert!(matches!(kiosk.decrypt(&answer_bytes), Err(SealedError::Malformed(_))));
    // A query encrypted against another seed's a-part decrypts to noise, not to the probe's scores:
    // the authority's seed, not the kiosk's, fixes the a-part.
    let (blocks, _) = answer(&gallery, &registered, &[3u8; 32], &query, options, &mut rng).unwrap();
    let positives = kiosk.positive_slots(&blocks);
    assert!(!matches!(&positives, Ok(p) if p.len() == 1), "a query under a foreign seed still matched: {positives:?}");
}
