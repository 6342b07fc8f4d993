//! The wasm-bindgen facade: converts JS values to library types and library errors to JS
//! `Error`s. It holds no logic of its own. Embeddings never cross this boundary: the only
//! embedding-related calls return a similarity or nothing.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{align::AlignedFace, Face, Frame, Quality};

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_error)
}

/// The face pipeline (detection, alignment, quality, embedding) with both models loaded.
#[wasm_bindgen]
pub struct Engine {
    inner: crate::Engine,
}

#[derive(Serialize)]
struct AnalysedFaceJs {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    landmarks: [[f32; 2]; 5],
    score: f32,
    quality: Quality,
}

#[wasm_bindgen]
impl Engine {
    /// Loads the YuNet and SFace model files (their bytes); throws if either is not the pinned
    /// file or cannot be prepared.
    #[wasm_bindgen(constructor)]
    pub fn new(detector: &[u8], recognizer: &[u8]) -> Result<Engine, JsError> {
        crate::Engine::from_bytes(detector, recognizer).map(|inner| Engine { inner }).map_err(js_error)
    }

    /// Faces in an RGBA frame: `[{box: [x, y, w, h], landmarks: [[x, y] ×5], score}]`.
    pub fn detect(&self, rgba: &[u8], width: u32, height: u32) -> Result<JsValue, JsError> {
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let faces: Vec<Face> = self.inner.detect(&frame).map_err(js_error)?;
        to_js(&faces)
    }

    /// Detects, aligns and embeds every face; returns boxes, landmarks, scores and quality.
    /// The embeddings are wiped before this returns.
    pub fn analyse(&self, rgba: &[u8], width: u32, height: u32) -> Result<JsValue, JsError> {
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let faces: Vec<AnalysedFaceJs> = self
            .inner
            .analyse(&frame)
            .map_err(js_error)?
            .into_iter()
            .map(|a| AnalysedFaceJs {
                bbox: a.face.bbox,
                landmarks: a.face.landmarks,
                score: a.face.score,
                quality: a.quality,
            })
            .collect();
        to_js(&faces)
    }

    /// Cosine between the embedding of the face nearest the frame's centre and `reference`
    /// (a native build's embedding of the same image): proves wasm and native agree without
    /// letting an embedding out. Throws if the frame shows no face.
    #[wasm_bindgen(js_name = cosineWithReference)]
    pub fn cosine_with_reference(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        reference: &[f32],
    ) -> Result<f32, JsError> {
        let reference = crate::Embedding::from_values(reference)
            .ok_or_else(|| JsError::new("the reference must be 128 finite numbers, not all zero"))?;
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let faces = self.inner.detect(&frame).map_err(js_error)?;
        let face = crate::nearest_centre(&faces, width, height).ok_or_else(|| JsError::new("no face in this frame"))?;
        let analysed = self.inner.analyse_face(&frame, face).map_err(js_error)?;
        Ok(analysed.embedding.cosine(&reference))
    }

    /// Runs the recogniser once on an aligned 112×112 RGB crop and discards the embedding
    /// (for benchmarks).
    #[wasm_bindgen(js_name = benchmarkEmbedding)]
    pub fn benchmark_embedding(&self, crop_rgb: &[u8]) -> Result<(), JsError> {
        let crop = AlignedFace::from_rgb(crop_rgb.to_vec())
            .ok_or_else(|| JsError::new("an aligned crop is 112×112 RGB: exactly 37632 bytes"))?;
        self.inner.embed_crop(&crop).map(drop).map_err(js_error)
    }
}
