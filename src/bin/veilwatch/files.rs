//! Files the subcommands read and write: whole files (every error names the path), atomic writes,
//! photos decoded into frames, and the engine loaded from the models folder.

use std::path::Path;

use anyhow::{Context, Result};
use veilwatch::pipeline::{models, Engine, Frame, ModelKind};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// A folder only its owner can enter (mode 0700 from creation; an existing one is narrowed to it).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let failed = || format!("cannot create {}", dir.display());
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir).with_context(failed)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(failed)?;
    }
    #[cfg(not(unix))]
    builder.create(dir).with_context(failed)?;
    Ok(())
}

/// Writes through a temporary file in the same folder and renames it, so a reader never sees a
/// half-written file and an interrupted run leaves the old one intact. The temporary file has a
/// random name, is created exclusively (`O_EXCL`, so a planted link is never followed) and with its
/// final mode from the start.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, 0o644, true)
}

/// Like [`write_atomically`] for a secret: mode 0600 from creation, and an existing file is never
/// replaced.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, 0o600, false)
}

/// Like [`write_secret`], but replaces an existing file (atomically, by rename).
pub fn replace_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, 0o600, true)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let failed = || format!("cannot write {}", path.display());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".veilwatch-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = builder.tempfile_in(dir).with_context(failed)?;
    file.write_all(bytes).and_then(|()| file.as_file().sync_all()).with_context(failed)?;
    if replace {
        file.persist(path).map_err(|e| e.error).with_context(failed)?;
    } else {
        file.persist_noclobber(path).map_err(|e| e.error).with_context(failed)?;
    }
    Ok(())
}

/// A photo (JPEG or PNG) as a frame.
pub fn load_image(path: &Path) -> Result<Frame> {
    Frame::decode(&read(path)?).with_context(|| path.display().to_string())
}

/// The engine, from the two pinned model files in `models`.
pub fn load_engine(models: &Path) -> Result<Engine> {
    let model = |kind: ModelKind| {
        let path = models.join(models::spec(kind).file);
        std::fs::read(&path)
            .with_context(|| format!("cannot read {} (run models/fetch to download the models)", path.display()))
    };
    Ok(Engine::from_bytes(&model(ModelKind::Detector)?, &model(ModelKind::Recognizer)?)?)
}
