//! The issuer's key folder, and public keys given on the command line.
//!
//! `issuer.key` (Ed25519 secret, hex), `issuer.pub` (hex), `prf-local.key` (HMAC-SHA256 key, hex),
//! `prf-oprf.key` (ristretto255 OPRF key, hex). Secret files are written with mode 0600 and wiped
//! from memory once read.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use veilwatch::blind::prf::{LocalHmac, OprfKey};
use veilwatch::hex::{from_hex, hex};
use zeroize::Zeroizing;

use crate::files::{create_dir, write_atomically, write_secret};

pub const ISSUER_SECRET: &str = "issuer.key";
pub const ISSUER_PUBLIC: &str = "issuer.pub";
pub const PRF_LOCAL: &str = "prf-local.key";
pub const PRF_OPRF: &str = "prf-oprf.key";

fn bytes_of_hex(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    from_hex(text.trim()).map(Zeroizing::new).with_context(|| format!("{what} is not hex"))
}

fn read_secret_file(path: &Path, hint: &str) -> Result<Zeroizing<Vec<u8>>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("cannot read {}{hint}", path.display()))?);
    bytes_of_hex(&text, &path.display().to_string())
}

fn read_secret(dir: &Path, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    read_secret_file(&dir.join(name), " (run `veilwatch keygen`)")
}

fn write_secret_hex(path: &Path, bytes: &[u8]) -> Result<()> {
    let text = Zeroizing::new(format!("{}\n", hex(bytes)));
    write_secret(path, text.as_bytes())
}

/// Creates a fresh key folder; refuses to overwrite existing keys.
pub fn generate(dir: &Path) -> Result<VerifyingKey> {
    create_dir(dir)?;
    for name in [ISSUER_SECRET, PRF_LOCAL, PRF_OPRF] {
        if dir.join(name).exists() {
            bail!("{} already exists; refusing to overwrite keys", dir.join(name).display());
        }
    }
    let issuer = SigningKey::generate(&mut OsRng);
    let mut hmac = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut hmac[..]);
    write_secret_hex(&dir.join(ISSUER_SECRET), issuer.as_bytes())?;
    write_secret_hex(&dir.join(PRF_LOCAL), &hmac[..])?;
    write_secret_hex(&dir.join(PRF_OPRF), &OprfKey::generate().to_bytes())?;
    write_atomically(&dir.join(ISSUER_PUBLIC), format!("{}\n", hex(&issuer.verifying_key().to_bytes())).as_bytes())?;
    Ok(issuer.verifying_key())
}

pub fn issuer_secret(dir: &Path) -> Result<SigningKey> {
    let bytes = read_secret(dir, ISSUER_SECRET)?;
    let seed: [u8; 32] = bytes[..].try_into().ok().with_context(|| format!("{ISSUER_SECRET} must hold 32 bytes"))?;
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
    local_prf_from_file(&dir.join(PRF_LOCAL))
}

pub fn oprf_key(dir: &Path) -> Result<OprfKey> {
    let path = dir.join(PRF_OPRF);
    OprfKey::from_bytes(&read_secret(dir, PRF_OPRF)?).with_context(|| path.display().to_string())
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
