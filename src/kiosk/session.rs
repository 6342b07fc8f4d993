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

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::json;

use super::clock::{ClockEvent, SessionClock};
use super::demo::{DemoRoster, DEMO_QUERY_RATE_PER_MINUTE};
use super::deployment::{Deployment, DeploymentOptions};
use super::minute::MinuteCounts;
use super::review::{AlertView, Decision, ProbeCrop, Reviews};
use super::status::{ExpectedRates, KioskStatus};
use super::KioskError;
use crate::blind::matcher::Matcher;
use crate::blind::prf::Prf;
use crate::governance::audit::{AuditLog, Reopening};
use crate::governance::profile::SignedProfile;
use crate::pipeline::{align, Engine, Face, Frame, Quality};
use crate::template::Embedding;
use crate::track::{MatchRequest, TrackedFace, Tracker, TrackerOptions};

#[derive(Debug, Clone, Copy, Default, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub frames: u64,
    /// Faces detected and processed (every one of them wiped after its frame).
    pub faces_processed: u64,
    /// Faces that failed a quality gate (counted, never matched).
    pub faces_rejected: u64,
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
}

/// Faces of one frame after analysis: each face's quality, and its embedding if it passed.
struct AnalysedFrame {
    faces: Vec<Face>,
    qualities: Vec<Quality>,
    embeddings: Vec<Option<Embedding>>,
}

pub struct KioskSession {
    engine: Engine,
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
}

impl KioskSession {
    /// A session that detects and tracks but matches nothing until a deployment is loaded.
    pub fn new(engine: Engine) -> KioskSession {
        KioskSession {
            engine,
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
        }
    }

    /// The same session, accepting only profiles co-signed by `overseer` (DESIGN §4).
    pub fn with_overseer_key(mut self, overseer: Option<VerifyingKey>) -> KioskSession {
        self.overseer = overseer;
        self
    }

    /// Verifies a deployment ([`Deployment::verify`]) and loads it. Nothing changes if it fails.
    pub fn load_deployment(
        &mut self,
        options: DeploymentOptions,
        connect_authority: impl FnOnce(&str) -> Box<dyn Prf>,
        now_unix: i64,
    ) -> Result<(), KioskError> {
        let now_unix = self.observe_unix(now_unix);
        let deployment =
            Deployment::verify(options, self.overseer.as_ref(), connect_authority, self.engine.model_id(), now_unix)?;
        self.load(deployment, now_unix)
    }

    /// Loads a verified deployment for matching, once its profile's window is found open.
    fn load(&mut self, deployment: Deployment, now_unix: i64) -> Result<(), KioskError> {
        let profile = deployment.profile.as_ref();
        if let Some(p) = profile {
            p.check_window(now_unix)?;
        }
        let header = &deployment.matcher.watchlist.header;
        self.audit.append(
            now_unix,
            "config",
            json!({
                "entries": header.entries,
                "tables": header.tables,
                "threshold": header.threshold,
                "custody": header.suite.name(),
                "watchlist_valid_until": crate::time::format_utc(header.valid_until),
                "operator": profile.map(|p| p.profile.operator.clone()),
                "location": profile.map(|p| p.profile.location.clone()),
                "purpose": profile.map(|p| p.profile.purpose.clone()),
                "query_rate_per_minute": profile.map_or(DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute),
                "mode": if deployment.is_demo() { "demo" } else { "deployment" },
            }),
        );
        self.expected = Some(ExpectedRates::of(header));
        self.deployment = Some(deployment);
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

    pub fn matcher(&self) -> Option<&Matcher> {
        self.deployment.as_ref().map(|d| &d.matcher)
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
        if self.deployment.take().is_some() {
            self.audit.append(now_unix, "config", json!({"matching": "stopped", "reason": reason}));
        }
    }

    /// Processes one frame taken at `now_ms` (milliseconds since the Unix epoch, as the page
    /// says; the session never lets its time go back, see [`super::clock`]).
    pub fn process_frame(&mut self, frame: &Frame, now_ms: f64) -> Result<FrameResult, KioskError> {
        if !now_ms.is_finite() {
            return Err(KioskError::Options("the frame's time must be a finite number of milliseconds since 1970".into()));
        }
        let (now_ms, event) = self.clock.observe_ms(now_ms);
        let now_unix = (now_ms / 1000.0).floor() as i64;
        self.log_clock(now_unix, event);
        self.roll_minute(now_unix);
        self.stop_matching_outside_the_window(now_unix)?;
        let analysed = self.analyse_faces(frame)?;
        let (tracked, requests) = self.tracker.update(&analysed.faces, analysed.embeddings, now_ms);
        let (alerts, matching_error) = self.match_tracks(frame, &tracked, requests, now_unix);
        self.update_track_counters(now_ms);
        Ok(FrameResult {
            faces: face_views(tracked, analysed.qualities),
            alerts,
            counters: self.counters,
            matching_error,
        })
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

    /// Detects, aligns, assesses and embeds every face, counting each; faces that fail a quality
    /// gate keep no embedding.
    fn analyse_faces(&mut self, frame: &Frame) -> Result<AnalysedFrame, KioskError> {
        let faces = self.engine.detect(frame)?;
        let mut qualities = Vec::with_capacity(faces.len());
        let mut embeddings = Vec::with_capacity(faces.len());
        for face in &faces {
            let analysed = self.engine.analyse_face(frame, face)?;
            let passed = analysed.quality.passed();
            self.counters.faces_processed += 1;
            self.counters.faces_rejected += u64::from(!passed);
            self.minute.face(passed);
            embeddings.push(passed.then_some(analysed.embedding));
            qualities.push(analysed.quality);
        }
        Ok(AnalysedFrame { faces, qualities, embeddings })
    }

    /// One blind match per due track, within the profile's per-minute cap; each record that opens
    /// becomes an alert pending review. A failed attempt is counted and reported, not fatal.
    fn match_tracks(
        &mut self,
        frame: &Frame,
        tracked: &[TrackedFace],
        requests: Vec<MatchRequest>,
        now_unix: i64,
    ) -> (Vec<AlertView>, Option<String>) {
        let (mut alerts, mut matching_error) = (Vec::new(), None);
        let Some(deployment) = &self.deployment else { return (alerts, matching_error) };
        let cap = u64::from(deployment.profile.as_ref().map_or(DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute));
        for request in requests {
            if !self.minute.try_attempt(cap) {
                self.counters.rate_limited += 1;
                continue;
            }
            self.counters.match_attempts += 1;
            let found = match deployment.matcher.match_embedding(&request.embedding, deployment.prf.as_ref(), now_unix) {
                Ok(found) => found,
                Err(e) => {
                    self.counters.match_failures += 1;
                    matching_error = Some(e.to_string());
                    continue;
                }
            };
            for found in found {
                let probe = tracked
                    .iter()
                    .find(|t| t.track == request.track)
                    .and_then(|t| align::align(frame, &t.face))
                    .map_or_else(ProbeCrop::default, |crop| ProbeCrop::from_aligned(&crop));
                let id = self.reviews.raise(&found.record.reference_id, probe.clone());
                self.counters.alerts += 1;
                // The entry's reference id waits for the review: a rejected false match must not
                // leave a passer-by linked to a watchlist entry in the log.
                self.audit.append(
                    now_unix,
                    "alert",
                    json!({"alert": id, "track": request.track, "collisions": found.collisions,
                           "tables": found.tables, "status": "pending review"}),
                );
                alerts.push(AlertView {
                    id,
                    track: request.track,
                    record: found.record,
                    collisions: found.collisions,
                    tables: found.tables,
                    implied_cosine: found.implied_cosine,
                    probe,
                });
                self.tracker.mark_alerted(request.track);
            }
        }
        (alerts, matching_error)
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
        let mut entry = json!({"alert": reviewed.alert, "decision": reviewed.decision, "reviewer": reviewed.reviewer});
        if reviewed.decision != Decision::Rejected {
            entry["reference_id"] = reviewed.reference_id.into();
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
    pub fn restore_audit(&mut self, stored: &str, kiosk_key: Option<[u8; 32]>, how: Reopening, now_unix: i64) -> Result<(), KioskError> {
        if !self.audit.is_empty() {
            return Err(KioskError::Options("the audit log is restored before anything is logged (right after create)".into()));
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
        let header = self.matcher().map(|m| &m.watchlist.header);
        let mut status =
            KioskStatus::new(header, self.profile(), self.expected.as_ref(), self.reviews.len(), self.clock.unix_at(now_unix));
        status.demo_enrolment_refused = self.demo_refusal().map(|e| e.to_string());
        status
    }

    /// The chart of false alerts per passer-by and true matches against the threshold, for this
    /// watchlist's size and threshold, marked at its m (SVG); `None` while nothing is loaded.
    pub fn operating_point_chart(&self) -> Option<String> {
        let header = &self.matcher()?.watchlist.header;
        Some(crate::eval::report::operating_point_svg(
            crate::eval::measured::calibration(),
            header.tables,
            header.entries as u64,
            header.threshold,
        ))
    }

    /// Ends all tracks and wipes their buffers (camera stopped).
    pub fn stop(&mut self) {
        self.tracker.clear();
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
