//! How small the detector's input can be (issue 19, item 3): LFW development photos composed into
//! camera-sized frames at the face sizes a kiosk sees, detected at the full input and at smaller
//! ones, in one process.
//!
//! What is measured, per input size: of the faces the full input finds and the quality gate accepts
//! (the faces a kiosk would embed and match), how many the smaller input still finds (its box
//! overlaps the full input's by IoU ≥ 0.5): the miss rate is the share it does not find. Then how
//! many of them the gate still accepts (assessed on the full frame with the smaller input's box and
//! landmarks, as the kiosk does), and how many the full input's gate refused that it now accepts:
//! faces at a gate's edge flip both ways with a box a pixel smaller or a landmark a pixel off. Also
//! its recall of every composed face (the ground truth, gate or not), how far its
//! landmarks land from the full input's, and its detection time as a ratio to the full input's
//! (interleaved frame by frame, so that a busy machine slows every size alike).
//!
//! Composition: each photo's face box is what the detector finds on the photo itself (the face
//! nearest its centre); the photo is resized (area-averaged when it shrinks, as a camera's pixels
//! are) so that the box's smaller side is the wanted face size, and pasted on mid-grey: several
//! photos to a frame in a grid while they fit, at a pseudo-random offset, else one photo cropped
//! around its face at a pseudo-random place. The same seed gives the same frames.

use std::time::Instant;

use serde::Serialize;

use crate::pipeline::{nearest_centre, Engine, Face, Frame, Result};

/// One source photo and its face (frame coordinates of the photo).
pub struct Photo {
    pub frame: Frame,
    pub face: Face,
}

impl Photo {
    /// The photo with the face the detector finds nearest its centre; `None` without a face.
    pub fn new(engine: &Engine, frame: Frame) -> Result<Option<Photo>> {
        let faces = engine.detect(&frame)?;
        let face = nearest_centre(&faces, frame.width(), frame.height()).copied();
        Ok(face.map(|face| Photo { frame, face }))
    }
}

/// A composed frame and the boxes (`[x, y, w, h]`) of the faces pasted into it.
pub struct Composed {
    pub frame: Frame,
    pub truth: Vec<[f32; 4]>,
}

/// A small deterministic generator (SplitMix64): the composition must not depend on a crate's
/// random stream, only on the seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    fn up_to(&mut self, max: u32) -> u32 {
        (self.next() % (max as u64 + 1)) as u32
    }
}

/// The photo resized so that its face's smaller side is `face_px`: RGB bytes, width, height, and
/// the face box in the resized photo.
fn resized(photo: &Photo, face_px: f32) -> (Vec<u8>, u32, u32, [f32; 4]) {
    let [x, y, w, h] = photo.face.bbox;
    let k = face_px / w.min(h);
    let (pw, ph) = (photo.frame.width(), photo.frame.height());
    let (rw, rh) = (((pw as f32 * k).round() as u32).max(1), ((ph as f32 * k).round() as u32).max(1));
    let source = image::RgbImage::from_raw(pw, ph, photo.frame.rgb().to_vec()).expect("a frame is w×h×3 bytes");
    // Triangle widens its support when it shrinks: an area average, not a decimation.
    let out = image::imageops::resize(&source, rw, rh, image::imageops::FilterType::Triangle);
    let (kx, ky) = (rw as f32 / pw as f32, rh as f32 / ph as f32);
    (out.into_raw(), rw, rh, [x * kx, y * ky, w * kx, h * ky])
}

fn paste(canvas: &mut [u8], (width, height): (u32, u32), (rgb, rw, rh): (&[u8], u32, u32), (ox, oy): (i64, i64)) {
    for y in 0..rh as i64 {
        let cy = oy + y;
        if cy < 0 || cy >= height as i64 {
            continue;
        }
        for x in 0..rw as i64 {
            let cx = ox + x;
            if cx < 0 || cx >= width as i64 {
                continue;
            }
            let s = ((y * rw as i64 + x) * 3) as usize;
            let d = ((cy * width as i64 + cx) * 4) as usize;
            canvas[d..d + 3].copy_from_slice(&rgb[s..s + 3]);
        }
    }
}

/// Every photo composed once at `face_px` into `width`×`height` frames, at most `per_frame` to a
/// frame (see the module doc).
pub fn compose(photos: &[Photo], face_px: f32, width: u32, height: u32, per_frame: usize, seed: u64) -> Vec<Composed> {
    let mut rng = SplitMix(seed ^ ((face_px.to_bits() as u64) << 17));
    let resized: Vec<_> = photos.iter().map(|p| resized(p, face_px)).collect();
    // Cells as large as the largest resized photo, so that no two photos overlap.
    let cell_w = resized.iter().map(|r| r.1).max().unwrap_or(1);
    let cell_h = resized.iter().map(|r| r.2).max().unwrap_or(1);
    let (cols, rows) = (width / cell_w, height / cell_h);
    let per_frame = ((cols * rows) as usize).clamp(1, per_frame.max(1));
    let mut frames = Vec::new();
    for group in resized.chunks(per_frame) {
        let mut canvas = vec![128u8; width as usize * height as usize * 4];
        let mut truth = Vec::with_capacity(group.len());
        if cols * rows >= 2 {
            let (ox, oy) = (rng.up_to(width - cols * cell_w), rng.up_to(height - rows * cell_h));
            for (i, (rgb, rw, rh, face)) in group.iter().enumerate() {
                let (col, row) = (i as u32 % cols, i as u32 / cols);
                let (x, y) = (ox + col * cell_w + (cell_w - rw) / 2, oy + row * cell_h + (cell_h - rh) / 2);
                paste(&mut canvas, (width, height), (rgb, *rw, *rh), (x as i64, y as i64));
                truth.push([x as f32 + face[0], y as f32 + face[1], face[2], face[3]]);
            }
        } else {
            // One photo, cropped by the frame if it must be, its face wholly inside at a random place.
            let (rgb, rw, rh, face) = &group[0];
            let room = |frame: u32, side: f32| (frame as f32 - side).max(0.0) as u32;
            let (fx, fy) = (rng.up_to(room(width, face[2])) as f32, rng.up_to(room(height, face[3])) as f32);
            let (ox, oy) = ((fx - face[0]).round(), (fy - face[1]).round());
            paste(&mut canvas, (width, height), (rgb, *rw, *rh), (ox as i64, oy as i64));
            truth.push([ox + face[0], oy + face[1], face[2], face[3]]);
        }
        let frame = Frame::from_rgba(width, height, &canvas).expect("the canvas is width×height RGBA");
        frames.push(Composed { frame, truth });
    }
    frames
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let box_face = |bbox: &[f32; 4]| Face { bbox: *bbox, landmarks: [[0.0; 2]; 5], score: 1.0 };
    box_face(a).iou(&box_face(b))
}

/// The detection that overlaps `bbox` most, if by `min_iou` at least.
pub fn best_match<'a>(faces: &'a [Face], bbox: &[f32; 4], min_iou: f32) -> Option<&'a Face> {
    faces
        .iter()
        .filter(|f| iou(&f.bbox, bbox) >= min_iou)
        .max_by(|a, b| iou(&a.bbox, bbox).total_cmp(&iou(&b.bbox, bbox)))
}

/// The largest distance between two detections' corresponding landmarks, in pixels.
pub fn landmark_error(a: &Face, b: &Face) -> f32 {
    a.landmarks
        .iter()
        .zip(&b.landmarks)
        .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
        .fold(0.0, f32::max)
}

/// What [`measure`] composes and compares.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub width: u32,
    pub height: u32,
    /// Detector input sizes (longer side); the first is the reference every other is compared to.
    pub inputs: Vec<u32>,
    /// Face sizes (the box's smaller side, frame pixels) each photo is composed at.
    pub face_sizes: Vec<f32>,
    /// Photos to a frame at most (a crowd in front of a kiosk).
    pub per_frame: usize,
    /// Least box overlap for two detections (or a detection and a composed face) to be the same face.
    pub min_iou: f32,
    /// Every this many gate-accepted faces, embed the face as aligned from each input's landmarks
    /// and compare with the reference's embedding (0: never; an embedding costs more than a detection).
    pub embed_every: usize,
    pub seed: u64,
}

/// One input size's counts over every face size, or over one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Composed faces.
    pub composed: usize,
    /// Composed faces this input found.
    pub found_composed: usize,
    /// Faces the reference input found and the gate accepted.
    pub gate_faces: usize,
    /// Of those, found by this input.
    pub found: usize,
    /// Of those, found by this input and accepted by the gate with this input's detection.
    pub accepted: usize,
    /// Faces the reference found but the gate refused, that this input found and the gate accepted
    /// (the other way round from `found - accepted`: borderline faces flip both ways).
    pub gained: usize,
}

impl Counts {
    /// Share of the reference's gate-accepted faces this input does not find.
    pub fn miss_rate(&self) -> f64 {
        1.0 - self.found as f64 / self.gate_faces.max(1) as f64
    }

    /// Net share of the reference's gate-accepted faces the gate loses at this input: found but
    /// refused, less the refused ones it now accepts.
    pub fn gate_net_loss(&self) -> f64 {
        (self.gate_faces as f64 - self.accepted as f64 - self.gained as f64) / self.gate_faces.max(1) as f64
    }

    pub fn recall_composed(&self) -> f64 {
        self.found_composed as f64 / self.composed.max(1) as f64
    }

    fn add(&mut self, other: &Counts) {
        self.composed += other.composed;
        self.found_composed += other.found_composed;
        self.gate_faces += other.gate_faces;
        self.found += other.found;
        self.accepted += other.accepted;
        self.gained += other.gained;
    }
}

/// One detector input size's results.
#[derive(Debug, Clone, Serialize)]
pub struct InputResult {
    pub max_side: u32,
    pub input_width: u32,
    pub input_height: u32,
    pub counts: Counts,
    /// `counts` per face size, in [`ScaleOptions::face_sizes`] order.
    pub by_face_size: Vec<Counts>,
    pub miss_rate: f64,
    pub gate_net_loss: f64,
    /// Median and 95th percentile of [`landmark_error`] against the reference, over the gate faces found.
    pub landmark_error_p50_px: f32,
    pub landmark_error_p95_px: f32,
    /// Cosine similarity of the embedding aligned from this input's landmarks to the one aligned
    /// from the reference's (same face, same frame): median, 5th percentile, and how many faces.
    pub embedding_cosine_p50: f32,
    pub embedding_cosine_p5: f32,
    pub embedded: usize,
    /// Mean detection time per frame, and its ratio to the reference input's.
    pub ms_per_frame: f64,
    pub time_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub width: u32,
    pub height: u32,
    pub photos: usize,
    pub frames: usize,
    pub face_sizes: Vec<f32>,
    pub min_face_px: f32,
    pub inputs: Vec<InputResult>,
}

impl ScaleReport {
    /// The smallest input whose miss rate is at most `max_miss_rate`, and no larger one above it
    /// (so that a lucky small size below an unlucky larger one is not chosen).
    pub fn smallest_within(&self, max_miss_rate: f64) -> Option<&InputResult> {
        let mut by_size: Vec<&InputResult> = self.inputs.iter().collect();
        by_size.sort_by_key(|r| std::cmp::Reverse(r.max_side));
        by_size.into_iter().take_while(|r| r.miss_rate <= max_miss_rate).last()
    }
}

fn percentile(values: &mut [f32], p: f64) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// Composes `photos` at every face size and compares every input size to the first (see the module
/// doc). `progress` is told each face size as it is done.
pub fn measure(
    engine: &Engine,
    photos: &[Photo],
    options: &ScaleOptions,
    mut progress: impl FnMut(f32),
) -> Result<ScaleReport> {
    let (width, height) = (options.width, options.height);
    for &side in &options.inputs {
        engine.detector().prepare(width, height, side)?;
    }
    let n = options.inputs.len();
    let mut by_size = vec![Vec::with_capacity(options.face_sizes.len()); n];
    let mut errors = vec![Vec::new(); n];
    let mut cosines = vec![Vec::new(); n];
    let mut gate_seen = 0usize;
    let mut seconds = vec![0f64; n];
    let mut frames = 0;
    for &face_px in &options.face_sizes {
        let mut counts = vec![Counts::default(); n];
        for composed in compose(photos, face_px, width, height, options.per_frame, options.seed) {
            frames += 1;
            let mut detections = Vec::with_capacity(n);
            for (i, &side) in options.inputs.iter().enumerate() {
                let start = Instant::now();
                detections.push(engine.detect_at(&composed.frame, side)?);
                seconds[i] += start.elapsed().as_secs_f64();
            }
            for truth in &composed.truth {
                let mut reference_embedding = None;
                let found: Vec<Option<&Face>> =
                    detections.iter().map(|faces| best_match(faces, truth, options.min_iou)).collect();
                let accepted = found[0].is_some_and(|face| gate_accepts(engine, &composed.frame, face));
                for (i, face) in found.iter().enumerate() {
                    counts[i].composed += 1;
                    counts[i].found_composed += usize::from(face.is_some());
                    let Some(reference) = found[0] else { continue };
                    if !accepted {
                        let gained = best_match(&detections[i], &reference.bbox, options.min_iou)
                            .is_some_and(|face| i > 0 && gate_accepts(engine, &composed.frame, face));
                        counts[i].gained += usize::from(gained);
                        continue;
                    }
                    counts[i].gate_faces += 1;
                    let Some(face) = best_match(&detections[i], &reference.bbox, options.min_iou) else { continue };
                    counts[i].found += 1;
                    counts[i].accepted += usize::from(i == 0 || gate_accepts(engine, &composed.frame, face));
                    errors[i].push(landmark_error(face, reference));
                    if i > 0 && options.embed_every > 0 && gate_seen.is_multiple_of(options.embed_every) {
                        let embed = |face: &Face| -> Result<_> {
                            let (crop, _) = engine.align_and_assess(&composed.frame, face)?;
                            engine.embed_crop(&crop)
                        };
                        if reference_embedding.is_none() {
                            reference_embedding = Some(embed(reference)?);
                        }
                        let cosine = embed(face)?.cosine(reference_embedding.as_ref().expect("embedded above"));
                        cosines[i].push(cosine);
                    }
                }
                gate_seen += usize::from(accepted);
            }
        }
        for (i, c) in counts.into_iter().enumerate() {
            by_size[i].push(c);
        }
        progress(face_px);
    }
    let inputs = options
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &side)| {
            let mut counts = Counts::default();
            by_size[i].iter().for_each(|c| counts.add(c));
            let letterbox = crate::pipeline::frame::Letterbox::fit(width, height, side);
            InputResult {
                max_side: side,
                input_width: letterbox.input_width,
                input_height: letterbox.input_height,
                miss_rate: counts.miss_rate(),
                gate_net_loss: counts.gate_net_loss(),
                counts,
                by_face_size: by_size[i].clone(),
                landmark_error_p50_px: percentile(&mut errors[i], 0.5),
                landmark_error_p95_px: percentile(&mut errors[i], 0.95),
                embedding_cosine_p50: percentile(&mut cosines[i], 0.5),
                embedding_cosine_p5: percentile(&mut cosines[i], 0.05),
                embedded: cosines[i].len(),
                ms_per_frame: seconds[i] * 1000.0 / frames.max(1) as f64,
                time_ratio: seconds[i] / seconds[0],
            }
        })
        .collect();
    Ok(ScaleReport {
        width,
        height,
        photos: photos.len(),
        frames,
        face_sizes: options.face_sizes.clone(),
        min_face_px: engine.gates.min_face_px,
        inputs,
    })
}

/// Whether the quality gate accepts `face` (assessed on the full frame, as the kiosk does).
fn gate_accepts(engine: &Engine, frame: &Frame, face: &Face) -> bool {
    engine.align_and_assess(frame, face).is_ok_and(|(_, quality)| quality.passed())
}
