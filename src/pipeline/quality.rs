//! Face quality gates: whether a detected face is good enough to be matched at all.
//!
//! A watchlist match on a tiny, turned-away or blurred face is where misidentification comes from,
//! so such faces are counted and wiped instead of matched. The gates are cheap proxies computed
//! from what earlier stages already produced: the box size, a pose estimate from the five
//! landmarks, and the variance of the Laplacian of the aligned crop (sharpness).

use serde::Serialize;

use super::align::{AlignedFace, CROP_SIDE, TEMPLATE};
use super::detect::Face;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityGates {
    /// Smaller side of the face box, in frame pixels.
    pub min_face_px: f32,
    pub max_yaw_deg: f32,
    pub max_pitch_deg: f32,
    /// Variance of the Laplacian over the aligned crop's grey levels.
    pub min_sharpness: f32,
}

impl Default for QualityGates {
    fn default() -> Self {
        QualityGates { min_face_px: 40.0, max_yaw_deg: 40.0, max_pitch_deg: 35.0, min_sharpness: 20.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    TooSmall,
    TurnedAway,
    Blurred,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    pub face_px: f32,
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
    pub sharpness: f32,
    /// Empty when the face passed every gate.
    pub rejections: Vec<Rejection>,
}

impl Quality {
    pub fn passed(&self) -> bool {
        self.rejections.is_empty()
    }

    /// How much of a frontal face the detector saw, in pixels: the box's smaller side,
    /// foreshortened by the estimated yaw and pitch. A track's later face is "clearly better"
    /// when this grows (the person came closer or turned to the camera); sharpness only gates,
    /// as it varies from frame to frame more than the face does.
    pub fn frontal_px(&self) -> f32 {
        self.face_px * self.yaw_deg.to_radians().cos() * self.pitch_deg.to_radians().cos()
    }
}

/// Where the nose sits between the eye line and the mouth line on a frontal face (the template).
fn frontal_nose_ratio() -> f32 {
    let eyes = (TEMPLATE[0][1] + TEMPLATE[1][1]) / 2.0;
    let mouth = (TEMPLATE[3][1] + TEMPLATE[4][1]) / 2.0;
    (TEMPLATE[2][1] - eyes) / (mouth - eyes)
}

/// Yaw, pitch and roll estimates in degrees from the five landmarks. Rough by nature (no 3-D
/// model), but monotonic in the true angles, which is what a gate needs.
pub fn pose(face: &Face) -> (f32, f32, f32) {
    let [re, le, nose, rm, lm] = face.landmarks;
    let (dx, dy) = (le[0] - re[0], le[1] - re[1]);
    let roll = dy.atan2(dx);
    let eye_dist = (dx * dx + dy * dy).sqrt().max(1e-3);
    let eyes = [(re[0] + le[0]) / 2.0, (re[1] + le[1]) / 2.0];
    let mouth = [(rm[0] + lm[0]) / 2.0, (rm[1] + lm[1]) / 2.0];
    // Express nose and mouth in a frame where the eye line is horizontal.
    let (cos, sin) = (roll.cos(), roll.sin());
    let level = |p: [f32; 2]| {
        let (x, y) = (p[0] - eyes[0], p[1] - eyes[1]);
        (x * cos + y * sin, -x * sin + y * cos)
    };
    let (nose_x, nose_y) = level(nose);
    let (_, mouth_y) = level(mouth);
    let yaw = (nose_x / (eye_dist / 2.0)).clamp(-1.0, 1.0).asin();
    let ratio = if mouth_y.abs() > 1e-3 { nose_y / mouth_y } else { frontal_nose_ratio() };
    let pitch = ((ratio - frontal_nose_ratio()) * 2.0).clamp(-1.0, 1.0).asin();
    (yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees())
}

/// Variance of the 4-neighbour Laplacian of the crop's grey levels, away from the border.
pub fn sharpness(crop: &AlignedFace) -> f32 {
    let rgb = crop.rgb();
    let grey = |x: usize, y: usize| {
        let p = &rgb[(y * CROP_SIDE + x) * 3..];
        0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
    };
    let (mut sum, mut sum_sq, mut n) = (0f64, 0f64, 0f64);
    for y in 8..CROP_SIDE - 8 {
        for x in 8..CROP_SIDE - 8 {
            let l = grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1) - 4.0 * grey(x, y);
            sum += l as f64;
            sum_sq += (l * l) as f64;
            n += 1.0;
        }
    }
    ((sum_sq / n) - (sum / n).powi(2)) as f32
}

pub fn assess(face: &Face, crop: &AlignedFace, gates: &QualityGates) -> Quality {
    let (yaw_deg, pitch_deg, roll_deg) = pose(face);
    let face_px = face.bbox[2].min(face.bbox[3]);
    let sharpness = sharpness(crop);
    let mut rejections = Vec::new();
    if face_px < gates.min_face_px {
        rejections.push(Rejection::TooSmall);
    }
    if yaw_deg.abs() > gates.max_yaw_deg || pitch_deg.abs() > gates.max_pitch_deg {
        rejections.push(Rejection::TurnedAway);
    }
    if sharpness < gates.min_sharpness {
        rejections.push(Rejection::Blurred);
    }
    Quality { face_px, yaw_deg, pitch_deg, roll_deg, sharpness, rejections }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_with(landmarks: [[f32; 2]; 5]) -> Face {
        Face { bbox: [0.0, 0.0, 112.0, 112.0], landmarks, score: 1.0 }
    }

    #[test]
    fn the_template_is_frontal() {
        let (yaw, pitch, roll) = pose(&face_with(TEMPLATE));
        assert!(yaw.abs() < 2.0 && pitch.abs() < 1.0 && roll.abs() < 1.0, "{yaw} {pitch} {roll}");
    }

    #[test]
    fn a_nose_beside_the_eyes_reads_as_turned_away() {
        let mut turned = TEMPLATE;
        turned[2][0] += 16.0;
        let (yaw, _, _) = pose(&face_with(turned));
        assert!(yaw > 40.0, "{yaw}");
    }

    #[test]
    fn a_flat_crop_is_blurred_and_noise_is_sharp() {
        let flat = AlignedFace::from_rgb(vec![128; CROP_SIDE * CROP_SIDE * 3]).unwrap();
        assert_eq!(sharpness(&flat), 0.0);
        let checker: Vec<u8> = (0..CROP_SIDE * CROP_SIDE)
            .flat_map(|i| {
                let v = if (i % CROP_SIDE + i / CROP_SIDE).is_multiple_of(2) { 0 } else { 255 };
                [v, v, v]
            })
            .collect();
        assert!(sharpness(&AlignedFace::from_rgb(checker).unwrap()) > 1000.0);
    }
}
