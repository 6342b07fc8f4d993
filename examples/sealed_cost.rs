//! What sealed custody (DESIGN §3.4) costs per face, natively: kiosk key generation, encryption and
//! decryption, the authority's answer at N = 1 000 and N = 10 000 gallery rows — on a pool of one
//! thread (faces/s per core, the reference), on the whole pool (latency per face), and with several
//! faces at once (faces/s per machine), as ratios to the one-thread run of the same process — and
//! the bytes each way. Medians of a few runs; the gallery rows are random unit vectors (the cost
//! does not depend on the values). `RAYON_NUM_THREADS` sets the pool.
//!
//! `cargo run --release --features cli --example sealed_cost`

use std::time::{Duration, Instant};

use rand_chacha09::rand_core::RngCore;
use rayon::prelude::*;
use veilwatch::sealed::authority::{answer, AnswerOptions, RegisteredKiosk, SealedGallery};
use veilwatch::sealed::kiosk::{system_rng, SealedKiosk};
use veilwatch::sealed::quantise::Quantised;
use veilwatch::sealed::wire::Seed;
use veilwatch::Embedding;

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn random_face(rng: &mut impl RngCore) -> Quantised {
    let values: Vec<f32> = (0..128).map(|_| (rng.next_u32() as f32 / u32::MAX as f32) - 0.5).collect();
    Quantised::of(&Embedding::from_values(&values).expect("not all zero"))
}

fn main() {
    let runs = 3;
    let mut rng = system_rng();
    let key_seed = [3u8; 32];
    let mut keygen = Vec::new();
    let mut made = None;
    for _ in 0..runs {
        let started = Instant::now();
        made = Some(SealedKiosk::generate(&key_seed, &mut rng).unwrap());
        keygen.push(started.elapsed());
    }
    let (kiosk, registration) = made.unwrap();
    let registered =
        RegisteredKiosk::register(&key_seed, &registration.public_key, &registration.rotation_key).unwrap();
    println!("sealed keygen (secret, seeded public key, rotation key): {:.1} ms", median(keygen));
    println!(
        "sealed registration bytes: public key {} + rotation key {}",
        registration.public_key.len(),
        registration.rotation_key.len()
    );

    let probe = random_face(&mut rng);
    let options = AnswerOptions { threshold: 0.36, decoy_probability: 0.5 };
    // The reference: the same answer on a pool of one thread, in this process (faces/s per core).
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool of one thread");
    let threads = rayon::current_num_threads();
    for rows in [1_000usize, 10_000] {
        let gallery = SealedGallery::new((0..rows).map(|_| random_face(&mut rng)).collect());
        let (mut encrypt, mut serial, mut parallel, mut decrypt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut up, mut down) = (0, 0);
        for run in 0..runs {
            let seed = [run as u8; 32];
            let started = Instant::now();
            let query = kiosk.encrypt(&probe, &seed).unwrap();
            encrypt.push(started.elapsed());
            let started = Instant::now();
            one_thread.install(|| answer(&gallery, &registered, &seed, &query, options, &mut rng).unwrap());
            serial.push(started.elapsed());
            let started = Instant::now();
            let (blocks, _) = answer(&gallery, &registered, &seed, &query, options, &mut rng).unwrap();
            parallel.push(started.elapsed());
            let started = Instant::now();
            kiosk.positive_slots(&blocks).unwrap();
            decrypt.push(started.elapsed());
            up = query.len();
            down = blocks.iter().map(Vec::len).sum();
        }
        // Per machine: 2 faces per thread answered at once on the whole pool.
        let faces = 2 * threads;
        let queries: Vec<(Seed, Vec<u8>)> = (0..faces)
            .map(|f| {
                let seed = [100 + f as u8; 32];
                (seed, kiosk.encrypt(&probe, &seed).unwrap())
            })
            .collect();
        let started = Instant::now();
        queries.par_iter().for_each(|(seed, query)| {
            answer(&gallery, &registered, seed, query, options, &mut system_rng()).unwrap();
        });
        let machine = faces as f64 / started.elapsed().as_secs_f64();
        let (serial_ms, parallel_ms) = (median(serial), median(parallel));
        println!(
            "sealed N = {rows}: kiosk encrypt {:.1} ms, kiosk decrypt {:.1} ms, up {up} B, down {down} B ({} blocks)",
            median(encrypt),
            median(decrypt),
            gallery.blocks()
        );
        println!(
            "sealed N = {rows}: authority answer on 1 thread {serial_ms:.0} ms ({:.2} faces/s per core); on {threads} threads {parallel_ms:.0} ms per face (latency ×{:.2} of 1 thread); {faces} faces at once: {machine:.2} faces/s per machine (×{:.2} of 1 thread)",
            1e3 / serial_ms,
            parallel_ms / serial_ms,
            machine * serial_ms / 1e3,
        );
    }
}
