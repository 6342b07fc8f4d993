//! `Engine`: the bare face pipeline for JS (detect, analyse), with both models loaded.

use serde::Serialize;
use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::{js_error, to_ts, with_stack_wiped};
use crate::kiosk::KioskError;
use crate::pipeline::{Face, Frame, Quality};

/// The face pipeline (detection, alignment, quality, embedding) with both models loaded.
#[wasm_bindgen]
pub struct Engine {
    pub(super) inner: crate::pipeline::Engine,
}

/// A face with its quality, as `Engine.analyse` returns it (the embedding stays inside).
#[derive(Serialize, tsify::Tsify)]
pub struct AnalysedFace {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    #[tsify(type = "[number, number][]")]
    landmarks: [[f32; 2]; 5],
    score: f32,
    quality: Quality,
}

/// A list, for `Ts` (which converts one value).
#[derive(Serialize, tsify::Tsify)]
#[serde(transparent)]
pub struct Faces(Vec<Face>);

#[derive(Serialize, tsify::Tsify)]
#[serde(transparent)]
pub struct AnalysedFaces(Vec<AnalysedFace>);

pub(super) fn frame(rgba: &[u8], width: u32, height: u32) -> Result<Frame, JsValue> {
    Frame::from_rgba(width, height, rgba).map_err(|e| js_error(e.into()))
}

#[wasm_bindgen]
impl Engine {
    /// Loads the YuNet and SFace model files (their bytes); throws if either is not the pinned
    /// file or cannot be prepared.
    #[wasm_bindgen(constructor)]
    pub fn new(detector: &[u8], recognizer: &[u8]) -> Result<Engine, JsValue> {
        crate::pipeline::Engine::from_bytes(detector, recognizer)
            .map(|inner| Engine { inner })
            .map_err(|e| js_error(KioskError::from(e)))
    }

    /// Faces in an RGBA frame, best score first.
    pub fn detect(&self, rgba: &[u8], width: u32, height: u32) -> Result<Ts<Faces>, JsValue> {
        with_stack_wiped(|| {
            let faces = self.inner.detect(&frame(rgba, width, height)?).map_err(|e| js_error(e.into()))?;
            to_ts(&Faces(faces))
        })
    }

    /// Detects, aligns and embeds every face; returns boxes, landmarks, scores and quality.
    /// The embeddings are wiped before this returns.
    pub fn analyse(&self, rgba: &[u8], width: u32, height: u32) -> Result<Ts<AnalysedFaces>, JsValue> {
        with_stack_wiped(|| {
            let analysed = self.inner.analyse(&frame(rgba, width, height)?).map_err(|e| js_error(e.into()))?;
            let faces = analysed
                .into_iter()
                .map(|a| AnalysedFace {
                    bbox: a.face.bbox,
                    landmarks: a.face.landmarks,
                    score: a.face.score,
                    quality: a.quality,
                })
                .collect();
            to_ts(&AnalysedFaces(faces))
        })
    }
}
