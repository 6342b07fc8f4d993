//! `SealedCustody`: sealed custody's kiosk session for JS (DESIGN §3.4), sans I/O. It converts
//! types only; the rules are [`crate::sealed::session`]'s.
//!
//! The page (the engine Worker) drives one face at a time: `startFace(embedding)` returns the first
//! request `{kind: "send", path, body}`; it POSTs `body` to `{authority}{path}`, signed with the
//! kiosk's credential (www/kiosk/authority-client.js `signedFetch`), and hands the answer's bytes
//! to `onAnswer`, which returns the next request or `{kind: "done", …}` with the outcome. A request
//! that got no usable answer ends the face with `failRequest(reason)`.
//!
//! The BFV secret key is made here and lives only in this object's wasm memory: no call returns it,
//! and `stop()` or `free()` drops it (fhe zeroises its coefficients; the zero-on-free allocator
//! wipes every block). The embedding handed in is quantised here and wiped with the probe.

use tsify::Ts;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::{to_ts, with_stack_wiped};
use crate::blind::record::EntryRecord;
use crate::sealed::quantise::Quantised;
use crate::sealed::session::{FaceOutcome, Request, SealedSession, SessionError, Step};
use crate::template::Embedding;

/// One listed person the face matched: the handle and the record the authority released.
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SealedMatch {
    /// 32 hex.
    pub handle: String,
    pub record: EntryRecord,
}

/// What `startFace` and `onAnswer` return: the next request to send, or the face's outcome.
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SealedStep {
    /// POST `body` to `{authority}{path}`, signed; then `onAnswer(answer body)`.
    Send {
        path: String,
        #[serde(with = "serde_bytes")]
        #[tsify(type = "Uint8Array")]
        body: Vec<u8>,
    },
    /// The face is finished.
    Done {
        /// Positive slots claimed (matches and decoys alike: the kiosk cannot tell them apart).
        claimed: usize,
        /// The listed people the claim released (empty for a stranger).
        matches: Vec<SealedMatch>,
        /// Bytes of the match request, the key registration (0 unless this face re-keyed) and
        /// the claim with its proofs.
        bytes_up: usize,
        keys_bytes_up: usize,
        claim_bytes_up: usize,
        /// Bytes of the match answer and of the claim's answers (masks, released records).
        bytes_down: usize,
        claim_bytes_down: usize,
    },
}

impl From<Request> for SealedStep {
    fn from(request: Request) -> SealedStep {
        SealedStep::Send { path: request.path.to_owned(), body: request.body }
    }
}

impl From<FaceOutcome> for SealedStep {
    fn from(outcome: FaceOutcome) -> SealedStep {
        SealedStep::Done {
            claimed: outcome.claimed,
            matches: outcome.matches.into_iter().map(|m| SealedMatch { handle: m.handle, record: m.record }).collect(),
            bytes_up: outcome.bytes_up,
            keys_bytes_up: outcome.keys_bytes_up,
            claim_bytes_up: outcome.claim_bytes_up,
            bytes_down: outcome.bytes_down,
            claim_bytes_down: outcome.claim_bytes_down,
        }
    }
}

/// A JS `Error` with the session error's message and its stable `code`.
fn sealed_error(error: SessionError) -> JsValue {
    coded_error(&error.to_string(), error.code())
}

fn coded_error(message: &str, code: &str) -> JsValue {
    let js = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&js, &"code".into(), &code.into());
    js.into()
}

/// Sealed custody's kiosk session with one authority, for one deployment: the face leaves this
/// object only encrypted under a BFV key that never leaves it.
#[wasm_bindgen]
pub struct SealedCustody {
    session: SealedSession,
}

#[wasm_bindgen]
impl SealedCustody {
    /// A session for the deployment `deployment` (its id, 32 hex digits, which every request
    /// names in its `Veilwatch-Deployment` header). No key pair is made until the first face.
    #[wasm_bindgen(constructor)]
    pub fn new(deployment: &str) -> Result<SealedCustody, JsValue> {
        super::panic::install();
        let id: [u8; 16] = crate::hex::from_hex(deployment).and_then(|b| b.try_into().ok()).ok_or_else(|| {
            coded_error(
                &format!("SealedCustody: the deployment id is 32 hex digits (the sealed registration's `deployment`), not {deployment:?}"),
                "OPTIONS_INVALID",
            )
        })?;
        Ok(SealedCustody { session: SealedSession::new(id) })
    }

    /// The deployment id, 32 hex.
    #[wasm_bindgen(js_name = deploymentId)]
    pub fn deployment_id(&self) -> String {
        crate::hex::hex(self.session.deployment())
    }

    /// Begins one face from its embedding (128 numbers, the recogniser's output; quantised here):
    /// the first request to send. The first face, and the first after a positive claim, after 1 000
    /// faces or after an answer outside the honest range, makes and registers a new key pair
    /// (`/v1/sealed/seed`, then `/v1/sealed/keys`). Throws `OPTIONS_INVALID` for anything but 128
    /// finite numbers, not all zero, and `SEALED_FACE_IN_PROGRESS` while a face waits for an answer.
    #[wasm_bindgen(js_name = startFace)]
    pub fn start_face(&mut self, embedding: &[f32]) -> Result<Ts<SealedStep>, JsValue> {
        with_stack_wiped(|| {
            let values = Zeroizing::new(embedding.to_vec());
            let embedding = Embedding::from_values(&values).ok_or_else(|| {
                coded_error(
                    "SealedCustody.startFace: an embedding is 128 finite numbers, not all zero",
                    "OPTIONS_INVALID",
                )
            })?;
            let probe = Quantised::of(&embedding);
            let request = self.session.start_face(&probe).map_err(sealed_error)?;
            to_ts(&SealedStep::from(request))
        })
    }

    /// The body of the authority's answer to the last request: the next request, or the outcome
    /// `{kind: "done", claimed, matches: [{handle, record}], bytesUp, …}`. Throws (and ends the
    /// face) with a `code`: `SEALED_MALFORMED_ANSWER` (bytes that are not the protocol's),
    /// `SEALED_OUT_OF_RANGE` (an answer no honest authority sends: the next face re-keys),
    /// `SEALED_BAD_MATERIAL` (a released record that does not open), `SEALED_NO_FACE_IN_PROGRESS`.
    #[wasm_bindgen(js_name = onAnswer)]
    pub fn on_answer(&mut self, answer: &[u8]) -> Result<Ts<SealedStep>, JsValue> {
        with_stack_wiped(|| {
            let step = match self.session.on_answer(answer).map_err(sealed_error)? {
                Step::Send(request) => SealedStep::from(request),
                Step::Done(outcome) => SealedStep::from(outcome),
            };
            to_ts(&step)
        })
    }

    /// Ends the face in progress because the last request got no usable answer (`reason`: the
    /// authority's refusal, a network error, a timeout). Always throws: `AUTHORITY_REFUSED` with
    /// the reason (`SEALED_NO_FACE_IN_PROGRESS` if no face was waiting).
    #[wasm_bindgen(js_name = failRequest)]
    pub fn fail_request(&mut self, reason: &str) -> Result<(), JsValue> {
        Err(sealed_error(self.session.on_failure(reason)))
    }

    /// Whether a face is waiting for an answer.
    #[wasm_bindgen(js_name = inProgress)]
    pub fn in_progress(&self) -> bool {
        self.session.in_progress()
    }

    /// Ends the face in progress and drops the key pair (the secret key is wiped); the next face
    /// registers a new one.
    pub fn stop(&mut self) {
        with_stack_wiped(|| self.session.stop());
    }
}
