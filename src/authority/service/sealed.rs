//! Sealed custody's routes (DESIGN §3.4; the bodies are `sealed::protocol`'s, the scheme is
//! `sealed::authority`'s), behind the same admission, store and budgets as `/v1/evaluate`:
//!
//! - `POST /v1/sealed/seed`: a fresh (id, seed) for this kiosk, replacing any it held. Every
//!   `a`-part the authority computes on is expanded from a seed it issued (the key's and each
//!   query's), and each seed is taken from the store when used, so it serves once: a kiosk that
//!   sent a ciphertext under a seed never encrypts under it again (two queries against one `a`
//!   would hand the authority the difference of two probes). A kiosk asks here before registering
//!   keys and after any refused match; every answered match carries the next seed, so a working
//!   kiosk makes one request per face.
//! - `POST /v1/sealed/keys`: the kiosk's BFV public key (`c0` against the issued seed's `a`) and
//!   rotation key, parsed against the fixed parameter set, stored per (deployment, kiosk); a new
//!   registration replaces the old (re-keying).
//! - `POST /v1/sealed/match`: one face. The seed is taken, the query parsed (shape, canonical
//!   residues; 400 `malformed_query` otherwise), the face charged to the kiosk's budgets as an
//!   evaluation is (429), then the masked answer computed off the async workers. The answer's slot
//!   map (which slot is which row, dummy or decoy) is kept for [`QUERY_TTL_S`], bound to (kiosk,
//!   query id). The `Server-Timing` header gives the computation's time (`answer;dur=MS`).
//! - `POST /v1/sealed/claim`: the kiosk's last query's positive slots, each with a commitment to
//!   its decrypted value (`sealed::claim`), accepted once (the slot map is taken from the store; a
//!   replayed, unknown or expired query is 404 `unknown_query`). A claim that names a slot that is
//!   not positive by construction (a dummy, or outside the answer) or leaves out a decoy is refused
//!   (403 `claim_refused`) and counted; so is a query left unclaimed that held a decoy, found at the
//!   kiosk's next match; the second refusal suspends the kiosk (403 `suspended` on every sealed
//!   route from then on). Otherwise the answer opens the claimed slots' masks (r, r'), kept with
//!   the claim for [`QUERY_TTL_S`]; proofs that never come are a counted refusal at the next match.
//! - `POST /v1/sealed/prove`: one range proof per claimed slot that x' = (v − r')/r ≥ 1 for the
//!   committed v, accepted once. A proof that does not verify is a counted refusal. All verified,
//!   each claimed real row releases its reviewer material (as registered) and its record key,
//!   charged to the disclosure caps and logged as a disclosure; decoys release nothing.
//!
//! **What the claim still leaks**: the opened masks give the kiosk the exact score of each slot it
//! claims (`sealed::claim` says how and what it costs), and a kiosk running its own code may claim
//! a negative real row to read its score before its proof fails (a counted refusal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::{admit, finish, octets, over_budget, Admitted, Refusal, Service, DISCLOSURES, FACES};
use crate::authority::budget::{self, Charge};
use crate::authority::credential::{Credential, CredentialRefusal};
use crate::authority::disclosure::Disclosure;
use crate::blind::prf::MasterSecret;
use crate::hex::hex;
use crate::sealed::authority::{
    answer, AnswerOptions, RegisteredKiosk, SealedGallery, SlotContent, SlotMap, SlotOpening,
};
use crate::sealed::claim::verify;
use crate::sealed::gallery::Gallery;
use crate::sealed::kiosk::system_rng;
use crate::sealed::protocol::{
    ClaimAnswer, ClaimRequest, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, ProofRequest, Released,
    ID_BYTES,
};
use crate::sealed::{wire, SealedError};

pub use crate::sealed::protocol::{
    CLAIM_BODY_BYTES, CLAIM_PATH, KEYS_PATH, MATCH_PATH, PROVE_BODY_BYTES, PROVE_PATH, SEED_PATH,
};
/// The largest `/v1/sealed/keys` body: a public key's `c0` (~0.3 MB) and one rotation key (~1 MB).
pub const KEYS_BODY_BYTES: usize = 4 << 20;
/// The largest `/v1/sealed/match` body: the seed id and one `c0` (~0.3 MB).
pub const MATCH_BODY_BYTES: usize = ID_BYTES + (512 << 10);
/// How long an issued seed waits to be used.
pub const SEED_TTL_S: u64 = 3600;
/// How long an answered query waits for its claim.
pub const QUERY_TTL_S: u64 = 120;
/// What the kiosk's pending query awaits (the byte after its id): a claim, of an answer that held
/// a decoy or did not; or, once the masks are open, proofs.
const PENDING_PLAIN: u8 = 0;
const PENDING_DECOY: u8 = 1;
const PENDING_PROOFS: u8 = 2;
/// Refused claims that suspend a kiosk.
pub const REFUSALS_BEFORE_SUSPENSION: u64 = 2;

/// The galleries opened so far (by deployment, for the registration issued at a time) and the
/// kiosks' parsed keys (by kiosk, for the hash of their stored registration): parsed once, not per
/// face, and one entry per deployment and per kiosk (a re-keyed kiosk's old keys are replaced).
pub struct SealedState {
    master: MasterSecret,
    galleries: Mutex<HashMap<[u8; 16], OpenedAt>>,
    kiosks: Mutex<HashMap<String, ([u8; 32], ParsedKeys)>>,
}

type ParsedKeys = Arc<(wire::Seed, RegisteredKiosk)>;
/// A gallery opened for the registration issued at the time given.
type OpenedAt = (i64, Arc<OpenGallery>);

/// A deployment's gallery, opened: the rows the answer computes on, and each row's handle and
/// record key for the claim.
pub struct OpenGallery {
    rows: SealedGallery,
    gallery: Gallery,
}

impl SealedState {
    pub fn new(master: &MasterSecret) -> SealedState {
        SealedState {
            master: MasterSecret::from_bytes(master.as_bytes()).expect("a master secret has its own length"),
            galleries: Mutex::new(HashMap::new()),
            kiosks: Mutex::new(HashMap::new()),
        }
    }
}

fn refusal(status: StatusCode, token: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { status, token, message: message.into(), retry_after: None, told: true }
}

fn malformed(token: &'static str, error: SealedError) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, token, error.to_string())
}

/// The store keys of one kiosk's sealed state.
struct Keys {
    prefix: String,
}

impl Keys {
    fn of(admitted: &Admitted) -> Keys {
        Keys { prefix: format!("{}:{}", admitted.deployment_hex(), admitted.kiosk_hex()) }
    }
    fn seed(&self) -> String {
        format!("seed:{}", self.prefix)
    }
    fn bfv_keys(&self) -> String {
        format!("keys:{}", self.prefix)
    }
    fn pending(&self) -> String {
        format!("pending:{}", self.prefix)
    }
    fn slot_map(&self, query: &[u8; ID_BYTES]) -> String {
        format!("query:{}:{}", self.prefix, hex(query))
    }
    fn claim(&self, query: &[u8; ID_BYTES]) -> String {
        format!("claim:{}:{}", self.prefix, hex(query))
    }
    fn suspended(&self) -> String {
        format!("suspended:{}", self.prefix)
    }
}

/// Admission plus the suspension check every sealed route makes.
async fn admit_sealed(
    service: &Service,
    credential: Result<Credential, CredentialRefusal>,
    path: &str,
    body: &[u8],
) -> Result<(Admitted, Keys), Refusal> {
    let admitted = admit(service, credential, path, body).await?;
    let keys = Keys::of(&admitted);
    if service.store.get_sealed(&keys.suspended(), admitted.now).await?.is_some() {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "suspended",
            "this kiosk is suspended after two refused sealed claims; the issuer must register a new kiosk key",
        ));
    }
    Ok((admitted, keys))
}

/// Counts a refused claim; the second suspends the kiosk. The refusal to answer.
async fn count_refusal(service: &Service, admitted: &Admitted, keys: &Keys, why: &'static str) -> Refusal {
    let charges = budget::claim_refusal(
        &admitted.deployment_hex(),
        &admitted.kiosk_hex(),
        REFUSALS_BEFORE_SUSPENSION,
        admitted.now,
    );
    tracing::warn!(kiosk = admitted.kiosk_hex(), deployment = admitted.deployment_hex(), why, "refused sealed claim");
    match service.store.charge(&charges, admitted.now).await {
        Err(e) => e.into(),
        Ok(None) => refusal(
            StatusCode::FORBIDDEN,
            "claim_refused",
            "the claim does not match the answer (a claimed slot is not positive, or a positive slot was not \
             claimed); one more refused claim suspends this kiosk",
        ),
        Ok(Some(_)) => {
            match service.store.put_sealed(&keys.suspended(), &admitted.now.to_le_bytes(), None, admitted.now).await {
                Err(e) => e.into(),
                Ok(()) => {
                    tracing::error!(
                        kiosk = admitted.kiosk_hex(),
                        deployment = admitted.deployment_hex(),
                        "kiosk suspended"
                    );
                    refusal(
                        StatusCode::FORBIDDEN,
                        "suspended",
                        "the claim does not match the answer; this was the kiosk's second refused claim, and it is \
                     suspended: the issuer must register a new kiosk key",
                    )
                }
            }
        }
    }
}

/// A fresh seed for the kiosk, stored (replacing any) until used.
async fn issue_seed(service: &Service, keys: &Keys, now: i64) -> Result<IssuedSeed, Refusal> {
    let mut issued = IssuedSeed { id: [0; ID_BYTES], seed: [0; 32] };
    OsRng.fill_bytes(&mut issued.id);
    OsRng.fill_bytes(&mut issued.seed);
    service.store.put_sealed(&keys.seed(), &issued.to_bytes(), Some(SEED_TTL_S), now).await?;
    Ok(issued)
}

/// Takes the kiosk's issued seed if it has the id `id`.
async fn take_seed(service: &Service, keys: &Keys, id: &[u8; ID_BYTES], now: i64) -> Result<wire::Seed, Refusal> {
    let stored = service.store.take_sealed(&keys.seed(), now).await?;
    match stored.map(|bytes| IssuedSeed::parse(&bytes)) {
        Some(Ok(issued)) if &issued.id == id => Ok(issued.seed),
        Some(Err(_)) => Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a stored seed does not parse")),
        _ => Err(refusal(
            StatusCode::CONFLICT,
            "unknown_seed",
            "no seed with this id is outstanding for this kiosk (used, expired, or never issued); ask \
             /v1/sealed/seed for a new one and encrypt under it",
        )),
    }
}

/// Runs `work` on the blocking pool (BFV parsing and the answer take milliseconds to seconds).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the sealed computation failed"))
}

impl SealedState {
    /// The deployment's opened gallery under the registration issued at `issued`.
    async fn gallery(&self, service: &Service, admitted: &Admitted) -> Result<Arc<OpenGallery>, Refusal> {
        let (deployment, issued) = (admitted.credential.deployment.0, admitted.registration.issued);
        if let Some((at, opened)) = self.galleries.lock().unwrap_or_else(|e| e.into_inner()).get(&deployment) {
            if *at == issued {
                return Ok(opened.clone());
            }
        }
        let sealed = service.store.sealed_gallery(&deployment).await?.ok_or_else(|| {
            refusal(StatusCode::NOT_FOUND, "not_sealed", "this deployment is not registered for sealed custody")
        })?;
        let gallery = Gallery::open(&sealed, &self.master, &deployment).map_err(|e| {
            tracing::error!(deployment = admitted.deployment_hex(), "the registered sealed gallery does not open: {e}");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "gallery_unavailable",
                "the deployment's sealed gallery does not open with this authority's master secret",
            )
        })?;
        let rows = SealedGallery::new(gallery.entries.iter().map(|e| e.template.clone()).collect());
        let opened = Arc::new(OpenGallery { rows, gallery });
        self.galleries.lock().unwrap_or_else(|e| e.into_inner()).insert(deployment, (issued, opened.clone()));
        Ok(opened)
    }

    /// The kiosk's registered keys, parsed (cached by the hash of what the store holds).
    async fn kiosk(&self, service: &Service, keys: &Keys, now: i64) -> Result<ParsedKeys, Refusal> {
        let stored = service.store.get_sealed(&keys.bfv_keys(), now).await?.ok_or_else(|| {
            refusal(
                StatusCode::CONFLICT,
                "no_sealed_keys",
                "this kiosk has no sealed-custody keys registered; POST them to /v1/sealed/keys first",
            )
        })?;
        let digest: [u8; 32] = Sha256::digest(&stored).into();
        if let Some((at, parsed)) = self.kiosks.lock().unwrap_or_else(|e| e.into_inner()).get(&keys.prefix) {
            if *at == digest {
                return Ok(parsed.clone());
            }
        }
        let parsed = blocking(move || -> Result<_, SealedError> {
            if stored.len() < 32 {
                return Err(SealedError::Malformed("stored keys are truncated"));
            }
            let (seed, request) = stored.split_at(32);
            let request = KeysRequest::parse(request)?;
            let seed: wire::Seed = seed.try_into().expect("32 bytes");
            Ok((seed, RegisteredKiosk::register(&seed, request.public_key, request.rotation_key)?))
        })
        .await?
        .map_err(|e| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("stored keys: {e}")))?;
        let parsed = Arc::new(parsed);
        self.kiosks.lock().unwrap_or_else(|e| e.into_inner()).insert(keys.prefix.clone(), (digest, parsed.clone()));
        Ok(parsed)
    }
}

pub(super) async fn seed(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let (admitted, keys) = admit_sealed(&service, credential.clone(), SEED_PATH, &body).await?;
        if !body.is_empty() {
            return Err(refusal(StatusCode::BAD_REQUEST, "malformed_request", "a seed request has an empty body"));
        }
        Ok(octets(issue_seed(&service, &keys, admitted.now).await?.to_bytes()))
    }
    .await;
    finish("sealed-seed", credential.as_ref().ok(), outcome)
}

pub(super) async fn keys(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let (admitted, keys) = admit_sealed(&service, credential.clone(), KEYS_PATH, &body).await?;
        let seed_id = KeysRequest::parse(&body).map_err(|e| malformed("malformed_request", e))?.seed_id;
        let seed = take_seed(&service, &keys, &seed_id, admitted.now).await?;
        let checked = body.clone();
        blocking(move || -> Result<(), SealedError> {
            let request = KeysRequest::parse(&checked)?;
            RegisteredKiosk::register(&seed, request.public_key, request.rotation_key).map(|_| ())
        })
        .await?
        .map_err(|e| malformed("malformed_keys", e))?;
        let stored = [&seed[..], &body[..]].concat();
        service.store.put_sealed(&keys.bfv_keys(), &stored, None, admitted.now).await?;
        tracing::info!(kiosk = admitted.kiosk_hex(), deployment = admitted.deployment_hex(), "sealed keys registered");
        Ok((StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response())
    }
    .await;
    finish("sealed-keys", credential.as_ref().ok(), outcome)
}

pub(super) async fn match_face(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let (admitted, keys) = admit_sealed(&service, credential.clone(), MATCH_PATH, &body).await?;
        let request = MatchRequest::parse(&body).map_err(|e| malformed("malformed_query", e))?;
        let query_id = request.seed_id;
        let seed = take_seed(&service, &keys, &query_id, admitted.now).await?;
        let sealed = &service.sealed;
        let gallery = sealed.gallery(&service, &admitted).await?;
        let kiosk = sealed.kiosk(&service, &keys, admitted.now).await?;
        // The previous query, unclaimed or unproven: its slot map and claim go (no late claim or
        // proof is accepted), and a decoy it held was missed, or its proofs never came.
        if let Some(pending) = service.store.take_sealed(&keys.pending(), admitted.now).await? {
            if let Ok(previous) = <[u8; ID_BYTES]>::try_from(&pending[..ID_BYTES.min(pending.len())]) {
                service.store.take_sealed(&keys.slot_map(&previous), admitted.now).await?;
                service.store.take_sealed(&keys.claim(&previous), admitted.now).await?;
            }
            match pending.get(ID_BYTES) {
                Some(&PENDING_DECOY) => {
                    return Err(count_refusal(&service, &admitted, &keys, "an unclaimed query held a decoy").await);
                }
                Some(&PENDING_PROOFS) => {
                    return Err(count_refusal(&service, &admitted, &keys, "a claim's proofs never came").await);
                }
                _ => {}
            }
        }
        wire::seeded_ciphertext(request.c0, &seed).map_err(|e| malformed("malformed_query", e))?;
        let charges = budget::face(
            &admitted.registration.budgets,
            &admitted.deployment_hex(),
            &admitted.kiosk_hex(),
            admitted.now,
        );
        if let Some(refused) = service.store.charge(&charges, admitted.now).await? {
            return Err(over_budget(&refused, admitted.now));
        }
        let options = AnswerOptions {
            threshold: gallery.gallery.threshold(),
            decoy_probability: f64::from(gallery.gallery.decoy_milli) / 1000.0,
        };
        let c0 = body.slice(ID_BYTES..);
        let (gallery_for_answer, kiosk_for_answer) = (gallery.clone(), kiosk.clone());
        let started = Instant::now();
        let (blocks, opening) = blocking(move || {
            answer(&gallery_for_answer.rows, &kiosk_for_answer.1, &seed, &c0, options, &mut system_rng())
        })
        .await?
        .map_err(|e| malformed("malformed_query", e))?;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let map = opening.slot_map();
        let awaits = if map.decoys().is_empty() { PENDING_PLAIN } else { PENDING_DECOY };
        service.store.put_sealed(&keys.slot_map(&query_id), &map.to_bytes(), Some(QUERY_TTL_S), admitted.now).await?;
        service.store.put_sealed(&keys.pending(), &[&query_id[..], &[awaits]].concat(), None, admitted.now).await?;
        let next = issue_seed(&service, &keys, admitted.now).await?;
        metrics::counter!(FACES, "deployment" => admitted.deployment_hex(), "kiosk" => admitted.kiosk_hex())
            .increment(1);
        let mut response = octets(MatchAnswer { next, blocks }.to_bytes());
        if let Ok(timing) = HeaderValue::from_str(&format!("answer;dur={elapsed_ms:.1}")) {
            response.headers_mut().insert("server-timing", timing);
        }
        Ok(response)
    }
    .await;
    finish("sealed-match", credential.as_ref().ok(), outcome)
}

pub(super) async fn claim(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let (admitted, keys) = admit_sealed(&service, credential.clone(), CLAIM_PATH, &body).await?;
        let request = ClaimRequest::parse(&body).map_err(|e| malformed("malformed_request", e))?;
        let gallery = service.sealed.gallery(&service, &admitted).await?;
        let stored = service.store.take_sealed(&keys.slot_map(&request.query_id), admitted.now).await?;
        let Some(stored) = stored else { return Err(unknown_query()) };
        // The query is claimed: it is no longer pending for the next match's missed-decoy check.
        service.store.take_sealed(&keys.pending(), admitted.now).await?;
        let map = SlotMap::parse(&stored, gallery.gallery.entries.len())
            .map_err(|e| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        let mut opened = Vec::with_capacity(request.slots.len());
        for claimed in &request.slots {
            match map.get(claimed.block, claimed.slot) {
                Some(slot @ SlotOpening { content: SlotContent::Row(_) | SlotContent::Decoy, .. }) => opened.push(slot),
                Some(SlotOpening { content: SlotContent::Dummy, .. }) | None => {
                    return Err(count_refusal(&service, &admitted, &keys, "a claimed slot is never positive").await);
                }
            }
        }
        let positions = request.positions();
        if map.decoys().iter().any(|decoy| !positions.contains(decoy)) {
            return Err(count_refusal(&service, &admitted, &keys, "a decoy was not claimed").await);
        }
        let opening = Opening { masks: opened.iter().map(|o| (o.r, o.r_prime)).collect() };
        let rows: Vec<u8> = opened
            .iter()
            .flat_map(|o| {
                match o.content {
                    SlotContent::Row(row) => row as u32,
                    _ => u32::MAX,
                }
                .to_le_bytes()
            })
            .collect();
        let state = [&(body.len() as u32).to_le_bytes()[..], &body, &opening.to_bytes(), &rows].concat();
        service.store.put_sealed(&keys.claim(&request.query_id), &state, Some(QUERY_TTL_S), admitted.now).await?;
        if !request.slots.is_empty() {
            // The masks are open: proofs that never come are a refusal at the next match.
            let pending = [&request.query_id[..], &[PENDING_PROOFS]].concat();
            service.store.put_sealed(&keys.pending(), &pending, None, admitted.now).await?;
        }
        Ok(octets(opening.to_bytes()))
    }
    .await;
    finish("sealed-claim", credential.as_ref().ok(), outcome)
}

fn unknown_query() -> Refusal {
    refusal(
        StatusCode::NOT_FOUND,
        "unknown_query",
        format!(
            "no answered query with this id awaits a claim or its proofs from this kiosk (never answered, already \
             claimed, or older than {QUERY_TTL_S} s)"
        ),
    )
}

/// A stored claim: the request, the masks opened for it and each claimed slot's row (`u32::MAX`
/// for a decoy).
struct StoredClaim {
    request: ClaimRequest,
    opening: Opening,
    rows: Vec<Option<usize>>,
}

impl StoredClaim {
    fn parse(bytes: &[u8]) -> Result<StoredClaim, SealedError> {
        let corrupt = SealedError::Malformed("a stored claim does not parse");
        let length = bytes.get(..4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
        let request_bytes = length.and_then(|l| bytes.get(4..4 + l)).ok_or(corrupt)?;
        let request = ClaimRequest::parse(request_bytes)?;
        let count = request.slots.len();
        let rest = &bytes[4 + request_bytes.len()..];
        let opening_length = 2 + 16 * count;
        if rest.len() != opening_length + 4 * count {
            return Err(SealedError::Malformed("a stored claim does not parse"));
        }
        let opening = Opening::parse(&rest[..opening_length])?;
        let rows = rest[opening_length..]
            .chunks_exact(4)
            .map(|c| match u32::from_le_bytes(c.try_into().expect("4 bytes")) {
                u32::MAX => None,
                row => Some(row as usize),
            })
            .collect();
        Ok(StoredClaim { request, opening, rows })
    }
}

pub(super) async fn prove(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let (admitted, keys) = admit_sealed(&service, credential.clone(), PROVE_PATH, &body).await?;
        let request = ProofRequest::parse(&body).map_err(|e| malformed("malformed_request", e))?;
        let gallery = service.sealed.gallery(&service, &admitted).await?;
        let stored = service.store.take_sealed(&keys.claim(&request.query_id), admitted.now).await?;
        let Some(stored) = stored else { return Err(unknown_query()) };
        service.store.take_sealed(&keys.pending(), admitted.now).await?;
        let claim = StoredClaim::parse(&stored)
            .map_err(|e| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        if claim.rows.iter().flatten().any(|&row| row >= gallery.gallery.entries.len()) {
            return Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a stored claim names no row"));
        }
        let proofs = request.proofs;
        let verified = if proofs.len() == claim.request.slots.len() {
            blocking(move || {
                claim.request.slots.iter().zip(&claim.opening.masks).zip(&proofs).all(
                    |((slot, &(r, r_prime)), proof)| {
                        verify(&slot.commitment, r, r_prime, proof, &claim.request.query_id, slot.block, slot.slot)
                    },
                )
            })
            .await?
        } else {
            false
        };
        if !verified {
            return Err(count_refusal(&service, &admitted, &keys, "a claim's range proof does not verify").await);
        }
        let mut released = Vec::new();
        let (deployment_hex, kiosk_hex) = (admitted.deployment_hex(), admitted.kiosk_hex());
        for row in claim.rows.iter().flatten() {
            let entry = &gallery.gallery.entries[*row];
            let charges: Vec<Charge> =
                budget::disclosure(&admitted.registration.budgets, &deployment_hex, &kiosk_hex, admitted.now);
            if let Some(refused) = service.store.charge(&charges, admitted.now).await? {
                return Err(over_budget(&refused, admitted.now));
            }
            let material =
                service.store.material(&admitted.credential.deployment.0, &entry.handle).await?.ok_or_else(|| {
                    refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "unknown_handle",
                        "no reviewer material is registered for a gallery entry",
                    )
                })?;
            let disclosure = Disclosure {
                deployment: admitted.credential.deployment,
                kiosk: admitted.credential.kiosk,
                handle: material.handle,
                time: admitted.now,
            };
            service.store.log_disclosure(&disclosure).await?;
            tracing::info!(
                endpoint = "sealed-prove",
                deployment = deployment_hex,
                kiosk = kiosk_hex,
                handle = material.handle.to_hex(),
                time = admitted.now,
                "released reviewer material on a proven sealed claim"
            );
            metrics::counter!(DISCLOSURES, "deployment" => deployment_hex.clone(), "kiosk" => kiosk_hex.clone())
                .increment(1);
            released.push(Released {
                handle: material.handle.to_hex(),
                record_key: hex(&entry.record_key[..]),
                sealed: hex(&material.sealed.0),
            });
        }
        let json = serde_json::to_vec(&ClaimAnswer { released })
            .map_err(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the answer does not serialise"))?;
        Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], json).into_response())
    }
    .await;
    finish("sealed-prove", credential.as_ref().ok(), outcome)
}
