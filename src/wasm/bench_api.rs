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
use crate::blind::client_cost::{ClientCost, PlainBatch};
use crate::blind::enroll::{ephemeral_local, synthetic_enrolments};
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
    pub fn cosine_with_reference(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        reference: &[f32],
    ) -> Result<f32, JsValue> {
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
        let face =
            crate::pipeline::nearest_centre(&faces, width, height).ok_or_else(|| js_error(KioskError::NoFaceInView))?;
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

/// Runs of 4 consecutive f32 values (16 bytes: the width of a packed panel's row in tract's wasm
/// kernels, so a packed copy holds them too) sampled from one tensor, for the heap test.
#[derive(serde::Serialize)]
struct SampledRuns {
    model: &'static str,
    node: String,
    #[serde(with = "serde_bytes")]
    runs: Vec<u8>,
}

/// Runs per tensor: enough to find any sizeable remnant of it, few enough to scan fast.
const RUNS_PER_TENSOR: usize = 24;
const RUN: usize = 4;

/// Up to [`RUNS_PER_TENSOR`] runs spread over `values`, each aligned to 4 values, of 4 distinct,
/// finite, non-zero values (a run of zeros or of one value is not the face's) and, when
/// `background` (the same node's output for a frame without the face) is given, differing from it
/// in at least 3 of the 4 places: what the face put there, not the grey wall behind it.
fn sample_runs(values: &[f32], background: Option<&[f32]>) -> Vec<u8> {
    let distinctive = |at: usize| {
        let run = &values[at..at + RUN];
        let distinct = (0..RUN).all(|i| (i + 1..RUN).all(|j| run[i].to_bits() != run[j].to_bits()));
        let face_made =
            background.is_none_or(|bg| (0..RUN).filter(|&i| bg[at + i].to_bits() != run[i].to_bits()).count() >= 3);
        distinct && face_made && run.iter().all(|v| v.is_finite() && *v != 0.0)
    };
    let starts = values.len() / RUN;
    let mut runs = Vec::new();
    let mut next_free = 0;
    for k in 0..RUNS_PER_TENSOR {
        let from = (k * starts / RUNS_PER_TENSOR).max(next_free);
        let to = ((k + 1) * starts / RUNS_PER_TENSOR).min(starts);
        if let Some(start) = (from..to).find(|&s| distinctive(s * RUN)) {
            runs.extend(values[start * RUN..start * RUN + RUN].iter().flat_map(|v| v.to_le_bytes()));
            next_free = start + 1;
        }
    }
    runs
}

fn f32_values(tensor: &tract_onnx::prelude::Tensor) -> Option<Vec<f32>> {
    tensor.to_plain_array_view::<f32>().ok().map(|view| view.iter().copied().collect())
}

fn pipeline_error(e: crate::pipeline::Error) -> JsValue {
    js_error(e.into())
}

/// Every representation of a face that the two models compute, as byte runs the heap test looks
/// for: the detector's input planes and each of its activations (optimised graph, as the
/// production plan runs it) for `rgba`, at the kiosk's full and reduced input sizes, where they differ from those of `background` (the same
/// scene without the face); and the recogniser's input planes and each of its activations for the
/// aligned crop of the face nearest the centre (the padded, normalised input and the
/// un-normalised embedding among them). Returns `[{model, node, runs}]`.
#[wasm_bindgen(js_name = activationRunsOf)]
pub fn activation_runs_of(
    detector: &[u8],
    recognizer: &[u8],
    rgba: &[u8],
    background: &[u8],
    width: u32,
    height: u32,
) -> Result<JsValue, JsValue> {
    use crate::pipeline::frame::Letterbox;
    use crate::pipeline::models::VerifiedModel;
    use crate::pipeline::ModelKind;

    let photo = frame(rgba, width, height)?;
    let behind = frame(background, width, height)?;
    let mut sampled = Vec::new();

    let yunet = VerifiedModel::from_bytes(ModelKind::Detector, detector).map_err(pipeline_error)?;
    // The kiosk detects most frames at its reduced input and some at the full one: both inputs'
    // planes and activations are the face's.
    let policy = crate::kiosk::DetectionPolicy::default();
    for max_side in [policy.full_side, policy.reduced_side] {
        let letterbox = Letterbox::fit(width, height, max_side);
        let size = format!("{}×{}", letterbox.input_width, letterbox.input_height);
        let (photo_input, behind_input) = (letterbox.tensor(&photo), letterbox.tensor(&behind));
        let input = (f32_values(&photo_input), f32_values(&behind_input));
        let with_face = yunet.every_activation(photo_input).map_err(pipeline_error)?;
        let without = yunet.every_activation(behind_input).map_err(pipeline_error)?;
        if let (Some(face), Some(bg)) = input {
            sampled.push(SampledRuns {
                model: "detector",
                node: format!("{size} input planes"),
                runs: sample_runs(&face, Some(&bg)),
            });
        }
        for ((node, tensor), (_, bg)) in with_face.iter().zip(&without) {
            if let (Some(face), Some(bg)) = (f32_values(tensor), f32_values(bg)) {
                if face.len() == bg.len() && face.len() >= RUN {
                    sampled.push(SampledRuns {
                        model: "detector",
                        node: format!("{size} {node}"),
                        runs: sample_runs(&face, Some(&bg)),
                    });
                }
            }
        }
    }

    // The kiosk aligns a face from the landmarks of whichever input found it on that frame (the
    // full one on a track's first frame, the reduced one on most others), and the two crops differ
    // by a pixel or so: the recogniser's input and activations of both are the face's.
    let sface = VerifiedModel::from_bytes(ModelKind::Recognizer, recognizer).map_err(pipeline_error)?;
    let finder = crate::pipeline::detect::Detector::from_bytes(detector).map_err(pipeline_error)?;
    for max_side in [policy.full_side, policy.reduced_side] {
        let faces = finder.detect_at(&photo, max_side).map_err(pipeline_error)?;
        let face =
            crate::pipeline::nearest_centre(&faces, width, height).ok_or_else(|| js_error(KioskError::NoFaceInView))?;
        let crop = crate::pipeline::align::align(&photo, face)
            .ok_or_else(|| pipeline_error(crate::pipeline::Error::DegenerateLandmarks))?;
        let input = crate::pipeline::embed::input_tensor(&crop).map_err(pipeline_error)?;
        let aligned = format!("aligned from the {max_side}-side detection:");
        if let Some(values) = f32_values(&input) {
            sampled.push(SampledRuns {
                model: "recognizer",
                node: format!("{aligned} input planes"),
                runs: sample_runs(&values, None),
            });
        }
        for (node, tensor) in sface.every_activation(input).map_err(pipeline_error)? {
            if let Some(values) = f32_values(&tensor).filter(|v| v.len() >= RUN) {
                sampled.push(SampledRuns {
                    model: "recognizer",
                    node: format!("{aligned} {node}"),
                    runs: sample_runs(&values, None),
                });
            }
        }
    }
    sampled.retain(|s| !s.runs.is_empty());
    serde_wasm_bindgen::to_value(&sampled).map_err(|e| options_error(&format!("cannot pass the runs to JS: {e}")))
}

/// What one face's blind match computes under a local-custody watchlist, for the heap test: the
/// L LSH codes of the face's embedding (u16, little-endian), the L PRF inputs, the L PRF outputs
/// and each table's first bucket key, each array concatenated. The probe is the embedding of the
/// face nearest the centre of `rgba`, as the kiosk's first match of a new track uses it.
#[wasm_bindgen(js_name = blindTraceOf)]
pub fn blind_trace_of(
    engine: &Engine,
    rgba: &[u8],
    width: u32,
    height: u32,
    watchlist: &[u8],
    #[wasm_bindgen(js_name = issuerKey)] issuer_key: &str,
    #[wasm_bindgen(js_name = prfKey)] prf_key: &str,
) -> Result<js_sys::Object, JsValue> {
    use crate::blind::format::Watchlist;
    use crate::blind::prf::{derive, Prf};

    let issuer = crate::kiosk::deployment::issuer_key(issuer_key).map_err(js_error)?;
    let key: [u8; 32] = crate::hex::from_hex(prf_key.trim())
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| options_error("the PRF key is 64 hex digits"))?;
    let prf = LocalHmac::new(key);
    let now = crate::time::now_unix();
    let parsed = Watchlist::parse(watchlist.to_vec(), &issuer).map_err(|e| js_error(e.into()))?;
    let matcher = Matcher::new(parsed, &prf, crate::pipeline::embed::MODEL_ID, now).map_err(|e| js_error(e.into()))?;
    let analysed = engine.inner.analyse_still(&frame(rgba, width, height)?).map_err(pipeline_error)?;
    let probe = analysed.ok_or_else(|| js_error(KioskError::NoFaceInView))?.embedding;
    let inputs = matcher.prf_inputs(&probe, now).map_err(|e| js_error(e.into()))?;
    let outputs = prf.evaluate(&inputs).map_err(|e| js_error(e.into()))?;
    let codes: Vec<u8> = inputs.iter().flat_map(|x| x[x.len() - 2..].iter().rev().copied()).collect();
    let trace = js_sys::Object::new();
    let set = |name: &str, bytes: Vec<u8>| {
        js_sys::Reflect::set(&trace, &name.into(), &js_sys::Uint8Array::from(&bytes[..]).into())
    };
    set("codes", codes)?;
    set("prfInputs", inputs.concat())?;
    set("prfOutputs", outputs.iter().flat_map(|y| y.iter().copied()).collect())?;
    set("bucketKeys", outputs.iter().flat_map(|y| derive(y, 0).bucket_key.to_vec()).collect())?;
    Ok(trace)
}

/// Whether `bytes` is a whole number of canonical ristretto255 encodings of non-identity group
/// elements (what a blinded VOPRF query is made of): the egress check of the browser tests
/// (tests/egress.mjs) requires it of every `/v1/evaluate` and `/v1/key-check` body. Frame or
/// embedding bytes pass for one 32-byte chunk in about 16, so for none of a face's L chunks.
#[wasm_bindgen(js_name = areGroupElements)]
pub fn are_group_elements(bytes: &[u8]) -> bool {
    use curve25519_dalek::ristretto::CompressedRistretto;
    use curve25519_dalek::traits::IsIdentity;
    !bytes.is_empty()
        && bytes.len().is_multiple_of(32)
        && bytes.chunks_exact(32).all(|chunk| {
            CompressedRistretto::from_slice(chunk)
                .ok()
                .and_then(|c| c.decompress())
                .is_some_and(|point| !point.is_identity())
        })
}

/// Sealed custody's kiosk half, one operation per call, for the NTT agreement test
/// (tests/e2e/sealed_wasm.test.mjs: a query made here, answered by the native authority) and the
/// device's cost per face (`make bench`, bench.json `sealed`): key generation (the constructor),
/// encryption against a given seed, decryption of an answer's positive slots, and the claim
/// (commit, then prove each positive slot under the opened masks). `decrypt` returns every slot's
/// value: a decryption oracle, hence bench-only.
#[cfg(feature = "sealed-kiosk")]
#[wasm_bindgen]
pub struct SealedBench {
    kiosk: crate::sealed::kiosk::SealedKiosk,
    registration: crate::sealed::kiosk::KioskRegistration,
    positives: crate::sealed::kiosk::PositiveValues,
}

#[cfg(feature = "sealed-kiosk")]
fn seed_of(bytes: &[u8], what: &str) -> Result<[u8; 32], JsValue> {
    bytes.try_into().map_err(|_| options_error(&format!("{what} is 32 bytes")))
}

#[cfg(feature = "sealed-kiosk")]
fn sealed_js_error(e: crate::sealed::SealedError) -> JsValue {
    options_error(&e.to_string())
}

#[cfg(feature = "sealed-kiosk")]
#[wasm_bindgen]
impl SealedBench {
    /// A fresh key pair (secret from the system's randomness) whose public key's `a`-part is
    /// expanded from `keySeed` (32 bytes), as the authority's seed would be.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(js_name = keySeed)] key_seed: &[u8]) -> Result<SealedBench, JsValue> {
        let seed = seed_of(key_seed, "keySeed")?;
        let (kiosk, registration) =
            crate::sealed::kiosk::SealedKiosk::generate(&seed, &mut crate::sealed::kiosk::system_rng())
                .map_err(sealed_js_error)?;
        Ok(SealedBench { kiosk, registration, positives: Default::default() })
    }

    /// The public key's `c0`, as `/v1/sealed/keys` sends it.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> Vec<u8> {
        self.registration.public_key.clone()
    }

    /// The rotation key, as `/v1/sealed/keys` sends it.
    #[wasm_bindgen(js_name = rotationKey)]
    pub fn rotation_key(&self) -> Vec<u8> {
        self.registration.rotation_key.clone()
    }

    /// The query `c0` for the quantised probe `components` (128 integers in [−31, 31]) against
    /// `querySeed` (32 bytes).
    pub fn encrypt(
        &self,
        components: &[i32],
        #[wasm_bindgen(js_name = querySeed)] query_seed: &[u8],
    ) -> Result<Vec<u8>, JsValue> {
        let wide: Vec<i64> = components.iter().map(|&c| i64::from(c)).collect();
        let probe = crate::sealed::quantise::Quantised::from_components(&wide)
            .ok_or_else(|| options_error("a quantised probe is 128 integers in [-31, 31]"))?;
        self.kiosk.encrypt(&probe, &seed_of(query_seed, "querySeed")?).map_err(sealed_js_error)
    }

    /// Every slot's decrypted value of one answer block (fhe `Ciphertext` bytes at the answer level).
    pub fn decrypt(&self, block: &[u8]) -> Result<Vec<i64>, JsValue> {
        Ok(self.kiosk.decrypt(block).map_err(sealed_js_error)?.to_vec())
    }

    /// Reads a `/v1/sealed/match` answer as the session does: decrypts every block and keeps the
    /// positive slots for `claim`; returns how many there are.
    pub fn positives(&mut self, answer: &[u8]) -> Result<usize, JsValue> {
        let answer = crate::sealed::protocol::MatchAnswer::parse(answer).map_err(sealed_js_error)?;
        self.positives = self.kiosk.positive_values(&answer.blocks).map_err(sealed_js_error)?;
        Ok(self.positives.len())
    }

    /// The claim of the positives `positives` kept: a commitment to each, then its range proof
    /// under the masks of `opening` (`/v1/sealed/claim`'s answer, in the same order), bound to
    /// `queryId` (16 bytes). Returns the bytes of the claim and the proofs.
    pub fn claim(&self, #[wasm_bindgen(js_name = queryId)] query_id: &[u8], opening: &[u8]) -> Result<usize, JsValue> {
        use crate::sealed::claim;
        let query: [u8; 16] = query_id.try_into().map_err(|_| options_error("queryId is 16 bytes"))?;
        let opening = crate::sealed::protocol::Opening::parse(opening).map_err(sealed_js_error)?;
        if opening.masks.len() != self.positives.len() {
            return Err(options_error("the opening does not have one pair of masks per positive slot"));
        }
        let mut bytes = 0;
        for (&(block, slot, value), &(r, r_prime)) in self.positives.iter().zip(&opening.masks) {
            let (commitment, secret) = claim::commit(value);
            let proof = claim::prove(&secret, r, r_prime, &query, block, slot).map_err(sealed_js_error)?;
            bytes += commitment.len() + proof.len();
        }
        Ok(bytes)
    }
}
