//! The wasm-bindgen facade: converts JS values to library types and library errors to JS
//! `Error`s. It holds no logic of its own. Embeddings never cross this boundary: the only
//! embedding-related calls return a similarity or nothing.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{align::AlignedFace, Face, Frame, Quality};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A detected face, in frame pixels. */
export interface Face {
  /** [x, y, width, height] */
  box: [number, number, number, number];
  /** Right eye, left eye, nose tip, right and left mouth corner (subject's right = image left). */
  landmarks: [number, number][];
  score: number;
}
export interface Quality {
  face_px: number; yaw_deg: number; pitch_deg: number; roll_deg: number; sharpness: number;
  /** Empty when the face passed every gate. */
  rejections: ("too_small" | "turned_away" | "blurred")[];
}
export interface AnalysedFace extends Face { quality: Quality; }
export interface TrackedFace extends AnalysedFace { track: number; }
export interface EntryRecord {
  reference_id: string; label: string; category: string; source: string; enrolled: string;
  /** Small JPEG for the reviewer, hex-encoded. */
  photo_jpeg_hex?: string;
}
export interface Alert {
  id: number; track: number; record: EntryRecord; collisions: number; tables: number; impliedCosine: number;
  /** 112×112 RGBA probe crop for the reviewer; wipe it after the review. */
  probe: Uint8ClampedArray;
}
export interface Counters {
  frames: number; faces_processed: number; faces_rejected: number; match_attempts: number; rate_limited: number;
  match_failures: number;
  alerts: number; tracks_active: number; tracks_ended: number;
  /** Biometric buffers held for faces no longer in view: always 0. */
  retained: number;
}
export interface KioskOptions {
  detector: Uint8Array; recognizer: Uint8Array;
  watchlist?: Uint8Array; profile?: string; issuerKey?: string;
  custody?: { kind: "local"; prfKey: string } | { kind: "authority"; url: string };
}
export interface FrameResult {
  faces: TrackedFace[]; alerts: Alert[]; counters: Counters;
  /** Why the last match attempt failed (e.g. the authority is down); detection goes on. */
  matchingError: string | null;
}
export interface KioskStatus {
  matching: boolean; entries: number; custody?: string; custodyNote?: string; threshold: number; tables: number;
  validUntil?: string; secondsLeft?: number; expectedFalseAlertsPer1000?: number; pendingReviews: number;
  notice?: Profile;
  /** Measured false-match and false-non-match rates per demographic group at this threshold. */
  groupRates?: { group: string; identities: number; fmr: number; fnmr: number }[];
}
export interface Profile {
  purpose: string; legal_basis: string; operator: string; location: string; valid_from: string; valid_until: string;
  watchlist_sha256: string; threshold: number; threshold_floor: number;
  custody: { kind: "local" } | { kind: "authority"; url: string };
  query_rate_per_minute: number; notice: string; contact: string; requires_overseer: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The options object of [`Kiosk::create`].
    #[wasm_bindgen(typescript_type = "KioskOptions")]
    pub type KioskOptions;
}

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
    #[wasm_bindgen(unchecked_return_type = "Face[]")]
    pub fn detect(&self, rgba: &[u8], width: u32, height: u32) -> Result<JsValue, JsError> {
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let faces: Vec<Face> = self.inner.detect(&frame).map_err(js_error)?;
        to_js(&faces)
    }

    /// Detects, aligns and embeds every face; returns boxes, landmarks, scores and quality.
    /// The embeddings are wiped before this returns.
    #[wasm_bindgen(unchecked_return_type = "AnalysedFace[]")]
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

/// The kiosk: the face pipeline plus tracking, blind matching, human review and the audit log.
/// Embeddings stay inside; JS gets boxes, track ids, counters and alerts.
#[wasm_bindgen]
pub struct Kiosk {
    session: crate::kiosk::KioskSession,
    /// Demo mode only: the visitors who pressed "Enrol me", kept to rebuild the demo watchlist.
    demo: Vec<crate::blind::enroll::Enrolment>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KioskStatus {
    matching: bool,
    entries: u32,
    custody: Option<&'static str>,
    custody_note: Option<&'static str>,
    threshold: u16,
    tables: u16,
    valid_until: Option<String>,
    seconds_left: Option<i64>,
    expected_false_alerts_per_1000: Option<f64>,
    pending_reviews: usize,
    notice: Option<crate::profile::Profile>,
    /// Measured per-group error rates at the default threshold (None for other settings).
    group_rates: Option<Vec<GroupRate>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupRate {
    group: &'static str,
    identities: u32,
    fmr: f64,
    fnmr: f64,
}

#[wasm_bindgen]
impl Kiosk {
    /// A kiosk that detects and tracks; it matches once a watchlist is loaded or someone enrols.
    #[wasm_bindgen(constructor)]
    pub fn new(detector: &[u8], recognizer: &[u8]) -> Result<Kiosk, JsError> {
        let engine = crate::Engine::from_bytes(detector, recognizer).map_err(js_error)?;
        Ok(Kiosk { session: crate::kiosk::KioskSession::new(engine), demo: Vec::new() })
    }

    /// One factory with an options object (DESIGN §7): `{detector, recognizer}` model bytes, and
    /// optionally `watchlist` (bytes), `profile` (text), `issuerKey` (hex) and `custody`:
    /// `{kind: "local", prfKey: hex}` or `{kind: "authority", url}`. Without a watchlist the kiosk
    /// detects and counts, and demo enrolment is available.
    pub fn create(options: KioskOptions) -> Result<Kiosk, JsError> {
        let options: JsValue = options.into();
        let get = |name: &str| js_sys::Reflect::get(&options, &name.into()).unwrap_or(JsValue::UNDEFINED);
        let bytes = |name: &str| -> Result<Option<Vec<u8>>, JsError> {
            let v = get(name);
            if v.is_undefined() || v.is_null() {
                return Ok(None);
            }
            if !v.is_instance_of::<js_sys::Uint8Array>() {
                return Err(JsError::new(&format!("options.{name} must be a Uint8Array")));
            }
            Ok(Some(js_sys::Uint8Array::from(v).to_vec()))
        };
        let detector =
            bytes("detector")?.ok_or_else(|| JsError::new("options.detector (the YuNet model bytes) is required"))?;
        let recognizer = bytes("recognizer")?
            .ok_or_else(|| JsError::new("options.recognizer (the SFace model bytes) is required"))?;
        let mut kiosk = Kiosk::new(&detector, &recognizer)?;
        let Some(watchlist) = bytes("watchlist")? else { return Ok(kiosk) };
        let issuer = get("issuerKey")
            .as_string()
            .ok_or_else(|| JsError::new("options.issuerKey (hex) is required with a watchlist"))?;
        let profile = get("profile").as_string();
        let custody = get("custody");
        let field = |name: &str| js_sys::Reflect::get(&custody, &name.into()).ok().and_then(|v| v.as_string());
        match field("kind").as_deref() {
            Some("local") => {
                let key = field("prfKey")
                    .ok_or_else(|| JsError::new("custody.prfKey (hex) is required for local custody"))?;
                kiosk.load_watchlist(&watchlist, &issuer, &key, profile)?;
            }
            Some("authority") => {
                let url = field("url").ok_or_else(|| JsError::new("custody.url is required for authority custody"))?;
                kiosk.load_watchlist_with_authority(&watchlist, &issuer, &url, profile)?;
            }
            _ => {
                return Err(JsError::new(
                    "options.custody must be {kind: \"local\", prfKey} or {kind: \"authority\", url}",
                ))
            }
        }
        Ok(kiosk)
    }

    /// Loads a watchlist with local custody: the issuer's public key (hex), the PRF key (hex) and
    /// optionally the signed deployment profile (text). Throws, and leaves the current state as it
    /// was, if anything is foreign, tampered, expired or mismatched.
    #[wasm_bindgen(js_name = loadWatchlist)]
    pub fn load_watchlist(
        &mut self,
        watchlist: &[u8],
        issuer_hex: &str,
        prf_key_hex: &str,
        profile: Option<String>,
    ) -> Result<(), JsError> {
        let prf = crate::blind::prf::LocalHmac::new(parse_key(prf_key_hex, "PRF key")?);
        self.load_verified(watchlist, issuer_hex, profile, Box::new(prf))
    }

    /// Loads a watchlist with authority custody: the device sends blinded elements to
    /// `authority_url` (its origin must be allowed by the page's CSP `connect-src`).
    #[wasm_bindgen(js_name = loadWatchlistWithAuthority)]
    pub fn load_watchlist_with_authority(
        &mut self,
        watchlist: &[u8],
        issuer_hex: &str,
        authority_url: &str,
        profile: Option<String>,
    ) -> Result<(), JsError> {
        let prf = crate::blind::prf::OprfClientPrf { transport: XhrAuthority { url: authority_url.to_owned() } };
        self.load_verified(watchlist, issuer_hex, profile, Box::new(prf))
    }

    /// Verifies the profile (if any) and the watchlist against the issuer, checks the PRF against
    /// the watchlist's key check, and starts matching. Nothing changes if any step fails.
    fn load_verified(
        &mut self,
        watchlist: &[u8],
        issuer_hex: &str,
        profile: Option<String>,
        prf: Box<dyn crate::blind::prf::Prf>,
    ) -> Result<(), JsError> {
        let issuer = issuer_key(issuer_hex)?;
        let now = crate::time::now_unix();
        let signed = match profile {
            Some(text) => {
                let p = crate::profile::SignedProfile::parse(text.as_bytes(), &issuer, None).map_err(js_error)?;
                p.check_watchlist(watchlist).map_err(js_error)?;
                Some(p)
            }
            None => None,
        };
        let parsed = crate::blind::format::Watchlist::parse(watchlist.to_vec(), &issuer).map_err(js_error)?;
        let matcher = crate::blind::matcher::Matcher::new(parsed, prf.as_ref(), now).map_err(js_error)?;
        self.session.load(matcher, prf, signed, now).map_err(js_error)
    }

    /// Demo mode: enrols the largest good face in the frame under `label` into a local-custody
    /// watchlist made in this browser (fresh keys, valid for a day). Returns the number enrolled.
    #[wasm_bindgen(js_name = enrollFromFrame)]
    pub fn enroll_from_frame(&mut self, rgba: &[u8], width: u32, height: u32, label: &str) -> Result<usize, JsError> {
        use crate::blind::enroll::{ephemeral_local, Enrolment};
        use crate::blind::format::EntryRecord;
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let faces = self.session.engine().detect(&frame).map_err(js_error)?;
        let face = faces
            .iter()
            .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
            .ok_or_else(|| JsError::new("no face in view: look at the camera and try again"))?;
        let analysed = self.session.engine().analyse_face(&frame, face).map_err(js_error)?;
        if !analysed.quality.passed() {
            return Err(JsError::new(
                "the face is too small, turned away or blurred: come closer, face the camera and try again",
            ));
        }
        let label = label.trim();
        if label.is_empty() || label.len() > 80 {
            return Err(JsError::new("give a name of 1 to 80 characters"));
        }
        let now = crate::time::now_unix();
        let photo = crate::align::align(&frame, face).and_then(|crop| crop.to_jpeg());
        self.demo.push(Enrolment {
            template: analysed.embedding,
            record: EntryRecord {
                reference_id: format!("DEMO-{:03}", self.demo.len() + 1),
                label: label.to_owned(),
                category: "demo volunteer".into(),
                source: "consent given at this kiosk".into(),
                enrolled: crate::time::format_utc(now)[..10].to_owned(),
                photo_jpeg_hex: photo.map(|jpeg| crate::hex(&jpeg)),
            },
        });
        let (matcher, prf) = ephemeral_local(self.demo.clone(), now).map_err(js_error)?;
        self.session.load(matcher, Box::new(prf), None, now).map_err(js_error)?;
        Ok(self.demo.len())
    }

    /// Processes a frame: `{faces: [{box, landmarks, score, track, quality}], alerts: [{id, track,
    /// record, collisions, tables, impliedCosine, probe}], counters}`. `probe` is the 112×112 RGBA
    /// crop for the reviewer. Throws when the deployment's window has closed (matching stops).
    #[wasm_bindgen(js_name = processFrame, unchecked_return_type = "FrameResult")]
    pub fn process_frame(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        t_ms: Option<f64>,
    ) -> Result<JsValue, JsError> {
        let frame = Frame::from_rgba(width, height, rgba).map_err(js_error)?;
        let result = self.session.process_frame(&frame, t_ms.unwrap_or_else(now_ms)).map_err(js_error)?;
        let alerts = js_sys::Array::new();
        for alert in &result.alerts {
            let value = to_js(alert)?;
            let probe = js_sys::Uint8ClampedArray::from(&alert.probe_rgba[..]);
            js_sys::Reflect::set(&value, &"probe".into(), &probe)
                .map_err(|_| JsError::new("cannot attach the probe crop"))?;
            js_sys::Reflect::set(&value, &"impliedCosine".into(), &JsValue::from_f64(alert.implied_cosine as f64)).ok();
            alerts.push(&value);
        }
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"faces".into(), &to_js(&result.faces)?).ok();
        js_sys::Reflect::set(&out, &"alerts".into(), &alerts).ok();
        js_sys::Reflect::set(&out, &"counters".into(), &to_js(&result.counters)?).ok();
        let matching_error = result.matching_error.map_or(JsValue::NULL, |e| JsValue::from_str(&e));
        js_sys::Reflect::set(&out, &"matchingError".into(), &matching_error).ok();
        Ok(out.into())
    }

    /// Records a reviewer's decision (`confirm`, `reject` or `unsure`) and wipes the probe crop.
    #[wasm_bindgen(js_name = reviewAlert)]
    pub fn review_alert(&mut self, id: u32, decision: &str, reviewer: &str) -> Result<(), JsError> {
        self.session.review(id, decision, reviewer, crate::time::now_unix()).map_err(js_error)
    }

    /// The hash-chained audit log as JSON lines (`veilwatch audit verify` checks it).
    #[wasm_bindgen(js_name = auditLog)]
    pub fn audit_log(&self) -> String {
        self.session.audit_log()
    }

    /// What the status panel shows.
    #[wasm_bindgen(unchecked_return_type = "KioskStatus")]
    pub fn status(&self) -> Result<JsValue, JsError> {
        let now = crate::time::now_unix();
        let header = self.session.matcher().map(|m| &m.watchlist.header);
        let valid_until =
            header.map(|h| self.session.profile().map_or(h.valid_until, |p| p.valid_until.min(h.valid_until)));
        let status = KioskStatus {
            matching: header.is_some(),
            entries: header.map_or(0, |h| h.entries),
            custody: header.map(|h| h.suite.name()),
            custody_note: header.map(|h| match h.suite {
                crate::blind::prf::PrfSuite::HmacSha256Local => {
                    "local key: weaker, whoever holds the key and the file can test any face offline"
                }
                crate::blind::prf::PrfSuite::OprfRistretto255Sha512 => {
                    "authority key: the file is useless without the authority"
                }
            }),
            threshold: header.map_or(0, |h| h.threshold),
            tables: header.map_or(0, |h| h.tables),
            valid_until: valid_until.map(crate::time::format_utc),
            seconds_left: valid_until.map(|u| u - now),
            expected_false_alerts_per_1000: header
                .and_then(|h| crate::blind::expected_false_alerts_per_1000(h.entries, h.tables, h.threshold)),
            pending_reviews: self.session.pending_reviews(),
            notice: self.session.profile().map(|p| p.profile.clone()),
            group_rates: header
                .filter(|h| h.tables == crate::blind::DEFAULT_TABLES && h.threshold == crate::blind::DEFAULT_THRESHOLD)
                .map(|_| {
                    crate::blind::MEASURED_GROUP_RATES
                        .iter()
                        .map(|&(group, identities, fmr, fnmr)| GroupRate { group, identities, fmr, fnmr })
                        .collect()
                }),
        };
        to_js(&status)
    }

    /// Ends every track and wipes its buffers (camera stopped).
    pub fn stop(&mut self) {
        self.session.stop();
    }
}

fn issuer_key(hex_text: &str) -> Result<ed25519_dalek::VerifyingKey, JsError> {
    ed25519_dalek::VerifyingKey::from_bytes(&parse_key(hex_text, "issuer key")?)
        .map_err(|_| JsError::new("the issuer key is not a valid Ed25519 public key"))
}

fn parse_key(hex_text: &str, what: &str) -> Result<[u8; 32], JsError> {
    crate::from_hex(hex_text.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| JsError::new(&format!("the {what} must be 64 hex digits")))
}

/// Verifies a signed deployment profile against the issuer's key (hex) and returns its fields,
/// for the public notice page. Throws if it is foreign, altered or outside its window.
#[wasm_bindgen(js_name = verifyProfile, unchecked_return_type = "Profile")]
pub fn verify_profile(text: &str, issuer_hex: &str) -> Result<JsValue, JsError> {
    let issuer = issuer_key(issuer_hex)?;
    let signed = crate::profile::SignedProfile::parse(text.as_bytes(), &issuer, None).map_err(js_error)?;
    signed.check_window(crate::time::now_unix()).map_err(js_error)?;
    to_js(&signed.profile)
}

/// The OPRF round trip from a Worker: a synchronous XMLHttpRequest (allowed in Workers), so that
/// matching stays one call. The body is the batch of blinded elements, nothing else.
struct XhrAuthority {
    url: String,
}

impl crate::blind::prf::OprfTransport for XhrAuthority {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, crate::blind::BlindError> {
        use crate::blind::BlindError;
        let fail = |what: &str| BlindError::Authority(format!("cannot reach the authority at {}: {what}", self.url));
        let xhr = web_sys::XmlHttpRequest::new().map_err(|_| fail("no XMLHttpRequest here"))?;
        let endpoint = format!("{}/v1/evaluate", self.url.trim_end_matches('/'));
        xhr.open_with_async("POST", &endpoint, false).map_err(|_| fail("the URL was refused"))?;
        xhr.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
        xhr.set_request_header("Content-Type", "application/octet-stream").map_err(|_| fail("header refused"))?;
        let body = js_sys::Uint8Array::from(blinded);
        xhr.send_with_opt_buffer_source(Some(&body))
            .map_err(|_| fail("the request failed (down, or blocked by the page's security policy)"))?;
        let status = xhr.status().map_err(|_| fail("no status"))?;
        if status != 200 {
            return Err(BlindError::Authority(format!("the authority answered HTTP {status}")));
        }
        let response = xhr.response().map_err(|_| BlindError::AuthorityAnswer("no body".into()))?;
        Ok(js_sys::Uint8Array::new(&response).to_vec())
    }
}

/// Benchmarks only: a synthetic local-custody watchlist of random unit vectors, to time one blind
/// match (L PRF evaluations, bucket openings, share recombination) in the browser.
#[wasm_bindgen]
pub struct BlindBench {
    matcher: crate::blind::matcher::Matcher,
    prf: crate::blind::prf::LocalHmac,
    templates: Vec<crate::Embedding>,
    next: usize,
}

#[wasm_bindgen]
impl BlindBench {
    #[wasm_bindgen(constructor)]
    pub fn new(entries: u32) -> Result<BlindBench, JsError> {
        use crate::blind::enroll::{ephemeral_local, synthetic_enrolments};
        if entries == 0 || entries > 100_000 {
            return Err(JsError::new("entries must be between 1 and 100000"));
        }
        let entries = synthetic_enrolments(entries as usize);
        let templates: Vec<crate::Embedding> = entries.iter().map(|e| e.template.clone()).collect();
        let (matcher, prf) = ephemeral_local(entries, crate::time::now_unix()).map_err(js_error)?;
        Ok(BlindBench { matcher, prf, templates, next: 0 })
    }

    /// Matches the next enrolled template; returns how many records opened (1 expected).
    #[wasm_bindgen(js_name = matchOnce)]
    pub fn match_once(&mut self) -> Result<usize, JsError> {
        let probe = &self.templates[self.next % self.templates.len()];
        self.next += 1;
        let found = self.matcher.match_embedding(probe, &self.prf, crate::time::now_unix()).map_err(js_error)?;
        Ok(found.len())
    }
}
