//! Reviewer material under authority custody (DESIGN §3.3, protocol E), through the library:
//! enrolment writes handles into the file and sealed materials for the authority; a matching face
//! rebuilds the record key, which proves a disclosure request and opens the material; any other
//! key does neither; and the file (and what its records decrypt to) holds no label.

use ed25519_dalek::SigningKey;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use veilwatch::blind::enroll::{build_with_materials, Enrolment, WatchlistParams};
use veilwatch::blind::format::{RecordClass, Watchlist, HANDLE_BYTES};
use veilwatch::blind::matcher::{Matcher, Opened};
use veilwatch::blind::material::{verify_proof, DisclosureBody, Material, MaterialKeys};
use veilwatch::blind::prf::{DeploymentKey, LocalHmac, MasterSecret};
use veilwatch::blind::record::EntryRecord;
use veilwatch::blind::BlindError;
use veilwatch::hex::hex;
use veilwatch::template::{Embedding, EMBEDDING_DIM};

const NOW: i64 = 1_800_000_000;
const MODEL: &str = "synthetic-unit-vectors";
const KIOSK: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const NONCE: &str = "22222222222222222222222222222222";

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn label(i: usize) -> String {
    format!("Labelled Person Number {i}")
}

/// Five synthetic people, each with a label and a small "photo".
fn people() -> (Vec<Embedding>, Vec<Enrolment>) {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let templates: Vec<Embedding> = (0..5)
        .map(|_| {
            let v: Vec<f32> = (0..EMBEDDING_DIM).map(|_| rng.next_u32() as f32 / u32::MAX as f32 - 0.5).collect();
            Embedding::from_values(&v).unwrap()
        })
        .collect();
    let entries = templates
        .iter()
        .enumerate()
        .map(|(i, t)| Enrolment {
            template: t.clone(),
            record: EntryRecord::new(
                format!("REF-{i:03}"),
                label(i),
                "test".into(),
                "synthetic".into(),
                NOW,
                Some(&[0xD8, i as u8]),
            ),
        })
        .collect();
    (templates, entries)
}

fn params() -> WatchlistParams {
    WatchlistParams { model_id: MODEL.into(), tables: 64, threshold: 16, valid_from: NOW - 60, valid_until: NOW + 3600 }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The authority's side of `POST /v1/disclose` for `kiosk` and `nonce`, straight from protocol E:
/// the material of the body's handle if its proof verifies under that handle's verifier.
fn disclose(materials: &[Material], deployment: &str, kiosk: &str, nonce: &str, body: &[u8]) -> Option<Vec<u8>> {
    let body: DisclosureBody = serde_json::from_slice(body).unwrap();
    let material = materials.iter().find(|m| m.handle == body.handle)?;
    let (handle, verifier, sealed) = material.decode().unwrap();
    let proof = veilwatch::hex::from_hex(&body.proof)?;
    verify_proof(&verifier, deployment, kiosk, nonce, &handle, &proof).then_some(sealed)
}

#[test]
fn a_matching_face_proves_its_entry_and_opens_the_material_the_authority_holds() {
    let (templates, entries) = people();
    let records: Vec<EntryRecord> = entries.iter().map(|e| e.record.clone()).collect();
    let key = DeploymentKey::derive(&MasterSecret::generate(), &[0x5a; 16]).unwrap();
    let enrolled = build_with_materials(entries, &params(), &key, &issuer()).unwrap();
    assert_eq!(enrolled.materials.len(), 5, "one material per real entry, none for the 59 dummies");
    let watchlist = Watchlist::parse(enrolled.file.clone(), &issuer().verifying_key()).unwrap();
    assert_eq!(watchlist.header.record_class, RecordClass::Handle);
    let id = watchlist.header.watchlist_id;
    let deployment = hex(&id);
    for material in &enrolled.materials {
        let (_, _, sealed) = material.decode().unwrap();
        assert_eq!(sealed.len(), 12 + RecordClass::Photo8KiB.plaintext_len() + 16, "padded to the records' class");
    }
    let matcher = Matcher::new(watchlist, &key, MODEL, NOW).unwrap();
    for (template, record) in templates.iter().zip(&records) {
        let found = matcher.match_embedding(template, &key, NOW).unwrap();
        assert_eq!(found.len(), 1);
        let Opened::Handle { handle, keys } = &found[0].opened else { panic!("authority custody opened a record") };
        let registered = enrolled.materials.iter().find(|m| m.handle == hex(handle)).expect("the handle is registered");
        assert_eq!(registered.verifier, hex(&keys.verifier()));
        let body = DisclosureBody::encode(keys, &deployment, KIOSK, NONCE, handle);
        let sealed = disclose(&enrolled.materials, &deployment, KIOSK, NONCE, &body).expect("the proof verifies");
        assert_eq!(keys.open(&sealed, &id, handle).as_ref(), Some(record));
        // The proof is bound to the request: another kiosk or nonce replaying it is refused.
        assert!(disclose(&enrolled.materials, &deployment, &KIOSK.replace('1', "3"), NONCE, &body).is_none());
        assert!(disclose(&enrolled.materials, &deployment, KIOSK, &NONCE.replace('2', "4"), &body).is_none());
    }
}

#[test]
fn a_wrong_record_key_neither_proves_nor_opens_and_a_material_opens_for_its_own_handle_only() {
    let (templates, entries) = people();
    let key = DeploymentKey::derive(&MasterSecret::generate(), &[0x5a; 16]).unwrap();
    let enrolled = build_with_materials(entries, &params(), &key, &issuer()).unwrap();
    let watchlist = Watchlist::parse(enrolled.file, &issuer().verifying_key()).unwrap();
    let id = watchlist.header.watchlist_id;
    let deployment = hex(&id);
    let matcher = Matcher::new(watchlist, &key, MODEL, NOW).unwrap();
    let opened: Vec<_> = templates.iter().map(|t| matcher.match_embedding(t, &key, NOW).unwrap().remove(0)).collect();
    let (Opened::Handle { handle: h0, keys: k0 }, Opened::Handle { handle: h1, keys: k1 }) =
        (&opened[0].opened, &opened[1].opened)
    else {
        panic!("authority custody opened a record");
    };
    let m0 = enrolled.materials.iter().find(|m| m.handle == hex(h0)).unwrap().decode().unwrap().2;
    let mut random = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut random);
    let stranger = MaterialKeys::derive(&random);
    assert_eq!(stranger.open(&m0, &id, h0), None, "a random record key opens nothing");
    assert_eq!(k1.open(&m0, &id, h0), None, "another entry's key opens nothing");
    assert_eq!(k0.open(&m0, &id, h1), None, "a material is bound to its handle");
    assert!(k0.open(&m0, &id, h0).is_some());
    for keys in [&stranger, k1] {
        let forged = DisclosureBody::encode(keys, &deployment, KIOSK, NONCE, h0);
        assert!(
            disclose(&enrolled.materials, &deployment, KIOSK, NONCE, &forged).is_none(),
            "no proof without the key"
        );
    }
}

#[test]
fn the_authority_custody_file_and_its_decrypted_records_hold_no_label() {
    let (templates, entries) = people();
    let key = DeploymentKey::derive(&MasterSecret::generate(), &[0x5a; 16]).unwrap();
    let enrolled = build_with_materials(entries, &params(), &key, &issuer()).unwrap();
    let watchlist = Watchlist::parse(enrolled.file.clone(), &issuer().verifying_key()).unwrap();
    assert!((0..watchlist.header.entries).all(|i| watchlist.record(i).unwrap().ciphertext.len() == HANDLE_BYTES + 16));
    let matcher = Matcher::new(watchlist, &key, MODEL, NOW).unwrap();
    for (i, template) in templates.iter().enumerate() {
        assert!(
            !contains(&enrolled.file, label(i).as_bytes())
                && !contains(&enrolled.file, format!("REF-{i:03}").as_bytes())
        );
        // What the record decrypts to with the rebuilt key is the 16-byte handle, nothing else.
        let found = matcher.match_embedding(template, &key, NOW).unwrap();
        let Opened::Handle { handle, .. } = &found[0].opened else { panic!("authority custody opened a record") };
        assert!(!contains(handle, &label(i).as_bytes()[..8]));
        assert_eq!(found[0].record(), None);
    }
    let materials = serde_json::to_vec(&enrolled.materials).unwrap();
    assert!((0..5).all(|i| !contains(&materials, label(i).as_bytes())), "the materials are sealed");

    // Under local custody the file keeps the records and there are no materials.
    let (templates, entries) = people();
    let prf = LocalHmac::new([1; 32]);
    let local = build_with_materials(entries, &params(), &prf, &issuer()).unwrap();
    assert!(local.materials.is_empty());
    let matcher = Matcher::load(local.file, &issuer().verifying_key(), &prf, MODEL, NOW).unwrap();
    assert_eq!(matcher.match_embedding(&templates[2], &prf, NOW).unwrap()[0].record().unwrap().label, label(2));
}

#[test]
fn a_record_class_that_does_not_go_with_the_custody_is_refused() {
    let (_, entries) = people();
    let file = build_with_materials(entries, &params(), &LocalHmac::new([1; 32]), &issuer()).unwrap().file;
    // The record class is the header's last byte (before the bucket directory).
    let header_len = u32::from_be_bytes(file[8..12].try_into().unwrap()) as usize;
    let mut forged = file.clone();
    forged[12 + header_len - 1] = RecordClass::Handle.id();
    match Watchlist::parse(forged, &issuer().verifying_key()) {
        Err(BlindError::Malformed(why)) => assert!(why.contains("does not go with"), "{why}"),
        other => panic!("{other:?}"),
    }
}
