//! Alignment: the 5-point similarity transform that maps a face's landmarks onto the standard
//! 112×112 ArcFace template SFace was trained on, and the bilinear warp of the frame through it.
//!
//! Guarantees: the crop is exactly what the recogniser expects (RGB, 112×112, landmarks on the
//! template), and its pixels are zeroised when dropped.

use zeroize::Zeroizing;

use super::detect::Face;
use super::frame::Frame;

pub const CROP_SIDE: usize = 112;

/// Where the eyes, nose tip and mouth corners sit in a 112×112 crop (InsightFace / OpenCV SFace).
pub const TEMPLATE: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// A 2×3 similarity transform `[a −b tx; b a ty]` (rotation, uniform scale, translation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares similarity taking `from` onto `to` (no reflection). In complex numbers,
    /// `to ≈ z·from + t` with `z = Σ conj(from_c)·to_c / Σ |from_c|²` over centred points.
    pub fn estimate(from: &[[f32; 2]; 5], to: &[[f32; 2]; 5]) -> Option<Similarity> {
        let mean = |p: &[[f32; 2]; 5]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            (sx / 5.0, sy / 5.0)
        };
        let ((fx, fy), (tx, ty)) = (mean(from), mean(to));
        let (mut re, mut im, mut norm) = (0f32, 0f32, 0f32);
        for (p, q) in from.iter().zip(to) {
            let (px, py, qx, qy) = (p[0] - fx, p[1] - fy, q[0] - tx, q[1] - ty);
            re += px * qx + py * qy;
            im += px * qy - py * qx;
            norm += px * px + py * py;
        }
        if norm <= f32::EPSILON || !norm.is_finite() {
            return None;
        }
        let (a, b) = (re / norm, im / norm);
        Some(Similarity { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) })
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    pub fn inverse(&self) -> Option<Similarity> {
        let det = self.a * self.a + self.b * self.b;
        if det <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / det, -self.b / det);
        Some(Similarity { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) })
    }

    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }
}

/// A face warped onto the template: 112×112 RGB bytes.
pub struct AlignedFace {
    rgb: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for AlignedFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlignedFace(112×112, pixels withheld)")
    }
}

impl AlignedFace {
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// The crop as a small JPEG (the reviewer's reference photo inside a sealed record).
    pub fn to_jpeg(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
        image::ImageEncoder::write_image(
            encoder,
            &self.rgb,
            CROP_SIDE as u32,
            CROP_SIDE as u32,
            image::ExtendedColorType::Rgb8,
        )
        .ok()?;
        Some(out)
    }

    /// The crop mirrored left to right (the template is symmetric, so it is still aligned).
    pub fn mirrored(&self) -> AlignedFace {
        let mut rgb = Zeroizing::new(vec![0u8; self.rgb.len()]);
        for (row_out, row_in) in rgb.chunks_exact_mut(CROP_SIDE * 3).zip(self.rgb.chunks_exact(CROP_SIDE * 3)) {
            for (out, pixel) in row_out.chunks_exact_mut(3).zip(row_in.chunks_exact(3).rev()) {
                out.copy_from_slice(pixel);
            }
        }
        AlignedFace { rgb }
    }

    /// Wraps a crop made elsewhere (e.g. a reference implementation's) for embedding.
    pub fn from_rgb(rgb: Vec<u8>) -> Option<AlignedFace> {
        (rgb.len() == CROP_SIDE * CROP_SIDE * 3).then(|| AlignedFace { rgb: Zeroizing::new(rgb) })
    }
}

/// Warps the face onto the template. `None` when the landmarks are degenerate (all one point).
pub fn align(frame: &Frame, face: &Face) -> Option<AlignedFace> {
    let to_crop = Similarity::estimate(&face.landmarks, &TEMPLATE)?;
    let to_frame = to_crop.inverse()?;
    let mut rgb = Zeroizing::new(vec![0u8; CROP_SIDE * CROP_SIDE * 3]);
    for v in 0..CROP_SIDE {
        for u in 0..CROP_SIDE {
            let [x, y] = to_frame.apply([u as f32, v as f32]);
            for c in 0..3 {
                rgb[(v * CROP_SIDE + u) * 3 + c] = frame.sample(x, y, c).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Some(AlignedFace { rgb })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirroring_twice_gives_the_crop_back_and_once_swaps_the_columns() {
        let crop = AlignedFace::from_rgb((0..CROP_SIDE * CROP_SIDE * 3).map(|i| (i % 251) as u8).collect()).unwrap();
        let once = crop.mirrored();
        assert_eq!(&once.rgb()[..3], &crop.rgb()[(CROP_SIDE - 1) * 3..CROP_SIDE * 3]);
        assert_eq!(once.mirrored().rgb(), crop.rgb());
    }

    #[test]
    fn similarity_recovers_a_known_transform() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: -12.0, ty: 40.0 };
        let from = [[10.0, 20.0], [50.0, 22.0], [30.0, 40.0], [15.0, 60.0], [45.0, 61.0]];
        let to = from.map(|p| truth.apply(p));
        let got = Similarity::estimate(&from, &to).unwrap();
        for (x, y) in [(got.a, truth.a), (got.b, truth.b), (got.tx, truth.tx), (got.ty, truth.ty)] {
            assert!((x - y).abs() < 1e-3, "{got:?} vs {truth:?}");
        }
        let round_trip = got.inverse().unwrap().apply(got.apply([3.0, 4.0]));
        assert!((round_trip[0] - 3.0).abs() < 1e-3 && (round_trip[1] - 4.0).abs() < 1e-3);
    }

    #[test]
    fn degenerate_landmarks_give_no_transform() {
        assert!(Similarity::estimate(&[[5.0, 5.0]; 5], &TEMPLATE).is_none());
    }
}
