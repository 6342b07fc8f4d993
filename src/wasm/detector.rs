//! `FaceDetector`: the kiosk's detection stage alone, for the detection Worker (issue 19, item 2).
//! The kiosk runs two Workers: this one detects frame n + 1 while the other (`Kiosk`) aligns,
//! embeds, tracks and matches frame n's faces. Only positions come out (boxes, landmarks, scores
//! and the pass); the frame's pixels go to the other Worker beside them, in a buffer it wipes.
//!
//! Frames are written into a buffer this object owns in the wasm memory, as for `Kiosk` (an
//! argument would be copied into an allocation freed unwiped), and wiped after each detection.

use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::{js_error, to_ts, with_stack_wiped};
use crate::kiosk::{Detection, DetectionPolicy, DetectionStage, KioskError};
use crate::pipeline::detect::Detector;
use crate::pipeline::FrameBuffer;

/// The detector model with the kiosk's detection schedule (reduced input, the full one when needed).
#[wasm_bindgen]
pub struct FaceDetector {
    stage: DetectionStage,
    frame_buffer: FrameBuffer,
}

#[wasm_bindgen]
impl FaceDetector {
    /// Loads the YuNet model file (its bytes); throws `MODEL_INVALID` if it is not the pinned file
    /// or cannot be prepared.
    pub fn create(detector: &[u8]) -> Result<FaceDetector, JsValue> {
        super::panic::install();
        let detector = Detector::from_bytes(detector).map_err(|e| js_error(KioskError::from(e)))?;
        Ok(FaceDetector {
            stage: DetectionStage::new(detector, DetectionPolicy::default()),
            frame_buffer: FrameBuffer::default(),
        })
    }

    /// A view of the frame buffer for a `width`×`height` RGBA frame, to write the pixels into
    /// before `detect(width, height)`, which wipes it. Ask for it again before every frame (a
    /// memory growth detaches older views).
    #[wasm_bindgen(js_name = frameBuffer)]
    pub fn frame_buffer(&mut self, width: u32, height: u32) -> Result<js_sys::Uint8Array, JsValue> {
        let bytes = self.frame_buffer.for_size(width, height).map_err(|e| js_error(e.into()))?;
        // SAFETY: as `Kiosk::frame_buffer`: the view aliases `bytes`, which lives as long as this
        // object and is reallocated only by this method; a view outliving a memory growth is
        // detached by the JS engine, never left dangling.
        Ok(unsafe { js_sys::Uint8Array::view_mut_raw(bytes.as_mut_ptr(), bytes.len()) })
    }

    /// The faces of the frame in the frame buffer and the pass that found them, for
    /// `Kiosk.processDetectedFrame`. The frame buffer is wiped, also when this throws.
    pub fn detect(&mut self, width: u32, height: u32) -> Result<Ts<Detection>, JsValue> {
        with_stack_wiped(|| {
            let frame = self.frame_buffer.take_frame(width, height).map_err(|e| js_error(e.into()))?;
            let detection = self.stage.detect(&frame).map_err(|e| js_error(e.into()))?;
            to_ts(&detection)
        })
    }

    /// Forgets the previous frame (the camera stopped): the next frame runs the full input.
    pub fn reset(&mut self) {
        self.stage.reset();
    }
}
