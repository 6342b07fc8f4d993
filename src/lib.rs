//! Veilwatch: live face matching that runs on the device, against a blinded watchlist.
//!
//! This crate is the whole engine. Data flows one way (DESIGN §2):
//! frame → [`detect`] → [`align`] → [`quality`] gate → [`embed`] → (matching, later stages).
//! [`Engine`] strings the stages together; the CLI (`src/bin/veilwatch.rs`) and the wasm facade
//! (`src/wasm.rs`) only convert types and call it.

#[cfg(feature = "pipeline")]
pub mod align;
pub mod audit;
pub mod blind;
#[cfg(feature = "pipeline")]
pub mod detect;
pub mod embed;
pub mod error;
pub mod eval;
#[cfg(feature = "pipeline")]
pub mod frame;
#[cfg(feature = "pipeline")]
pub mod kiosk;
#[cfg(feature = "pipeline")]
pub mod models;
#[cfg(feature = "pipeline")]
mod pool2x2;
pub mod profile;
#[cfg(feature = "pipeline")]
pub mod quality;
pub mod time;
#[cfg(feature = "pipeline")]
pub mod track;
#[cfg(all(target_arch = "wasm32", feature = "pipeline"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "pipeline"))]
mod wasm_kernels;

#[cfg(feature = "pipeline")]
pub use align::AlignedFace;
#[cfg(feature = "pipeline")]
pub use detect::{DetectorOptions, Face};
pub use embed::{Embedding, EMBEDDING_DIM};
pub use error::{Error, ModelKind, Result};
#[cfg(feature = "pipeline")]
pub use frame::Frame;
#[cfg(feature = "pipeline")]
pub use pipeline::{nearest_centre, AnalysedFace, Engine};
#[cfg(feature = "pipeline")]
pub use quality::{Quality, QualityGates};

/// Lowercase hex of bytes (hashes, keys and ids in messages and reports).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string (either case); `None` if it is not an even number of hex digits.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(feature = "pipeline")]
mod pipeline {
    use crate::detect::Detector;
    use crate::embed::Embedder;
    use crate::*;

    /// One face after the full pipeline. The embedding stays inside the library (and inside wasm).
    #[derive(Debug)]
    pub struct AnalysedFace {
        pub face: Face,
        pub quality: Quality,
        pub embedding: Embedding,
    }

    /// The face pipeline with both models loaded and verified.
    pub struct Engine {
        detector: Detector,
        embedder: Embedder,
        pub gates: QualityGates,
    }

    impl Engine {
        /// Loads both models from their file bytes; each is checked against its pinned SHA-256 first.
        pub fn from_bytes(detector: &[u8], recognizer: &[u8]) -> Result<Engine> {
            Ok(Engine {
                detector: Detector::from_bytes(detector)?,
                embedder: Embedder::from_bytes(recognizer)?,
                gates: QualityGates::default(),
            })
        }

        pub fn detector_options_mut(&mut self) -> &mut DetectorOptions {
            &mut self.detector.options
        }

        /// All faces in the frame, best score first.
        pub fn detect(&self, frame: &Frame) -> Result<Vec<Face>> {
            self.detector.detect(frame)
        }

        /// Aligns and embeds one detected face, and assesses its quality (without gating on it).
        pub fn analyse_face(&self, frame: &Frame, face: &Face) -> Result<AnalysedFace> {
            let crop = align::align(frame, face).ok_or(Error::DegenerateLandmarks)?;
            let quality = quality::assess(face, &crop, &self.gates);
            let embedding = self.embedder.embed(&crop)?;
            Ok(AnalysedFace { face: *face, quality, embedding })
        }

        /// Detects, aligns, assesses and embeds every face in the frame.
        pub fn analyse(&self, frame: &Frame) -> Result<Vec<AnalysedFace>> {
            self.detect(frame)?.iter().map(|face| self.analyse_face(frame, face)).collect()
        }

        pub fn embed_crop(&self, crop: &AlignedFace) -> Result<Embedding> {
            self.embedder.embed(crop)
        }
    }

    /// The face whose centre is nearest the frame's centre (LFW photos are centred on their subject
    /// but often show other people too).
    pub fn nearest_centre(faces: &[Face], width: u32, height: u32) -> Option<&Face> {
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let distance = |f: &Face| {
            let [x, y] = f.centre();
            (x - cx).powi(2) + (y - cy).powi(2)
        };
        faces.iter().min_by(|a, b| distance(a).total_cmp(&distance(b)))
    }
}
