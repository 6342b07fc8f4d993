//! Sealed custody end to end over HTTP (DESIGN §3.4, issue 20 items 3–4): real LFW faces enrolled
//! with `veilwatch enroll --custody sealed`, registered with `veilwatch registration deployment
//! --sealed`, served by a real `veilwatch authority`; kiosks run the real BFV scheme
//! (`veilwatch::sealed::session`, and the CLI's `identify --sealed`) and sign every request.
//!
//! - A listed person's other photo is found and their record disclosed; a stranger is not.
//! - A claim is accepted once: replayed, or for an unknown query, it is refused (404
//!   `unknown_query`); a request without a valid credential is refused (401); a malformed
//!   ciphertext is refused with a typed error (400 `malformed_query`) and the authority keeps
//!   serving.
//! - A claim commits to each positive slot's value, gets the slots' masks and proves each slot
//!   positive with a range proof (`sealed::claim`); a decoy's claim is proven and releases nothing.
//! - A claim that leaves out a decoy, names a slot outside the answer, or carries a range proof
//!   that does not verify is refused and counted, and so is a claim whose proofs never come (at the
//!   kiosk's next match); the second refusal suspends the kiosk (403 `suspended` from then on,
//!   keys and seeds too); proofs, like claims, are accepted once.
//! - The daily face budget ends in 429 `budget_day` with `Retry-After`.
//! - The kiosk session itself (`KioskSession`, as the browser's Worker drives it) loads the sealed
//!   deployment from its signed descriptor and profile, shows "sealed custody", sends each face's
//!   steps one after another (never `/v1/evaluate` or `/v1/disclose`), alerts with the listed
//!   person's record, raises nothing for a stranger, and holds nothing once stopped.
//! - Prints the authority's time per face (its `Server-Timing`) and the bytes up and down per face
//!   at the gallery size tested (`SEALED-HTTP …`).
//!
//! `cargo test --release --features cli --locked --test authority_sealed -- --nocapture`

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use common::http::{agent, header, now, send, signed_post_with, Answer};
use common::kiosk::{authority, keygen, Kiosk, DEFAULT_CAPS};
use common::process::{veilwatch, Server};
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner};
use veilwatch::authority::registration::Budgets;
use veilwatch::kiosk::{AlertView, AuthorityQuery, CustodyOptions, DeploymentOptions, KioskSession};
use veilwatch::sealed::claim::{self, CommitmentSecret};
use veilwatch::sealed::kiosk::{system_rng, SealedKiosk};
use veilwatch::sealed::protocol::{
    ClaimRequest, ClaimedSlot, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, ProofRequest, CLAIM_PATH,
    KEYS_PATH, MATCH_PATH, PROVE_PATH, SEED_PATH,
};
use veilwatch::sealed::quantise::Quantised;
use veilwatch::sealed::session::{SealedSession, SealedTransport};
use veilwatch::{Engine, Frame};

/// People enrolled: the gallery size N the figures are for.
const LISTED: usize = 20;

fn figure(name: &str, value: impl std::fmt::Display) {
    println!("SEALED-HTTP {name}: {value}");
}

/// A sealed-custody deployment of `LISTED` LFW people (the first photo of each), its kiosk, the
/// authority serving it, the other photos of the listed people and photos of strangers.
struct Setup {
    _scratch: tempfile::TempDir,
    /// The scratch folder (the key folder, the registration material and its descriptor).
    dir: PathBuf,
    keys: PathBuf,
    server: Server,
    kiosks: Vec<Kiosk>,
    id: [u8; 16],
    id_hex: String,
    /// (name, the enrolled photo, another photo) of listed people.
    listed: Vec<(String, PathBuf, PathBuf)>,
    strangers: Vec<PathBuf>,
}

impl Setup {
    /// A listed person whose other photo is clearly theirs (quantised similarity ≥ 0.45 to the
    /// enrolled one, well above the 0.36 threshold): (name, other photo).
    fn genuine(&self, engine: &Engine) -> (String, PathBuf) {
        let (name, _, other) = self
            .listed
            .iter()
            .find(|(_, enrolled, other)| probe(engine, enrolled).similarity(&probe(engine, other)) >= 0.45)
            .expect("some listed person's two photos are similar");
        (name.clone(), other.clone())
    }

    /// Strangers clearly unlike everyone listed (similarity < 0.25 to every enrolled photo).
    fn strangers(&self, engine: &Engine) -> Vec<PathBuf> {
        let listed: Vec<Quantised> = self.listed.iter().map(|(_, enrolled, _)| probe(engine, enrolled)).collect();
        let strangers: Vec<PathBuf> = self
            .strangers
            .iter()
            .filter(|photo| {
                let q = probe(engine, photo);
                listed.iter().all(|t| q.similarity(t) < 0.25)
            })
            .cloned()
            .collect();
        assert!(strangers.len() >= 4, "four of ten strangers are unlike everyone listed");
        strangers
    }
}

fn setup(kiosks: usize, budgets: Budgets, decoy_rate: &str) -> Option<Setup> {
    setup_with(kiosks, budgets, decoy_rate, &[])
}

/// [`setup`], the authority started with `extra` flags too.
fn setup_with(kiosks: usize, budgets: Budgets, decoy_rate: &str, extra: &[&str]) -> Option<Setup> {
    let images = common::lfw_images()?;
    common::models_dir()?;
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_owned();
    let mut people: Vec<PathBuf> = std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    people.sort();
    let photos = |person: &Path| {
        let mut p: Vec<PathBuf> = std::fs::read_dir(person).unwrap().map(|e| e.unwrap().path()).collect();
        p.sort();
        p
    };
    let with_two: Vec<PathBuf> = people.iter().filter(|p| photos(p).len() >= 2).cloned().collect();
    let dataset = dir.join("dataset");
    let mut listed = Vec::new();
    for person in with_two.iter().take(LISTED) {
        let name = person.file_name().unwrap().to_str().unwrap().to_owned();
        let folder = dataset.join(&name);
        std::fs::create_dir_all(&folder).unwrap();
        let photos = photos(person);
        std::os::unix::fs::symlink(&photos[0], folder.join(photos[0].file_name().unwrap())).unwrap();
        listed.push((name.replace('_', " "), photos[0].clone(), photos[1].clone()));
    }
    let strangers: Vec<PathBuf> = with_two.iter().skip(LISTED).take(10).map(|p| photos(p)[0].clone()).collect();

    let keys = keygen(&dir);
    let material = dir.join("sealed.json");
    veilwatch(&[
        "enroll",
        dataset.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
        "--out",
        material.to_str().unwrap(),
        "--custody",
        "sealed",
        "--per-identity",
        "1",
        "--decoy-rate",
        decoy_rate,
    ]);
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&material).unwrap()).unwrap();
    assert_eq!(file["entries"], LISTED, "every listed person has a usable first photo");
    assert_eq!(file["custody"], "bfv-sealed");
    let text = String::from_utf8(std::fs::read(&material).unwrap()).unwrap();
    assert!(!text.contains(&listed[0].0), "the material holds no name in the clear");
    let id_hex = file["deployment"].as_str().unwrap().to_owned();
    let kiosks: Vec<Kiosk> = (0..kiosks).map(|i| Kiosk::from_cli(&dir, &format!("kiosk-{i}"))).collect();
    let registration = dir.join("registration.vwr");
    let mut args: Vec<String> =
        ["registration", "deployment", "--keys", keys.to_str().unwrap(), "--sealed"].map(String::from).to_vec();
    args.push(material.to_str().unwrap().into());
    for kiosk in &kiosks {
        args.extend(["--kiosk-key".into(), kiosk.public_hex()]);
    }
    for (flag, value) in [
        ("--faces-per-minute", budgets.faces_per_minute as u64),
        ("--faces-per-day", budgets.faces_per_day as u64),
        ("--faces-total", budgets.faces_total),
        ("--disclosures-per-hour", budgets.disclosures_per_hour as u64),
    ] {
        args.extend([flag.into(), value.to_string()]);
    }
    args.extend(["--out".into(), registration.to_str().unwrap().into()]);
    veilwatch(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let state = dir.join("state.sqlite3");
    let mut args = vec![
        "--register",
        registration.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--request-timeout",
        "120",
    ];
    args.extend_from_slice(extra);
    let server = authority(&keys, &args, &dir);
    // The state store holds the gallery sealed: no listed name, no template in the clear.
    let stored = std::fs::read(&state).unwrap();
    assert!(!stored.windows(listed[0].0.len()).any(|w| w == listed[0].0.as_bytes()));
    let id: [u8; 16] = veilwatch::hex::from_hex(&id_hex).unwrap().try_into().unwrap();
    Some(Setup { _scratch: scratch, dir, keys, server, kiosks, id, id_hex, listed, strangers })
}

fn budgets(faces_per_day: u32) -> Budgets {
    Budgets { faces_per_minute: 100, faces_per_day, faces_total: 10_000, ..DEFAULT_CAPS }
}

/// The kiosk's signed requests over HTTP, remembering the authority's `Server-Timing` of each
/// match and every request's body by path.
struct Http<'a> {
    server: &'a Server,
    signer: RequestSigner,
    agent: ureq::Agent,
    match_ms: RefCell<Vec<f64>>,
    sent: RefCell<Vec<Sent>>,
}

/// One request as it left the kiosk: path, headers (name, value) and body.
struct Sent {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl<'a> Http<'a> {
    fn new(server: &'a Server, signer: RequestSigner) -> Http<'a> {
        Http { server, signer, agent: agent(), match_ms: RefCell::new(Vec::new()), sent: RefCell::new(Vec::new()) }
    }

    fn raw(&self, path: &str, body: &[u8]) -> Answer {
        let base = self.server.url("");
        let credential = self.signer.headers(&AuthorityOrigin::of_url(&base).unwrap(), "POST", path, body, now());
        let mut headers: Vec<(String, String)> = credential.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        // What `signed_post_with` adds.
        headers.push(("content-type".into(), "application/octet-stream".into()));
        self.sent.borrow_mut().push(Sent { path: path.to_owned(), headers, body: body.to_vec() });
        let answer = signed_post_with(&self.agent, &base, path, body, credential);
        assert_ne!(answer.status, 0, "{path}: no answer: {}", answer.text());
        if let Some(ms) =
            answer.header("server-timing").and_then(|t| t.strip_prefix("answer;dur=")).and_then(|ms| ms.parse().ok())
        {
            self.match_ms.borrow_mut().push(ms);
        }
        answer
    }

    fn last_sent(&self, path: &str) -> Vec<u8> {
        self.sent.borrow().iter().rev().find(|sent| sent.path == path).unwrap().body.clone()
    }
}

impl SealedTransport for Http<'_> {
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        let answer = self.raw(path, body);
        if (200..300).contains(&answer.status) {
            Ok(answer.body)
        } else {
            Err(format!("HTTP {} {}: {}", answer.status, answer.refusal(), answer.text().trim()))
        }
    }
}

fn probe(engine: &Engine, photo: &Path) -> Quantised {
    let frame = Frame::decode(&std::fs::read(photo).unwrap()).unwrap();
    Quantised::of(&engine.analyse_still(&frame).unwrap().expect("a face").embedding)
}

/// A fresh key pair registered over `http` (its own seed); the kiosk and the first query's seed.
fn register_keys(http: &Http) -> (SealedKiosk, IssuedSeed) {
    let key_seed = IssuedSeed::parse(&http.raw(SEED_PATH, &[]).body).unwrap();
    let (kiosk, registration) = SealedKiosk::generate(&key_seed.seed, &mut system_rng()).unwrap();
    let keys =
        http.raw(KEYS_PATH, &KeysRequest::encode(&key_seed.id, &registration.public_key, &registration.rotation_key));
    assert_eq!(keys.status, 204, "{}", keys.text());
    (kiosk, IssuedSeed::parse(&http.raw(SEED_PATH, &[]).body).unwrap())
}

#[test]
fn a_listed_face_is_found_and_disclosed_through_the_cli_and_a_stranger_is_not() {
    let Some(s) = setup(1, budgets(100), "0.5") else { return };
    let engine = common::engine().unwrap();
    let kiosk_file = s.kiosks[0].file.as_ref().unwrap();
    let (name, photo) = &s.genuine(&engine);
    let strangers = s.strangers(&engine);
    let out = veilwatch(&[
        "identify",
        "--sealed",
        &s.id_hex,
        "--authority",
        &s.server.url(""),
        "--kiosk-key",
        kiosk_file.to_str().unwrap(),
        "--json",
        photo.to_str().unwrap(),
        strangers[0].to_str().unwrap(),
    ]);
    let results: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed_face = &results[0]["faces"][0];
    assert_eq!(listed_face["matched"], true, "{listed_face}");
    assert!(listed_face.get("error").is_none(), "{listed_face}");
    let labels: Vec<&str> =
        listed_face["alerts"].as_array().unwrap().iter().map(|a| a["record"]["label"].as_str().unwrap()).collect();
    assert_eq!(labels, [name.as_str()], "the listed person's other photo finds their record: {listed_face}");
    let stranger = &results[1]["faces"][0];
    assert!(stranger.get("error").is_none(), "{stranger}");
    assert_eq!(stranger["alerts"].as_array().unwrap().len(), 0, "a stranger is not listed: {stranger}");
    // Both faces registered a key pair first: the first one's, then a new one after the listed
    // face's claim of a positive slot (re-keying).
    figure("CLI bytes up per face (key registration + query + claim)", &stranger["bytesUp"]);
    figure("CLI bytes down per face (answer + claim's answer), stranger", &stranger["bytesDown"]);
}

#[test]
fn claims_are_accepted_once_and_bad_requests_are_refused_with_their_reason() {
    let Some(s) = setup(1, budgets(100), "0.5") else { return };
    let engine = common::engine().unwrap();
    let http = Http::new(&s.server, s.kiosks[0].signer(&s.id));

    // A listed face, through the kiosk's session: found, its record disclosed; measured.
    let mut session = SealedSession::new(s.id);
    let (name, photo) = &s.genuine(&engine);
    let strangers = s.strangers(&engine);
    let found = session.identify(&probe(&engine, photo), &http).unwrap();
    let timing = *http.match_ms.borrow().last().expect("the match carries Server-Timing");
    assert_eq!(found.matches.iter().map(|m| m.record.label.as_str()).collect::<Vec<_>>(), [name.as_str()]);
    assert!(found.claimed >= 1);
    let (claim, proofs) = (http.last_sent(CLAIM_PATH), http.last_sent(PROVE_PATH));
    let stranger = session.identify(&probe(&engine, &strangers[1]), &http).unwrap();
    let stranger_ms = *http.match_ms.borrow().last().unwrap();
    assert_eq!(http.match_ms.borrow().len(), 2);
    assert!(stranger.matches.is_empty(), "a stranger is not listed");
    figure(
        "gallery",
        format!("N = {LISTED} listed (one answer block of 8 192 slots; the cost is the same up to N = 8 191)"),
    );
    figure("authority ms per face (Server-Timing: listed face, stranger)", format!("{timing:.0}, {stranger_ms:.0}"));
    figure("bytes up per face (match request: seed id + c0)", found.bytes_up);
    figure("bytes down per face (match answer: next seed + blocks)", found.bytes_down);
    figure(
        "bytes of a claim and its answer (listed face)",
        format!("{} up, {} down", found.claim_bytes_up, found.claim_bytes_down),
    );
    figure("bytes of a key registration (once per key pair)", found.keys_bytes_up);

    // The listed face's claim and its proofs again: already claimed, already proven.
    let again = http.raw(CLAIM_PATH, &claim);
    assert_eq!((again.status, again.refusal()), (404, "unknown_query"), "{}", again.text());
    let again = http.raw(PROVE_PATH, &proofs);
    assert_eq!((again.status, again.refusal()), (404, "unknown_query"), "{}", again.text());
    // A query the authority never answered.
    let unknown = http.raw(CLAIM_PATH, &ClaimRequest { query_id: [7; 16], slots: vec![] }.to_bytes());
    assert_eq!((unknown.status, unknown.refusal()), (404, "unknown_query"));

    // Without a valid credential: unsigned, and signed by a key the deployment does not list.
    let unsigned = send(&agent(), "POST", &s.server.url(MATCH_PATH), &[], &[0; 64]);
    assert_eq!((unsigned.status, unsigned.refusal()), (401, "unauthorised"));
    let foreign = Http::new(&s.server, Kiosk::generate().signer(&s.id)).raw(SEED_PATH, &[]);
    assert_eq!((foreign.status, foreign.refusal()), (401, "unauthorised"));

    // A malformed ciphertext, under a seed the authority issued: a typed refusal, no panic.
    let (kiosk, seed) = register_keys(&http);
    let mut c0 = kiosk.encrypt(&probe(&engine, &strangers[2]), &seed.seed).unwrap();
    c0.truncate(c0.len() - 3);
    let malformed = http.raw(MATCH_PATH, &MatchRequest::encode(&seed.id, &c0));
    assert_eq!((malformed.status, malformed.refusal()), (400, "malformed_query"), "{}", malformed.text());
    assert!(malformed.text().contains("malformed input"), "{}", malformed.text());
    // Its seed is spent: the well-formed query under it is refused too (a seed serves once).
    let c0 = kiosk.encrypt(&probe(&engine, &strangers[2]), &seed.seed).unwrap();
    let reused = http.raw(MATCH_PATH, &MatchRequest::encode(&seed.id, &c0));
    assert_eq!((reused.status, reused.refusal()), (409, "unknown_seed"));
    // Every other malformed query (issue 20 item 5 (b)), each under a fresh seed: refused by the
    // route's parser with its reason, before any computation or budget.
    let fresh = || IssuedSeed::parse(&http.raw(SEED_PATH, &[]).body).unwrap();
    let seed = fresh();
    let c0 = kiosk.encrypt(&probe(&engine, &strangers[2]), &seed.seed).unwrap();
    for (what, bad) in malformed_queries(&c0, &seed) {
        let seed = fresh();
        let refused = http.raw(MATCH_PATH, &MatchRequest::encode(&seed.id, &bad));
        assert_eq!((refused.status, refused.refusal()), (400, "malformed_query"), "{what}: {}", refused.text());
        assert!(refused.text().contains("malformed input"), "{what}: {}", refused.text());
    }
    // Keys that are not keys of the parameter set.
    let key_seed = IssuedSeed::parse(&http.raw(SEED_PATH, &[]).body).unwrap();
    let bad_keys = http.raw(KEYS_PATH, &KeysRequest::encode(&key_seed.id, &[1, 2, 3], &[4, 5]));
    assert_eq!((bad_keys.status, bad_keys.refusal()), (400, "malformed_keys"), "{}", bad_keys.text());
    // The authority still serves (a new session: the raw requests above replaced this kiosk's
    // keys and outstanding seed at the authority, as a second process with its key would).
    assert_eq!(send(&agent(), "GET", &s.server.url("/v1/health"), &[], &[]).status, 200);
    let fine = SealedSession::new(s.id).identify(&probe(&engine, &strangers[3]), &http).unwrap();
    assert!(fine.matches.is_empty());
}

/// Malformed versions of the query `c0` (encrypted under `seed`), each named: wrong sizes,
/// a non-canonical residue, a polynomial at the wrong level, and a whole ciphertext (both parts,
/// its own `a` included) where only `c0` belongs.
fn malformed_queries(c0: &[u8], seed: &IssuedSeed) -> Vec<(&'static str, Vec<u8>)> {
    use fhe_math::rq::{Poly, Representation};
    use fhe_traits::Serialize;
    let par = veilwatch::sealed::params::bfv();
    // fhe's Rq encoding: representation, degree, then the coefficients (field 3, a length-delimited
    // run of 54/55-bit packed residues, lowest bits first); the first residue set to all ones
    // (2^54 − 1 > q₀) is a value no canonical encoding has.
    let packed = (54 + 54 + 55 + 55) * 8192 / 8;
    let mut length = Vec::new();
    let mut n = packed;
    while n >= 0x80 {
        length.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    length.push(n as u8);
    let marker = [vec![0x1a], length].concat();
    let start = c0.windows(marker.len()).position(|w| w == marker).expect("the coefficients field") + marker.len();
    let mut non_canonical = c0.to_vec();
    non_canonical[start..start + 6].fill(0xff);
    non_canonical[start + 6] |= 0x3f;
    let mut rng = <rand_chacha09::ChaCha20Rng as rand_chacha09::rand_core::SeedableRng>::from_seed([9; 32]);
    let level_one = Poly::random(par.context_at_level(1).unwrap(), Representation::Ntt, &mut rng);
    let whole = {
        let message = veilwatch::sealed::wire::seeded_ciphertext(c0, &seed.seed).unwrap();
        fhe_traits::Serialize::to_bytes(&message)
    };
    vec![
        ("empty", Vec::new()),
        ("one byte short", c0[..c0.len() - 1].to_vec()),
        ("one byte more", [c0, &[0]].concat()),
        ("twice", [c0, c0].concat()),
        ("a non-canonical residue", non_canonical),
        ("a polynomial at level 1", level_one.to_bytes()),
        ("a whole ciphertext (c0 and its a-part)", whole),
    ]
}

/// The claim of `positives` (block, slot, decrypted value): the request and each slot's secret.
fn claim_of(query: [u8; 16], positives: &[(usize, usize, i64)]) -> (ClaimRequest, Vec<CommitmentSecret>) {
    let (slots, secrets) = positives
        .iter()
        .map(|&(block, slot, value)| {
            let (commitment, secret) = claim::commit(value);
            (ClaimedSlot { block, slot, commitment }, secret)
        })
        .unzip();
    (ClaimRequest { query_id: query, slots }, secrets)
}

#[test]
fn refused_claims_suspend_the_kiosk_and_the_daily_budget_ends_in_429() {
    // Every answer carries a decoy, so that each one has a positive slot to leave out.
    let Some(s) = setup(3, budgets(3), "1.0") else { return };
    let engine = common::engine().unwrap();
    let stranger = probe(&engine, &s.strangers(&engine)[0]);
    let face = |http: &Http, kiosk: &SealedKiosk, seed: &IssuedSeed| {
        let c0 = kiosk.encrypt(&stranger, &seed.seed).unwrap();
        let answer = http.raw(MATCH_PATH, &MatchRequest::encode(&seed.id, &c0));
        assert_eq!(answer.status, 200, "{}", answer.text());
        let answer = MatchAnswer::parse(&answer.body).unwrap();
        let positives = kiosk.positive_values(&answer.blocks).unwrap().to_vec();
        assert_eq!(positives.len(), 1, "a stranger's answer holds exactly its decoy");
        (answer.next, positives)
    };

    // Kiosk 0. 1. The honest claim of the decoy (which the kiosk cannot tell from a match):
    //    committed, opened, proven; nothing released.
    let http = Http::new(&s.server, s.kiosks[0].signer(&s.id));
    let (kiosk, seed) = register_keys(&http);
    let (next, positives) = face(&http, &kiosk, &seed);
    let (request, secrets) = claim_of(seed.id, &positives);
    let opened = http.raw(CLAIM_PATH, &request.to_bytes());
    assert_eq!(opened.status, 200, "{}", opened.text());
    let (r, r_prime) = Opening::parse(&opened.body).unwrap().masks[0];
    let (block, slot) = (request.slots[0].block, request.slots[0].slot);
    let started = std::time::Instant::now();
    let proof = claim::prove(&secrets[0], r, r_prime, &seed.id, block, slot).unwrap();
    let prove_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = std::time::Instant::now();
    assert!(claim::verify(&request.slots[0].commitment, r, r_prime, &proof, &seed.id, block, slot));
    let verify_ms = started.elapsed().as_secs_f64() * 1000.0;
    figure(
        "claim of one slot, native (commitment + 32-bit Bulletproofs range proof)",
        format!("prove {prove_ms:.1} ms, verify {verify_ms:.1} ms, proof {} bytes", proof.len()),
    );
    let proven = http.raw(PROVE_PATH, &ProofRequest { query_id: seed.id, proofs: vec![proof.clone()] }.to_bytes());
    assert_eq!(proven.status, 200, "{}", proven.text());
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&proven.body).unwrap()["released"], serde_json::json!([]));
    let again = http.raw(PROVE_PATH, &ProofRequest { query_id: seed.id, proofs: vec![proof] }.to_bytes());
    assert_eq!((again.status, again.refusal()), (404, "unknown_query"), "proofs are accepted once");

    // 2. The decoy left out: refused, counted.
    let used = next;
    let (next, _) = face(&http, &kiosk, &used);
    let missed = http.raw(CLAIM_PATH, &ClaimRequest { query_id: used.id, slots: vec![] }.to_bytes());
    assert_eq!((missed.status, missed.refusal()), (403, "claim_refused"), "{}", missed.text());

    // 3. A slot outside the answer (never positive) claimed with the decoy: the second refusal
    //    suspends the kiosk.
    let (_, positives) = face(&http, &kiosk, &next);
    let (mut request, _) = claim_of(next.id, &positives);
    request.slots.push(ClaimedSlot { block: 1, slot: 0, commitment: request.slots[0].commitment });
    let forged = http.raw(CLAIM_PATH, &request.to_bytes());
    assert_eq!((forged.status, forged.refusal()), (403, "suspended"), "{}", forged.text());
    for path in [SEED_PATH, KEYS_PATH, MATCH_PATH, CLAIM_PATH, PROVE_PATH] {
        let refused = http.raw(path, &[]);
        assert_eq!((refused.status, refused.refusal()), (403, "suspended"), "{path}");
    }

    // Kiosk 1 is not suspended. A claim whose proofs never come (the masks were opened) is a
    // refusal at its next match; a range proof that does not verify (made for another slot: the
    // transcript binds it) is the second, and suspends it.
    let other = Http::new(&s.server, s.kiosks[1].signer(&s.id));
    let (kiosk, seed) = register_keys(&other);
    let (next, positives) = face(&other, &kiosk, &seed);
    let (request, _) = claim_of(seed.id, &positives);
    assert_eq!(other.raw(CLAIM_PATH, &request.to_bytes()).status, 200);
    let c0 = kiosk.encrypt(&stranger, &next.seed).unwrap();
    let unproven = other.raw(MATCH_PATH, &MatchRequest::encode(&next.id, &c0));
    assert_eq!((unproven.status, unproven.refusal()), (403, "claim_refused"), "{}", unproven.text());
    let late = other.raw(PROVE_PATH, &ProofRequest { query_id: seed.id, proofs: vec![] }.to_bytes());
    assert_eq!((late.status, late.refusal()), (404, "unknown_query"), "no proof is taken after that");
    let seed = IssuedSeed::parse(&other.raw(SEED_PATH, &[]).body).unwrap();
    let (_, positives) = face(&other, &kiosk, &seed);
    let (request, secrets) = claim_of(seed.id, &positives);
    let opened = other.raw(CLAIM_PATH, &request.to_bytes());
    let (r, r_prime) = Opening::parse(&opened.body).unwrap().masks[0];
    let (block, slot) = (request.slots[0].block, request.slots[0].slot);
    let elsewhere = claim::prove(&secrets[0], r, r_prime, &seed.id, block, (slot + 1) % 8192).unwrap();
    let bad = other.raw(PROVE_PATH, &ProofRequest { query_id: seed.id, proofs: vec![elsewhere] }.to_bytes());
    assert_eq!((bad.status, bad.refusal()), (403, "suspended"), "{}", bad.text());

    // Kiosk 2: its daily budget (3 faces) ends in 429, through the kiosk's session.
    let other = Http::new(&s.server, s.kiosks[2].signer(&s.id));
    let mut session = SealedSession::new(s.id);
    for _ in 0..3 {
        session.identify(&stranger, &other).unwrap();
    }
    let over = session.identify(&stranger, &other).unwrap_err().to_string();
    assert!(over.contains("HTTP 429 budget_day"), "{over}");
    let (kiosk, seed) = register_keys(&other);
    let c0 = kiosk.encrypt(&stranger, &seed.seed).unwrap();
    let refused = other.raw(MATCH_PATH, &MatchRequest::encode(&seed.id, &c0));
    assert_eq!((refused.status, refused.refusal()), (429, "budget_day"));
    let retry: i64 = header(&refused.headers, "retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 86_400 && now() + retry > now());
}

/// G4's list (issue 20 item 5 (e); DESIGN §1 G4): the headers of every sealed-custody request a
/// kiosk sends, in order, besides the transport's own (Host, Content-Length, User-Agent) and the
/// connection's address.
const G4_METADATA: [&str; 6] = [
    "veilwatch-kiosk",
    "veilwatch-deployment",
    "veilwatch-timestamp",
    "veilwatch-nonce",
    "veilwatch-signature",
    "content-type",
];

/// Bytes of a `c0` (public key or query: one polynomial at level 0), of the rotation key and of
/// one range proof, fixed by the parameter set.
const C0_BYTES: usize = 223_243;
const ROTATION_KEY_BYTES: usize = 893_032;
const PROOF_BYTES: usize = 608;

/// G4's list of request bodies: `body` of a request to `path`, split into the listed fields as
/// (field, bytes). Panics on a body that is not exactly these fields: a field added to a request
/// fails this test until it is listed here and in the README's G4 list (which names every field).
fn g4_fields(path: &str, body: &[u8]) -> Vec<(&'static str, usize)> {
    let u16_at = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]) as usize;
    let fields: Vec<(&'static str, usize)> = match path {
        SEED_PATH => vec![],
        KEYS_PATH => vec![
            ("seed id", 16),
            ("public-key length", 4),
            ("public-key c0", C0_BYTES),
            ("rotation key", ROTATION_KEY_BYTES),
        ],
        MATCH_PATH => vec![("seed id", 16), ("query c0", C0_BYTES)],
        CLAIM_PATH => {
            let mut fields = vec![("query id", 16), ("slot count", 2)];
            for _ in 0..u16_at(16) {
                fields.extend([("claimed block", 2), ("claimed slot", 2), ("commitment", 32)]);
            }
            fields
        }
        PROVE_PATH => {
            let mut fields = vec![("query id", 16), ("proof count", 2)];
            let mut at = 18;
            for _ in 0..u16_at(16) {
                assert_eq!(u16_at(at), PROOF_BYTES, "a range proof of the listed size");
                fields.extend([("proof length", 2), ("range proof", PROOF_BYTES)]);
                at += 2 + PROOF_BYTES;
            }
            fields
        }
        other => panic!("a sealed kiosk sent {other}, which G4's list does not have"),
    };
    let listed: usize = fields.iter().map(|(_, n)| n).sum();
    assert_eq!(body.len(), listed, "{path}: the body is {} bytes, the listed fields {listed}", body.len());
    if path == KEYS_PATH {
        assert_eq!(u32::from_le_bytes(body[16..20].try_into().unwrap()) as usize, C0_BYTES);
    }
    fields
}

/// Headers the kiosk's HTTP transport adds besides G4's list: none of them depends on the face.
const TRANSPORT_HEADERS: [&str; 5] = ["host", "content-length", "user-agent", "accept", "accept-encoding"];

/// One HTTP request read off a connection: its head and body.
fn read_request(client: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    use std::io::Read;
    let mut request = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = client.read(&mut buf).unwrap();
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while request.len() < end + 4 + length {
                let n = client.read(&mut buf).unwrap();
                assert!(n > 0, "the connection closed inside a body");
                request.extend_from_slice(&buf[..n]);
            }
            return (head, request[end + 4..].to_vec());
        }
        assert!(n > 0, "the connection closed inside a head");
    }
}

/// A loopback proxy in front of the authority at the port `target` will hold: it forwards each
/// request on a connection of its own (asking the authority to close it) and records it.
type Recorded = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;
fn recording_proxy() -> (u16, std::sync::Arc<std::sync::OnceLock<u16>>, Recorded) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (target, log): (std::sync::Arc<std::sync::OnceLock<u16>>, Recorded) = Default::default();
    let (upstream_port, record) = (target.clone(), log.clone());
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let (upstream_port, record) = (upstream_port.clone(), record.clone());
            std::thread::spawn(move || loop {
                let (head, body) = read_request(&mut client);
                let mut upstream = std::net::TcpStream::connect(("127.0.0.1", *upstream_port.get().unwrap())).unwrap();
                let forwarded: String = head
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                upstream.write_all(format!("{forwarded}connection: close\r\n\r\n").as_bytes()).unwrap();
                upstream.write_all(&body).unwrap();
                let mut response = Vec::new();
                upstream.read_to_end(&mut response).unwrap();
                record.lock().unwrap().push((head, body));
                if client.write_all(&response).is_err() {
                    return;
                }
                // The client may send its next request on this connection, or close it.
                let mut probe = [0u8; 1];
                if client.peek(&mut probe).map_or(true, |n| n == 0) {
                    return;
                }
            });
        }
    });
    (port, target, log)
}

#[test]
fn g4_the_cli_kiosk_sends_only_the_listed_fields_and_headers() {
    let (proxy, target, log) = recording_proxy();
    let url = format!("http://127.0.0.1:{proxy}");
    let Some(s) = setup_with(1, budgets(100), "0.5", &["--public-origin", &url]) else { return };
    target.set(s.server.port()).unwrap();
    let engine = common::engine().unwrap();
    let (_, listed) = s.genuine(&engine);
    let strangers = s.strangers(&engine);
    let kiosk_file = s.kiosks[0].file.as_ref().unwrap();
    let out = veilwatch(&[
        "identify",
        "--sealed",
        &s.id_hex,
        "--authority",
        &url,
        "--kiosk-key",
        kiosk_file.to_str().unwrap(),
        "--json",
        listed.to_str().unwrap(),
        strangers[0].to_str().unwrap(),
    ]);
    let results: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(results[0]["faces"][0]["matched"], true, "{results}");
    let requests = log.lock().unwrap().clone();
    assert!(requests.len() >= 6, "keys, seeds, matches and claims went through the proxy: {}", requests.len());
    let mut transport: Vec<String> = Vec::new();
    for (head, body) in &requests {
        let mut lines = head.lines();
        let path = lines.next().unwrap().split(' ').nth(1).unwrap().to_owned();
        let names: Vec<String> = lines.map(|l| l.split(':').next().unwrap().trim().to_ascii_lowercase()).collect();
        for name in G4_METADATA {
            assert!(names.iter().any(|n| n == name), "{path}: the CLI sends {name}");
        }
        for name in &names {
            assert!(
                G4_METADATA.contains(&name.as_str()) || TRANSPORT_HEADERS.contains(&name.as_str()),
                "{path}: the CLI sends a header G4's list does not have: {name}"
            );
            if TRANSPORT_HEADERS.contains(&name.as_str()) && !transport.contains(name) {
                transport.push(name.clone());
            }
        }
        g4_fields(&path, body);
    }
    let agent = requests[0].0.lines().find(|l| l.to_ascii_lowercase().starts_with("user-agent:")).unwrap_or("");
    let paths: Vec<&str> =
        requests.iter().map(|(head, _)| head.split(' ').nth(1).unwrap().trim_start_matches("/v1/sealed/")).collect();
    println!(
        "ATTACK sealed G4 the CLI kiosk's transport headers besides the listed ones: {} ({agent}); requests for two \
         photos: {}",
        transport.join(", "),
        paths.join(" ")
    );
}

#[test]
fn g4_everything_the_authority_receives_per_face_is_listed() {
    let Some(s) = setup(1, budgets(100), "0.5") else { return };
    let engine = common::engine().unwrap();
    let http = Http::new(&s.server, s.kiosks[0].signer(&s.id));
    let mut session = SealedSession::new(s.id);
    let (_, listed) = s.genuine(&engine);
    let strangers = s.strangers(&engine);
    let mut faces = Vec::new();
    for (label, photo) in [("listed face", &listed), ("stranger", &strangers[0]), ("stranger", &strangers[1])] {
        let from = http.sent.borrow().len();
        let outcome = session.identify(&probe(&engine, photo), &http).unwrap();
        faces.push((label, from..http.sent.borrow().len(), outcome.claimed));
    }
    let readme = std::fs::read_to_string(common::repo_dir().join("README.md")).unwrap();
    let sent = http.sent.borrow();
    for request in sent.iter() {
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, G4_METADATA, "{}: the request's headers are G4's list", request.path);
        for (field, _) in g4_fields(&request.path, &request.body) {
            assert!(readme.contains(&format!("`{field}`")), "the README's G4 list names `{field}`");
        }
    }
    for name in G4_METADATA {
        assert!(readme.contains(&format!("`{name}`")), "the README's G4 list names `{name}`");
    }
    for (label, range, claimed) in faces {
        let mut fields: Vec<(String, usize)> = Vec::new();
        for request in &sent[range] {
            let route = request.path.trim_start_matches("/v1/sealed/");
            let metadata: usize = request.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
            for (field, bytes) in std::iter::once(("headers", metadata)).chain(g4_fields(&request.path, &request.body))
            {
                let name = format!("{route} {field}");
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, total)) => *total += bytes,
                    None => fields.push((name, bytes)),
                }
            }
        }
        let total: usize = fields.iter().map(|(_, n)| n).sum();
        let list: Vec<String> = fields.iter().map(|(n, b)| format!("{n} {b}")).collect();
        println!("ATTACK sealed G4 per face ({label}, {claimed} slots claimed): {total} bytes: {}", list.join(", "));
    }
}

/// Sends every query of `queries`, signed, and each step the answers bring, until the faces are
/// done; the alerts raised and the paths requested.
fn drive(session: &mut KioskSession, http: &Http, mut queries: Vec<AuthorityQuery>) -> (Vec<AlertView>, Vec<String>) {
    let (mut alerts, mut paths) = (Vec::new(), Vec::new());
    while let Some(query) = queries.pop() {
        paths.push(query.path.clone());
        let answer = http.raw(&query.path, &query.body);
        let result = if (200..300).contains(&answer.status) {
            session.complete_query(query.id, &answer.body, now()).unwrap()
        } else {
            session.fail_query(query.id, &format!("HTTP {}: {}", answer.status, answer.text())).unwrap()
        };
        assert!(result.matching_error.is_none(), "{:?} after {}", result.matching_error, query.path);
        assert!(result.disclosures.is_empty(), "sealed custody's claim releases the records itself");
        alerts.extend(result.alerts);
        queries.extend(result.queries);
    }
    (alerts, paths)
}

#[test]
fn the_kiosk_session_loads_a_sealed_deployment_and_matches_one_face_at_a_time() {
    use veilwatch::governance::profile::Custody;
    let Some(s) = setup(1, budgets(100), "0.5") else { return };
    let engine = common::engine().unwrap();
    let (name, photo) = s.genuine(&engine);
    let stranger = s.strangers(&engine)[0].clone();
    let descriptor =
        std::fs::read(s.dir.join("sealed.json.deployment")).expect("enroll --custody sealed writes FILE.deployment");
    let issuer = common::kiosk::issuer_key(&s.keys);
    let url = s.server.url("");
    let kiosk_hex = s.kiosks[0].public_hex();
    let (start, unix) = (now(), now());
    let profile = common::test_profile(
        &descriptor,
        360,
        Custody::Sealed { url: url.clone() },
        60,
        (unix, unix + 3600),
        vec![kiosk_hex.clone()],
    );
    let options = |custody: CustodyOptions| DeploymentOptions {
        watchlist: descriptor.clone(),
        issuer_key: veilwatch::hex::hex(issuer.verifying_key().as_bytes()),
        profile: Some(profile.sign(&issuer).unwrap()),
        custody,
        kiosk_public_key: Some(kiosk_hex.clone()),
    };
    let mut session = KioskSession::new(engine);
    session.set_authority_timeout(120_000.0);

    // The descriptor is refused under another custody, and under another authority than the profile's.
    let refused =
        session.begin_load_deployment(options(CustodyOptions::Authority { url: url.clone() }), unix).err().unwrap();
    assert_eq!(refused.code().as_str(), "PROFILE_CUSTODY_MISMATCH", "{refused}");
    let refused = session
        .begin_load_deployment(options(CustodyOptions::Sealed { url: "http://127.0.0.1:1".into() }), unix)
        .err()
        .unwrap();
    assert_eq!(refused.code().as_str(), "PROFILE_CUSTODY_MISMATCH", "{refused}");
    let mut tampered = options(CustodyOptions::Sealed { url: url.clone() });
    tampered.watchlist = String::from_utf8(descriptor.clone())
        .unwrap()
        .replace("\"thresholdMilli\":360", "\"thresholdMilli\":200")
        .into_bytes();
    let refused = session.begin_load_deployment(tampered, unix).err().unwrap();
    assert_eq!(
        refused.code().as_str(),
        "PROFILE_WATCHLIST_MISMATCH",
        "the profile names the descriptor's bytes: {refused}"
    );

    assert!(
        session.begin_load_deployment(options(CustodyOptions::Sealed { url: url.clone() }), unix).unwrap().is_none(),
        "no key check"
    );
    let status = session.status(unix);
    assert!(status.matching);
    assert_eq!((status.custody, status.tables, status.threshold), (Some("bfv-sealed"), 0, 360));
    assert!(status.custody_note.unwrap().starts_with("sealed custody: the list never leaves the authority"));
    assert_eq!(status.entries, 8192, "the gallery's rows, padded to a whole block");
    assert!(status.expected_false_alerts_per_1000.is_none(), "no LSH calibration applies to sealed custody");
    assert_eq!(session.deployment_id(), Some(s.id_hex.clone()));
    assert!(session.matcher().is_none() && session.operating_point_chart().is_none());

    let http = Http::new(&s.server, s.kiosks[0].signer(&s.id));
    let ms = |seconds: f64| (start as f64 + seconds) * 1000.0;
    let listed = Frame::decode(&std::fs::read(&photo).unwrap()).unwrap();
    let first = session.process_frame(&listed, ms(0.0)).unwrap();
    assert_eq!(
        first.queries.iter().map(|q| q.path.as_str()).collect::<Vec<_>>(),
        [SEED_PATH],
        "the first face registers a key pair first"
    );
    assert_eq!(session.pending_queries(), 1);
    let (alerts, paths) = drive(&mut session, &http, first.queries);
    assert_eq!(
        paths,
        [SEED_PATH, KEYS_PATH, SEED_PATH, MATCH_PATH, CLAIM_PATH, PROVE_PATH],
        "one face's steps, in order"
    );
    let labels: Vec<&str> = alerts.iter().map(|a| a.record.as_ref().unwrap().label.as_str()).collect();
    assert_eq!(labels, [name.as_str()], "the listed person's other photo alerts with their record");
    assert_eq!(
        (alerts[0].tables, alerts[0].implied_cosine),
        (0, 0.36),
        "no tables under sealed custody: the threshold the quantised similarity reached"
    );
    assert!(!alerts[0].probe.rgba().is_empty(), "the reviewer sees the probe");
    assert_eq!(session.pending_queries(), 0);
    let audit = session.audit_log();
    assert!(audit.contains("\"custody\":\"bfv-sealed\""), "the load and the alert name the custody");
    assert!(!audit.contains(&name), "the log names no one before the review");

    // The track ends; a stranger's face goes the same way (re-keyed after the claim) and raises nothing.
    let blank = Frame::from_rgba(250, 250, &vec![128; 250 * 250 * 4]).unwrap();
    session.process_frame(&blank, ms(10.0)).unwrap();
    let unlisted = Frame::decode(&std::fs::read(&stranger).unwrap()).unwrap();
    let second = session.process_frame(&unlisted, ms(20.0)).unwrap();
    // This photo shows a second face in the background: both are matched, one after the other
    // (the authority holds one key pair per kiosk), the second waiting its turn.
    let good = second.faces.iter().filter(|face| face.quality.passed()).count();
    assert_eq!(
        (second.queries.len(), session.pending_queries()),
        (1, good),
        "one face at the authority, the rest waiting"
    );
    let (alerts, paths) = drive(&mut session, &http, second.queries);
    assert!(alerts.is_empty(), "a stranger is not listed");
    assert!(paths.contains(&MATCH_PATH.to_owned()) && paths.contains(&CLAIM_PATH.to_owned()), "{paths:?}");
    assert_eq!(paths[..2], [SEED_PATH, KEYS_PATH], "a new key pair after the positive claim");
    let all: Vec<String> = http.sent.borrow().iter().map(|sent| sent.path.clone()).collect();
    assert!(all.iter().all(|path| path.starts_with("/v1/sealed/")), "never /v1/evaluate or /v1/disclose: {all:?}");
    assert_eq!(session.counters().match_attempts, 1 + good as u64, "{:?}", session.counters());

    // The authority suspends the kiosk (the Worker reports its 403 `suspended` in the words of
    // www/kiosk/authority-client.js): matching pauses, with an audit line, until the next load.
    session.process_frame(&blank, ms(30.0)).unwrap();
    let third = session.process_frame(&listed, ms(40.0)).unwrap();
    let refusal = format!("the authority at {url} refused (HTTP 403, suspended): this kiosk is suspended");
    let suspended = session.fail_query(third.queries[0].id, &refusal).unwrap();
    assert!(suspended.queries.is_empty(), "no next face is sent to an authority that suspended the kiosk");
    let status = session.status(now());
    assert!(!status.matching && status.paused.as_deref().unwrap().contains("suspended"), "{status:?}");
    assert!(session.audit_log().contains("\"outcome\":\"suspended\""));
    session.process_frame(&blank, ms(50.0)).unwrap();
    assert!(session.process_frame(&unlisted, ms(60.0)).unwrap().queries.is_empty(), "paused");
    assert!(session
        .begin_load_deployment(options(CustodyOptions::Sealed { url: url.clone() }), now())
        .unwrap()
        .is_none());
    assert!(session.status(now()).matching, "loaded again, matching resumes");

    // Stopped mid-face: the face and the key pair are dropped, and a late answer is an unknown query.
    session.process_frame(&blank, ms(70.0)).unwrap();
    let fourth = session.process_frame(&listed, ms(80.0)).unwrap();
    let query = &fourth.queries[0];
    assert_eq!(query.deployment, s.id_hex, "each query names its deployment");
    session.stop();
    assert_eq!(session.pending_queries(), 0);
    let late = session.complete_query(query.id, &[0; 48], now()).err().unwrap();
    assert_eq!(late.code().as_str(), "QUERY_UNKNOWN");
}
