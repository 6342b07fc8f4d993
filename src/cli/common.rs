//! Helpers shared by the subcommands: loading the engine, reading images, writing files safely.

use std::path::{Path, PathBuf};

use veilwatch::models::MANIFEST;
use veilwatch::{Engine, Frame, ModelKind};

pub type CliResult<T = ()> = Result<T, String>;

pub fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn model_bytes(models: &Path, kind: ModelKind) -> CliResult<Vec<u8>> {
    let spec = MANIFEST.iter().find(|m| m.kind == kind).expect("manifest covers every kind");
    read(&models.join(spec.file)).map_err(|e| format!("{e} (run models/fetch to download the models)"))
}

pub fn load_engine(models: &Path) -> CliResult<Engine> {
    let detector = model_bytes(models, ModelKind::Detector)?;
    let recognizer = model_bytes(models, ModelKind::Recognizer)?;
    Engine::from_bytes(&detector, &recognizer).map_err(|e| e.to_string())
}

pub fn load_image(path: &Path) -> CliResult<Frame> {
    Frame::decode(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes through a temporary file in the same folder and renames it, so a reader never sees a
/// half-written file and an interrupted run leaves the old one intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp: PathBuf = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}
