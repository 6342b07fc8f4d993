//! Tracking and per-track fusion (DESIGN §2): faces in consecutive frames are linked by box
//! overlap into tracks; each track averages the embeddings of up to `max_fused` good frames, and
//! asks for a blind match when its first good face arrives and then at most once per `retry_ms`
//! while it stays. Decisions are per track, not per frame.
//!
//! Embedding on need: embedding is the expensive stage, so the caller asks [`Tracker::embed_when`]
//! before embedding a frame's faces. A face is embedded when it starts a track, while its track's
//! fusion budget (`max_fused` good frames) is not spent, and afterwards only when it is clearly
//! better (its [`Quality::frontal_px`] at least `better_by` times the track's best fused face) —
//! then it takes the place of the track's worst fused face. Every other face is carried by its box
//! and landmarks alone; an alerted track is never embedded again. The frames fused are therefore
//! the track's first `max_fused` good ones, improved only by clearly better ones: the "mean of up to
//! ten photos" that the operating-point eval's `track` protocol measures.
//!
//! Guarantees (G2): a track's fused embeddings are wiped the moment the track ends; [`Tracker::retained`]
//! counts biometric buffers held for tracks that have ended, and is 0 by construction after every
//! [`Tracker::update`] — the kiosk shows it so that anyone can see it stay 0.

use serde::Serialize;

use crate::pipeline::{Face, Quality};
use crate::template::Embedding;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerOptions {
    /// Minimum IoU to continue a track.
    pub min_iou: f32,
    /// A track ends after this long without a matching face.
    pub max_gap_ms: f64,
    /// Least time between two match attempts of one track.
    pub retry_ms: f64,
    /// Good frames fused at most (a running mean over the most recent ones would also do; a cap
    /// keeps an old frame from outweighing the person in front of the camera now).
    pub max_fused: u32,
    /// Once `max_fused` frames are fused, a face is embedded again only if its
    /// [`Quality::frontal_px`] is at least this many times the track's best fused face's.
    pub better_by: f32,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions { min_iou: 0.3, max_gap_ms: 1000.0, retry_ms: 1000.0, max_fused: 10, better_by: 1.25 }
    }
}

/// One good frame fused into a track: its embedding and how frontal and large the face was.
struct FusedFrame {
    frontal_px: f32,
    embedding: Embedding,
}

struct Track {
    id: u32,
    face: Face,
    last_seen_ms: f64,
    /// The good frames fused (at most `max_fused`; allocated once, so that no reallocation leaves
    /// a copy of an embedding behind). Wiped on drop.
    fused: Vec<FusedFrame>,
    last_attempt_ms: Option<f64>,
    /// Set once the track matched and raised an alert: it does not alert again.
    alerted: bool,
}

impl Track {
    fn best_frontal_px(&self) -> f32 {
        self.fused.iter().map(|f| f.frontal_px).fold(0.0, f32::max)
    }
}

/// Whether a face needs an embedding, before its quality is known ([`Tracker::embed_when`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EmbedWhen {
    /// It starts a track, or its track's fusion budget is not spent: embed it if it is good.
    Good,
    /// Its track's budget is spent: embed it only if it is good and its
    /// [`Quality::frontal_px`] is at least this.
    Better(f32),
    /// Its track already alerted: its embedding would never be used.
    Never,
}

impl EmbedWhen {
    /// Whether a face of `quality` is to be embedded.
    pub fn wants(self, quality: &Quality) -> bool {
        match self {
            EmbedWhen::Good => quality.passed(),
            EmbedWhen::Better(at_least) => quality.passed() && quality.frontal_px() >= at_least,
            EmbedWhen::Never => false,
        }
    }
}

/// One face of the current frame as the tracker is given it: its quality, and its embedding if
/// the caller embedded it (see [`Tracker::embed_when`]).
pub struct Sighting {
    pub quality: Quality,
    pub embedding: Option<Embedding>,
}

/// One face of the current frame, as the caller sees it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TrackedFace {
    pub track: u32,
    pub face: Face,
}

/// A track that should be matched now, with its fused embedding.
pub struct MatchRequest {
    pub track: u32,
    pub embedding: Embedding,
}

pub struct Tracker {
    options: TrackerOptions,
    tracks: Vec<Track>,
    next_id: u32,
    ended: u64,
    /// The time of the last [`Tracker::update`].
    last_update_ms: Option<f64>,
}

impl Tracker {
    pub fn new(options: TrackerOptions) -> Tracker {
        Tracker { options, tracks: Vec::new(), next_id: 1, ended: 0, last_update_ms: None }
    }

    /// The track each face continues (an index into `tracks`), or `None` for a new track: each
    /// face in turn takes the unclaimed track its box overlaps most, if by `min_iou` at least.
    fn associate(&self, faces: &[Face]) -> Vec<Option<usize>> {
        let mut claimed = vec![false; self.tracks.len()];
        faces
            .iter()
            .map(|face| {
                let best = self
                    .tracks
                    .iter()
                    .enumerate()
                    .filter(|(i, t)| !claimed[*i] && t.face.iou(face) >= self.options.min_iou)
                    .max_by(|a, b| a.1.face.iou(face).total_cmp(&b.1.face.iou(face)))
                    .map(|(i, _)| i);
                if let Some(i) = best {
                    claimed[i] = true;
                }
                best
            })
            .collect()
    }

    /// For each of this frame's faces, whether it needs an embedding, from its box alone (the
    /// same association [`Tracker::update`] then makes).
    pub fn embed_when(&self, faces: &[Face]) -> Vec<EmbedWhen> {
        self.associate(faces)
            .into_iter()
            .map(|track| match track.map(|i| &self.tracks[i]) {
                None => EmbedWhen::Good,
                Some(t) if t.alerted => EmbedWhen::Never,
                Some(t) if t.fused.len() < self.options.max_fused as usize => EmbedWhen::Good,
                Some(t) => EmbedWhen::Better(t.best_frontal_px() * self.options.better_by),
            })
            .collect()
    }

    /// Links this frame's faces to tracks and fuses the embeddings given. `sightings[i]` is face
    /// i's quality and its embedding, if the caller embedded it. A track is due for a match
    /// attempt when a good face of it is seen, it has fused at least one frame, and `retry_ms`
    /// passed since its last attempt. Returns the tracked faces and the tracks due.
    pub fn update(
        &mut self,
        faces: &[Face],
        sightings: Vec<Sighting>,
        now_ms: f64,
    ) -> (Vec<TrackedFace>, Vec<MatchRequest>) {
        let associated = self.associate(faces);
        let mut tracked = Vec::with_capacity(faces.len());
        let mut requests = Vec::new();
        let max_fused = self.options.max_fused as usize;
        // Borrowed, not moved out: a move would leave a copy of each embedding in the Vec's freed
        // buffer; dropping `sightings` at the end zeroises them where they are.
        for ((face, sighting), track) in faces.iter().zip(&sightings).zip(associated) {
            let index = match track {
                Some(i) => i,
                None => {
                    self.tracks.push(Track {
                        id: self.next_id,
                        face: *face,
                        last_seen_ms: now_ms,
                        fused: Vec::with_capacity(max_fused),
                        last_attempt_ms: None,
                        alerted: false,
                    });
                    self.next_id += 1;
                    self.tracks.len() - 1
                }
            };
            let track = &mut self.tracks[index];
            track.face = *face;
            track.last_seen_ms = now_ms;
            if let Some(e) = sighting.embedding.as_ref().filter(|_| sighting.quality.passed()) {
                let frontal_px = sighting.quality.frontal_px();
                if track.fused.len() < max_fused {
                    track.fused.push(FusedFrame { frontal_px, embedding: e.clone() });
                } else if let Some(worst) = track
                    .fused
                    .iter_mut()
                    .filter(|f| f.frontal_px < frontal_px)
                    .min_by(|a, b| a.frontal_px.total_cmp(&b.frontal_px))
                {
                    // Assigned in place: the replaced embedding is dropped (wiped) where it lies.
                    *worst = FusedFrame { frontal_px, embedding: e.clone() };
                }
            }
            let due = track.last_attempt_ms.is_none_or(|t| now_ms - t >= self.options.retry_ms);
            if sighting.quality.passed() && due && !track.alerted {
                if let Some(fused) = Embedding::mean(track.fused.iter().map(|f| &f.embedding)) {
                    track.last_attempt_ms = Some(now_ms);
                    requests.push(MatchRequest { track: track.id, embedding: fused });
                }
            }
            tracked.push(TrackedFace { track: track.id, face: *face });
        }
        self.last_update_ms = Some(now_ms);
        let gap = self.options.max_gap_ms;
        let before = self.tracks.len();
        // Dropping a Track drops its embeddings, which zeroise themselves.
        self.tracks.retain(|t| now_ms - t.last_seen_ms <= gap);
        self.ended += (before - self.tracks.len()) as u64;
        (tracked, requests)
    }

    /// Marks a track as having raised an alert, so it is not matched (nor embedded) again.
    pub fn mark_alerted(&mut self, track: u32) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == track) {
            t.alerted = true;
        }
    }

    /// Whether track `id` has raised an alert already.
    pub fn has_alerted(&self, id: u32) -> bool {
        self.tracks.iter().any(|t| t.id == id && t.alerted)
    }

    /// The faces of the tracks seen in the last frame (given to the last [`Tracker::update`]): where
    /// the next frame should find them again.
    pub fn seen_last_frame(&self) -> Vec<Face> {
        self.tracks.iter().filter(|t| Some(t.last_seen_ms) == self.last_update_ms).map(|t| t.face).collect()
    }

    /// Whether track `id` has not ended yet.
    pub fn is_live(&self, id: u32) -> bool {
        self.tracks.iter().any(|t| t.id == id)
    }

    pub fn active(&self) -> usize {
        self.tracks.len()
    }

    pub fn ended(&self) -> u64 {
        self.ended
    }

    /// Biometric buffers held for tracks that are no longer in view.
    pub fn retained(&self, now_ms: f64) -> usize {
        self.tracks.iter().filter(|t| now_ms - t.last_seen_ms > self.options.max_gap_ms && !t.fused.is_empty()).count()
    }

    /// Ends every track and wipes its buffers (camera stopped, kiosk closed).
    pub fn clear(&mut self) {
        self.ended += self.tracks.len() as u64;
        self.tracks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32) -> Face {
        Face { bbox: [x, 10.0, 50.0, 60.0], landmarks: [[0.0; 2]; 5], score: 0.9 }
    }

    fn unit(i: usize) -> Embedding {
        let mut v = [0f32; 128];
        v[i] = 1.0;
        Embedding::from_values(&v).unwrap()
    }

    /// A frontal face `px` pixels wide that passed every gate.
    fn quality(px: f32) -> Quality {
        Quality { face_px: px, yaw_deg: 0.0, pitch_deg: 0.0, roll_deg: 0.0, sharpness: 100.0, rejections: vec![] }
    }

    fn good(px: f32, e: Embedding) -> Sighting {
        Sighting { quality: quality(px), embedding: Some(e) }
    }

    /// Feeds a frame the way the session does: asks which faces need an embedding, embeds those
    /// (with `embed(i)`), updates. Returns the tracked faces, requests and how many were embedded.
    fn frame(
        tracker: &mut Tracker,
        faces: &[Face],
        px: &[f32],
        embed: impl Fn(usize) -> Embedding,
        now_ms: f64,
    ) -> (Vec<TrackedFace>, Vec<MatchRequest>, usize) {
        let needs = tracker.embed_when(faces);
        let sightings: Vec<Sighting> = needs
            .iter()
            .enumerate()
            .map(|(i, need)| {
                let q = quality(px[i]);
                let embedding = need.wants(&q).then(|| embed(i));
                Sighting { quality: q, embedding }
            })
            .collect();
        let embedded = sightings.iter().filter(|s| s.embedding.is_some()).count();
        let (tracked, requests) = tracker.update(faces, sightings, now_ms);
        (tracked, requests, embedded)
    }

    #[test]
    fn only_the_faces_of_the_last_frame_are_looked_for_in_the_next() {
        let mut tracker = Tracker::new(TrackerOptions::default());
        assert!(tracker.seen_last_frame().is_empty());
        frame(&mut tracker, &[face(0.0), face(200.0)], &[50.0, 50.0], unit, 0.0);
        assert_eq!(tracker.seen_last_frame().len(), 2);
        // The second face is gone: its track lives on (within max_gap_ms) but is not looked for.
        frame(&mut tracker, &[face(4.0)], &[50.0], unit, 40.0);
        assert_eq!((tracker.active(), tracker.seen_last_frame()), (2, vec![face(4.0)]));
        frame(&mut tracker, &[], &[], unit, 80.0);
        assert!(tracker.seen_last_frame().is_empty());
    }

    #[test]
    fn a_moving_face_keeps_its_track_and_is_matched_once_per_second() {
        let mut tracker = Tracker::new(TrackerOptions::default());
        let mut attempts = 0;
        let mut ids = Vec::new();
        for frame in 0..30 {
            let t = frame as f64 * 100.0;
            let (tracked, requests) = tracker.update(&[face(frame as f32 * 2.0)], vec![good(50.0, unit(0))], t);
            ids.push(tracked[0].track);
            attempts += requests.len();
        }
        assert!(ids.iter().all(|&id| id == ids[0]), "one track");
        assert_eq!(attempts, 3, "at 0, 1000 and 2000 ms");
    }

    #[test]
    fn tracks_end_and_their_buffers_go_when_the_face_leaves() {
        let mut tracker = Tracker::new(TrackerOptions::default());
        tracker.update(&[face(0.0), face(300.0)], vec![good(50.0, unit(0)), good(50.0, unit(1))], 0.0);
        assert_eq!(tracker.active(), 2);
        tracker.update(&[face(0.0)], vec![good(50.0, unit(0))], 500.0);
        tracker.update(&[], vec![], 1600.0);
        assert_eq!((tracker.active(), tracker.ended(), tracker.retained(1600.0)), (0, 2, 0));
    }

    #[test]
    fn fusion_averages_good_frames_and_an_alerted_track_is_not_matched_again() {
        let mut tracker = Tracker::new(TrackerOptions { retry_ms: 0.0, ..TrackerOptions::default() });
        tracker.update(&[face(0.0)], vec![good(50.0, unit(0))], 0.0);
        let (_, requests) = tracker.update(&[face(1.0)], vec![good(50.0, unit(1))], 100.0);
        let fused = &requests[0].embedding;
        assert!((fused.cosine(&unit(0)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        tracker.mark_alerted(requests[0].track);
        let (_, requests) = tracker.update(&[face(2.0)], vec![good(50.0, unit(0))], 200.0);
        assert!(requests.is_empty());
        assert_eq!(tracker.embed_when(&[face(3.0)]), vec![EmbedWhen::Never], "an alerted track is not embedded again");
        // A face that failed a gate is tracked but never embedded nor matched.
        let mut fresh = Tracker::new(TrackerOptions::default());
        let mut blurred = quality(50.0);
        blurred.rejections.push(crate::pipeline::quality::Rejection::Blurred);
        assert!(!fresh.embed_when(&[face(0.0)])[0].wants(&blurred));
        let (tracked, requests) = fresh.update(&[face(0.0)], vec![Sighting { quality: blurred, embedding: None }], 0.0);
        assert_eq!((tracked.len(), requests.len()), (1, 0));
    }

    #[test]
    fn a_track_past_its_fusion_budget_keeps_its_identity_and_is_matched_on_boxes_alone() {
        let options = TrackerOptions { max_fused: 3, ..TrackerOptions::default() };
        let mut tracker = Tracker::new(options);
        let (mut embedded, mut attempts, mut ids) = (0, Vec::new(), Vec::new());
        for i in 0..30 {
            let (tracked, requests, e) =
                frame(&mut tracker, &[face(i as f32 * 2.0)], &[50.0], |_| unit(0), i as f64 * 100.0);
            embedded += e;
            ids.push(tracked[0].track);
            attempts.extend(requests.iter().map(|r| (i, r.embedding.cosine(&unit(0)))));
        }
        assert_eq!(embedded, 3, "the first three good faces, then none: the budget is spent");
        assert!(ids.iter().all(|&id| id == ids[0]), "the track is carried by its boxes: {ids:?}");
        // Matched once a second as before, with the fused embedding of the frames it has.
        assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), vec![0, 10, 20]);
        assert!(attempts.iter().all(|a| (a.1 - 1.0).abs() < 1e-5));
        assert_eq!(tracker.embed_when(&[face(60.0)]), vec![EmbedWhen::Better(50.0 * 1.25)]);
        // A second face that appears beside it starts its own track, which is embedded.
        let (tracked, _, e) = frame(&mut tracker, &[face(60.0), face(400.0)], &[50.0, 50.0], unit, 3000.0);
        assert_eq!((tracked[0].track, e), (ids[0], 1));
        assert_ne!(tracked[1].track, ids[0]);
    }

    #[test]
    fn a_clearly_better_face_is_embedded_and_replaces_the_worst_fused_one() {
        let options = TrackerOptions { max_fused: 2, retry_ms: 0.0, ..TrackerOptions::default() };
        let mut tracker = Tracker::new(options);
        // Budget spent on a small face (unit 0) and a larger one (unit 1).
        frame(&mut tracker, &[face(0.0)], &[40.0], |_| unit(0), 0.0);
        frame(&mut tracker, &[face(1.0)], &[50.0], |_| unit(1), 100.0);
        // Slightly better: not worth an embedding.
        let (_, _, e) = frame(&mut tracker, &[face(2.0)], &[60.0], |_| unit(2), 200.0);
        assert_eq!(e, 0, "60 px is not 1.25 × 50 px");
        // Clearly better: embedded, and it takes the 40 px face's place in the fusion.
        let (_, requests, e) = frame(&mut tracker, &[face(3.0)], &[64.0], |_| unit(2), 300.0);
        assert_eq!(e, 1);
        let fused = &requests[0].embedding;
        assert!(fused.cosine(&unit(0)).abs() < 1e-5, "the worst face left the fusion");
        assert!((fused.cosine(&unit(1)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        assert!((fused.cosine(&unit(2)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        assert_eq!(tracker.embed_when(&[face(4.0)]), vec![EmbedWhen::Better(64.0 * 1.25)]);
    }
}
