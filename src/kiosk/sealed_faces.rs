//! The kiosk's faces under sealed custody (DESIGN §3.4), in flight: one face at a time through
//! [`SealedSession`] (the authority holds one BFV key pair per kiosk, so faces cannot overlap), the
//! others waiting their turn. Like [`super::authority_round_trips`], nothing here touches the
//! network: each step is an [`AuthorityQuery`] (path, deployment and body) the caller POSTs,
//! signed, and whose answer it hands back.
//!
//! - A due track's probe is quantised at once (the float embedding is not kept) and waits, with the
//!   probe crop the reviewer would see, until the face before it is done. A track has at most one
//!   face waiting (a newer probe of it replaces the older: its fusion only gets better), a track that
//!   alerted sends no more faces, at most [`MAX_WAITING`] wait, and a waiting face whose track ended
//!   is wiped before it is sent.
//! - A face once sent runs to its end even if its track ended (its probe crop with it, for the
//!   alert it may raise): a face abandoned after the authority's answer leaves its positive slots
//!   unclaimed, which the authority counts as a missed decoy (the second suspends the kiosk). A
//!   request that times out, a refusal, [`SealedFaces::stop`] and loading another deployment do end
//!   a face early, and then the authority may count that refusal: the README says so.
//! - Each step waits at least [`MIN_STEP_DEADLINE_MS`] for its answer, longer than the Worker's
//!   own fetch deadline for sealed requests, so that the Worker's abort (and its `failQuery`)
//!   decides, never a deadline here that a late answer would then miss.
//! - The BFV secret key is the session's: made in this memory at the first face, never serialised,
//!   dropped (and wiped: fhe zeroises, the allocator wipes every freed block) by `stop`, by the
//!   next deployment, and by re-keying.

use std::collections::{HashSet, VecDeque};

use super::authority_round_trips::AuthorityQuery;
use super::review::ProbeCrop;
use crate::sealed::quantise::Quantised;
use crate::sealed::session::{FaceOutcome, Request, SealedSession, SessionError, Step};
use crate::sealed::SealedError;

/// Faces that may wait behind the one at the authority.
pub const MAX_WAITING: usize = 8;

/// The least time a step waits for its answer: above the Worker's 20 s fetch deadline for sealed
/// requests (www/kiosk-worker.js `SEALED_TIMEOUT_MS`) and the second the session's clock may lag.
pub const MIN_STEP_DEADLINE_MS: f64 = 25_000.0;

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
    /// inline probe would outlive its face there. The box is zeroised where it is when the face is
    /// dropped.
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
    /// honest authority sends (the session dropped its key pair: the next face registers a new one).
    Failed { error: String, out_of_range: bool },
}

/// Why a face was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// Its track alerted already.
    Alerted,
    /// [`MAX_WAITING`] faces of other tracks wait.
    Full,
}

/// Sealed custody's faces in flight for one deployment.
pub struct SealedFaces {
    session: SealedSession,
    sent: Option<SentFace>,
    waiting: VecDeque<WaitingFace>,
    /// Tracks that alerted: none of their faces goes to the authority again.
    alerted: HashSet<u32>,
}

impl SealedFaces {
    pub fn new(deployment: [u8; 16]) -> SealedFaces {
        SealedFaces {
            session: SealedSession::new(deployment),
            sent: None,
            waiting: VecDeque::new(),
            alerted: HashSet::new(),
        }
    }

    /// Faces at the authority or waiting to go.
    pub fn in_flight(&self) -> usize {
        usize::from(self.sent.is_some()) + self.waiting.len()
    }

    /// Whether a face of `track` would be queued now.
    pub fn can_queue(&self, track: u32) -> Result<(), NotQueued> {
        if self.alerted.contains(&track) {
            return Err(NotQueued::Alerted);
        }
        if self.waiting.len() >= MAX_WAITING && !self.waiting.iter().any(|face| face.track == track) {
            return Err(NotQueued::Full);
        }
        Ok(())
    }

    /// Queues `track`'s probe, replacing a face of the same track that still waits.
    pub fn enqueue(&mut self, track: u32, quantised: Box<Quantised>, probe: ProbeCrop) -> Result<(), NotQueued> {
        self.can_queue(track)?;
        if let Some(face) = self.waiting.iter_mut().find(|face| face.track == track) {
            face.quantised = quantised;
            face.probe = probe;
            return Ok(());
        }
        self.waiting.push_back(WaitingFace { track, quantised, probe });
        Ok(())
    }

    /// `track` alerted: its waiting face, if any, is wiped, and no face of it is sent again.
    pub fn mark_alerted(&mut self, track: u32) {
        self.alerted.insert(track);
        self.waiting.retain(|face| face.track != track);
    }

    /// Whether `track` alerted under this deployment.
    pub fn has_alerted(&self, track: u32) -> bool {
        self.alerted.contains(&track)
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
                    let query = self.query(query_id(), request);
                    let expires_ms = now_ms + timeout_ms.max(MIN_STEP_DEADLINE_MS);
                    self.sent = Some(SentFace { track: face.track, probe: face.probe, query: query.id, expires_ms });
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
                let query = self.query(query_id(), request);
                if let Some(face) = &mut self.sent {
                    face.query = query.id;
                    face.expires_ms = now_ms + timeout_ms.max(MIN_STEP_DEADLINE_MS);
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
    pub fn drop_stale(&mut self, now_ms: f64, is_live: impl Fn(u32) -> bool) -> Option<String> {
        self.waiting.retain(|face| is_live(face.track));
        if self.sent.as_ref().is_some_and(|face| now_ms >= face.expires_ms) {
            let reason = "the authority did not answer in time";
            if let Progress::Failed { error, .. } = self.fail(reason) {
                return Some(error);
            }
        }
        None
    }

    /// Ends every face and drops the key pair (the camera stopped): the next face re-keys.
    pub fn stop(&mut self) {
        self.sent = None;
        self.waiting.clear();
        self.alerted.clear();
        self.session.stop();
    }

    fn query(&self, id: u32, request: Request) -> AuthorityQuery {
        let deployment = crate::hex::hex(self.session.deployment());
        AuthorityQuery { id, path: request.path.to_owned(), deployment, body: request.body }
    }
}

fn failed(error: SessionError) -> Progress {
    let out_of_range = matches!(error, SessionError::Sealed(SealedError::OutOfRange(_)));
    Progress::Failed { error: error.to_string(), out_of_range }
}

/// Whether a failed request's `reason` is the authority suspending this kiosk (403 `suspended`, as
/// www/kiosk/authority-client.js words a refusal: "… refused (HTTP 403, suspended) …"): every
/// sealed request fails from then on, so matching pauses instead of failing face after face.
pub fn is_suspension(reason: &str) -> bool {
    reason.contains("HTTP 403, suspended")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Embedding, EMBEDDING_DIM};

    fn face(seed: usize) -> Box<Quantised> {
        let values: Vec<f32> = (0..EMBEDDING_DIM).map(|i| ((i * 31 + seed * 7) % 17) as f32 - 8.0).collect();
        Box::new(Quantised::of(&Embedding::from_values(&values).unwrap()))
    }

    #[test]
    fn a_track_waits_once_an_alerted_track_sends_nothing_and_a_full_queue_refuses_other_tracks() {
        let mut faces = SealedFaces::new([1; 16]);
        let mut ids = 0;
        let mut next_id = || {
            ids += 1;
            ids
        };
        faces.enqueue(1, face(1), ProbeCrop::default()).unwrap();
        let (first, error) = faces.send_next(0.0, 5_000.0, &mut next_id);
        let first = first.expect("the first face goes at once");
        assert!(error.is_none());
        assert_eq!((first.path.as_str(), first.deployment.as_str()), ("/v1/sealed/seed", "01".repeat(16).as_str()));
        // Track 2 waits; its newer probe replaces the older one.
        faces.enqueue(2, face(2), ProbeCrop::default()).unwrap();
        faces.enqueue(2, face(3), ProbeCrop::default()).unwrap();
        assert_eq!(faces.in_flight(), 2);
        // Track 2 alerts meanwhile (an earlier face of it): its waiting face is wiped, and it sends no more.
        faces.mark_alerted(2);
        assert_eq!(faces.in_flight(), 1);
        assert_eq!(faces.enqueue(2, face(4), ProbeCrop::default()), Err(NotQueued::Alerted));
        for track in 10..10 + MAX_WAITING as u32 {
            faces.enqueue(track, face(track as usize), ProbeCrop::default()).unwrap();
        }
        assert_eq!(faces.enqueue(99, face(99), ProbeCrop::default()), Err(NotQueued::Full));
        // A waiting face whose track ended is wiped; the face at the authority stays until it is
        // answered, or until its deadline (never before MIN_STEP_DEADLINE_MS).
        assert!(faces.drop_stale(MIN_STEP_DEADLINE_MS - 1.0, |track| track != 10).is_none());
        assert_eq!(faces.in_flight(), MAX_WAITING);
        assert!(faces.is_sent(first.id));
        let timed_out = faces.drop_stale(MIN_STEP_DEADLINE_MS, |_| true).expect("the deadline passed");
        assert!(timed_out.contains("did not answer in time"), "{timed_out}");
        assert!(!faces.is_sent(first.id));
        faces.stop();
        assert_eq!(faces.in_flight(), 0);
        assert!(is_suspension("the authority at http://a refused (HTTP 403, suspended): this kiosk is suspended"));
        assert!(!is_suspension("the authority at http://a refused (HTTP 429, budget_minute)"));
    }
}
