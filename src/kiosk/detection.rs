//! Which detector input the kiosk runs on each frame: a reduced one, and the full one only when it
//! is needed (issue 19, item 3).
//!
//! The reduced input is chosen by `veilwatch bench detection` (README, speed): LFW development
//! faces composed into 640×480 frames at 40–200 px (40 is the quality gate's minimum), detected at
//! 640 and at smaller inputs. The rule: the smallest input that (1) misses at most 1 % of the faces
//! the 640 input finds and the gate accepts, and (2) whose landmarks align the face as well as the
//! largest reduced input's do — the 5th percentile of the cosine between the embedding aligned
//! from its landmarks and the one aligned from 640's within 0.01 of 512's (512 shows the landmark
//! noise any other input has). Measured (2026-12-07, 2 498 gate faces): every input down to 256
//! passes (1); 384 (384×288, no padding) is the smallest that passes (2): p5 0.909 against 512's
//! 0.918, where 320 gives 0.879 and 256 0.814. It misses none of the 2 498 and takes 0.43× the
//! time of 640.
//!
//! The full input runs instead:
//!
//! - every [`DetectionPolicy::full_every`]-th frame, and on the first: the measurement found no
//!   face the reduced input misses, but it was made on LFW faces on grey; a face it misses in a
//!   real scene is found within that many frames (a third of a second at 30 frames/s) and tracked
//!   from then on, for 0.06× of a 640 detection per frame on average;
//! - again on a frame whose reduced pass lost a face tracked in the previous frame (no reduced
//!   detection overlaps it): the face may be one only the full input finds, and a track that loses
//!   its face would restart, and be embedded and matched again. A face that left the frame costs one
//!   extra full pass; it is not tracked in the next frame, so it costs no more.
//!
//! Faces near the gate's minimum size get no full pass of their own: at 40 px the gate's verdict
//! flips between 640 and 512 as often as between 640 and 384 (a box a pixel smaller, a landmark a
//! pixel off), so the full input would not make it more right.
//!
//! Guarantees: boxes and landmarks are in frame coordinates whichever input ran (alignment and crops
//! use the full-resolution frame); each input size's detector plan is built once, on its first use,
//! and kept; a frame no larger than the reduced input is detected once, at its own size. The reduced
//! input tensor is wiped after its run like the full one (G2: [`crate::pipeline::models`]).

use serde::{Deserialize, Serialize};

use super::KioskError;
use crate::pipeline::detect::Detector;
use crate::pipeline::frame::Letterbox;
use crate::pipeline::{Face, Frame, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionPolicy {
    /// The detector input's longer side on most frames.
    pub reduced_side: u32,
    /// The detector input's longer side when the full input is needed (the engine's default).
    pub full_side: u32,
    /// Every this many frames the full input runs (1: always).
    pub full_every: u32,
    /// Least box overlap for a reduced detection to have found a tracked face again (the tracker's).
    pub min_iou: f32,
}

impl Default for DetectionPolicy {
    fn default() -> Self {
        DetectionPolicy { reduced_side: 384, full_side: 640, full_every: 10, min_iou: 0.3 }
    }
}

/// Why a frame was detected at the full input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Pass {
    /// The reduced input alone.
    Reduced,
    /// The full input alone: the frame is no larger than the reduced input, or it is the first
    /// frame or the periodic one.
    Full,
    /// The reduced input lost a tracked face, so the full input ran as well.
    FullAfterLoss,
}

/// The policy and how many frames ago the full input last ran.
#[derive(Debug, Clone)]
pub struct DetectionSchedule {
    pub policy: DetectionPolicy,
    since_full: u32,
}

impl DetectionSchedule {
    pub fn new(policy: DetectionPolicy) -> DetectionSchedule {
        // The first frame runs the full input.
        DetectionSchedule { policy, since_full: u32::MAX }
    }

    /// The faces in `frame`, given the faces tracked in the previous frame, and which pass found them.
    pub fn detect(&mut self, detector: &Detector, frame: &Frame, tracked: &[Face]) -> Result<(Vec<Face>, Pass)> {
        let (width, height) = (frame.width(), frame.height());
        let p = self.policy;
        let full = || detector.detect_at(frame, p.full_side);
        let reduced_is_full =
            Letterbox::fit(width, height, p.reduced_side) == Letterbox::fit(width, height, p.full_side);
        if reduced_is_full || self.since_full.saturating_add(1) >= p.full_every {
            self.since_full = 0;
            return Ok((full()?, Pass::Full));
        }
        let faces = detector.detect_at(frame, p.reduced_side)?;
        if lost_any(tracked, &faces, p.min_iou) {
            self.since_full = 0;
            return Ok((full()?, Pass::FullAfterLoss));
        }
        self.since_full += 1;
        Ok((faces, Pass::Reduced))
    }
}

impl Default for DetectionSchedule {
    fn default() -> Self {
        DetectionSchedule::new(DetectionPolicy::default())
    }
}

/// One frame's detection as the detection Worker hands it to the kiosk's (issue 19, item 2): the
/// faces in frame coordinates and the pass that found them. Positions only; the pixels travel
/// beside it, in a buffer the receiver wipes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(deny_unknown_fields)]
pub struct Detection {
    pub faces: Vec<Face>,
    pub pass: Pass,
}

/// More faces than a 640×480 frame can hold at the quality gate's minimum size (40 px): a detection
/// claiming more is not one our detector made.
pub const MAX_FACES_PER_FRAME: usize = 256;

impl Detection {
    /// Refuses a detection no detector made for a `width`×`height` frame: too many faces, a
    /// coordinate that is not a finite number or lies more than a frame away from it, an empty box,
    /// a score outside [0, 1]. (Faces cut by the frame's edge are normal; they only fail the
    /// quality gate.)
    pub fn check(&self, width: u32, height: u32) -> std::result::Result<(), KioskError> {
        let refuse = |why: String| Err(KioskError::Options(format!("the frame's detection {why}")));
        if self.faces.len() > MAX_FACES_PER_FRAME {
            return refuse(format!("lists {} faces (at most {MAX_FACES_PER_FRAME})", self.faces.len()));
        }
        let (w, h) = (width as f32, height as f32);
        let near = |x: f32, y: f32| {
            x.is_finite() && y.is_finite() && (-w..=2.0 * w).contains(&x) && (-h..=2.0 * h).contains(&y)
        };
        for (i, face) in self.faces.iter().enumerate() {
            let [x, y, bw, bh] = face.bbox;
            let inside = near(x, y) && near(x + bw, y + bh) && face.landmarks.iter().all(|&[lx, ly]| near(lx, ly));
            if !(inside && bw > 0.0 && bh > 0.0) {
                return refuse(format!("has face {i} outside the {width}×{height} frame or with an empty box"));
            }
            if !(0.0..=1.0).contains(&face.score) {
                return refuse(format!("has face {i} with score {} (not in [0, 1])", face.score));
            }
        }
        Ok(())
    }
}

/// The detection stage on its own, for a Worker that only detects (the kiosk's other Worker
/// embeds, tracks and matches): the detector, the schedule, and the faces of the previous frame.
/// Every face the detector returns starts or continues a track ([`crate::track::Tracker::update`]),
/// so the previous frame's faces are exactly the tracked faces the schedule's loss rule needs.
pub struct DetectionStage {
    detector: Detector,
    schedule: DetectionSchedule,
    previous: Vec<Face>,
}

impl DetectionStage {
    pub fn new(detector: Detector, policy: DetectionPolicy) -> DetectionStage {
        DetectionStage { detector, schedule: DetectionSchedule::new(policy), previous: Vec::new() }
    }

    /// The faces in `frame` and the pass that found them.
    pub fn detect(&mut self, frame: &Frame) -> Result<Detection> {
        let (faces, pass) = self.schedule.detect(&self.detector, frame, &self.previous)?;
        self.previous.clone_from(&faces);
        Ok(Detection { faces, pass })
    }

    /// Forgets the previous frame (the camera stopped): the next frame runs the full input.
    pub fn reset(&mut self) {
        self.previous.clear();
        self.schedule = DetectionSchedule::new(self.schedule.policy);
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }
}

/// Whether some tracked face has no detection overlapping it by `min_iou`.
pub fn lost_any(tracked: &[Face], detected: &[Face], min_iou: f32) -> bool {
    tracked.iter().any(|t| detected.iter().all(|d| d.iou(t) < min_iou))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32) -> Face {
        Face { bbox: [x, 10.0, 50.0, 60.0], landmarks: [[0.0; 2]; 5], score: 0.9 }
    }

    fn detection(faces: Vec<Face>) -> Detection {
        Detection { faces, pass: Pass::Reduced }
    }

    #[test]
    fn a_detection_no_detector_made_is_refused() {
        assert!(detection(vec![face(0.0), face(600.0)]).check(640, 480).is_ok(), "a face cut by the edge is fine");
        let refused = |d: Detection| d.check(640, 480).unwrap_err().to_string();
        assert!(refused(detection(vec![face(f32::NAN)])).contains("outside"));
        assert!(refused(detection(vec![face(1e9)])).contains("outside"));
        let mut empty = face(0.0);
        empty.bbox[2] = 0.0;
        assert!(refused(detection(vec![empty])).contains("empty box"));
        let mut far_landmark = face(0.0);
        far_landmark.landmarks[2] = [0.0, -1e6];
        assert!(refused(detection(vec![far_landmark])).contains("outside"));
        let mut score = face(0.0);
        score.score = 1.5;
        assert!(refused(detection(vec![score])).contains("score"));
        assert!(refused(detection(vec![face(0.0); MAX_FACES_PER_FRAME + 1])).contains("at most"));
    }

    #[test]
    fn a_tracked_face_without_an_overlapping_detection_is_lost() {
        assert!(!lost_any(&[], &[], 0.3), "nothing tracked, nothing lost");
        assert!(!lost_any(&[face(0.0)], &[face(5.0), face(200.0)], 0.3));
        assert!(lost_any(&[face(0.0), face(200.0)], &[face(5.0)], 0.3));
        assert!(lost_any(&[face(0.0)], &[face(40.0)], 0.3), "a neighbour's box is not the face");
    }
}
