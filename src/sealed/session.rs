//! The kiosk's side of sealed custody's protocol (`/v1/sealed/*`, see `sealed::protocol`): one
//! face from its quantised probe to the released records, sans I/O. The session never sends
//! anything itself: each step returns the next signed POST to make ([`Request`]: path and body) and
//! takes the answer's body, so the browser's Worker drives it with `fetch` and the CLI with its HTTP
//! client ([`SealedSession::identify`], a loop over the same steps).
//!
//! One face: [`SealedSession::start_face`] → [`Request`]; then [`SealedSession::on_answer`] with
//! each answer's body → [`Step::Send`] (the next request) until [`Step::Done`] (the
//! [`FaceOutcome`]). A request that got no usable answer ends the face through
//! [`SealedSession::on_failure`]. The requests of one face, in order: `/v1/sealed/seed` and
//! `/v1/sealed/keys` when it re-keys first, `/v1/sealed/seed` unless the previous answer named the
//! next seed, `/v1/sealed/match`, `/v1/sealed/claim`, and `/v1/sealed/prove` when it claimed a slot.
//!
//! Guarantees: the BFV secret key lives only in this session's memory (never serialised); every
//! seed is used for one ciphertext at most, whatever the authority answered (a refused match is
//! followed by a fresh `/v1/sealed/seed`), and a seed the authority issues a second time under one
//! key pair is refused (two ciphertexts against one `a`-part differ by the difference of their
//! plaintexts plus small noise: a malicious authority that repeats a seed would read how two faces
//! differ, or a face itself against the public key's seed); the kiosk claims every positive slot of
//! every answer, an empty claim included, so that it never leaves a decoy unclaimed, by committing
//! to each slot's value and proving it positive once the masks are open (`sealed::claim`: the
//! value itself never leaves); it re-keys (new key pair, new seed, `/v1/sealed/keys`) after every
//! claim of a positive slot, after [`FACES_PER_KEY`] faces, and after an answer outside the honest
//! range (DESIGN §3.4, decryption-oracle hygiene), which it reports as [`SealedError::OutOfRange`]
//! without claiming. A face abandoned midway (a refusal, a network error, [`SealedSession::stop`])
//! spends its seed all the same, and a face abandoned after its key pair decrypted a positive
//! answer leaves the session to re-key.

use std::collections::HashSet;

use super::claim::{self, CommitmentSecret};
use super::kiosk::{system_rng, PositiveValues, SealedKiosk};
use super::protocol::{
    ClaimAnswer, ClaimRequest, ClaimedSlot, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, ProofRequest,
    CLAIM_PATH, KEYS_PATH, MATCH_PATH, PROVE_PATH, SEED_PATH,
};
use super::quantise::Quantised;
use super::SealedError;
use crate::blind::material::MaterialKeys;
use crate::blind::record::EntryRecord;
use crate::blind::shares::KEY_BYTES;
use crate::hex::from_hex;

/// Faces one key pair serves at most.
pub const FACES_PER_KEY: u32 = 1000;

/// A signed POST to the authority: the answer's body, or why not (its refusal, in words).
pub trait SealedTransport {
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String>;
}

/// The next request of a face: POST `body` to `path` of the authority, signed with the kiosk's
/// credential, and hand the answer's body to [`SealedSession::on_answer`].
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub path: &'static str,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request({}, {} bytes)", self.path, self.body.len())
    }
}

/// What the session wants after an answer.
#[derive(Debug)]
pub enum Step {
    /// Send this request next.
    Send(Request),
    /// The face is finished.
    Done(FaceOutcome),
}

/// What can go wrong for one face.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The authority refused a request, or could not be reached.
    #[error("{0}")]
    Authority(String),
    /// The scheme refused an answer (malformed, or outside the honest range: the kiosk re-keys).
    #[error(transparent)]
    Sealed(#[from] SealedError),
    /// A released record does not open with its record key.
    #[error("the authority released material that does not open with its record key")]
    BadMaterial,
    /// `start_face` while a face is still waiting for an answer.
    #[error("a face is still waiting for the authority's answer; finish or abandon it first")]
    FaceInProgress,
    /// `on_answer` or `on_failure` with no face waiting for an answer.
    #[error("no face is waiting for an answer")]
    NoFaceInProgress,
}

impl SessionError {
    /// A stable code for programs (the browser's `Error.code`), so that a page never parses English.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Authority(_) => "AUTHORITY_REFUSED",
            SessionError::Sealed(SealedError::Malformed(_)) => "SEALED_MALFORMED_ANSWER",
            SessionError::Sealed(SealedError::OutOfRange(_)) => "SEALED_OUT_OF_RANGE",
            SessionError::Sealed(_) => "SEALED_INTERNAL",
            SessionError::BadMaterial => "SEALED_BAD_MATERIAL",
            SessionError::FaceInProgress => "SEALED_FACE_IN_PROGRESS",
            SessionError::NoFaceInProgress => "SEALED_NO_FACE_IN_PROGRESS",
        }
    }
}

/// One listed person whose row this face matched, as released by the authority and opened here.
#[derive(Debug, Clone)]
pub struct Match {
    pub handle: String,
    pub record: EntryRecord,
}

/// What one face came to.
#[derive(Debug, Clone, Default)]
pub struct FaceOutcome {
    /// Positive slots claimed (real matches and decoys alike: the kiosk cannot tell them apart).
    pub claimed: usize,
    /// The listed people the claim released.
    pub matches: Vec<Match>,
    /// Bytes of the match request and of its answer.
    pub bytes_up: usize,
    pub bytes_down: usize,
    /// Bytes of the claim and its proofs, and of the opening and the released records.
    pub claim_bytes_up: usize,
    pub claim_bytes_down: usize,
    /// Whether this face registered a new key pair first (and its bytes).
    pub keys_bytes_up: usize,
}

/// One face's claim (DESIGN §3.4 step 3, `sealed::claim`): commit to every positive slot's value,
/// learn the slots' masks, prove each slot positive, open what the authority released. Every call
/// into `sealed::claim` is here, so that a change to the claim's messages changes this type only.
struct Claim {
    request: ClaimRequest,
    secrets: Vec<CommitmentSecret>,
    /// Waiting for the released records (the proofs were sent).
    proved: bool,
}

impl Claim {
    /// Commits to each positive slot's value: the claim (sent even when empty).
    fn commit(query_id: [u8; 16], positives: &PositiveValues) -> (Claim, Request) {
        let (slots, secrets): (Vec<ClaimedSlot>, Vec<CommitmentSecret>) = positives
            .iter()
            .map(|&(block, slot, value)| {
                let (commitment, secret) = claim::commit(value);
                (ClaimedSlot { block, slot, commitment }, secret)
            })
            .unzip();
        let request = ClaimRequest { query_id, slots };
        let body = request.to_bytes();
        (Claim { request, secrets, proved: false }, Request { path: CLAIM_PATH, body })
    }

    /// The opening of the masks: the proofs to send, or `None` when nothing was claimed.
    fn prove(&mut self, opening: &[u8]) -> Result<Option<Request>, SessionError> {
        let opening = Opening::parse(opening)?;
        if opening.masks.len() != self.request.slots.len() {
            return Err(SealedError::OutOfRange("the opening does not answer the claim").into());
        }
        if self.request.slots.is_empty() {
            return Ok(None);
        }
        let proofs = self
            .request
            .slots
            .iter()
            .zip(&self.secrets)
            .zip(&opening.masks)
            .map(|((claimed, secret), &(r, r_prime))| {
                claim::prove(secret, r, r_prime, &self.request.query_id, claimed.block, claimed.slot)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.proved = true;
        let body = ProofRequest { query_id: self.request.query_id, proofs }.to_bytes();
        Ok(Some(Request { path: PROVE_PATH, body }))
    }

    /// The records the proofs released, opened with their record keys.
    fn open(released: &[u8], deployment: &[u8; 16]) -> Result<Vec<Match>, SessionError> {
        let released: ClaimAnswer = serde_json::from_slice(released)
            .map_err(|_| SessionError::Sealed(SealedError::Malformed("the claim's answer is not JSON")))?;
        let mut matches = Vec::with_capacity(released.released.len());
        for entry in released.released {
            let handle: [u8; 16] =
                from_hex(&entry.handle).and_then(|h| h.try_into().ok()).ok_or(SessionError::BadMaterial)?;
            let key: [u8; KEY_BYTES] =
                from_hex(&entry.record_key).and_then(|k| k.try_into().ok()).ok_or(SessionError::BadMaterial)?;
            let sealed = from_hex(&entry.sealed).ok_or(SessionError::BadMaterial)?;
            let record = MaterialKeys::derive(&zeroize::Zeroizing::new(key))
                .open(&sealed, deployment, &handle)
                .ok_or(SessionError::BadMaterial)?;
            matches.push(Match { handle: entry.handle, record });
        }
        Ok(matches)
    }
}

/// Where the face in progress is: what the request just returned is waiting for. The probe is
/// boxed: `std::mem::replace(&mut self.waiting, Waiting::Idle)` moves a variant's payload out but
/// leaves its bytes in the field, where an inline probe would outlive its face in live memory
/// (tests/e2e/wasm_heap.test.mjs found exactly that); a box leaves only a pointer there, and is
/// zeroised where it lies when the face ends.
enum Waiting {
    /// No face in progress.
    Idle,
    /// `/v1/sealed/seed` for a new key pair's public key.
    KeySeed { probe: Box<Quantised> },
    /// `/v1/sealed/keys`: the key pair is registered once it is answered.
    Keys { probe: Box<Quantised>, kiosk: SealedKiosk },
    /// `/v1/sealed/seed` for this face's query.
    QuerySeed { probe: Box<Quantised> },
    /// `/v1/sealed/match`.
    Match { query_id: [u8; 16] },
    /// `/v1/sealed/claim`, then `/v1/sealed/prove`.
    Claim(Claim),
}

/// A kiosk's sealed-custody session with one authority, for one deployment.
pub struct SealedSession {
    deployment: [u8; 16],
    kiosk: Option<SealedKiosk>,
    next: Option<IssuedSeed>,
    faces_on_key: u32,
    /// The seeds this key pair has encrypted against (its public key's included).
    used_seeds: HashSet<[u8; 32]>,
    waiting: Waiting,
    outcome: FaceOutcome,
}

impl std::fmt::Debug for SealedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedSession({}, {} faces on this key)", crate::hex::hex(&self.deployment), self.faces_on_key)
    }
}

impl SealedSession {
    pub fn new(deployment: [u8; 16]) -> SealedSession {
        SealedSession {
            deployment,
            kiosk: None,
            next: None,
            faces_on_key: 0,
            used_seeds: HashSet::new(),
            waiting: Waiting::Idle,
            outcome: FaceOutcome::default(),
        }
    }

    /// The deployment this session asks about.
    pub fn deployment(&self) -> &[u8; 16] {
        &self.deployment
    }

    /// Whether a face is waiting for an answer.
    pub fn in_progress(&self) -> bool {
        !matches!(self.waiting, Waiting::Idle)
    }

    /// Begins one face: the first request to send. Refused while another face is in progress.
    pub fn start_face(&mut self, probe: &Quantised) -> Result<Request, SessionError> {
        if self.in_progress() {
            return Err(SessionError::FaceInProgress);
        }
        self.outcome = FaceOutcome::default();
        let probe = Box::new(probe.clone());
        if self.kiosk.is_none() || self.faces_on_key >= FACES_PER_KEY {
            // A new key pair: the old one (if any) is dropped now, whatever happens next.
            self.kiosk = None;
            self.next = None;
            self.waiting = Waiting::KeySeed { probe };
            return Ok(seed_request());
        }
        self.query(probe)
    }

    /// The answer's body to the last request: the next request, or the face's outcome. An error
    /// ends the face (the session stays usable: it re-keys where the guarantees above say so). An
    /// answer outside the honest range, at whichever step, drops the key pair: the next face
    /// registers a new one.
    pub fn on_answer(&mut self, answer: &[u8]) -> Result<Step, SessionError> {
        let step = self.step(answer);
        if matches!(step, Err(SessionError::Sealed(SealedError::OutOfRange(_)))) {
            self.kiosk = None;
            self.next = None;
        }
        step
    }

    fn step(&mut self, answer: &[u8]) -> Result<Step, SessionError> {
        let waiting = std::mem::replace(&mut self.waiting, Waiting::Idle);
        match waiting {
            Waiting::Idle => Err(SessionError::NoFaceInProgress),
            Waiting::KeySeed { probe } => {
                let seed = IssuedSeed::parse(answer)?;
                let (kiosk, registration) = SealedKiosk::generate(&seed.seed, &mut system_rng())?;
                let body = KeysRequest::encode(&seed.id, &registration.public_key, &registration.rotation_key);
                self.used_seeds.clear();
                self.used_seeds.insert(seed.seed);
                self.outcome.keys_bytes_up = body.len();
                self.waiting = Waiting::Keys { probe, kiosk };
                Ok(Step::Send(Request { path: KEYS_PATH, body }))
            }
            Waiting::Keys { probe, kiosk } => {
                // Registered (the authority answers 204, no body).
                self.kiosk = Some(kiosk);
                self.faces_on_key = 0;
                self.query(probe).map(Step::Send)
            }
            Waiting::QuerySeed { probe } => {
                let seed = IssuedSeed::parse(answer)?;
                self.encrypt(probe, seed).map(Step::Send)
            }
            Waiting::Match { query_id } => {
                self.outcome.bytes_down = answer.len();
                let answer = MatchAnswer::parse(answer)?;
                self.next = Some(answer.next);
                let kiosk = self.kiosk.as_ref().ok_or(SessionError::NoFaceInProgress)?;
                let positives = match kiosk.positive_values(&answer.blocks) {
                    Ok(positives) => positives,
                    Err(e) => {
                        self.kiosk = None;
                        return Err(e.into());
                    }
                };
                self.outcome.claimed = positives.len();
                if !positives.is_empty() {
                    // Re-key after every claim of a positive slot (its bit was committed).
                    self.kiosk = None;
                }
                let (claim, request) = Claim::commit(query_id, &positives);
                self.outcome.claim_bytes_up = request.body.len();
                self.waiting = Waiting::Claim(claim);
                Ok(Step::Send(request))
            }
            Waiting::Claim(mut claim) if !claim.proved => {
                self.outcome.claim_bytes_down = answer.len();
                match claim.prove(answer)? {
                    None => Ok(Step::Done(std::mem::take(&mut self.outcome))),
                    Some(request) => {
                        self.outcome.claim_bytes_up += request.body.len();
                        self.waiting = Waiting::Claim(claim);
                        Ok(Step::Send(request))
                    }
                }
            }
            Waiting::Claim(_) => {
                self.outcome.claim_bytes_down += answer.len();
                self.outcome.matches = Claim::open(answer, &self.deployment)?;
                Ok(Step::Done(std::mem::take(&mut self.outcome)))
            }
        }
    }

    /// The last request got no usable answer (`reason`: the authority's refusal, a network error,
    /// a timeout): the face ends, as [`SessionError::Authority`] with the reason. Its seed stays
    /// spent; a key pair whose registration got no answer is dropped.
    pub fn on_failure(&mut self, reason: &str) -> SessionError {
        if matches!(std::mem::replace(&mut self.waiting, Waiting::Idle), Waiting::Idle) {
            return SessionError::NoFaceInProgress;
        }
        SessionError::Authority(reason.to_owned())
    }

    /// Ends the face in progress, if any, and drops the key pair (the BFV secret key is wiped):
    /// the next face registers a new one.
    pub fn stop(&mut self) {
        self.waiting = Waiting::Idle;
        self.kiosk = None;
        self.next = None;
        self.used_seeds.clear();
        self.outcome = FaceOutcome::default();
    }

    /// One face, driven to its end through `transport`: the CLI's and the tests' way.
    pub fn identify(
        &mut self,
        probe: &Quantised,
        transport: &dyn SealedTransport,
    ) -> Result<FaceOutcome, SessionError> {
        let mut request = self.start_face(probe)?;
        loop {
            let answer = transport.post(request.path, &request.body).map_err(|reason| self.on_failure(&reason))?;
            match self.on_answer(&answer)? {
                Step::Send(next) => request = next,
                Step::Done(outcome) => return Ok(outcome),
            }
        }
    }

    /// The query's seed: the one the last answer named, else a fresh one from the authority.
    fn query(&mut self, probe: Box<Quantised>) -> Result<Request, SessionError> {
        match self.next.take() {
            Some(seed) => self.encrypt(probe, seed),
            None => {
                self.waiting = Waiting::QuerySeed { probe };
                Ok(seed_request())
            }
        }
    }

    /// The match request: `probe` encrypted against `seed`, which is spent from here on.
    fn encrypt(&mut self, probe: Box<Quantised>, seed: IssuedSeed) -> Result<Request, SessionError> {
        if !self.used_seeds.insert(seed.seed) {
            // Not an honest authority: start again under a new key pair.
            self.kiosk = None;
            return Err(SealedError::OutOfRange("the authority issued a seed this key pair already used").into());
        }
        let kiosk = self.kiosk.as_ref().ok_or(SessionError::NoFaceInProgress)?;
        let body = MatchRequest::encode(&seed.id, &kiosk.encrypt(&probe, &seed.seed)?);
        self.faces_on_key += 1;
        self.outcome.bytes_up = body.len();
        self.waiting = Waiting::Match { query_id: seed.id };
        Ok(Request { path: MATCH_PATH, body })
    }
}

fn seed_request() -> Request {
    Request { path: SEED_PATH, body: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// An authority that issues the same seed for every request and answers nothing else: what a
    /// session must refuse before it encrypts a second face (or a face after its key) under it.
    struct RepeatingSeeds {
        posted: RefCell<Vec<String>>,
    }

    impl SealedTransport for RepeatingSeeds {
        fn post(&self, path: &str, _body: &[u8]) -> Result<Vec<u8>, String> {
            self.posted.borrow_mut().push(path.to_owned());
            match path {
                SEED_PATH => Ok(IssuedSeed { id: [1; 16], seed: [2; 32] }.to_bytes()),
                KEYS_PATH => Ok(Vec::new()),
                _ => Err("not answered here".into()),
            }
        }
    }

    fn probe() -> Quantised {
        Quantised::from_components(&[3; crate::template::EMBEDDING_DIM]).unwrap()
    }

    #[test]
    fn a_seed_issued_twice_under_one_key_pair_is_refused_before_anything_is_encrypted_under_it() {
        let transport = RepeatingSeeds { posted: RefCell::new(Vec::new()) };
        let mut session = SealedSession::new([0; 16]);
        let refused = session.identify(&probe(), &transport).unwrap_err();
        assert!(matches!(refused, SessionError::Sealed(SealedError::OutOfRange(_))), "{refused}");
        assert_eq!(*transport.posted.borrow(), [SEED_PATH, KEYS_PATH, SEED_PATH], "no match was sent");
        assert!(!session.in_progress(), "the refused face is over");
    }

    #[test]
    fn the_steps_are_refused_out_of_order_and_a_failed_request_ends_the_face() {
        let mut session = SealedSession::new([0; 16]);
        assert!(matches!(session.on_answer(&[]), Err(SessionError::NoFaceInProgress)));
        let first = session.start_face(&probe()).unwrap();
        assert_eq!((first.path, first.body.len()), (SEED_PATH, 0), "a first face registers a key pair");
        assert!(matches!(session.start_face(&probe()), Err(SessionError::FaceInProgress)));
        // A malformed seed ends the face; the next face starts over with a key pair.
        assert!(matches!(session.on_answer(&[0; 47]), Err(SessionError::Sealed(SealedError::Malformed(_)))));
        assert!(!session.in_progress());
        assert_eq!(session.start_face(&probe()).unwrap().path, SEED_PATH);
        let keys = session.on_answer(&IssuedSeed { id: [1; 16], seed: [2; 32] }.to_bytes()).unwrap();
        assert!(matches!(keys, Step::Send(Request { path: KEYS_PATH, .. })), "{keys:?}");
        // The registration is refused: the key pair is dropped, the next face registers another.
        let refused = session.on_failure("HTTP 403 suspended");
        assert_eq!((refused.code(), refused.to_string().as_str()), ("AUTHORITY_REFUSED", "HTTP 403 suspended"));
        assert!(matches!(session.on_failure("again"), SessionError::NoFaceInProgress));
        assert_eq!(session.start_face(&probe()).unwrap().path, SEED_PATH);
        session.stop();
        assert!(!session.in_progress());
    }
}
