//! The kiosk's faces under sealed custody (DESIGN §3.4), in flight: one face at a time through
//! [`SealedSession`] (the authority holds one BFV key pair per kiosk, so faces cannot overlap), the
//! others waiting their turn. Like [`super::authority_round_trips`], nothing here touches the
//! network: each step is an [`AuthorityQuery`] (path and body) the caller POSTs, signed, and
//! whose answer it hands back.
//!
//! - A due track's probe is quantised at once (the float embedding is not kept) and waits, with the
//!   probe crop the reviewer would see, until the face before it is done; at most
//!   [`MAX_WAITING`] wait, and a waiting face whose track ended is wiped before it is sent.
//! - A face once sent runs to its end even if its track ended meanwhile: a face abandoned after the
//!   authority's answer leaves its positive slots unclaimed, which the authority counts as a missed
//!   decoy (the second suspends the kiosk). Only a request that times out, a refusal, or
//!   [`SealedFaces::stop`] ends a face early.
//! - The BFV secret key is the session's: made in this memory at the first face, never serialised,
//!   dropped (and wiped: fhe zeroises, the allocator wipes every freed block) by `stop`, by the
//!   next deployment, and by re-keying.

use std::collections::VecDeque;

use super::authority_round_trips::AuthorityQuery;
use super::review::ProbeCrop;
use crate::sealed::quantise::Quantised;
use crate::sealed::session::{FaceOutcome, Request, SealedSession, SessionError, Step};
use crate::sealed::SealedError;

/// Faces that may wait behind the one at the authority.
pub const MAX_WAITING: usize = 8;

struct SentFace {
    track: u32,
    probe: ProbeCrop,
    query: u32,
    expires_ms: f64,
}

struct WaitingFace {
    track: u32,
    /// Boxed, so that the queue's ring buffer (live memory, which the zero-on-free allocator never
    /// wipes) holds only a pointer: a popped element's bytes stay in the buffer's slot, and an
    /// inline probe would outlive its face there (tests/e2e/wasm_heap.test.mjs found exactly that).
    /// The box is zeroised where it is when the face is dropped.
    quantised: Box<Quantised>,
    probe: ProbeCrop,
}

/// What an answer (or a failure) did to the face at the authority.
pub enum Progress {
    /// The face needs another round trip: send this.
    Sent(AuthorityQuery),
    /// The face is done: what it released, for `track`, whose probe crop is `probe`.
    Done { track: u32, probe: ProbeCrop, outcome: FaceOutcome },
    /// The face ended without an outcome (`error`); `out_of_range` when the answer was one no
    /// honest authority sends (the session re-keys before the next face).
    Failed { error: String, out_of_range: bool },
}

/// Sealed custody's faces in flight for one deployment.
pub struct SealedFaces {
    session: SealedSession,
    sent: Option<SentFace>,
    waiting: VecDeque<WaitingFace>,
}

impl SealedFaces {
    pub fn new(deployment: [u8; 16]) -> SealedFaces {
        SealedFaces { session: SealedSession::new(deployment), sent: None, waiting: VecDeque::new() }
    }

    /// Faces at the authority or waiting to go.
    pub fn in_flight(&self) -> usize {
        usize::from(self.sent.is_some()) + self.waiting.len()
    }

    /// Queues `track`'s probe (quantised here); refused, with why, when [`MAX_WAITING`] faces wait.
    pub fn enqueue(&mut self, track: u32, quantised: Box<Quantised>, probe: ProbeCrop) -> Result<(), String> {
        if self.waiting.len() >= MAX_WAITING {
            return Err(format!(
                "sealed custody: {MAX_WAITING} faces already wait for the authority; this one was not matched"
            ));
        }
        self.waiting.push_back(WaitingFace { track, quantised, probe });
        Ok(())
    }

    /// The first request of the next waiting face, unless a face is at the authority already (or
    /// none waits). A face the session cannot start is dropped, with why.
    pub fn send_next(
        &mut self,
        now_ms: f64,
        timeout_ms: f64,
        query_id: &mut dyn FnMut() -> u32,
    ) -> (Option<AuthorityQuery>, Option<String>) {
        let mut error = None;
        while self.sent.is_none() {
            let Some(face) = self.waiting.pop_front() else { break };
            match self.session.start_face(&face.quantised) {
                Ok(request) => {
                    let query = query(query_id(), request);
                    self.sent = Some(SentFace {
                        track: face.track,
                        probe: face.probe,
                        query: query.id,
                        expires_ms: now_ms + timeout_ms,
                    });
                    return (Some(query), error);
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
        (None, error)
    }

    /// Whether `id` is the request of the face at the authority.
    pub fn is_sent(&self, id: u32) -> bool {
        self.sent.as_ref().is_some_and(|face| face.query == id)
    }

    /// The authority's `answer` to request `id` (which [`SealedFaces::is_sent`]).
    pub fn answer(
        &mut self,
        answer: &[u8],
        now_ms: f64,
        timeout_ms: f64,
        query_id: &mut dyn FnMut() -> u32,
    ) -> Progress {
        match self.session.on_answer(answer) {
            Ok(Step::Send(request)) => {
                let query = query(query_id(), request);
                if let Some(face) = &mut self.sent {
                    face.query = query.id;
                    face.expires_ms = now_ms + timeout_ms;
                }
                Progress::Sent(query)
            }
            Ok(Step::Done(outcome)) => match self.sent.take() {
                Some(face) => Progress::Done { track: face.track, probe: face.probe, outcome },
                None => Progress::Failed { error: "no face was at the authority".into(), out_of_range: false },
            },
            Err(e) => {
                self.sent = None;
                failed(e)
            }
        }
    }

    /// Request `id` got no usable answer (`reason`): the face ends.
    pub fn fail(&mut self, reason: &str) -> Progress {
        self.sent = None;
        failed(self.session.on_failure(reason))
    }

    /// Wipes the waiting faces whose track ended, and ends the face at the authority if its request
    /// timed out at `now_ms`: its error, if it did.
    pub fn drop_stale(&mut self, now_ms: f64, timeout_ms: f64, is_live: impl Fn(u32) -> bool) -> Option<String> {
        self.waiting.retain(|face| is_live(face.track));
        if self.sent.as_ref().is_some_and(|face| now_ms >= face.expires_ms) {
            let reason = format!("the authority did not answer within {} s", timeout_ms / 1000.0);
            if let Progress::Failed { error, .. } = self.fail(&reason) {
                return Some(error);
            }
        }
        None
    }

    /// Ends every face and drops the key pair (the camera stopped): the next face re-keys.
    pub fn stop(&mut self) {
        self.sent = None;
        self.waiting.clear();
        self.session.stop();
    }
}

fn query(id: u32, request: Request) -> AuthorityQuery {
    AuthorityQuery { id, path: request.path.to_owned(), body: request.body }
}

fn failed(error: SessionError) -> Progress {
    let out_of_range = matches!(error, SessionError::Sealed(SealedError::OutOfRange(_)));
    Progress::Failed { error: error.to_string(), out_of_range }
}
