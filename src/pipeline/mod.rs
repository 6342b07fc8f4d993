//! The face pipeline (DESIGN §2): frame → [`detect`] → [`align`] → [`quality`] gate → [`embed`].
//! Data flows one way; each stage takes the previous stage's type. [`Engine`] strings them
//! together with both models loaded and verified.
//!
//! Guarantees (G2): every buffer that holds a face (model inputs and outputs, crops) is wiped when
//! its stage ends; embeddings are [`Embedding`]s, which wipe themselves. This module knows nothing
//! of watchlists, profiles or kiosks.

pub(crate) mod accel;
pub mod align;
pub mod detect;
pub mod embed;
pub mod error;
pub mod frame;
pub mod models;
pub mod quality;

pub use align::AlignedFace;
pub use detect::{DetectorOptions, Face};
pub use error::{Error, ModelKind, Result};
pub use frame::{Frame, FrameBuffer};
pub use quality::{Quality, QualityGates};

use crate::template::Embedding;
use detect::Detector;
use embed::Embedder;

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
    /// Embed the mirrored crop too and average the two (flipped-crop test-time augmentation):
    /// one more recogniser run per face. Off by default: measured at the operating point, it did
    /// not earn its cost (README, operating points).
    pub flip_augmentation: bool,
}

impl Engine {
    /// Loads both models from their file bytes; each is checked against its pinned SHA-256 first.
    pub fn from_bytes(detector: &[u8], recognizer: &[u8]) -> Result<Engine> {
        Ok(Engine {
            detector: Detector::from_bytes(detector)?,
            embedder: Embedder::from_bytes(recognizer)?,
            gates: QualityGates::default(),
            flip_augmentation: false,
        })
    }

    /// The id of the embedding model, which a watchlist's header must name.
    pub fn model_id(&self) -> &'static str {
        embed::MODEL_ID
    }

    pub fn detector_options_mut(&mut self) -> &mut DetectorOptions {
        &mut self.detector.options
    }

    /// All faces in the frame, best score first.
    pub fn detect(&self, frame: &Frame) -> Result<Vec<Face>> {
        self.detector.detect(frame)
    }

    /// All faces in the frame, detected with its longer side scaled to `max_side` (never up);
    /// boxes and landmarks in frame coordinates (see [`detect::Detector::detect_at`]).
    pub fn detect_at(&self, frame: &Frame, max_side: u32) -> Result<Vec<Face>> {
        self.detector.detect_at(frame, max_side)
    }

    /// The detector, for what [`Engine`] does not wrap (plans built, plan preparation).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Aligns and embeds one detected face, and assesses its quality (without gating on it).
    pub fn analyse_face(&self, frame: &Frame, face: &Face) -> Result<AnalysedFace> {
        let (crop, quality) = self.align_and_assess(frame, face)?;
        let embedding = self.embed_crop(&crop)?;
        Ok(AnalysedFace { face: *face, quality, embedding })
    }

    /// Aligns one detected face and assesses its quality, without embedding it: what the kiosk
    /// needs to decide whether the face is worth an embedding at all. The crop wipes itself on drop.
    pub fn align_and_assess(&self, frame: &Frame, face: &Face) -> Result<(AlignedFace, Quality)> {
        let crop = align::align(frame, face).ok_or(Error::DegenerateLandmarks)?;
        let quality = quality::assess(face, &crop, &self.gates);
        Ok((crop, quality))
    }

    /// Detects, aligns, assesses and embeds every face in the frame.
    pub fn analyse(&self, frame: &Frame) -> Result<Vec<AnalysedFace>> {
        self.detect(frame)?.iter().map(|face| self.analyse_face(frame, face)).collect()
    }

    /// The face a still photo is about, analysed: the one nearest the photo's centre (portraits
    /// and LFW photos are centred on their subject but often show other people too). `None` when
    /// the photo shows no face. Enrolment, evaluation, the CLI and the tests all pick it this way.
    pub fn analyse_still(&self, photo: &Frame) -> Result<Option<AnalysedFace>> {
        let faces = self.detect(photo)?;
        match nearest_centre(&faces, photo.width(), photo.height()) {
            Some(face) => self.analyse_face(photo, face).map(Some),
            None => Ok(None),
        }
    }

    /// The embedding of the crop's mirror image alone (flipped-crop templates, a lever measured at
    /// enrolment only: `eval --fillers`).
    pub fn embed_mirrored(&self, crop: &AlignedFace) -> Result<Embedding> {
        self.embedder.embed(&crop.mirrored())
    }

    /// The crop's embedding (averaged with its mirror image's when [`Engine::flip_augmentation`]).
    pub fn embed_crop(&self, crop: &AlignedFace) -> Result<Embedding> {
        let embedding = self.embedder.embed(crop)?;
        if !self.flip_augmentation {
            return Ok(embedding);
        }
        let mirrored = self.embedder.embed(&crop.mirrored())?;
        Ok(Embedding::mean([&embedding, &mirrored]).unwrap_or(embedding))
    }
}

/// A small JPEG of the aligned face, for a human reviewer beside an alert (`None` if the face
/// cannot be aligned or encoded).
pub fn reference_photo(frame: &Frame, face: &Face) -> Option<Vec<u8>> {
    align::align(frame, face).and_then(|crop| crop.to_jpeg())
}

/// The face whose centre is nearest the frame's centre.
pub fn nearest_centre(faces: &[Face], width: u32, height: u32) -> Option<&Face> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let distance = |f: &Face| {
        let [x, y] = f.centre();
        (x - cx).powi(2) + (y - cy).powi(2)
    };
    faces.iter().min_by(|a, b| distance(a).total_cmp(&distance(b)))
}
