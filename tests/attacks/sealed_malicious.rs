//! Sealed custody attacked by a **malicious authority** (issue 20 item 5 (d); DESIGN §1 G4: "at
//! most one bit per face plus the matched entry, even against a malicious authority"). The
//! authority runs its own code: it holds the kiosk's public and rotation keys and each query's
//! ciphertext, and may answer with *any* linear function of the probe in each of the 8 192 slots,
//! as long as the answer stays in the range the kiosk checks (at most `MAX_POSITIVES` positive
//! slots, each at least the smallest mask). The kiosk is the real one: `SealedSession::identify`
//! (keys, query, `SealedKiosk::positive_values`, commitments, range proofs, re-keying) over a
//! transport that is this authority in-process, on real LFW faces and real BFV. What the authority
//! reads is what the kiosk's behaviour shows it: which slots it claims, or that it paused.
//! Figures print as `ATTACK sealed malicious-authority …`:
//! `cargo test --release --features cli --locked --test attacks sealed -- --nocapture`.
//!
//! - **A hidden gallery.** The authority puts ⟨q, Tᵢ⟩ ≥ τᵢ for templates of its own choosing in
//!   the slots (here: one photo of each LFW person with two or more). The kiosk claims the slot of
//!   whoever the passer-by is, proves it positive (the authority opens masks that make the proof
//!   go through), is released nothing, and cannot tell this from a decoy: the authority names
//!   passers-by who are on no issuer's list.
//! - **Templates from sightings.** 8 192 fresh random directions per query, each slot positive
//!   when the face lies within a narrow cap around its direction: every claimed slot is a direction
//!   close to the face. Over a few sightings of one person, the sum of the claimed directions is a
//!   template of them.
//! - **The kiosk's key through its behaviour** (decryption oracle): a crafted answer decrypts to
//!   1 in every slot (the kiosk pauses) or 0 (an empty claim) depending on one coefficient of the
//!   secret key. Without re-keying this recovers the key, coefficient by coefficient; the kiosk
//!   re-keys on every pause, so each key gives away about one answer.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use fhe::bfv::{dot_product_scalar, Ciphertext, Encoding, EvaluationKey, Plaintext};
use fhe_math::rq::{traits::TryConvertFrom, Poly, Representation};
use fhe_traits::FheEncoder;
use num_bigint::BigUint;
use rand_chacha09::rand_core::{RngCore, SeedableRng};
use rand_chacha09::ChaCha20Rng;
use rayon::prelude::*;

use crate::common;
use veilwatch::eval::dataset::list_identities;
use veilwatch::eval::embedding_cache::EmbeddingCache;
use veilwatch::sealed::kiosk::{SealedKiosk, MAX_POSITIVES};
use veilwatch::sealed::params::{self, ANSWER_LEVEL, DEGREE, MASK_MIN, PLAINTEXT_MODULUS, VARIANCE};
use veilwatch::sealed::protocol::{
    ClaimRequest, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, CLAIM_PATH, KEYS_PATH, MATCH_PATH,
    PROVE_PATH, SEED_PATH,
};
use veilwatch::sealed::quantise::{threshold, Quantised, SCALE};
use veilwatch::sealed::session::{SealedSession, SealedTransport, SessionError, FACES_PER_KEY};
use veilwatch::sealed::{wire, SealedError};
use veilwatch::template::EMBEDDING_DIM;
use veilwatch::{Embedding, Frame};

fn figure(name: &str, value: impl std::fmt::Display) {
    println!("ATTACK sealed malicious-authority {name}: {value}");
}

/// The cosine threshold of the deployments the other sealed attacks run (`sealed.rs`).
const THRESHOLD: f32 = 0.36;

/// One slot of a crafted answer: positive exactly when ⟨q, w⟩ ≥ τ, with the value an honest
/// positive has (v = K·(2(⟨q, w⟩ − τ) + 1), K = the smallest mask), so the kiosk's range check
/// passes and the masks (K, 0) the authority opens make its range proof go through.
#[derive(Clone)]
struct SlotTest {
    weights: [i64; EMBEDDING_DIM],
    tau: i64,
}

impl SlotTest {
    fn positive(&self, probe: &Quantised) -> bool {
        self.weights.iter().zip(probe.components()).map(|(w, q)| w * q).sum::<i64>() >= self.tau
    }
}

/// What the kiosk showed the authority for one face.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// It claimed these slots (none: an empty claim).
    Claimed(Vec<usize>),
    /// It sent no claim and registered new keys: it paused (more than `MAX_POSITIVES` positives,
    /// or a positive below the smallest mask).
    Paused,
}

/// What the kiosk's range check makes of slot tests, computed in the clear: the authority's
/// prediction, checked against the real run.
fn predicted(tests: &[SlotTest], probe: &Quantised) -> Seen {
    let positive: Vec<usize> = (0..tests.len()).filter(|&s| tests[s].positive(probe)).collect();
    if positive.len() > MAX_POSITIVES {
        Seen::Paused
    } else {
        Seen::Claimed(positive)
    }
}

fn mod_t(x: i128) -> u64 {
    x.rem_euclid(PLAINTEXT_MODULUS as i128) as u64
}

/// The answer the authority sends instead of its gallery's.
enum Crafted {
    /// Slot s holds tests[s] (slots past the end are negative).
    Tests(Vec<SlotTest>),
    /// A ciphertext made without the query (the decryption oracle).
    Raw(Vec<u8>),
}

/// The malicious authority, as the kiosk's transport: it issues seeds, takes keys, answers each
/// match with what `next` holds, opens masks that make any claim provable, and records what the
/// kiosk did.
struct MaliciousAuthority {
    seeds: RefCell<HashMap<[u8; 16], wire::Seed>>,
    rotations: RefCell<Option<EvaluationKey>>,
    next: RefCell<Option<Crafted>>,
    /// The slots of the last query's claim, if one came.
    claimed: RefCell<Option<Vec<usize>>>,
    registrations: Cell<usize>,
}

impl MaliciousAuthority {
    fn new() -> MaliciousAuthority {
        MaliciousAuthority {
            seeds: RefCell::new(HashMap::new()),
            rotations: RefCell::new(None),
            next: RefCell::new(None),
            claimed: RefCell::new(None),
            registrations: Cell::new(0),
        }
    }

    fn issue(&self) -> IssuedSeed {
        let mut issued = IssuedSeed { id: [0; 16], seed: [0; 32] };
        getrandom::getrandom(&mut issued.id).unwrap();
        getrandom::getrandom(&mut issued.seed).unwrap();
        self.seeds.borrow_mut().insert(issued.id, issued.seed);
        issued
    }

    fn seed(&self, id: &[u8; 16]) -> Result<wire::Seed, String> {
        self.seeds.borrow_mut().remove(id).ok_or_else(|| "unknown seed".to_owned())
    }

    /// One face through the kiosk's real session, answered with `crafted`; what the kiosk showed.
    fn face(&self, session: &mut SealedSession, probe: &Quantised, crafted: Crafted) -> (Seen, Option<SessionError>) {
        *self.next.borrow_mut() = Some(crafted);
        *self.claimed.borrow_mut() = None;
        let outcome = session.identify(probe, self);
        let error = outcome.as_ref().err().map(|e| format!("{e}"));
        let seen = match self.claimed.borrow().clone() {
            Some(slots) => Seen::Claimed(slots),
            None => {
                assert!(
                    matches!(outcome, Err(SessionError::Sealed(SealedError::OutOfRange(_)))),
                    "no claim without a pause: {error:?}"
                );
                Seen::Paused
            }
        };
        (seen, outcome.err())
    }

    /// Slot s: K·(2(⟨q, w_s⟩ − τ_s) + 1), by the honest layout's 127 rotations of the query and
    /// one plaintext product per diagonal; no masks, no flooding (the kiosk cannot check either).
    fn answer_tests(&self, query: &Ciphertext, tests: &[SlotTest]) -> Result<Vec<u8>, SealedError> {
        let par = params::bfv();
        let key = self.rotations.borrow();
        let key = key.as_ref().ok_or(SealedError::Malformed("no keys"))?;
        let mut rotations = vec![query.clone()];
        for k in 1..EMBEDDING_DIM {
            let next = key.rotates_columns_by(&rotations[k - 1], 1)?;
            rotations.push(next);
        }
        let k_mask = MASK_MIN as i128;
        let diagonals: Vec<Plaintext> = (0..EMBEDDING_DIM)
            .into_par_iter()
            .map(|k| {
                let diagonal: Vec<u64> = (0..DEGREE)
                    .map(|s| tests.get(s).map_or(0, |t| mod_t(2 * k_mask * t.weights[(s + k) % EMBEDDING_DIM] as i128)))
                    .collect();
                Plaintext::try_encode(diagonal.as_slice(), Encoding::simd(), par).unwrap()
            })
            .collect();
        let constant: Vec<u64> = (0..DEGREE)
            .map(|s| tests.get(s).map_or(mod_t(-k_mask), |t| mod_t(k_mask * (1 - 2 * t.tau as i128))))
            .collect();
        let mut sum = dot_product_scalar(rotations.iter(), diagonals.iter())?;
        sum += &Plaintext::try_encode(constant.as_slice(), Encoding::simd(), par)?;
        sum.switch_to_level(ANSWER_LEVEL)?;
        Ok(wire::answer_bytes(&sum))
    }
}

impl SealedTransport for MaliciousAuthority {
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        match path {
            SEED_PATH => Ok(self.issue().to_bytes()),
            KEYS_PATH => {
                let request = KeysRequest::parse(body).map_err(|e| e.to_string())?;
                let seed = self.seed(&request.seed_id)?;
                wire::seeded_public_key(request.public_key, &seed).map_err(|e| e.to_string())?;
                let key = wire::parse_rotation_key(request.rotation_key).map_err(|e| e.to_string())?;
                *self.rotations.borrow_mut() = Some(key);
                self.registrations.set(self.registrations.get() + 1);
                Ok(Vec::new())
            }
            MATCH_PATH => {
                let request = MatchRequest::parse(body).map_err(|e| e.to_string())?;
                let seed = self.seed(&request.seed_id)?;
                let query = wire::seeded_ciphertext(request.c0, &seed).map_err(|e| e.to_string())?;
                let block = match self.next.borrow_mut().take().expect("an answer is planned") {
                    Crafted::Tests(tests) => self.answer_tests(&query, &tests).map_err(|e| e.to_string())?,
                    Crafted::Raw(bytes) => bytes,
                };
                Ok(MatchAnswer { next: self.issue(), blocks: vec![block] }.to_bytes())
            }
            CLAIM_PATH => {
                let claim = ClaimRequest::parse(body).map_err(|e| e.to_string())?;
                *self.claimed.borrow_mut() = Some(claim.slots.iter().map(|c| c.slot).collect());
                Ok(Opening { masks: vec![(MASK_MIN, 0); claim.slots.len()] }.to_bytes())
            }
            PROVE_PATH => Ok(br#"{"released":[]}"#.to_vec()),
            _ => Err(format!("no route {path}")),
        }
    }
}

/// LFW people with at least `photos` photos in which a face is found, in name order: (name, the
/// embeddings of their first `photos` photos). Embeddings come from the shared evaluation cache
/// when it has them (read only), else from the engine.
fn people(photos: usize, limit: usize) -> Option<Vec<(String, Vec<Embedding>)>> {
    let engine = common::engine()?;
    let images = common::lfw_images()?;
    let cache = EmbeddingCache::open(Some(&common::embedding_cache()), &engine);
    let embed = |path: &std::path::Path| -> Option<Embedding> {
        let bytes = std::fs::read(path).unwrap();
        if let Some(cached) = cache.get(&bytes) {
            return cached.map(|face| face.embedding);
        }
        let frame = Frame::decode(&bytes).ok()?;
        engine.analyse_still(&frame).unwrap().map(|a| a.embedding)
    };
    let mut out = Vec::new();
    for identity in list_identities(&images, photos).unwrap() {
        if identity.images.len() < photos {
            continue;
        }
        let embeddings: Vec<Embedding> = identity.images.iter().filter_map(|p| embed(p)).collect();
        if embeddings.len() == photos {
            out.push((identity.name.clone(), embeddings));
            if out.len() == limit {
                break;
            }
        }
    }
    Some(out)
}

fn template_test(template: &Quantised, tau: i64) -> SlotTest {
    SlotTest { weights: *template.components(), tau }
}

#[test]
fn sealed_malicious_authority_names_passers_by_from_a_hidden_gallery() {
    let Some(known) = people(2, DEGREE) else { return };
    let gallery: Vec<Quantised> = known.iter().map(|(_, e)| Quantised::of(&e[0])).collect();
    let passers: Vec<Quantised> = known.iter().map(|(_, e)| Quantised::of(&e[1])).collect();
    // What each passer-by's slot tests compute, in the clear (the kiosk's rule is then a count).
    let scores: Vec<Vec<i64>> = passers.iter().map(|p| gallery.iter().map(|t| p.dot(t)).collect()).collect();
    let seen = |row: &[i64], tau: i64| {
        let positive: Vec<usize> = (0..row.len()).filter(|&s| row[s] >= tau).collect();
        if positive.len() > MAX_POSITIVES {
            Seen::Paused
        } else {
            Seen::Claimed(positive)
        }
    };
    // The authority tunes its threshold on its own data: the one that names most of them.
    let named =
        |tau: i64| scores.iter().enumerate().filter(|(i, row)| seen(row, tau) == Seen::Claimed(vec![*i])).count();
    let cosine = (30..=70).map(|c| c as f32 / 100.0).max_by_key(|&c| named(threshold(c))).unwrap();
    let tau = threshold(cosine);
    let tests: Vec<SlotTest> = gallery.iter().map(|t| template_test(t, tau)).collect();
    let (mut alone, mut among_others, mut wrong, mut nobody, mut paused) = (0, 0, 0, 0, 0);
    for (i, row) in scores.iter().enumerate() {
        match seen(row, tau) {
            Seen::Claimed(slots) if slots == [i] => alone += 1,
            Seen::Claimed(slots) if slots.contains(&i) => among_others += 1,
            Seen::Claimed(slots) if slots.is_empty() => nobody += 1,
            Seen::Claimed(_) => wrong += 1,
            Seen::Paused => paused += 1,
        }
    }
    let m = known.len();
    let percent = |n: usize| format!("{n} ({:.1} %)", 100.0 * n as f64 / m as f64);
    figure(
        "hidden gallery",
        format!(
            "the first photo of each of {m} LFW people with two or more, one per slot, threshold cosine {cosine:.2}"
        ),
    );
    figure(
        "passers-by (their second photo), all of them, by the kiosk's rule in the clear: named alone / among others \
         / someone else / nobody / kiosk paused",
        format!(
            "{} / {} / {} / {} / {}",
            percent(alone),
            percent(among_others),
            percent(wrong),
            percent(nobody),
            percent(paused)
        ),
    );
    figure(
        "bits about a passer-by named alone (one of the gallery's people), against G4's one",
        format!("log2 {m} = {:.1}", (m as f64).log2()),
    );

    // The real thing for a sample of them: the kiosk's own session, real BFV.
    const FACES: usize = 8;
    let authority = MaliciousAuthority::new();
    let mut session = SealedSession::new([3; 16]);
    let (mut as_predicted, mut named_real, mut quiet) = (0, 0, 0);
    for i in (0..m).step_by(m / FACES).take(FACES) {
        let (seen, error) = authority.face(&mut session, &passers[i], Crafted::Tests(tests.clone()));
        as_predicted += usize::from(seen == predicted(&tests, &passers[i]));
        named_real += usize::from(seen == Seen::Claimed(vec![i]));
        quiet += usize::from(error.is_none());
    }
    figure(
        "through the kiosk's session (real BFV): faces whose claim named them / claims as predicted in the clear",
        format!("{named_real} of {FACES} / {as_predicted} of {FACES}"),
    );
    figure(
        "faces the kiosk handled without any error (claim proven, nothing released: a decoy to it)",
        format!("{quiet} of {FACES}"),
    );
    assert_eq!(as_predicted, FACES, "the kiosk claims exactly the slots the authority's tests make positive");
    assert!(alone * 2 > m, "the hidden gallery names most passers-by: {alone} of {m}");
    assert!(named_real >= FACES / 2, "{named_real} of {FACES}");
}

/// A direction drawn uniformly on the sphere, as integer weights of a quantised template's scale.
fn random_direction(rng: &mut ChaCha20Rng) -> ([i64; EMBEDDING_DIM], [f32; EMBEDDING_DIM]) {
    let mut unit = [0f32; EMBEDDING_DIM];
    for pair in unit.chunks_mut(2) {
        // Box–Muller.
        let u1 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let radius = (-2.0 * u1.ln()).sqrt();
        pair[0] = (radius * (std::f64::consts::TAU * u2).cos()) as f32;
        pair[1] = (radius * (std::f64::consts::TAU * u2).sin()) as f32;
    }
    let norm = unit.iter().map(|x| x * x).sum::<f32>().sqrt();
    unit.iter_mut().for_each(|x| *x /= norm);
    let weights = unit.map(|x| ((x * SCALE).round() as i64).clamp(-31, 31));
    (weights, unit)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn sealed_malicious_authority_builds_a_template_of_an_unlisted_person_from_their_sightings() {
    const SIGHTINGS: usize = 12;
    const HELD_OUT: usize = 20;
    let Some(person) = people(SIGHTINGS + HELD_OUT, 1) else { return };
    let Some(others) = people(1, 400) else { return };
    let (name, photos) = &person[0];
    let (sightings, held_out) = photos.split_at(SIGHTINGS);
    let others: Vec<&Embedding> = others.iter().filter(|(n, _)| n != name).map(|(_, e)| &e[0]).collect();
    // Each slot's direction is within a cap of cosine ≥ CAP of the face with probability about
    // 2/8 192 (a normal tail at 3.49/√128): two claimed slots per face on average.
    const CAP: f32 = 0.308;
    let tau = threshold(CAP);
    let authority = MaliciousAuthority::new();
    let mut session = SealedSession::new([4; 16]);
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let mut estimate = [0f32; EMBEDDING_DIM];
    let (mut claimed, mut paused) = (0, 0);
    for face in sightings {
        let directions: Vec<([i64; EMBEDDING_DIM], [f32; EMBEDDING_DIM])> =
            (0..DEGREE).map(|_| random_direction(&mut rng)).collect();
        let tests: Vec<SlotTest> = directions.iter().map(|(w, _)| SlotTest { weights: *w, tau }).collect();
        match authority.face(&mut session, &Quantised::of(face), Crafted::Tests(tests)).0 {
            Seen::Claimed(slots) => {
                claimed += slots.len();
                for s in slots {
                    estimate.iter_mut().zip(&directions[s].1).for_each(|(e, d)| *e += d);
                }
            }
            Seen::Paused => paused += 1,
        }
    }
    let mean = Embedding::mean(held_out.iter()).unwrap();
    let to_mean = cosine(&estimate, mean.values());
    let to_held_out: Vec<f32> = held_out.iter().map(|e| cosine(&estimate, e.values())).collect();
    let to_others: Vec<f32> = others.iter().map(|e| cosine(&estimate, e.values())).collect();
    let best_other = to_others.iter().cloned().fold(f32::MIN, f32::max);
    let above = to_held_out.iter().filter(|&&c| c > best_other).count();
    let genuine_mean = to_held_out.iter().sum::<f32>() / HELD_OUT as f32;
    figure(
        "template from sightings",
        format!(
            "{SIGHTINGS} photos of {name} (on no list), 8 192 random directions per query, cap cosine {CAP}: {claimed} slots claimed, {paused} pauses"
        ),
    );
    figure("cosine of the estimate to the person's mean template (20 other photos)", format!("{to_mean:.2}"));
    let matching = to_held_out.iter().filter(|&&c| c >= THRESHOLD).count();
    figure(
        &format!(
            "cosine of the estimate to each of the person's {HELD_OUT} other photos: mean / above every one of {} other \
             people's / at or above the sealed threshold {THRESHOLD}",
            others.len()
        ),
        format!("{genuine_mean:.2} / {above} of {HELD_OUT} (best other person: {best_other:.2}) / {matching} of {HELD_OUT}"),
    );
    assert!(claimed >= SIGHTINGS, "faces give claimed slots: {claimed}");
    assert!(to_mean > 0.5, "the claimed directions point at the person: {to_mean}");
}

/// An answer-level ciphertext whose every slot decrypts to 1 if the secret key's coefficient j is
/// at most θ, to 0 otherwise: c1 = δ·X^(n−j) puts −δ·s_j in the phase's constant coefficient (and
/// ±δ·s_i, which rounds to 0, in the others), and c0's constant term shifts the rounding point.
fn oracle_query(j: usize, theta: i64) -> Vec<u8> {
    let par = params::bfv();
    let ctx = par.context_at_level(ANSWER_LEVEL).unwrap();
    let q = ctx.modulus().clone();
    let t = BigUint::from(PLAINTEXT_MODULUS);
    // δ·41·t/q < 1/2: the phase's other coefficients round to 0, the constant one to 0 or 1.
    let delta = &q / (&t * 100u32);
    let half = &q / (&t * 2u32);
    let shift = (&delta * (2 * (theta + 21) as u64 + 1)) / 2u32;
    let offset = &delta * 21u32;
    // c0₀ = q/2t + δ(θ + ½): the constant coefficient is ½ + δ·t/q·(θ + ½ − s_j) units of Δ.
    let c0_0 = (&half + &shift + &q - &offset) % &q;
    let mut c0 = vec![BigUint::from(0u32); DEGREE];
    c0[0] = c0_0;
    // (X^m·s)₀ is −s_(n−m) for m ≥ 1 (X^n = −1) and s₀ for m = 0.
    let mut c1 = vec![BigUint::from(0u32); DEGREE];
    if j == 0 {
        c1[0] = &q - &delta;
    } else {
        c1[DEGREE - j] = delta.clone();
    }
    let poly = |coefficients: &[BigUint]| {
        let mut p = Poly::try_convert_from(coefficients, ctx, false, Representation::PowerBasis).unwrap();
        p.change_representation(Representation::Ntt);
        p
    };
    wire::answer_bytes(&Ciphertext::new(vec![poly(&c0), poly(&c1)], par).unwrap())
}

/// What the kiosk's range check does with an answer: `true` if it pauses.
fn pauses(kiosk: &SealedKiosk, answer: &[u8]) -> bool {
    match kiosk.positive_values(&[answer.to_vec()]) {
        Ok(positives) => {
            assert!(positives.is_empty(), "an oracle answer has no claimable slot");
            false
        }
        Err(SealedError::OutOfRange(_)) => true,
        Err(e) => panic!("{e}"),
    }
}

/// The probability of each secret coefficient under fhe's centred binomial of variance 10 (the
/// difference of two sums of 20 fair bits): index v + 20.
fn cbd_prior() -> Vec<f64> {
    let n = 2 * VARIANCE;
    let binomial: Vec<f64> =
        (0..=n).map(|k| (0..k).fold(1f64, |c, i| c * (n - i) as f64 / (i + 1) as f64) / 2f64.powi(n as i32)).collect();
    (-(n as i64)..=n as i64)
        .map(|v| {
            (0..=n as i64)
                .filter(|a| (0..=n as i64).contains(&(a - v)))
                .map(|a| binomial[a as usize] * binomial[(a - v) as usize])
                .sum()
        })
        .collect()
}

#[test]
fn sealed_malicious_authority_reads_the_kiosks_key_through_pauses_until_it_re_keys() {
    let prior = cbd_prior();
    let entropy: f64 = prior.iter().filter(|&&p| p > 0.0).map(|p| -p * p.log2()).sum();
    // The oracle is real: against one key that is never replaced, bisection on "s_j ≤ θ" reads
    // coefficients exactly. The truth comes from regenerating the key from the same generator.
    // A fixed generator, so that the figures printed are the same on every run.
    let key_rng = [7u8; 32];
    let (kiosk, _) = SealedKiosk::generate(&[1; 32], &mut ChaCha20Rng::from_seed(key_rng)).unwrap();
    let truth = fhe_util::sample_vec_cbd(DEGREE, VARIANCE, &mut ChaCha20Rng::from_seed(key_rng)).unwrap();
    const COEFFICIENTS: usize = 12;
    let mut queries = 0;
    let mut recovered = Vec::new();
    for j in 0..COEFFICIENTS {
        let (mut low, mut high) = (-20i64, 20i64); // s_j ∈ [low, high]
        while low < high {
            let mid = (low + high).div_euclid(2);
            queries += 1;
            if pauses(&kiosk, &oracle_query(j, mid)) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        recovered.push(low);
    }
    let right = recovered.iter().zip(&truth).filter(|(r, t)| r == t).count();
    figure(
        "decryption oracle against a key that is never replaced: coefficients read exactly",
        format!(
            "{right} of {COEFFICIENTS} in {queries} answers ({:.1} per coefficient)",
            queries as f64 / COEFFICIENTS as f64
        ),
    );
    figure(
        "the whole key that way",
        format!("{DEGREE} coefficients, about {:.0} faces", DEGREE as f64 * queries as f64 / COEFFICIENTS as f64),
    );
    assert_eq!(right, COEFFICIENTS, "recovered {recovered:?}, truth {:?}", &truth[..COEFFICIENTS]);

    // The kiosk's session re-keys on every pause: the same questions through it, one key after
    // another (the authority sees a pause as no claim and a new key registration). The session
    // draws its keys from the system, so these figures vary from run to run.
    const FACES: usize = 24;
    let authority = MaliciousAuthority::new();
    let mut session = SealedSession::new([6; 16]);
    let probe = Quantised::from_components(&[1; EMBEDDING_DIM]).unwrap();
    let (mut bits, mut answers_on_key, mut longest) = (0f64, 0usize, 0usize);
    for face in 0..FACES {
        // "s_{face} ≤ 0": about one chance in two of a pause.
        let before = authority.registrations.get();
        let (seen, _) = authority.face(&mut session, &probe, Crafted::Raw(oracle_query(face, 0)));
        if authority.registrations.get() != before {
            answers_on_key = 0;
        }
        answers_on_key += 1;
        longest = longest.max(answers_on_key);
        let p_pause: f64 = prior[..=20].iter().sum();
        bits += match seen {
            Seen::Paused => -p_pause.log2(),
            Seen::Claimed(_) => -(1.0 - p_pause).log2(),
        };
    }
    let keys = authority.registrations.get();
    figure(
        "through the kiosk's session (re-key on every pause)",
        format!("{FACES} oracle answers spread over {keys} key pairs, at most {longest} answers on one key"),
    );
    figure(
        "bits learned per key pair",
        format!(
            "{:.1} on average here; with any questions, log2({FACES_PER_KEY} + 1) = {:.1} from when the key stops (every \
             answer before a pause or a claim is an empty claim, and the key is replaced after {FACES_PER_KEY} faces) \
             plus what the last answer's claimed slots say; the key holds {DEGREE} × {entropy:.2} = {:.0} bits",
            bits / keys as f64,
            ((FACES_PER_KEY + 1) as f64).log2(),
            DEGREE as f64 * entropy
        ),
    );
    assert!(keys >= FACES / 4, "pauses replace the key: {keys} key pairs for {FACES} answers");
}
