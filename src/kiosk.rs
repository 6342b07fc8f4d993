//! The kiosk session: the whole of DESIGN §2 on a stream of frames. Frames are detected, gated,
//! embedded, tracked and fused; each track is matched once when its first good face arrives and
//! then at most once a second; a match becomes an alert pending human review; everything else is
//! wiped when its frame or track ends. Counts, alerts and reviews go to the audit log.
//!
//! Guarantees: no automated decision (G6): an alert only waits for a person's confirm / reject /
//! unsure; the probe crop shown to the reviewer lives in memory only until the review, then it is
//! wiped; nothing runs outside the profile's and the watchlist's validity windows; the query-rate
//! cap of the profile is enforced before any PRF evaluation.

use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::audit::AuditLog;
use crate::blind::format::EntryRecord;
use crate::blind::matcher::Matcher;
use crate::blind::prf::Prf;
use crate::blind::BlindError;
use crate::profile::SignedProfile;
use crate::track::{Tracker, TrackerOptions};
use crate::{align, Engine, Frame, Quality};

#[derive(Debug, Clone, Copy, Default, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct FaceView {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub track: u32,
    pub quality: Quality,
}

/// An alert as the reviewer sees it: the sealed record that opened, and the probe crop.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: u32,
    pub track: u32,
    pub record: EntryRecord,
    pub collisions: u16,
    pub tables: u16,
    pub implied_cosine: f32,
    /// The 112×112 probe crop, RGBA, for the reviewer's eyes only; wiped on review.
    #[serde(skip)]
    pub probe_rgba: Vec<u8>,
}

#[derive(Debug)]
pub struct FrameResult {
    pub faces: Vec<FaceView>,
    pub alerts: Vec<AlertView>,
    pub counters: Counters,
    /// Set when a match attempt failed (e.g. the authority is down): detection and counting go
    /// on, matching resumes on the next attempt that succeeds.
    pub matching_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Confirmed,
    Rejected,
    Unsure,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "confirm" | "confirmed" => Some(Decision::Confirmed),
            "reject" | "rejected" => Some(Decision::Rejected),
            "unsure" => Some(Decision::Unsure),
            _ => None,
        }
    }
}

struct Pending {
    id: u32,
    reference_id: String,
    probe: Zeroizing<Vec<u8>>,
}

/// What went wrong in a kiosk session, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    #[error(transparent)]
    Pipeline(#[from] crate::Error),
    #[error(transparent)]
    Watchlist(#[from] BlindError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error("there is no pending alert {0} (it was already reviewed, or never existed)")]
    UnknownAlert(u32),
    #[error("the decision must be confirm, reject or unsure")]
    BadDecision,
    #[error("a review needs the reviewer's name")]
    NoReviewer,
}

pub struct KioskSession {
    engine: Engine,
    matcher: Option<Matcher>,
    prf: Option<Box<dyn Prf>>,
    profile: Option<SignedProfile>,
    tracker: Tracker,
    audit: AuditLog,
    counters: Counters,
    pending: Vec<Pending>,
    next_alert: u32,
    minute: Option<i64>,
    minute_faces: u64,
    minute_attempts: u64,
    minute_rejected: u64,
}

impl KioskSession {
    /// A session that detects and tracks but matches nothing until a watchlist is loaded.
    pub fn new(engine: Engine) -> KioskSession {
        KioskSession {
            engine,
            matcher: None,
            prf: None,
            profile: None,
            tracker: Tracker::new(TrackerOptions::default()),
            audit: AuditLog::default(),
            counters: Counters::default(),
            pending: Vec::new(),
            next_alert: 1,
            minute: None,
            minute_faces: 0,
            minute_attempts: 0,
            minute_rejected: 0,
        }
    }

    /// Loads a verified watchlist (and optionally its profile) for matching.
    pub fn load(
        &mut self,
        matcher: Matcher,
        prf: Box<dyn Prf>,
        profile: Option<SignedProfile>,
        now_unix: i64,
    ) -> Result<(), KioskError> {
        if let Some(p) = &profile {
            p.check_window(now_unix)?;
        }
        let header = &matcher.watchlist.header;
        self.audit.append(
            now_unix,
            "config",
            json!({
                "entries": header.entries,
                "tables": header.tables,
                "threshold": header.threshold,
                "custody": header.suite.name(),
                "watchlist_valid_until": crate::time::format_utc(header.valid_until),
                "operator": profile.as_ref().map(|p| p.profile.operator.clone()),
                "location": profile.as_ref().map(|p| p.profile.location.clone()),
                "purpose": profile.as_ref().map(|p| p.profile.purpose.clone()),
            }),
        );
        self.matcher = Some(matcher);
        self.prf = Some(prf);
        self.profile = profile;
        Ok(())
    }

    pub fn matcher(&self) -> Option<&Matcher> {
        self.matcher.as_ref()
    }

    pub fn profile(&self) -> Option<&SignedProfile> {
        self.profile.as_ref()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops matching (e.g. the window closed) but keeps detecting and counting.
    pub fn unload(&mut self, now_unix: i64, reason: &str) {
        if self.matcher.take().is_some() {
            self.prf = None;
            self.audit.append(now_unix, "config", json!({"matching": "stopped", "reason": reason}));
        }
    }

    fn roll_minute(&mut self, now_unix: i64) {
        let minute = now_unix.div_euclid(60);
        if self.minute != Some(minute) {
            if let Some(previous) = self.minute {
                self.audit.append(
                    previous * 60 + 59,
                    "counts",
                    json!({"faces": self.minute_faces, "rejected": self.minute_rejected,
                           "match_attempts": self.minute_attempts, "retained": self.counters.retained}),
                );
            }
            self.minute = Some(minute);
            self.minute_faces = 0;
            self.minute_attempts = 0;
            self.minute_rejected = 0;
        }
    }

    /// Processes one frame taken at `now_ms` (milliseconds since the Unix epoch).
    pub fn process_frame(&mut self, frame: &Frame, now_ms: f64) -> Result<FrameResult, KioskError> {
        let now_unix = (now_ms / 1000.0).floor() as i64;
        self.roll_minute(now_unix);
        let mut window_error = None;
        if let Some(m) = &self.matcher {
            let check = m.watchlist.check_window(now_unix).map_err(KioskError::from);
            let check =
                check.and(self.profile.as_ref().map_or(Ok(()), |p| p.check_window(now_unix).map_err(Into::into)));
            if let Err(e) = check {
                window_error = Some(e);
            }
        }
        if let Some(e) = window_error {
            let reason = e.to_string();
            self.unload(now_unix, &reason);
            return Err(e);
        }

        let faces = self.engine.detect(frame)?;
        let mut embeddings = Vec::with_capacity(faces.len());
        let mut qualities = Vec::with_capacity(faces.len());
        for face in &faces {
            let analysed = self.engine.analyse_face(frame, face)?;
            self.counters.faces_processed += 1;
            self.minute_faces += 1;
            if analysed.quality.passed() {
                embeddings.push(Some(analysed.embedding));
            } else {
                self.counters.faces_rejected += 1;
                self.minute_rejected += 1;
                embeddings.push(None);
            }
            qualities.push(analysed.quality);
        }
        let (tracked, requests) = self.tracker.update(&faces, embeddings, now_ms);

        let mut alerts = Vec::new();
        let mut matching_error = None;
        if let (Some(matcher), Some(prf)) = (&self.matcher, &self.prf) {
            let cap = self.profile.as_ref().map_or(u64::MAX, |p| p.profile.query_rate_per_minute as u64);
            for request in requests {
                if self.minute_attempts >= cap {
                    self.counters.rate_limited += 1;
                    continue;
                }
                self.minute_attempts += 1;
                self.counters.match_attempts += 1;
                let found = match matcher.match_embedding(&request.embedding, prf.as_ref(), now_unix) {
                    Ok(found) => found,
                    Err(e) => {
                        self.counters.match_failures += 1;
                        matching_error = Some(e.to_string());
                        continue;
                    }
                };
                for found in found {
                    let face = tracked.iter().find(|t| t.track == request.track).map(|t| t.face);
                    let probe = face.and_then(|f| align::align(frame, &f)).map(|crop| {
                        crop.rgb().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect::<Vec<u8>>()
                    });
                    let id = self.next_alert;
                    self.next_alert += 1;
                    self.counters.alerts += 1;
                    self.audit.append(
                        now_unix,
                        "alert",
                        json!({"alert": id, "track": request.track, "reference_id": found.record.reference_id,
                               "collisions": found.collisions, "tables": found.tables, "status": "pending review"}),
                    );
                    let probe = probe.unwrap_or_default();
                    self.pending.push(Pending {
                        id,
                        reference_id: found.record.reference_id.clone(),
                        probe: Zeroizing::new(probe.clone()),
                    });
                    alerts.push(AlertView {
                        id,
                        track: request.track,
                        record: found.record,
                        collisions: found.collisions,
                        tables: found.tables,
                        implied_cosine: found.implied_cosine,
                        probe_rgba: probe,
                    });
                    self.tracker.mark_alerted(request.track);
                }
            }
        }

        self.counters.frames += 1;
        self.counters.tracks_active = self.tracker.active();
        self.counters.tracks_ended = self.tracker.ended();
        self.counters.retained = self.tracker.retained(now_ms);
        let faces = tracked
            .into_iter()
            .zip(qualities)
            .map(|(t, quality)| FaceView {
                bbox: t.face.bbox,
                landmarks: t.face.landmarks,
                score: t.face.score,
                track: t.track,
                quality,
            })
            .collect();
        Ok(FrameResult { faces, alerts, counters: self.counters, matching_error })
    }

    /// Records a person's decision on an alert and wipes its probe crop.
    pub fn review(&mut self, alert: u32, decision: &str, reviewer: &str, now_unix: i64) -> Result<(), KioskError> {
        let decision = Decision::parse(decision).ok_or(KioskError::BadDecision)?;
        let reviewer = reviewer.trim();
        if reviewer.is_empty() {
            return Err(KioskError::NoReviewer);
        }
        let index = self.pending.iter().position(|p| p.id == alert).ok_or(KioskError::UnknownAlert(alert))?;
        let pending = self.pending.remove(index);
        self.audit.append(
            now_unix,
            "review",
            json!({"alert": alert, "reference_id": pending.reference_id, "decision": decision, "reviewer": reviewer}),
        );
        drop(pending);
        Ok(())
    }

    pub fn pending_reviews(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of probe crops held for pending reviews (for the "retained" display).
    pub fn pending_probe_bytes(&self) -> usize {
        self.pending.iter().map(|p| p.probe.len()).sum()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn audit_log(&self) -> String {
        self.audit.export()
    }

    /// Ends all tracks and wipes their buffers (camera stopped).
    pub fn stop(&mut self) {
        self.tracker.clear();
        self.counters.tracks_active = 0;
        self.counters.tracks_ended = self.tracker.ended();
    }
}
