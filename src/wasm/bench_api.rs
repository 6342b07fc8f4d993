//! Calls for tests and benchmarks only, compiled with the cargo feature `bench-api` into the
//! separate `pkg-bench/` package and never into the production `pkg/` (DESIGN §2: with
//! `reference` = a unit vector, `cosineWithReference` returns one component of the embedding, so
//! it is an embedding oracle). They give a cosine between an in-wasm embedding and a native one
//! (wasm-vs-native agreement), the aligned crop and the embedding of a still photo (what the wasm
//! heap test looks for in memory), one embedding run on a given crop, a synthetic blind-match
//! benchmark, and the device's cost per face of authority custody, VOPRF against plain OPRF. `tests/e2e/production_package.test.mjs` checks that none of them is in `pkg/`.

use wasm_bindgen::prelude::*;

use super::engine::{frame, Engine};
use super::js_error;
use crate::blind::enroll::{ephemeral_local, synthetic_enrolments};
use crate::blind::client_cost::{ClientCost, PlainBatch};
use crate::blind::matcher::Matcher;
use crate::blind::prf::{BlindedBatch, LocalHmac};
use crate::kiosk::KioskError;
use crate::pipeline::AlignedFace;
use crate::template::Embedding;

fn options_error(message: &str) -> JsValue {
    js_error(KioskError::Options(message.to_owned()))
}

#[wasm_bindgen]
impl Engine {
    /// Cosine between the embedding of the face a still photo is about and `reference` (a
    /// native build's embedding of the same image): proves wasm and native agree without letting
    /// an embedding out. Throws if the frame shows no face.
    #[wasm_bindgen(js_name = cosineWithReference)]
    pub fn cosine_with_reference(&self, rgba: &[u8], width: u32, height: u32, reference: &[f32]) -> Result<f32, JsValue> {
        let reference = Embedding::from_values(reference)
            .ok_or_else(|| options_error("the reference must be 128 finite numbers, not all zero"))?;
        let analysed = self.inner.analyse_still(&frame(rgba, width, height)?).map_err(|e| js_error(e.into()))?;
        let analysed = analysed.ok_or_else(|| js_error(KioskError::NoFaceInView))?;
        Ok(analysed.embedding.cosine(&reference))
    }

    /// The aligned 112×112 RGB crop of the face a still photo is about. Throws if it shows none.
    #[wasm_bindgen(js_name = alignedCropOf)]
    pub fn aligned_crop_of(&self, rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsValue> {
        let photo = frame(rgba, width, height)?;
        let faces = self.inner.detect(&photo).map_err(|e| js_error(e.into()))?;
        let face = crate::pipeline::nearest_centre(&faces, width, height).ok_or_else(|| js_error(KioskError::NoFaceInView))?;
        let crop = crate::pipeline::align::align(&photo, face)
            .ok_or_else(|| js_error(crate::pipeline::Error::DegenerateLandmarks.into()))?;
        Ok(crop.rgb().to_vec())
    }

    /// The embedding (128 values) of the face a still photo is about. Throws if it shows none.
    #[wasm_bindgen(js_name = embeddingOf)]
    pub fn embedding_of(&self, rgba: &[u8], width: u32, height: u32) -> Result<Vec<f32>, JsValue> {
        let analysed = self.inner.analyse_still(&frame(rgba, width, height)?).map_err(|e| js_error(e.into()))?;
        let analysed = analysed.ok_or_else(|| js_error(KioskError::NoFaceInView))?;
        Ok(analysed.embedding.values().to_vec())
    }

    /// Runs the recogniser once on an aligned 112×112 RGB crop and discards the embedding.
    #[wasm_bindgen(js_name = benchmarkEmbedding)]
    pub fn benchmark_embedding(&self, #[wasm_bindgen(js_name = cropRgb)] crop_rgb: &[u8]) -> Result<(), JsValue> {
        let crop = AlignedFace::from_rgb(crop_rgb.to_vec())
            .ok_or_else(|| options_error("an aligned crop is 112×112 RGB: exactly 37632 bytes"))?;
        self.inner.embed_crop(&crop).map(drop).map_err(|e| js_error(e.into()))
    }
}

/// A synthetic local-custody watchlist of random unit vectors, to time one blind match (L PRF
/// evaluations, bucket openings, share recombination) in the browser; and the device's half of
/// one face's authority round at L = `tables`, to time VOPRF (blind, then verify the proof and
/// unblind) against plain OPRF (blind, unblind): `{voprf,oprf}Blind`, then the authority's
/// `{voprf,oprf}Answer` (in process, not the device's cost), then `{voprf,oprf}Finish`.
#[wasm_bindgen]
pub struct BlindBench {
    matcher: Matcher,
    prf: LocalHmac,
    templates: Vec<Embedding>,
    next: usize,
    client: ClientCost,
    voprf: Option<BlindedBatch>,
    voprf_answer: Vec<u8>,
    oprf: Option<PlainBatch>,
    oprf_answer: Vec<voprf::EvaluationElement<voprf::Ristretto255>>,
}

/// The model id synthetic templates claim: they come from no model.
const SYNTHETIC_MODEL: &str = "synthetic-unit-vectors";

#[wasm_bindgen]
impl BlindBench {
    /// `entries` synthetic entries; `tables` (default the watchlists' L) inputs per face for the
    /// authority-round calls.
    #[wasm_bindgen(constructor)]
    pub fn new(entries: u32, tables: Option<u16>) -> Result<BlindBench, JsValue> {
        if entries == 0 || entries > 100_000 {
            return Err(options_error("entries must be between 1 and 100000"));
        }
        let entries = synthetic_enrolments(entries as usize);
        let templates: Vec<Embedding> = entries.iter().map(|e| e.template.clone()).collect();
        let (matcher, prf) =
            ephemeral_local(entries, SYNTHETIC_MODEL, crate::time::now_unix()).map_err(|e| js_error(e.into()))?;
        let tables = tables.unwrap_or(crate::blind::DEFAULT_TABLES);
        if tables == 0 {
            return Err(options_error("tables must be at least 1"));
        }
        let client = ClientCost::new(tables).map_err(|e| js_error(e.into()))?;
        Ok(BlindBench {
            matcher,
            prf,
            templates,
            next: 0,
            client,
            voprf: None,
            voprf_answer: Vec::new(),
            oprf: None,
            oprf_answer: Vec::new(),
        })
    }

    /// Device, VOPRF: blinds one face's inputs (timed by the caller).
    #[wasm_bindgen(js_name = voprfBlind)]
    pub fn voprf_blind(&mut self) -> Result<(), JsValue> {
        self.voprf = Some(self.client.voprf_blind().map_err(|e| js_error(e.into()))?);
        Ok(())
    }

    /// Authority, VOPRF: answers the blinded batch (elements and proof); not the device's cost.
    #[wasm_bindgen(js_name = voprfAnswer)]
    pub fn voprf_answer(&mut self) -> Result<(), JsValue> {
        let batch = self.voprf.as_ref().ok_or_else(|| options_error("call voprfBlind first"))?;
        self.voprf_answer = self.client.voprf_answer(batch.request()).map_err(|e| js_error(e.into()))?;
        Ok(())
    }

    /// Device, VOPRF: verifies the proof and unblinds; returns the number of PRF outputs.
    #[wasm_bindgen(js_name = voprfFinish)]
    pub fn voprf_finish(&mut self) -> Result<usize, JsValue> {
        let batch = self.voprf.take().ok_or_else(|| options_error("call voprfBlind first"))?;
        self.client.voprf_finish(&batch, &self.voprf_answer).map_err(|e| js_error(e.into()))
    }

    /// Device, plain OPRF: blinds one face's inputs.
    #[wasm_bindgen(js_name = oprfBlind)]
    pub fn oprf_blind(&mut self) -> Result<(), JsValue> {
        self.oprf = Some(self.client.oprf_blind().map_err(|e| js_error(e.into()))?);
        Ok(())
    }

    /// Authority, plain OPRF: evaluates the blinded batch; not the device's cost.
    #[wasm_bindgen(js_name = oprfAnswer)]
    pub fn oprf_answer(&mut self) -> Result<(), JsValue> {
        let batch = self.oprf.as_ref().ok_or_else(|| options_error("call oprfBlind first"))?;
        self.oprf_answer = self.client.oprf_answer(batch);
        Ok(())
    }

    /// Device, plain OPRF: unblinds; returns the number of PRF outputs.
    #[wasm_bindgen(js_name = oprfFinish)]
    pub fn oprf_finish(&mut self) -> Result<usize, JsValue> {
        let batch = self.oprf.take().ok_or_else(|| options_error("call oprfBlind first"))?;
        self.client.oprf_finish(&batch, &self.oprf_answer).map_err(|e| js_error(e.into()))
    }

    /// Matches the next enrolled template; returns how many records opened (1 expected).
    #[wasm_bindgen(js_name = matchOnce)]
    pub fn match_once(&mut self) -> Result<usize, JsValue> {
        let probe = &self.templates[self.next % self.templates.len()];
        self.next += 1;
        let found =
            self.matcher.match_embedding(probe, &self.prf, crate::time::now_unix()).map_err(|e| js_error(e.into()))?;
        Ok(found.len())
    }
}
