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

use crate::pipeline::frame::Letterbox;
use crate::pipeline::{Engine, Face, Frame, Result};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn detect(&mut self, engine: &Engine, frame: &Frame, tracked: &[Face]) -> Result<(Vec<Face>, Pass)> {
        let (width, height) = (frame.width(), frame.height());
        let p = self.policy;
        let full = || engine.detect_at(frame, p.full_side);
        let reduced_is_full =
            Letterbox::fit(width, height, p.reduced_side) == Letterbox::fit(width, height, p.full_side);
        if reduced_is_full || self.since_full.saturating_add(1) >= p.full_every {
            self.since_full = 0;
            return Ok((full()?, Pass::Full));
        }
        let faces = engine.detect_at(frame, p.reduced_side)?;
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

    #[test]
    fn a_tracked_face_without_an_overlapping_detection_is_lost() {
        assert!(!lost_any(&[], &[], 0.3), "nothing tracked, nothing lost");
        assert!(!lost_any(&[face(0.0)], &[face(5.0), face(200.0)], 0.3));
        assert!(lost_any(&[face(0.0), face(200.0)], &[face(5.0)], 0.3));
        assert!(lost_any(&[face(0.0)], &[face(40.0)], 0.3), "a neighbour's box is not the face");
    }
}
