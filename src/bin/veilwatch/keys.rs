//! Key files of an issuer's key folder, and how the CLI reads public keys given on the command line.
//!
//! `issuer.key` (Ed25519 secret, hex), `issuer.pub` (hex), `prf-local.key` (HMAC-SHA256 key, hex),
//! `prf-oprf.key` (ristretto255 OPRF key, hex). Secret files are written with mode 0600.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use veilwatch::blind::prf::{LocalHmac, OprfKey};
use veilwatch::hex;
use zeroize::Zeroizing;

use crate::common::{write_atomically, CliResult};

pub const ISSUER_SECRET: &str = "issuer.key";
pub const ISSUER_PUBLIC: &str = "issuer.pub";
pub const PRF_LOCAL: &str = "prf-local.key";
pub const PRF_OPRF: &str = "prf-oprf.key";

fn from_hex(text: &str, what: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    veilwatch::from_hex(text.trim()).map(Zeroizing::new).ok_or_else(|| format!("{what} is not hex"))
}

fn read_secret(dir: &Path, name: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    let path = dir.join(name);
    let text = Zeroizing::new(
        std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e} (run `veilwatch keygen`)", path.display()))?,
    );
    from_hex(&text, &path.display().to_string())
}

fn write_secret(path: &Path, bytes: &[u8]) -> CliResult {
    write_atomically(path, format!("{}\n", hex(bytes)).as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Creates a fresh key folder; refuses to overwrite existing keys.
pub fn generate(dir: &Path) -> CliResult<VerifyingKey> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for name in [ISSUER_SECRET, PRF_LOCAL, PRF_OPRF] {
        if dir.join(name).exists() {
            return Err(format!("{} already exists; refusing to overwrite keys", dir.join(name).display()));
        }
    }
    let issuer = SigningKey::generate(&mut OsRng);
    let mut hmac = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut hmac[..]);
    write_secret(&dir.join(ISSUER_SECRET), issuer.as_bytes())?;
    write_secret(&dir.join(PRF_LOCAL), &hmac[..])?;
    write_secret(&dir.join(PRF_OPRF), &OprfKey::generate().to_bytes())?;
    write_atomically(&dir.join(ISSUER_PUBLIC), format!("{}\n", hex(&issuer.verifying_key().to_bytes())).as_bytes())?;
    Ok(issuer.verifying_key())
}

pub fn issuer_secret(dir: &Path) -> CliResult<SigningKey> {
    let bytes = read_secret(dir, ISSUER_SECRET)?;
    let seed: [u8; 32] = bytes[..].try_into().map_err(|_| format!("{ISSUER_SECRET} must hold 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn local_prf_from_file(path: &Path) -> CliResult<LocalHmac> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
    let bytes = from_hex(&text, &path.display().to_string())?;
    let key: [u8; 32] = bytes[..].try_into().map_err(|_| format!("{} must hold a 32-byte key", path.display()))?;
    Ok(LocalHmac::new(key))
}

pub fn local_prf(dir: &Path) -> CliResult<LocalHmac> {
    local_prf_from_file(&dir.join(PRF_LOCAL))
}

pub fn oprf_key(dir: &Path) -> CliResult<OprfKey> {
    OprfKey::from_bytes(&read_secret(dir, PRF_OPRF)?).map_err(|e| e.to_string())
}

/// A public key given as 64 hex digits or as a file holding them.
pub fn public_key(arg: &str) -> CliResult<VerifyingKey> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).map_err(|e| format!("cannot read {arg}: {e}"))?
    } else {
        arg.to_owned()
    };
    let bytes = from_hex(&text, "the issuer key")?;
    let key: [u8; 32] =
        bytes[..].try_into().map_err(|_| "an Ed25519 public key is 32 bytes (64 hex digits)".to_string())?;
    VerifyingKey::from_bytes(&key).map_err(|_| "the issuer key is not a valid Ed25519 public key".to_string())
}
