//! Face detection with YuNet (2023mar): anchor-free decoding of its three strides, score
//! threshold, greedy non-maximum suppression, and the mapping of boxes and landmarks back from the
//! detector's letterboxed input to frame coordinates.
//!
//! Decoding mirrors OpenCV's `cv::FaceDetectorYN` so that results agree with the reference
//! pipeline the models were published with.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use super::error::{Error, ModelKind, Result};
use super::frame::{Frame, Letterbox};
use super::models::{run_and_wipe, wipe, Plan, VerifiedModel};

/// A detected face in frame coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Face {
    /// `[x, y, width, height]` of the face box.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right and left mouth corner (the subject's right is the
    /// image's left).
    #[cfg_attr(target_arch = "wasm32", tsify(type = "[number, number][]"))]
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Face {
    pub fn centre(&self) -> [f32; 2] {
        [self.bbox[0] + self.bbox[2] / 2.0, self.bbox[1] + self.bbox[3] / 2.0]
    }

    pub fn iou(&self, other: &Face) -> f32 {
        let [ax, ay, aw, ah] = self.bbox;
        let [bx, by, bw, bh] = other.bbox;
        let iw = ((ax + aw).min(bx + bw) - ax.max(bx)).max(0.0);
        let ih = ((ay + ah).min(by + bh) - ay.max(by)).max(0.0);
        let inter = iw * ih;
        let union = aw * ah + bw * bh - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorOptions {
    /// Frames are scaled down so their longer side fits this (640 suits 640×480 cameras).
    pub max_side: u32,
    pub score_threshold: f32,
    pub nms_iou: f32,
    pub top_k: usize,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions { max_side: 640, score_threshold: 0.6, nms_iou: 0.3, top_k: 5000 }
    }
}

/// Plans specialised to one input size are costly to build; a camera keeps one size, a photo
/// collection a few. Beyond this many sizes the cache starts over.
const MAX_CACHED_SIZES: usize = 8;
const STRIDES: [usize; 3] = [8, 16, 32];

pub struct Detector {
    model: VerifiedModel,
    plans: Mutex<HashMap<(u32, u32), Plan>>,
    pub options: DetectorOptions,
}

impl Detector {
    pub fn from_bytes(bytes: &[u8]) -> Result<Detector> {
        let detector = Detector {
            model: VerifiedModel::from_bytes(ModelKind::Detector, bytes)?,
            plans: Mutex::new(HashMap::new()),
            options: DetectorOptions::default(),
        };
        // Build one plan now so that a model tract cannot run fails at load, not on first frame.
        detector.plan(640, 480)?;
        Ok(detector)
    }

    /// How many input sizes have a plan built (a kiosk should hold one per size it uses).
    pub fn plans_built(&self) -> usize {
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Builds the plan for a `width`×`height` frame scaled to fit `max_side` now, so that the first
    /// frame at that size does not pay for it (and a size tract cannot run fails here).
    pub fn prepare(&self, width: u32, height: u32, max_side: u32) -> Result<()> {
        let letterbox = Letterbox::fit(width, height, max_side);
        self.plan(letterbox.input_width, letterbox.input_height).map(drop)
    }

    fn plan(&self, width: u32, height: u32) -> Result<Plan> {
        let cached = self.plans.lock().unwrap_or_else(|e| e.into_inner()).get(&(width, height)).cloned();
        if let Some(plan) = cached {
            return Ok(plan);
        }
        let plan = self.model.plan(height as usize, width as usize)?;
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= MAX_CACHED_SIZES {
            plans.clear();
        }
        plans.insert((width, height), plan.clone());
        Ok(plan)
    }

    /// All faces in the frame, best score first.
    pub fn detect(&self, frame: &Frame) -> Result<Vec<Face>> {
        self.detect_at(frame, self.options.max_side)
    }

    /// As [`Detector::detect`], with the frame scaled to fit `max_side` instead of the options'.
    /// Boxes and landmarks are in frame coordinates whatever the input size, so alignment and crops
    /// always use the frame's own pixels. Each input size's plan is built on its first use and kept.
    pub fn detect_at(&self, frame: &Frame, max_side: u32) -> Result<Vec<Face>> {
        let letterbox = Letterbox::fit(frame.width(), frame.height(), max_side);
        let plan = self.plan(letterbox.input_width, letterbox.input_height)?;
        let mut outputs = run_and_wipe(&plan, letterbox.tensor(frame))
            .map_err(|e| Error::Inference { model: ModelKind::Detector, reason: format!("{e:#}") })?;
        let faces = decode(&outputs, &letterbox, self.options.score_threshold);
        outputs.iter_mut().for_each(wipe);
        let faces = faces?;
        Ok(non_maximum_suppression(faces, self.options.nms_iou, self.options.top_k))
    }
}

fn decode(outputs: &[Tensor], letterbox: &Letterbox, threshold: f32) -> Result<Vec<Face>> {
    let bad = |reason: String| Error::Inference { model: ModelKind::Detector, reason };
    if outputs.len() != 12 {
        return Err(bad(format!("expected 12 outputs, got {}", outputs.len())));
    }
    let view = |i: usize, per_cell: usize, cells: usize| -> Result<zeroize::Zeroizing<Vec<f32>>> {
        let values: Vec<f32> =
            outputs[i].to_plain_array_view::<f32>().map_err(|e| bad(format!("{e:#}")))?.iter().copied().collect();
        if values.len() != cells * per_cell {
            return Err(bad(format!("output {i} has {} values, expected {}", values.len(), cells * per_cell)));
        }
        Ok(zeroize::Zeroizing::new(values))
    };
    let mut faces = Vec::new();
    for (level, stride) in STRIDES.into_iter().enumerate() {
        let cols = letterbox.input_width as usize / stride;
        let rows = letterbox.input_height as usize / stride;
        let cells = cols * rows;
        let cls = view(level, 1, cells)?;
        let obj = view(3 + level, 1, cells)?;
        let bbox = view(6 + level, 4, cells)?;
        let kps = view(9 + level, 10, cells)?;
        let s = stride as f32;
        for idx in 0..cells {
            let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
            if score < threshold {
                continue;
            }
            let (c, r) = ((idx % cols) as f32, (idx / cols) as f32);
            let b = &bbox[idx * 4..idx * 4 + 4];
            let (cx, cy) = ((c + b[0]) * s, (r + b[1]) * s);
            let (w, h) = (b[2].exp() * s, b[3].exp() * s);
            let k = &kps[idx * 10..idx * 10 + 10];
            let mut landmarks = [[0f32; 2]; 5];
            for (n, point) in landmarks.iter_mut().enumerate() {
                *point = [(k[2 * n] + c) * s / letterbox.scale, (k[2 * n + 1] + r) * s / letterbox.scale];
            }
            let inv = 1.0 / letterbox.scale;
            faces.push(Face { bbox: [(cx - w / 2.0) * inv, (cy - h / 2.0) * inv, w * inv, h * inv], landmarks, score });
        }
    }
    Ok(faces)
}

fn non_maximum_suppression(mut faces: Vec<Face>, iou: f32, top_k: usize) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.len() == top_k {
            break;
        }
        if kept.iter().all(|k| k.iou(&face) <= iou) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> Face {
        Face { bbox: [x, 0.0, 10.0, 10.0], landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn suppression_keeps_the_best_of_overlapping_boxes() {
        let kept = non_maximum_suppression(vec![face(1.0, 0.7), face(0.0, 0.9), face(50.0, 0.8)], 0.3, 10);
        assert_eq!(kept.iter().map(|f| f.score).collect::<Vec<_>>(), vec![0.9, 0.8]);
    }

    #[test]
    fn iou_of_disjoint_and_identical_boxes() {
        assert_eq!(face(0.0, 1.0).iou(&face(20.0, 1.0)), 0.0);
        assert!((face(0.0, 1.0).iou(&face(0.0, 1.0)) - 1.0).abs() < 1e-6);
    }
}
