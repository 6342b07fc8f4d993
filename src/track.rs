//! Tracking and per-track fusion (DESIGN §2): faces in consecutive frames are linked by box
//! overlap into tracks; each track averages the embeddings of its good frames, and asks for a
//! blind match when its first good face arrives and then at most once per `retry_ms` while it
//! stays. Decisions are per track, not per frame.
//!
//! Guarantees (G2): a track's fused embedding is wiped the moment the track ends; [`Tracker::retained`]
//! counts biometric buffers held for tracks that have ended, and is 0 by construction after every
//! [`Tracker::update`] — the kiosk shows it so that anyone can see it stay 0.

use serde::Serialize;

use crate::pipeline::Face;
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
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions { min_iou: 0.3, max_gap_ms: 1000.0, retry_ms: 1000.0, max_fused: 10 }
    }
}

struct Track {
    id: u32,
    face: Face,
    last_seen_ms: f64,
    /// Sum of the good frames' embeddings (normalised on use), and how many.
    sum: Option<Embedding>,
    fused: u32,
    last_attempt_ms: Option<f64>,
    /// Set once the track matched and raised an alert: it does not alert again.
    alerted: bool,
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
}

impl Tracker {
    pub fn new(options: TrackerOptions) -> Tracker {
        Tracker { options, tracks: Vec::new(), next_id: 1, ended: 0 }
    }

    /// Links this frame's faces to tracks. `embeddings[i]` is face i's embedding if it passed the
    /// quality gates. Returns the tracked faces and the tracks due for a match attempt.
    pub fn update(
        &mut self,
        faces: &[Face],
        embeddings: Vec<Option<Embedding>>,
        now_ms: f64,
    ) -> (Vec<TrackedFace>, Vec<MatchRequest>) {
        let mut claimed = vec![false; self.tracks.len()];
        let mut tracked = Vec::with_capacity(faces.len());
        let mut requests = Vec::new();
        // Borrowed, not moved out: a move would leave a copy of each embedding in the Vec's freed
        // buffer; dropping `embeddings` at the end zeroises them where they are.
        for (face, embedding) in faces.iter().zip(&embeddings) {
            let best = self
                .tracks
                .iter()
                .enumerate()
                .filter(|(i, t)| !claimed[*i] && t.face.iou(face) >= self.options.min_iou)
                .max_by(|a, b| a.1.face.iou(face).total_cmp(&b.1.face.iou(face)))
                .map(|(i, _)| i);
            let index = match best {
                Some(i) => i,
                None => {
                    self.tracks.push(Track {
                        id: self.next_id,
                        face: *face,
                        last_seen_ms: now_ms,
                        sum: None,
                        fused: 0,
                        last_attempt_ms: None,
                        alerted: false,
                    });
                    claimed.push(false);
                    self.next_id += 1;
                    self.tracks.len() - 1
                }
            };
            claimed[index] = true;
            let track = &mut self.tracks[index];
            track.face = *face;
            track.last_seen_ms = now_ms;
            if let Some(e) = embedding {
                if track.fused < self.options.max_fused {
                    track.sum = Some(match track.sum.take() {
                        Some(sum) => add(&sum, e),
                        None => e.clone(),
                    });
                    track.fused += 1;
                }
                let due = track.last_attempt_ms.is_none_or(|t| now_ms - t >= self.options.retry_ms);
                if due && !track.alerted {
                    if let Some(fused) = track.sum.as_ref().and_then(|s| Embedding::mean([s])) {
                        track.last_attempt_ms = Some(now_ms);
                        requests.push(MatchRequest { track: track.id, embedding: fused });
                    }
                }
            }
            tracked.push(TrackedFace { track: track.id, face: *face });
        }
        let gap = self.options.max_gap_ms;
        let before = self.tracks.len();
        // Dropping a Track drops its Embedding, which zeroises itself.
        self.tracks.retain(|t| now_ms - t.last_seen_ms <= gap);
        self.ended += (before - self.tracks.len()) as u64;
        (tracked, requests)
    }

    /// Marks a track as having raised an alert, so it is not matched again.
    pub fn mark_alerted(&mut self, track: u32) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == track) {
            t.alerted = true;
        }
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
        self.tracks.iter().filter(|t| now_ms - t.last_seen_ms > self.options.max_gap_ms && t.sum.is_some()).count()
    }

    /// Ends every track and wipes its buffers (camera stopped, kiosk closed).
    pub fn clear(&mut self) {
        self.ended += self.tracks.len() as u64;
        self.tracks.clear();
    }
}

/// Element-wise sum, kept un-normalised so that later frames weigh as much as earlier ones.
fn add(a: &Embedding, b: &Embedding) -> Embedding {
    let mut v = zeroize::Zeroizing::new(*a.values());
    for (x, y) in v.iter_mut().zip(b.values()) {
        *x += y;
    }
    Embedding::from_raw(*v)
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

    #[test]
    fn a_moving_face_keeps_its_track_and_is_matched_once_per_second() {
        let mut tracker = Tracker::new(TrackerOptions::default());
        let mut attempts = 0;
        let mut ids = Vec::new();
        for frame in 0..30 {
            let t = frame as f64 * 100.0;
            let (tracked, requests) = tracker.update(&[face(frame as f32 * 2.0)], vec![Some(unit(0))], t);
            ids.push(tracked[0].track);
            attempts += requests.len();
        }
        assert!(ids.iter().all(|&id| id == ids[0]), "one track");
        assert_eq!(attempts, 3, "at 0, 1000 and 2000 ms");
    }

    #[test]
    fn tracks_end_and_their_buffers_go_when_the_face_leaves() {
        let mut tracker = Tracker::new(TrackerOptions::default());
        tracker.update(&[face(0.0), face(300.0)], vec![Some(unit(0)), Some(unit(1))], 0.0);
        assert_eq!(tracker.active(), 2);
        tracker.update(&[face(0.0)], vec![Some(unit(0))], 500.0);
        tracker.update(&[], vec![], 1600.0);
        assert_eq!((tracker.active(), tracker.ended(), tracker.retained(1600.0)), (0, 2, 0));
    }

    #[test]
    fn fusion_averages_good_frames_and_an_alerted_track_is_not_matched_again() {
        let mut tracker = Tracker::new(TrackerOptions { retry_ms: 0.0, ..TrackerOptions::default() });
        tracker.update(&[face(0.0)], vec![Some(unit(0))], 0.0);
        let (_, requests) = tracker.update(&[face(1.0)], vec![Some(unit(1))], 100.0);
        let fused = &requests[0].embedding;
        assert!((fused.cosine(&unit(0)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        tracker.mark_alerted(requests[0].track);
        let (_, requests) = tracker.update(&[face(2.0)], vec![Some(unit(0))], 200.0);
        assert!(requests.is_empty());
        // A face without a usable embedding is tracked but never matched.
        let mut fresh = Tracker::new(TrackerOptions::default());
        let (tracked, requests) = fresh.update(&[face(0.0)], vec![None], 0.0);
        assert_eq!((tracked.len(), requests.len()), (1, 0));
    }
}
