//! The one error type of the face pipeline. Every fallible call in the library returns
//! [`Error`]; its messages are written for the person who has to fix the problem (an operator
//! loading a model, a developer passing a frame), and the wasm facade hands them to JS unchanged.

use thiserror::Error;

/// Which of the two networks an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Detector,
    Recognizer,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Detector => "face detector (YuNet)",
            ModelKind::Recognizer => "face recogniser (SFace)",
        })
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error(
        "the {model} model file is not the expected one: SHA-256 {actual}, expected {expected} \
         ({len} bytes). It is corrupt, truncated or a different model; fetch it again with models/fetch"
    )]
    ModelHashMismatch { model: ModelKind, expected: String, actual: String, len: usize },

    #[error("the {model} model could not be prepared: {reason}")]
    ModelInvalid { model: ModelKind, reason: String },

    #[error("running the {model} failed: {reason}")]
    Inference { model: ModelKind, reason: String },

    #[error("frame of {width}×{height} pixels is not usable: {reason}")]
    FrameSize { width: u32, height: u32, reason: &'static str },

    #[error(
        "frame buffer has {actual} bytes, but a {width}×{height} RGBA frame needs {expected} \
         (width × height × 4)"
    )]
    FrameBufferLength { width: u32, height: u32, expected: usize, actual: usize },

    #[error(
        "the frame buffer was prepared for {}×{} pixels, not {width}×{height}: ask for the \
         buffer of this frame's size (frameBuffer(width, height)) and fill it before processing",
        prepared.0, prepared.1
    )]
    FrameBufferNotPrepared { width: u32, height: u32, prepared: (u32, u32) },

    #[error("the face's landmarks are degenerate (all at one point); it cannot be aligned")]
    DegenerateLandmarks,

    #[error("image could not be decoded: {0}")]
    ImageDecode(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
