//! `veilwatch bench sealed`: what sealed custody (DESIGN §3.4) costs per face, natively, side by
//! side with VOPRF custody in the same process → bench.json "sealed" → "native".
//!
//! - The kiosk's side: key generation (once per key pair), encryption of one face, decryption of
//!   the answer, the claim of one positive slot (commitment, then the range proof once the masks
//!   are open) — against the device's half of VOPRF custody at L = [`DEFAULT_TABLES`] (blind, then
//!   verify the batched proof and unblind), as a ratio.
//! - The authority's side at each `--rows` size: the answer on a pool of one thread (faces/s per
//!   core, the reference), on the whole pool (latency per face), several faces at once (faces/s
//!   per machine), and the check of one claim's range proof.
//! - Bytes of every request and answer of one face that claims one slot, and of a key
//!   registration.
//!
//! The gallery rows are random unit vectors (the cost does not depend on the values) with the
//! probe itself as row 0, so that every answer has a real positive slot to claim. The wasm costs
//! of the kiosk's side are measured by the browser benchmark, not here.

use std::time::Instant;

use anyhow::{anyhow, ensure, Context, Result};
use clap::Args;
use rayon::prelude::*;
use serde_json::json;
use veilwatch::blind::client_cost::ClientCost;
use veilwatch::blind::DEFAULT_TABLES;
use veilwatch::sealed::authority::{answer, AnswerOptions, RegisteredKiosk, SealedGallery, SlotContent};
use veilwatch::sealed::claim;
use veilwatch::sealed::kiosk::{system_rng, SealedKiosk};
use veilwatch::sealed::protocol::{
    ClaimRequest, ClaimedSlot, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, ProofRequest,
};
use veilwatch::sealed::quantise::Quantised;
use veilwatch::sealed::wire::Seed;
use veilwatch::Embedding;

use crate::bench::{median_ms, read_report};
use crate::files::write_atomically;

#[derive(Args)]
pub struct BenchSealedArgs {
    /// Timed runs per measurement of the kiosk's side (after 3 warm-up runs); the authority's
    /// answer runs a third as often (at least 3).
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Gallery sizes (rows) the authority answers.
    #[arg(long, default_value = "1000,10000", value_delimiter = ',')]
    rows: Vec<usize>,
    /// Report file to merge the "sealed" → "native" section into.
    #[arg(long, default_value = "bench.json")]
    out: std::path::PathBuf,
}

/// The sealed threshold and decoy rate `enroll --custody sealed` writes by default.
const OPTIONS: AnswerOptions = AnswerOptions { threshold: 0.36, decoy_probability: 0.5 };

/// A random unit vector, quantised: a face nobody enrolled (the cost does not depend on the face).
pub(crate) fn random_face(rng: &mut impl rand_chacha09::rand_core::RngCore) -> Result<Quantised> {
    let values: Vec<f32> =
        (0..veilwatch::EMBEDDING_DIM).map(|_| (rng.next_u32() as f32 / u32::MAX as f32) - 0.5).collect();
    Ok(Quantised::of(&Embedding::from_values(&values).context("a random face is all zeros")?))
}

pub fn run(args: BenchSealedArgs) -> Result<()> {
    ensure!(!args.rows.is_empty() && args.rows.iter().all(|&n| n > 0), "--rows needs at least one size above 0");
    let runs = args.runs.max(1);
    let mut rng = system_rng();
    let key_seed: Seed = [3; 32];

    // The kiosk: keys, and the device's half of VOPRF custody in the same process.
    let keygen_ms =
        median_ms(runs.div_ceil(3).max(3), || Ok(SealedKiosk::generate(&key_seed, &mut system_rng()).map(drop)?))?;
    let (kiosk, registration) = SealedKiosk::generate(&key_seed, &mut rng)?;
    let registered = RegisteredKiosk::register(&key_seed, &registration.public_key, &registration.rotation_key)?;
    let keys_bytes = KeysRequest::encode(&[0; 16], &registration.public_key, &registration.rotation_key).len();
    let voprf = ClientCost::new(DEFAULT_TABLES)?;
    let voprf_blind_ms = median_ms(runs, || Ok(voprf.voprf_blind().map(drop)?))?;
    let batch = voprf.voprf_blind()?;
    let voprf_answer = voprf.voprf_answer(batch.request())?;
    let voprf_finish_ms = median_ms(runs, || {
        ensure!(voprf.voprf_finish(&batch, &voprf_answer)? == DEFAULT_TABLES as usize, "VOPRF outputs missing");
        Ok(())
    })?;
    let voprf_device_ms = voprf_blind_ms + voprf_finish_ms;
    println!(
        "sealed kiosk keygen (secret, seeded public key, rotation key): {keygen_ms:.1} ms; registration {keys_bytes} B"
    );
    println!("voprf kiosk per face at L = {DEFAULT_TABLES} (blind, verify, unblind): {voprf_device_ms:.1} ms");

    let probe = random_face(&mut rng)?;
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let threads = rayon::current_num_threads();
    let mut sizes = serde_json::Map::new();
    for &rows in &args.rows {
        let mut faces = vec![probe.clone()];
        for _ in 1..rows {
            faces.push(random_face(&mut rng)?);
        }
        let gallery = SealedGallery::new(faces);
        let query_seed: Seed = [7; 32];
        let query = kiosk.encrypt(&probe, &query_seed)?;
        let encrypt_ms = median_ms(runs, || Ok(kiosk.encrypt(&probe, &query_seed).map(drop)?))?;
        let authority_runs = runs.div_ceil(3).max(3);
        let one_core_ms = median_ms(authority_runs, || {
            Ok(one_thread
                .install(|| answer(&gallery, &registered, &query_seed, &query, OPTIONS, &mut system_rng()))
                .map(drop)?)
        })?;
        let pool_ms = median_ms(authority_runs, || {
            Ok(answer(&gallery, &registered, &query_seed, &query, OPTIONS, &mut system_rng()).map(drop)?)
        })?;
        let at_once = 2 * threads;
        let started = Instant::now();
        (0..at_once).into_par_iter().try_for_each(|_| {
            answer(&gallery, &registered, &query_seed, &query, OPTIONS, &mut system_rng()).map(drop)
        })?;
        let per_machine = at_once as f64 / started.elapsed().as_secs_f64();

        let (blocks, opening) = answer(&gallery, &registered, &query_seed, &query, OPTIONS, &mut rng)?;
        let decrypt_ms = median_ms(runs, || Ok(kiosk.positive_values(&blocks).map(drop)?))?;
        let positives = kiosk.positive_values(&blocks)?;
        let slot_map = opening.slot_map();
        let &(block, slot, value) = positives
            .iter()
            .find(|&&(b, s, _)| slot_map.get(b, s).is_some_and(|o| o.content == SlotContent::Row(0)))
            .ok_or_else(|| anyhow!("the probe's own row is not positive in the answer"))?;
        let masks = slot_map.get(block, slot).expect("the slot was found above");
        let query_id = [9; 16];
        let commit_ms = median_ms(runs, || {
            claim::commit(value);
            Ok(())
        })?;
        let (commitment, secret) = claim::commit(value);
        let prove_ms =
            median_ms(runs, || Ok(claim::prove(&secret, masks.r, masks.r_prime, &query_id, block, slot).map(drop)?))?;
        let proof = claim::prove(&secret, masks.r, masks.r_prime, &query_id, block, slot)?;
        let verify_ms = median_ms(runs, || {
            ensure!(
                claim::verify(&commitment, masks.r, masks.r_prime, &proof, &query_id, block, slot),
                "proof refused"
            );
            Ok(())
        })?;

        let match_up = MatchRequest::encode(&query_id, &query).len();
        let match_down = MatchAnswer { next: IssuedSeed { id: query_id, seed: query_seed }, blocks: blocks.clone() }
            .to_bytes()
            .len();
        let claim_up = ClaimRequest { query_id, slots: vec![ClaimedSlot { block, slot, commitment }] }.to_bytes().len();
        let opening_down = Opening { masks: vec![(masks.r, masks.r_prime)] }.to_bytes().len();
        let prove_up = ProofRequest { query_id, proofs: vec![proof.clone()] }.to_bytes().len();
        let device_ms = encrypt_ms + decrypt_ms;
        println!(
            "sealed N = {rows} ({} blocks): kiosk encrypt {encrypt_ms:.1} ms, decrypt {decrypt_ms:.1} ms (×{:.2} of VOPRF's device half); claim of one slot: commit {commit_ms:.3} ms, prove {prove_ms:.1} ms, authority verify {verify_ms:.2} ms",
            gallery.blocks(),
            device_ms / voprf_device_ms,
        );
        println!(
            "sealed N = {rows}: authority on 1 thread {one_core_ms:.0} ms ({:.2} faces/s per core); on {threads} threads {pool_ms:.0} ms per face (×{:.2} of 1 thread); {at_once} faces at once: {per_machine:.2} faces/s per machine (×{:.2} of 1 thread)",
            1e3 / one_core_ms,
            pool_ms / one_core_ms,
            per_machine * one_core_ms / 1e3,
        );
        println!(
            "sealed N = {rows}: bytes up {match_up} (match) + {claim_up} (claim) + {prove_up} (proof); down {match_down} (answer) + {opening_down} (opening)"
        );
        sizes.insert(
            rows.to_string(),
            json!({
                "blocks": gallery.blocks(),
                "kiosk_encrypt_ms": encrypt_ms,
                "kiosk_decrypt_ms": decrypt_ms,
                "kiosk_claim_commit_ms": commit_ms,
                "kiosk_claim_prove_ms": prove_ms,
                "kiosk_per_face_ratio_to_voprf": device_ms / voprf_device_ms,
                "authority_one_thread_ms": one_core_ms,
                "authority_faces_per_s_per_core": 1e3 / one_core_ms,
                "authority_pool_ms": pool_ms,
                "authority_faces_per_s_per_machine": per_machine,
                "authority_claim_verify_ms": verify_ms,
                "bytes": {
                    "match_up": match_up, "match_down": match_down, "claim_up": claim_up,
                    "opening_down": opening_down, "proof_up": prove_up,
                },
            }),
        );
    }

    let mut report = read_report(&args.out);
    if !report["sealed"].is_object() {
        report["sealed"] = json!({});
    }
    report["sealed"]["native"] = json!({
        "threads": threads,
        "kiosk_keygen_ms": keygen_ms,
        "keys_up_bytes": keys_bytes,
        "voprf_kiosk_per_face_ms": voprf_device_ms,
        "voprf_tables": DEFAULT_TABLES,
        "rows": sizes,
    });
    write_atomically(&args.out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("wrote {}", args.out.display());
    Ok(())
}
