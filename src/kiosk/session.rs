//! The kiosk session: the whole of DESIGN §2 on a stream of frames. Frames are detected, gated,
//! embedded, tracked and fused; each track is matched once when its first good face arrives and
//! then at most once a second; a match becomes an alert pending human review; everything else is
//! wiped when its frame or track ends. Counts, alerts and reviews go to the audit log.
//!
//! Guarantees: no automated decision (G6): an alert only waits for a person's confirm / reject /
//! unsure; the probe crop shown to the reviewer lives in memory only until the review, then it is
//! wiped; nothing runs outside the profile's and the watchlist's validity windows; the query-rate
//! cap (the profile's, or 60 a minute in demo mode) is enforced before any PRF evaluation; session
//! time never goes backwards ([`super::clock`]); demo enrolment is refused while a deployment runs.
//!
//! Authority custody is matched in two phases: `process_frame` blinds the probe's PRF inputs
//! and returns them as an [`AuthorityQuery`] instead of blocking on the network; the caller sends
//! them and hands the answer to [`KioskSession::complete_query`] (or reports
//! [`KioskSession::fail_query`]), which unblinds it, opens the buckets and raises the alerts. An
//! alert's reviewer material is fetched the same way ([`KioskSession::complete_disclosure`]), and
//! so is a new deployment's key check ([`KioskSession::begin_load_deployment`]). What is in flight,
//! and the pause after an answer that failed verification, is [`super::authority_round_trips`]'s.
//! The audit log names the entry (its reference id) only in a review that did not reject the
//! match, under either custody.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::json;

use super::authority_round_trips::{
    finish_key_check, AuthorityQuery, AuthorityRoundTrips, DisclosureRequest, DisclosureResult, MATERIAL_WAITING,
};
use super::clock::{ClockEvent, SessionClock};
use super::demo::{DemoRoster, DEMO_QUERY_RATE_PER_MINUTE};
use super::deployment::{Custody, Deployment, DeploymentOptions, Verified};
use super::detection::{Detection, DetectionPolicy, DetectionSchedule, Pass};
use super::minute::MinuteCounts;
use super::review::{AlertView, Decision, ProbeCrop, Reviews};
use super::sealed_faces::{is_suspension, NotQueued, Progress, SealedFaces};
use super::status::{ExpectedRates, KioskStatus, ListSummary};
use super::KioskError;
use crate::blind::matcher::{BlindMatch, Matcher, Opened};
use crate::blind::prf::BlindedBatch;
use crate::blind::BlindError;
use crate::governance::audit::{AuditLog, Reopening};
use crate::governance::profile::SignedProfile;
use crate::pipeline::{align, Engine, Face, Frame, Quality};
use crate::sealed::quantise::Quantised;
use crate::sealed::session::Match as SealedMatch;
use crate::track::{MatchRequest, Sighting, TrackedFace, Tracker, TrackerOptions};

#[derive(Debug, Clone, Copy, Default, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub frames: u64,
    /// Faces detected and processed (every one of them wiped after its frame).
    pub faces_processed: u64,
    /// Faces that failed a quality gate (counted, never embedded nor matched).
    pub faces_rejected: u64,
    /// Faces embedded: only those their track needed (a new or still-fusing track's good faces,
    /// and clearly better ones); the others are tracked by their box alone.
    pub faces_embedded: u64,
    /// Frames detected at the full input; the others were detected at the reduced one (see
    /// [`super::detection`]).
    pub full_detections: u64,
    pub match_attempts: u64,
    /// Attempts skipped because the profile's query-rate cap was reached.
    pub rate_limited: u64,
    /// Attempts that could not be completed (authority down or refusing).
    pub match_failures: u64,
    pub alerts: u64,
    pub tracks_active: usize,
    pub tracks_ended: u64,
    /// Biometric buffers held for faces no longer in view: 0, always.
    pub retained: usize,
}

/// One face of the frame, as the page draws it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct FaceView {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    #[cfg_attr(target_arch = "wasm32", tsify(type = "[number, number][]"))]
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub track: u32,
    pub quality: Quality,
}

#[derive(Debug, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FrameResult {
    pub faces: Vec<FaceView>,
    pub alerts: Vec<AlertView>,
    pub counters: Counters,
    /// Set when a match attempt failed (e.g. the authority is down): detection and counting go
    /// on, matching resumes on the next attempt that succeeds.
    pub matching_error: Option<String>,
    /// Blind matches waiting for the authority (two-phase authority custody only; absent when
    /// there are none): send each `body` to the authority, then `completeQuery` or `failQuery`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub queries: Vec<AuthorityQuery>,
    /// Reviewer material to fetch for the new alerts (authority custody; absent when there is
    /// none): POST each `body` to `/v1/disclose`, signed with this `nonce`, then
    /// `completeDisclosure` or `failDisclosure`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub disclosures: Vec<DisclosureRequest>,
}

/// What an answered (or failed) authority query led to.
#[derive(Debug, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct QueryResult {
    pub alerts: Vec<AlertView>,
    pub counters: Counters,
    pub matching_error: Option<String>,
    /// The next requests to send (sealed custody: a face's next step, or the next face's first;
    /// absent when there are none), as [`FrameResult::queries`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub queries: Vec<AuthorityQuery>,
    /// As [`FrameResult::disclosures`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub disclosures: Vec<DisclosureRequest>,
}

/// Faces of one frame after analysis: each face's quality, and what the tracker is given of it
/// (its embedding, when it was needed).
struct AnalysedFrame {
    faces: Vec<Face>,
    qualities: Vec<Quality>,
    sightings: Vec<Sighting>,
}

pub struct KioskSession {
    engine: Engine,
    detection: DetectionSchedule,
    deployment: Option<Deployment>,
    /// What the calibration expects of the loaded watchlist (set with it).
    expected: Option<ExpectedRates>,
    demo: DemoRoster,
    tracker: Tracker,
    audit: AuditLog,
    counters: Counters,
    minute: MinuteCounts,
    reviews: Reviews,
    clock: SessionClock,
    /// The overseer whose co-signature every profile needs, when the kiosk is configured with one.
    overseer: Option<VerifyingKey>,
    /// Round trips to the authority in flight, and the pause after a failed verification.
    authority: AuthorityRoundTrips,
    /// Under sealed custody, the face at the authority and those waiting (with the key pair).
    sealed: Option<SealedFaces>,
}

impl KioskSession {
    /// A session that detects and tracks but matches nothing until a deployment is loaded.
    pub fn new(engine: Engine) -> KioskSession {
        KioskSession {
            engine,
            detection: DetectionSchedule::default(),
            deployment: None,
            expected: None,
            demo: DemoRoster::default(),
            tracker: Tracker::new(TrackerOptions::default()),
            audit: AuditLog::default(),
            counters: Counters::default(),
            minute: MinuteCounts::default(),
            reviews: Reviews::default(),
            clock: SessionClock::default(),
            overseer: None,
            authority: AuthorityRoundTrips::default(),
            sealed: None,
        }
    }

    /// The same session, detecting with `policy` instead of the default (see [`super::detection`]).
    pub fn with_detection_policy(mut self, policy: DetectionPolicy) -> KioskSession {
        self.detection = DetectionSchedule::new(policy);
        self
    }

    /// The same session, accepting only profiles co-signed by `overseer` (DESIGN §4).
    pub fn with_overseer_key(mut self, overseer: Option<VerifyingKey>) -> KioskSession {
        self.overseer = overseer;
        self
    }

    /// Authority queries must be answered within `timeout_ms` from now on (5 s unless set): a
    /// query still unanswered when a frame comes later counts as a failed attempt.
    pub fn set_authority_timeout(&mut self, timeout_ms: f64) {
        self.authority.set_timeout(timeout_ms);
    }

    /// Authority queries waiting for an answer (under sealed custody: faces at the authority or
    /// waiting to go).
    pub fn pending_queries(&self) -> usize {
        self.authority.pending_queries() + self.sealed.as_ref().map_or(0, SealedFaces::in_flight)
    }

    /// Verifies a deployment ([`Deployment::verify`], nothing that needs the network) and loads
    /// it: a local-custody deployment at once, and `None` returned. Under
    /// authority custody the deployment waits, not loaded, for its key check: the returned body
    /// (one blinded element) goes to `POST {authority}/v1/key-check` (with the deployment id of
    /// [`KioskSession::deployment_id`]), and
    /// [`KioskSession::complete_key_check`] or [`KioskSession::fail_key_check`] ends it. The
    /// current deployment, if any, stays as it is until then. Refused (`KEY_CHECK_PENDING`) while
    /// an earlier check is open.
    pub fn begin_load_deployment(
        &mut self,
        options: DeploymentOptions,
        now_unix: i64,
    ) -> Result<Option<Vec<u8>>, KioskError> {
        self.authority.refuse_during_key_check()?;
        let now_unix = self.observe_unix(now_unix);
        match Deployment::verify(options, self.overseer.as_ref(), self.engine.model_id(), now_unix)? {
            Verified::Ready(deployment) => self.load(deployment, now_unix).map(|()| None),
            Verified::KeyCheck(check) => Ok(Some(self.authority.open_key_check(check))),
        }
    }

    /// Ends the open key check with the authority's `answer`: the deployment is loaded (and the
    /// load logged) if it proves the authority holds the watchlist's key; otherwise it is dropped
    /// (`WATCHLIST_WRONG_KEY`, `AUTHORITY_BAD_ANSWER`, `AUTHORITY_ANSWER_UNVERIFIED`, the last
    /// also written to the audit log) and the kiosk stays as it was.
    pub fn complete_key_check(&mut self, answer: &[u8], now_unix: i64) -> Result<(), KioskError> {
        let check = self.authority.take_key_check()?;
        let now_unix = self.observe_unix(now_unix);
        let deployment = finish_key_check(check, answer, &mut self.audit, now_unix)?;
        self.load(deployment, now_unix)
    }

    /// The deployment id (the watchlist id, 32 hex) requests to the authority name in their
    /// `Veilwatch-Deployment` header: the open key check's, else the loaded deployment's.
    pub fn deployment_id(&self) -> Option<String> {
        let id = match self.authority.key_check_deployment_id() {
            Some(id) => id,
            None => self.deployment.as_ref()?.id(),
        };
        Some(crate::hex::hex(&id))
    }

    /// Why matching is paused, if it is: an authority answer failed verification.
    pub fn paused(&self) -> Option<&str> {
        self.authority.paused()
    }

    /// Ends the open key check unanswered (`reason`: timeout, network error, HTTP status): the
    /// deployment is dropped and `AUTHORITY_UNAVAILABLE` returned, with the reason.
    pub fn fail_key_check(&mut self, reason: &str) -> KioskError {
        self.authority.fail_key_check(reason)
    }

    /// The deployment a kiosk is created with: local custody only, loaded at once. Authority
    /// custody is refused (`OPTIONS_INVALID`): its key check is asynchronous, so it is loaded with
    /// [`KioskSession::begin_load_deployment`] once the kiosk exists.
    pub fn load_at_creation(&mut self, options: DeploymentOptions, now_unix: i64) -> Result<(), KioskError> {
        if !matches!(options.custody, super::CustodyOptions::Local { .. }) {
            return Err(KioskError::Options(
                "a deployment under authority or sealed custody is loaded with loadWatchlist, once the kiosk exists"
                    .into(),
            ));
        }
        match self.begin_load_deployment(options, now_unix)? {
            None => Ok(()),
            Some(_) => Err(KioskError::Internal("a local-custody load left a key check open".into())),
        }
    }

    /// Whether a loaded watchlist waits for the authority's key check.
    pub fn key_check_pending(&self) -> bool {
        self.authority.key_check_pending()
    }

    /// Loads a verified deployment for matching, once its profile's window is found open.
    fn load(&mut self, deployment: Deployment, now_unix: i64) -> Result<(), KioskError> {
        let profile = deployment.profile.as_ref();
        if let Some(p) = profile {
            p.check_window(now_unix)?;
        }
        let mut config = json!({
            "custody": deployment.custody.name(),
            "operator": profile.map(|p| p.profile.operator.clone()),
            "location": profile.map(|p| p.profile.location.clone()),
            "purpose": profile.map(|p| p.profile.purpose.clone()),
            "query_rate_per_minute": profile.map_or(DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute),
            "mode": if deployment.is_demo() { "demo" } else { "deployment" },
        });
        match &deployment.custody {
            Custody::Local { matcher, .. } | Custody::Authority { matcher, .. } => {
                let header = &matcher.watchlist.header;
                config["entries"] = header.entries.into();
                config["tables"] = header.tables.into();
                config["threshold"] = header.threshold.into();
                config["watchlist_valid_until"] = crate::time::format_utc(header.valid_until).into();
                self.expected = Some(ExpectedRates::of(header));
                self.sealed = None;
            }
            Custody::Sealed { descriptor, .. } => {
                config["entries"] = descriptor.descriptor.rows.into();
                config["threshold_milli"] = descriptor.descriptor.threshold_milli.into();
                config["watchlist_valid_until"] = crate::time::format_utc(descriptor.valid_until).into();
                // The shipped calibration is the LSH scheme's; sealed custody's false alerts are the
                // issuer's estimate in the profile, if any (the status says so).
                self.expected = None;
                self.sealed = Some(SealedFaces::new(descriptor.deployment));
            }
        }
        self.audit.append(now_unix, "config", config);
        self.deployment = Some(deployment);
        // A query still out was blinded for the deployment this one replaces: its answer would be
        // checked against the new key, fail, and pause matching. Dropped, its late answer is an
        // unknown query (QUERY_UNKNOWN), which the Worker ignores.
        self.authority.drop_queries();
        self.authority.resume();
        Ok(())
    }

    /// Demo mode: enrols the volunteer in `frame` (see [`DemoRoster`]) and matches against
    /// everyone enrolled so far. Returns how many are enrolled. Refused while a deployment is
    /// loaded: the demo list has no profile and would silently replace it.
    pub fn enroll_from_frame(&mut self, frame: &Frame, label: &str, now_unix: i64) -> Result<usize, KioskError> {
        if let Some(refusal) = self.demo_refusal() {
            return Err(refusal);
        }
        let now_unix = self.observe_unix(now_unix);
        let deployment = self.demo.enrol(&self.engine, frame, label, now_unix)?;
        self.load(deployment, now_unix)?;
        Ok(self.demo.len())
    }

    /// The blinded watchlist matched against (`None` with nothing loaded, and under sealed custody).
    pub fn matcher(&self) -> Option<&Matcher> {
        self.deployment.as_ref()?.matcher()
    }

    pub fn profile(&self) -> Option<&SignedProfile> {
        self.deployment.as_ref().and_then(|d| d.profile.as_ref())
    }

    /// Why demo enrolment is refused now: a deployment (one with a profile) is loaded.
    pub fn demo_refusal(&self) -> Option<KioskError> {
        let profile = &self.profile()?.profile;
        Some(KioskError::DemoUnderDeployment { operator: profile.operator.clone(), location: profile.location.clone() })
    }

    /// The most match attempts a minute: the profile's cap, or the demo's default.
    pub fn query_rate_per_minute(&self) -> u32 {
        self.profile().map_or(DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute)
    }

    /// The session's time for the page's `now_unix`; a step back or a jump goes to the audit log.
    fn observe_unix(&mut self, now_unix: i64) -> i64 {
        let (now, event) = self.clock.observe_unix(now_unix);
        self.log_clock(now, event);
        now
    }

    fn log_clock(&mut self, now_unix: i64, event: Option<ClockEvent>) {
        let entry = match event {
            None => return,
            Some(ClockEvent::Backward { by_ms }) => {
                json!({"step": "backward", "seconds": by_ms / 1000.0, "ignored": true})
            }
            Some(ClockEvent::Forward { by_ms }) => json!({"step": "forward", "seconds": by_ms / 1000.0}),
        };
        self.audit.append(now_unix, "clock", entry);
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops matching (e.g. the window closed) but keeps detecting and counting.
    pub fn unload(&mut self, now_unix: i64, reason: &str) {
        self.expected = None;
        self.authority.drop_all();
        self.sealed = None;
        if self.deployment.take().is_some() {
            self.audit.append(now_unix, "config", json!({"matching": "stopped", "reason": reason}));
        }
    }

    /// Processes one frame taken at `now_ms` (milliseconds since the Unix epoch, as the page
    /// says; the session never lets its time go back, see [`super::clock`]).
    pub fn process_frame(&mut self, frame: &Frame, now_ms: f64) -> Result<FrameResult, KioskError> {
        let (faces, pass) = self.detection.detect(self.engine.detector(), frame, &self.tracker.seen_last_frame())?;
        self.process_detected_frame(frame, Detection { faces, pass }, now_ms)
    }

    /// As [`KioskSession::process_frame`], for a frame another stage has detected already (the
    /// kiosk's detection Worker, [`super::DetectionStage`]): alignment, quality, embedding on need,
    /// tracking and matching. A detection no detector made for this frame is refused
    /// ([`Detection::check`]) before anything else happens.
    pub fn process_detected_frame(
        &mut self,
        frame: &Frame,
        detection: Detection,
        now_ms: f64,
    ) -> Result<FrameResult, KioskError> {
        detection.check(frame.width(), frame.height())?;
        if !now_ms.is_finite() {
            return Err(KioskError::Options(
                "the frame's time must be a finite number of milliseconds since 1970".into(),
            ));
        }
        let (now_ms, event) = self.clock.observe_ms(now_ms);
        let now_unix = (now_ms / 1000.0).floor() as i64;
        self.log_clock(now_unix, event);
        self.roll_minute(now_unix);
        self.stop_matching_outside_the_window(now_unix)?;
        let analysed = self.analyse_faces(frame, detection)?;
        let (tracked, requests) = self.tracker.update(&analysed.faces, analysed.sightings, now_ms);
        let expired = self.drop_stale_queries(now_ms);
        let (alerts, queries, matching_error) = self.match_tracks(frame, &tracked, requests, now_ms);
        self.update_track_counters(now_ms);
        Ok(FrameResult {
            faces: face_views(tracked, analysed.qualities),
            alerts,
            counters: self.counters,
            matching_error: matching_error.or(expired),
            queries,
            disclosures: self.authority.take_outgoing(),
        })
    }

    /// Wipes the pending queries whose track ended or whose time ran out; the ones that timed out
    /// count as failed attempts, and the reason is returned.
    fn drop_stale_queries(&mut self, now_ms: f64) -> Option<String> {
        let tracker = &self.tracker;
        let (timed_out, reason) = self.authority.drop_stale_queries(now_ms, |track| tracker.is_live(track));
        self.counters.match_failures += timed_out;
        let sealed = self.sealed.as_mut().and_then(|s| s.drop_stale(now_ms, |track| tracker.is_live(track)));
        self.counters.match_failures += u64::from(sealed.is_some());
        sealed.or(reason)
    }

    /// Finishes the blind match of pending query `id` with the authority's `answer` (the body of
    /// its reply): alerts for the records that open. The query's state is wiped whatever happens;
    /// a malformed answer counts as a failed attempt and is reported in `matching_error`. A track
    /// that alerted meanwhile (an earlier query of it came back first: a track goes on fusing, and
    /// may be matched again, while its query is with the authority) raises no second alert.
    ///
    /// Under sealed custody `id` is a step of the face at the authority: the answer brings the
    /// face's next request (in `queries`), or its end, with an alert for each listed person the
    /// claim released and the next waiting face's first request.
    pub fn complete_query(&mut self, id: u32, answer: &[u8], now_unix: i64) -> Result<QueryResult, KioskError> {
        if self.sealed.as_ref().is_some_and(|s| s.is_sent(id)) {
            let timeout_ms = self.authority.timeout_ms();
            let now_unix = self.observe_unix(now_unix);
            let now_ms = self.clock.latest_ms().unwrap_or(now_unix as f64 * 1000.0);
            let (Some(sealed), authority) = (self.sealed.as_mut(), &mut self.authority) else {
                return Err(KioskError::Internal("the sealed face vanished".into()));
            };
            let progress = sealed.answer(answer, now_ms, timeout_ms, &mut || authority.next_query_id());
            return Ok(self.advance_sealed_face(progress, now_ms));
        }
        let query = self.authority.take_query(id)?;
        let now_unix = self.observe_unix(now_unix);
        let mut alerts = Vec::new();
        let mut matching_error = None;
        if let Some(deployment) = self.deployment.as_ref().filter(|_| self.authority.paused().is_none()) {
            let Custody::Authority { matcher, public_key, .. } = &deployment.custody else {
                return Err(KioskError::Internal("an authority query for a watchlist without a deployment key".into()));
            };
            match query.finish(answer, public_key) {
                Ok(outputs) => {
                    let found = matcher.open_matches(&outputs);
                    if !self.tracker.has_alerted(query.track()) {
                        alerts = self.raise_alerts(query.track(), found, query.probe(), now_unix);
                    }
                }
                Err(e) => {
                    self.counters.match_failures += 1;
                    matching_error = Some(e.to_string());
                    if matches!(e, BlindError::AuthorityUnverified(_)) {
                        self.authority.pause_matching(&mut self.audit, &e, "evaluate", now_unix);
                    }
                }
            }
        }
        Ok(QueryResult {
            alerts,
            counters: self.counters,
            matching_error,
            queries: Vec::new(),
            disclosures: self.authority.take_outgoing(),
        })
    }

    /// Records that pending query `id` could not be answered (`reason`: network error, HTTP
    /// status, timeout) and wipes it.
    pub fn fail_query(&mut self, id: u32, reason: &str) -> Result<QueryResult, KioskError> {
        if let Some(sealed) = self.sealed.as_mut().filter(|s| s.is_sent(id)) {
            let progress = sealed.fail(reason);
            let now_ms = self.clock.latest_ms().unwrap_or_default();
            return Ok(self.advance_sealed_face(progress, now_ms));
        }
        drop(self.authority.take_query(id)?);
        self.counters.match_failures += 1;
        let error = KioskError::Watchlist(crate::blind::BlindError::Authority(reason.to_owned()));
        Ok(QueryResult {
            alerts: Vec::new(),
            counters: self.counters,
            matching_error: Some(error.to_string()),
            queries: Vec::new(),
            disclosures: Vec::new(),
        })
    }

    /// Disclosures whose answer has not come yet.
    pub fn pending_disclosures(&self) -> usize {
        self.authority.pending_disclosures()
    }

    /// Finishes alert `alert`'s disclosure with the authority's answer (the sealed material): the
    /// alert's record if it opens under the entry's material key, else why not. The material keys
    /// are wiped either way; nothing of the material is logged.
    pub fn complete_disclosure(&mut self, alert: u32, sealed: &[u8]) -> Result<DisclosureResult, KioskError> {
        let result = self.authority.complete_disclosure(alert, sealed)?;
        if let Some(record) = &result.record {
            self.reviews.set_reference(alert, &record.reference_id)?;
        }
        Ok(result)
    }

    /// Records that alert `alert`'s material could not be fetched (`reason`: the authority's
    /// refusal, a network error, a timeout) and wipes its keys; the alert stays pending review.
    pub fn fail_disclosure(&mut self, alert: u32, reason: &str) -> Result<DisclosureResult, KioskError> {
        self.authority.fail_disclosure(alert, reason)
    }

    fn roll_minute(&mut self, now_unix: i64) {
        if let Some(finished) = self.minute.roll(now_unix, self.counters.retained) {
            self.audit.append(finished.at_unix, "counts", finished.counts);
        }
    }

    /// Unloads the deployment, with the reason, once its watchlist's or profile's window closed.
    fn stop_matching_outside_the_window(&mut self, now_unix: i64) -> Result<(), KioskError> {
        let Some(deployment) = &self.deployment else { return Ok(()) };
        if let Err(closed) = deployment.check_window(now_unix) {
            self.unload(now_unix, &closed.to_string());
            return Err(closed);
        }
        Ok(())
    }

    /// Counts the detection's pass (reduced or full input: [`super::detection`]), aligns and
    /// assesses every face, counting each, and embeds only the faces their tracks need (see
    /// [`crate::track`]): a good face that starts a track or whose track is still fusing, or a
    /// clearly better one. Faces that fail a quality gate are never embedded. Every crop is wiped as
    /// soon as its face is done.
    fn analyse_faces(
        &mut self,
        frame: &Frame,
        Detection { faces, pass }: Detection,
    ) -> Result<AnalysedFrame, KioskError> {
        self.counters.full_detections += u64::from(pass != Pass::Reduced);
        let needs = self.tracker.embed_when(&faces);
        let mut qualities = Vec::with_capacity(faces.len());
        let mut sightings = Vec::with_capacity(faces.len());
        for (face, need) in faces.iter().zip(needs) {
            let (crop, quality) = self.engine.align_and_assess(frame, face)?;
            let passed = quality.passed();
            self.counters.faces_processed += 1;
            self.counters.faces_rejected += u64::from(!passed);
            self.minute.face(passed);
            let embedding = if need.wants(&quality) {
                self.counters.faces_embedded += 1;
                Some(self.engine.embed_crop(&crop)?)
            } else {
                None
            };
            drop(crop);
            sightings.push(Sighting { quality: quality.clone(), embedding });
            qualities.push(quality);
        }
        Ok(AnalysedFrame { faces, qualities, sightings })
    }

    /// One blind match per due track, within the profile's per-minute cap; each record that opens
    /// becomes an alert pending review. A failed attempt is counted and reported, not fatal. Under
    /// authority custody an attempt becomes a pending [`AuthorityQuery`] instead.
    fn match_tracks(
        &mut self,
        frame: &Frame,
        tracked: &[TrackedFace],
        requests: Vec<MatchRequest>,
        now_ms: f64,
    ) -> (Vec<AlertView>, Vec<AuthorityQuery>, Option<String>) {
        let now_unix = (now_ms / 1000.0).floor() as i64;
        let (mut alerts, mut queries, mut matching_error) = (Vec::new(), Vec::new(), None);
        if let Some(paused) = self.authority.paused().filter(|_| !requests.is_empty()) {
            return (alerts, queries, Some(paused.to_owned()));
        }
        // Borrowed, not moved out, so that no copy of an embedding is left in the freed buffer:
        // `requests` zeroises each one where it is when it is dropped.
        for request in &requests {
            let Some(deployment) = &self.deployment else { break };
            let cap = u64::from(
                deployment.profile.as_ref().map_or(DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute),
            );
            // Under sealed custody a full queue of faces waiting for the authority limits the rate
            // too (and a track that alerted sends no more faces).
            let queue = self.sealed.as_ref().map_or(Ok(()), |sealed| sealed.can_queue(request.track));
            if queue == Err(NotQueued::Alerted) {
                continue;
            }
            if queue.is_err() || !self.minute.try_attempt(cap) {
                self.counters.rate_limited += 1;
                continue;
            }
            self.counters.match_attempts += 1;
            let probe = || {
                tracked
                    .iter()
                    .find(|t| t.track == request.track)
                    .and_then(|t| align::align(frame, &t.face))
                    .map_or_else(ProbeCrop::default, |crop| ProbeCrop::from_aligned(&crop))
            };
            match &deployment.custody {
                Custody::Local { matcher, prf } => match matcher.match_embedding(&request.embedding, prf, now_unix) {
                    Ok(found) => {
                        let probe = if found.is_empty() { ProbeCrop::default() } else { probe() };
                        alerts.extend(self.raise_alerts(request.track, found, &probe, now_unix));
                    }
                    Err(e) => {
                        self.counters.match_failures += 1;
                        matching_error = Some(e.to_string());
                    }
                },
                Custody::Authority { matcher, .. } => {
                    let blinded = matcher
                        .prf_inputs(&request.embedding, now_unix)
                        .and_then(|inputs| BlindedBatch::blind(inputs.to_vec()));
                    match blinded {
                        Ok(batch) => queries.push(self.authority.send_query(
                            request.track,
                            batch,
                            probe(),
                            &deployment.id(),
                            now_ms,
                        )),
                        Err(e) => {
                            self.counters.match_failures += 1;
                            matching_error = Some(e.to_string());
                        }
                    }
                }
                Custody::Sealed { .. } => {
                    // Quantised at once, into its box (see `sealed_faces`; the stack's copy is
                    // wiped by the wasm facade): the float embedding stays in `requests`.
                    let quantised = Box::new(Quantised::of(&request.embedding));
                    if let Some(sealed) = &mut self.sealed {
                        // `can_queue` was checked before the attempt was counted.
                        let _ = sealed.enqueue(request.track, quantised, probe());
                    }
                }
            }
        }
        let (sent, error) = self.send_next_sealed_face(now_ms);
        queries.extend(sent);
        (alerts, queries, matching_error.or(error))
    }

    /// The first request of the next sealed face, if one waits and none is at the authority; a face
    /// that could not start counts as a failed attempt.
    fn send_next_sealed_face(&mut self, now_ms: f64) -> (Option<AuthorityQuery>, Option<String>) {
        let Some(sealed) = &mut self.sealed else { return (None, None) };
        let (timeout_ms, authority) = (self.authority.timeout_ms(), &mut self.authority);
        let (query, error) = sealed.send_next(now_ms, timeout_ms, &mut || authority.next_query_id());
        self.counters.match_failures += u64::from(error.is_some());
        (query, error)
    }

    /// Carries the sealed face at the authority one step on with `progress`: the next request, or
    /// its alerts and the next face's first request.
    fn advance_sealed_face(&mut self, progress: Progress, now_ms: f64) -> QueryResult {
        let now_unix = (now_ms / 1000.0).floor() as i64;
        let (mut alerts, mut queries, mut matching_error) = (Vec::new(), Vec::new(), None);
        match progress {
            Progress::Sent(query) => queries.push(query),
            Progress::Done { track, probe, outcome } => {
                let alerted =
                    self.tracker.has_alerted(track) || self.sealed.as_ref().is_some_and(|s| s.has_alerted(track));
                if !alerted {
                    alerts = self.raise_sealed_alerts(track, outcome.matches, &probe, now_unix);
                }
            }
            Progress::Failed { error, out_of_range } => {
                self.counters.match_failures += 1;
                if out_of_range {
                    self.audit.append(
                        now_unix,
                        "authority",
                        json!({"endpoint": "sealed", "outcome": "out of range", "error": error,
                               "key_pair": "dropped, the next face registers a new one"}),
                    );
                }
                if is_suspension(&error) {
                    // Every sealed request fails from now on: pause, as after an unverified answer.
                    self.authority.pause_suspended(&mut self.audit, "sealed", &error, now_unix);
                    if let Some(sealed) = &mut self.sealed {
                        sealed.stop();
                    }
                    let counters = self.counters;
                    return QueryResult {
                        alerts,
                        counters,
                        matching_error: Some(error),
                        queries,
                        disclosures: Vec::new(),
                    };
                }
                matching_error = Some(error);
            }
        }
        if queries.is_empty() {
            let (sent, error) = self.send_next_sealed_face(now_ms);
            queries.extend(sent);
            matching_error = matching_error.or(error);
        }
        QueryResult { alerts, counters: self.counters, matching_error, queries, disclosures: Vec::new() }
    }

    /// An alert pending review for each listed person a sealed face released (their record came
    /// with the claim).
    fn raise_sealed_alerts(
        &mut self,
        track: u32,
        matches: Vec<SealedMatch>,
        probe: &ProbeCrop,
        now_unix: i64,
    ) -> Vec<AlertView> {
        let threshold = match self.deployment.as_ref().map(|d| &d.custody) {
            Some(Custody::Sealed { descriptor, .. }) => f32::from(descriptor.descriptor.threshold_milli) / 1000.0,
            _ => 0.0,
        };
        let mut alerts = Vec::new();
        for found in matches {
            let id = self.reviews.raise(Some(found.record.reference_id.as_str()), probe.clone());
            self.counters.alerts += 1;
            // As under the other custodies: the entry waits for the review before the log names it.
            self.audit.append(
                now_unix,
                "alert",
                json!({"alert": id, "track": track, "custody": "bfv-sealed", "status": "pending review"}),
            );
            if let Some(sealed) = &mut self.sealed {
                sealed.mark_alerted(track);
            }
            alerts.push(AlertView {
                id,
                track,
                record: Some(found.record),
                material: None,
                collisions: 0,
                tables: 0,
                implied_cosine: threshold,
                probe: probe.clone(),
            });
            self.tracker.mark_alerted(track);
        }
        alerts
    }

    /// An alert pending review for each record that opened for `track`'s probe.
    fn raise_alerts(&mut self, track: u32, found: Vec<BlindMatch>, probe: &ProbeCrop, now_unix: i64) -> Vec<AlertView> {
        let mut alerts = Vec::new();
        let watchlist_id = self.matcher().map(|m| m.watchlist.header.watchlist_id).unwrap_or_default();
        for found in found {
            let (record, material, held) = match found.opened {
                Opened::Record(record) => (Some(record), None, None),
                Opened::Handle { handle, keys } => match self.audit.kiosk_key() {
                    Some(kiosk) => (None, Some(MATERIAL_WAITING.to_owned()), Some((handle, keys, kiosk))),
                    None => (None, Some(format!("material not available: {}", KioskError::NoKioskKey)), None),
                },
            };
            let id = self.reviews.raise(record.as_ref().map(|r| r.reference_id.as_str()), probe.clone());
            if let Some((handle, keys, kiosk)) = held {
                self.authority.request_disclosure(id, handle, keys, watchlist_id, &kiosk);
            }
            self.counters.alerts += 1;
            // The entry's reference id waits for the review: a rejected false match must not
            // leave a passer-by linked to a watchlist entry in the log.
            self.audit.append(
                now_unix,
                "alert",
                json!({"alert": id, "track": track, "collisions": found.collisions,
                       "tables": found.tables, "status": "pending review"}),
            );
            alerts.push(AlertView {
                id,
                track,
                record,
                material,
                collisions: found.collisions,
                tables: found.tables,
                implied_cosine: found.implied_cosine,
                probe: probe.clone(),
            });
            self.tracker.mark_alerted(track);
        }
        alerts
    }

    fn update_track_counters(&mut self, now_ms: f64) {
        self.counters.frames += 1;
        self.counters.tracks_active = self.tracker.active();
        self.counters.tracks_ended = self.tracker.ended();
        self.counters.retained = self.tracker.retained(now_ms);
    }

    /// Records a person's decision on an alert and wipes its probe crop. The log names the entry
    /// only when the reviewer did not reject the match.
    pub fn review(&mut self, alert: u32, decision: &str, reviewer: &str, now_unix: i64) -> Result<(), KioskError> {
        let now_unix = self.observe_unix(now_unix);
        let reviewed = self.reviews.decide(alert, decision, reviewer)?;
        // A review ends the wait for the alert's material (its keys are wiped).
        self.authority.forget_disclosure(alert);
        let mut entry = json!({"alert": reviewed.alert, "decision": reviewed.decision, "reviewer": reviewed.reviewer});
        if reviewed.decision != Decision::Rejected {
            entry["reference_id"] = match reviewed.reference_id {
                Some(reference) => reference.into(),
                // Authority custody, and the material never came: the entry is unknown here.
                None => serde_json::Value::Null,
            };
        }
        self.audit.append(now_unix, "review", entry);
        Ok(())
    }

    pub fn pending_reviews(&self) -> usize {
        self.reviews.len()
    }

    /// Bytes of probe crops held for pending reviews (for the "retained" display).
    pub fn pending_probe_bytes(&self) -> usize {
        self.reviews.probe_bytes()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn audit_log(&self) -> String {
        self.audit.export().to_owned()
    }

    /// Continues the log stored on the device (`stored`, empty for a first start) under the
    /// kiosk's key, with a `resume` or `restart` line; before anything else was logged. A broken or
    /// foreign stored log is refused, and this session's log stays empty.
    pub fn restore_audit(
        &mut self,
        stored: &str,
        kiosk_key: Option<[u8; 32]>,
        how: Reopening,
        now_unix: i64,
    ) -> Result<(), KioskError> {
        if !self.audit.is_empty() {
            return Err(KioskError::Options(
                "the audit log is restored before anything is logged (right after create)".into(),
            ));
        }
        self.audit = if stored.is_empty() {
            let mut fresh = AuditLog::new(kiosk_key);
            if let Reopening::Restart(reason) = how {
                fresh.append(now_unix, "restart", json!({"reason": reason}));
            }
            fresh
        } else {
            AuditLog::restore(stored, kiosk_key, how, now_unix)?
        };
        Ok(())
    }

    /// Binds a log without a kiosk key to `key` (the operator just created it).
    pub fn bind_kiosk_key(&mut self, key: [u8; 32], now_unix: i64) -> Result<(), KioskError> {
        Ok(self.audit.bind_key(key, now_unix)?)
    }

    /// The audit log itself (head, length, new lines), read-only.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// What the status panel shows at `now_unix` (read on the session's clock).
    pub fn status(&self, now_unix: i64) -> KioskStatus {
        let list = self.deployment.as_ref().map(|d| match &d.custody {
            Custody::Local { matcher, .. } | Custody::Authority { matcher, .. } => {
                ListSummary::of_header(&matcher.watchlist.header)
            }
            Custody::Sealed { descriptor, .. } => ListSummary::of_sealed(descriptor),
        });
        let mut status = KioskStatus::new(
            list,
            self.profile(),
            self.expected.as_ref(),
            self.reviews.len(),
            self.clock.unix_at(now_unix),
        );
        status.demo_enrolment_refused = self.demo_refusal().map(|e| e.to_string());
        if self.authority.key_check_pending() {
            status.loading = Some("checking the authority holds the new watchlist's key…".into());
        }
        if let Some(paused) = self.authority.paused() {
            status.matching = false;
            status.paused = Some(paused.to_owned());
        }
        status
    }

    /// The chart of false alerts per passer-by and true matches against the threshold, for this
    /// watchlist's size and threshold, marked at its m (SVG); `None` while nothing is loaded.
    pub fn operating_point_chart(&self) -> Option<String> {
        let header = &self.matcher()?.watchlist.header;
        Some(crate::calibration::chart::operating_point_svg(
            crate::calibration::shipped::calibration(),
            header.tables,
            header.entries as u64,
            header.threshold,
        ))
    }

    /// Ends all tracks and wipes their buffers (camera stopped).
    pub fn stop(&mut self) {
        self.tracker.clear();
        self.detection = DetectionSchedule::new(self.detection.policy);
        self.authority.drop_queries();
        if let Some(sealed) = &mut self.sealed {
            sealed.stop();
        }
        self.counters.tracks_active = 0;
        self.counters.tracks_ended = self.tracker.ended();
    }
}

fn face_views(tracked: Vec<TrackedFace>, qualities: Vec<Quality>) -> Vec<FaceView> {
    tracked
        .into_iter()
        .zip(qualities)
        .map(|(t, quality)| FaceView {
            bbox: t.face.bbox,
            landmarks: t.face.landmarks,
            score: t.face.score,
            track: t.track,
            quality,
        })
        .collect()
}
