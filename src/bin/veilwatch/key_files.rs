//! The issuer's key folder, the authority's, and public keys given on the command line.
//!
//! The issuer's folder is split so that its public half can be published as it is and nothing
//! secret sits beside it (`make demo DEPLOYMENT=DIR/public` serves that folder, and refuses one
//! that holds anything but public keys and profiles), and so that the authority's folder can be
//! given to the authority machine without any issuer secret:
//!
//! - `DIR/public/issuer.pub`: the issuer's Ed25519 public key (hex).
//! - `DIR/secret/` (mode 0700): `issuer.key` (Ed25519 secret, hex), `prf-local.key` (HMAC-SHA256
//!   key, hex).
//! - `DIR/authority/` (mode 0700), the authority's folder, to copy to the authority machine:
//!   `authority-master.key` (the VOPRF master secret, 32 random bytes, hex: each deployment's key
//!   pair is derived from it and the watchlist id) and `issuer.pub` (whose documents it trusts).
//!   The issuer's machine keeps it too: enrolment under authority custody evaluates the codes
//!   under the deployment key.
//!
//! `veilwatch authority --keys FOLDER` reads only an authority folder, and refuses to start when
//! an issuer secret key (`issuer.key`) is anywhere in it ([`authority_folder`]): a compromised
//! authority host must not be able to sign watchlists, profiles or registrations.
//!
//! Every file is written atomically through a randomly named temporary file created exclusively
//! (`O_EXCL`) with its final mode (0600 for secrets) from the start ([`crate::files`]). Secrets are
//! wiped from memory once read. `generate` refuses a folder that is not empty unless forced.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use veilwatch::blind::prf::{DeploymentKey, LocalHmac, MasterSecret};
use veilwatch::hex::{from_hex, hex};
use zeroize::Zeroizing;

use crate::files::{create_dir, create_private_dir, write_atomically, write_secret};

pub const PUBLIC_DIR: &str = "public";
pub const SECRET_DIR: &str = "secret";
pub const ISSUER_SECRET: &str = "issuer.key";
pub const ISSUER_PUBLIC: &str = "issuer.pub";
pub const PRF_LOCAL: &str = "prf-local.key";
pub const AUTHORITY_MASTER: &str = "authority-master.key";
/// The authority's folder inside the issuer's (`DIR/authority`).
pub const AUTHORITY_DIR: &str = "authority";
/// The plain-OPRF key earlier versions wrote; named only to explain its absence.
const RETIRED_PRF_OPRF: &str = "prf-oprf.key";

fn bytes_of_hex(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    from_hex(text.trim()).map(Zeroizing::new).with_context(|| format!("{what} is not hex"))
}

fn read_secret_file(path: &Path, hint: &str) -> Result<Zeroizing<Vec<u8>>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("cannot read {}{hint}", path.display()))?);
    bytes_of_hex(&text, &path.display().to_string())
}

fn read_secret(dir: &Path, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    if !dir.join(SECRET_DIR).is_dir() && dir.join(name).is_file() {
        bail!(
            "{} uses the old key folder layout (secrets beside issuer.pub); move {ISSUER_SECRET} and {PRF_LOCAL} into \
             {SECRET_DIR}/, {AUTHORITY_MASTER} and a copy of {ISSUER_PUBLIC} into {AUTHORITY_DIR}/, and \
             {ISSUER_PUBLIC} into {PUBLIC_DIR}/",
            dir.display()
        );
    }
    read_secret_file(&dir.join(SECRET_DIR).join(name), " (run `veilwatch keygen`)")
}

fn write_secret_hex(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    let text = Zeroizing::new(format!("{}\n", hex(bytes)));
    if replace {
        crate::files::replace_secret(path, text.as_bytes())
    } else {
        write_secret(path, text.as_bytes())
    }
}

/// Creates a fresh key folder. A folder that exists and is not empty is refused unless `force`,
/// which replaces the keys it holds (each file atomically) and leaves other files alone.
pub fn generate(dir: &Path, force: bool) -> Result<VerifyingKey> {
    if !force && dir.exists() {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty; refusing to write keys into it (choose a new folder, or pass --force to replace \
                 the keys there: whatever they signed or keyed can then no longer be verified or matched)",
                dir.display()
            );
        }
    }
    create_dir(&dir.join(PUBLIC_DIR))?;
    let secret = dir.join(SECRET_DIR);
    create_private_dir(&secret)?;
    let authority = dir.join(AUTHORITY_DIR);
    create_private_dir(&authority)?;
    let issuer = SigningKey::generate(&mut OsRng);
    let mut hmac = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut hmac[..]);
    write_secret_hex(&secret.join(ISSUER_SECRET), issuer.as_bytes(), force)?;
    write_secret_hex(&secret.join(PRF_LOCAL), &hmac[..], force)?;
    write_secret_hex(&authority.join(AUTHORITY_MASTER), MasterSecret::generate().as_bytes(), force)?;
    let public = format!("{}\n", hex(&issuer.verifying_key().to_bytes()));
    write_atomically(&dir.join(PUBLIC_DIR).join(ISSUER_PUBLIC), public.as_bytes())?;
    write_atomically(&authority.join(ISSUER_PUBLIC), public.as_bytes())?;
    Ok(issuer.verifying_key())
}

pub fn issuer_secret(dir: &Path) -> Result<SigningKey> {
    let bytes = read_secret(dir, ISSUER_SECRET)?;
    let seed: [u8; 32] = bytes[..].try_into().ok().with_context(|| format!("{ISSUER_SECRET} must hold 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Creates a kiosk key file (`kiosk-key new`): the 32-byte Ed25519 secret as 64 hex digits and a
/// newline, mode 0600, never over an existing file; the public key.
pub fn new_kiosk_key(path: &Path) -> Result<VerifyingKey> {
    let key = SigningKey::generate(&mut OsRng);
    write_secret_hex(path, key.as_bytes(), false)?;
    Ok(key.verifying_key())
}

/// A kiosk key file made by `veilwatch kiosk-key new`.
pub fn kiosk_key(path: &Path) -> Result<SigningKey> {
    let bytes = read_secret_file(path, " (make one with `veilwatch kiosk-key new --out FILE`)")?;
    let seed: [u8; 32] =
        bytes[..].try_into().ok().with_context(|| format!("{} must hold a 32-byte kiosk key", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A local-custody PRF key file (`prf-local.key`, wherever it was copied to).
pub fn local_prf_from_file(path: &Path) -> Result<LocalHmac> {
    let bytes = read_secret_file(path, "")?;
    let key: [u8; 32] =
        bytes[..].try_into().ok().with_context(|| format!("{} must hold a 32-byte key", path.display()))?;
    Ok(LocalHmac::new(key))
}

pub fn local_prf(dir: &Path) -> Result<LocalHmac> {
    let bytes = read_secret(dir, PRF_LOCAL)?;
    let key: [u8; 32] = bytes[..].try_into().ok().with_context(|| format!("{PRF_LOCAL} must hold a 32-byte key"))?;
    Ok(LocalHmac::new(key))
}

/// The master secret in an issuer's folder (`DIR/authority/authority-master.key`), for enrolment.
pub fn authority_master(dir: &Path) -> Result<MasterSecret> {
    let path = dir.join(AUTHORITY_DIR).join(AUTHORITY_MASTER);
    let old = dir.join(SECRET_DIR).join(AUTHORITY_MASTER);
    if !path.exists() && old.exists() {
        bail!(
            "{} is where earlier versions kept the authority's master secret; move it to {} (the authority's \
             folder, with a copy of public/{ISSUER_PUBLIC}), so that the authority's machine gets no issuer secret",
            old.display(),
            path.display()
        );
    }
    if !path.exists() && dir.join(SECRET_DIR).join(RETIRED_PRF_OPRF).exists() {
        bail!(
            "{} holds {RETIRED_PRF_OPRF}, the key of plain OPRF mode, which is no longer supported (its answers cannot \
             be verified); run `veilwatch keygen --out {} --force` for an {AUTHORITY_MASTER} and re-enrol the lists",
            dir.display(),
            dir.display()
        );
    }
    master_secret(&path)
}

fn master_secret(path: &Path) -> Result<MasterSecret> {
    let bytes = read_secret_file(path, " (run `veilwatch keygen`: the authority's folder is KEYS/authority)")?;
    MasterSecret::from_bytes(&bytes).with_context(|| path.display().to_string())
}

/// Where an issuer secret key sits under `dir`, if anywhere (a few levels deep).
fn issuer_secret_in(dir: &Path, depth: usize) -> Option<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == ISSUER_SECRET {
            return Some(path);
        }
        if depth > 0 && path.is_dir() {
            if let Some(found) = issuer_secret_in(&path, depth - 1) {
                return Some(found);
            }
        }
    }
    None
}

/// What `veilwatch authority --keys DIR` starts from: the master secret and the issuer's public
/// key of an authority folder (`authority-master.key`, `issuer.pub`). Refused when the folder
/// holds an issuer secret key, or is an issuer's folder.
pub fn authority_folder(dir: &Path) -> Result<(MasterSecret, VerifyingKey)> {
    if let Some(found) = issuer_secret_in(dir, 3) {
        bail!(
            "refusing to start: {} is an issuer secret key, and the authority can read it. The authority gets only \
             its own folder (keygen's KEYS/{AUTHORITY_DIR}: {AUTHORITY_MASTER} and {ISSUER_PUBLIC}), copied to its \
             machine; a compromised authority host must not be able to sign watchlists, profiles or registrations",
            found.display()
        );
    }
    let master = master_secret(&dir.join(AUTHORITY_MASTER))?;
    let path = dir.join(ISSUER_PUBLIC);
    let issuer = public_key(path.to_str().context("the key folder's path is not UTF-8")?).with_context(|| {
        format!("{} (the authority's folder holds a copy of the issuer's public key)", path.display())
    })?;
    Ok((master, issuer))
}

/// The VOPRF key pair of deployment (watchlist) `id`, derived from the folder's master secret.
pub fn deployment_key(dir: &Path, id: &[u8; 16]) -> Result<DeploymentKey> {
    Ok(DeploymentKey::derive(&authority_master(dir)?, id)?)
}

/// A public key given as 64 hex digits or as a file holding them.
pub fn public_key(arg: &str) -> Result<VerifyingKey> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_owned()
    };
    let bytes = bytes_of_hex(&text, "the issuer key")?;
    let key: [u8; 32] = bytes[..].try_into().ok().context("an Ed25519 public key is 32 bytes (64 hex digits)")?;
    VerifyingKey::from_bytes(&key).ok().context("the issuer key is not a valid Ed25519 public key")
}
