//! `veilwatch registration deployment | revoke-deployment | revoke-kiosk | send`: the issuer's
//! documents for the authority (protocol C, `veilwatch::authority::registration`), signed with
//! the key folder's issuer key, and their delivery by `POST /issuer/documents`.
//!
//! A deployment's id, L and validity window come from its watchlist (verified with the same
//! issuer key), so the authority's registration cannot disagree with the file the kiosks load.
//! Under sealed custody they come from `enroll --custody sealed`'s registration material
//! (`--sealed FILE`), whose sealed gallery and reviewer materials the registration carries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use veilwatch::authority::registration::{
    Budgets, DeploymentRevocation, Document, HexBytes, KioskRevocation, Material, RegisteredCustody, Registration,
    SealedGalleryBytes,
};
use veilwatch::authority::service::DOCUMENTS_PATH;
use veilwatch::blind::format::Header;
use veilwatch::blind::format::Watchlist;
use veilwatch::time::now_unix;

use crate::enroll::{SealedEnrolment, SEALED_CUSTODY};
use crate::files::{read, write_atomically};
use crate::key_files;

#[derive(Subcommand)]
pub enum RegistrationCommand {
    /// Register (or re-register, replacing) a deployment: its watchlist, kiosks and budgets.
    Deployment {
        #[arg(long)]
        keys: PathBuf,
        /// The deployment's watchlist: its id, table count and validity window are registered.
        #[arg(long, required_unless_present = "sealed", conflicts_with = "sealed")]
        watchlist: Option<PathBuf>,
        /// Sealed custody: the registration material `enroll --custody sealed` wrote (its id,
        /// window, sealed gallery and reviewer materials are registered).
        #[arg(long, conflicts_with = "materials")]
        sealed: Option<PathBuf>,
        /// The reviewer materials `veilwatch enroll` wrote beside an authority-custody watchlist
        /// (FILE.materials.json).
        #[arg(long)]
        materials: Option<PathBuf>,
        /// A kiosk allowed to call the authority: its public key (64 hex digits, or a file holding
        /// them, as `veilwatch kiosk-key new` prints). Repeat for each kiosk.
        #[arg(long = "kiosk-key", value_name = "KEY", required = true)]
        kiosk_keys: Vec<String>,
        #[command(flatten)]
        budgets: Budgets,
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a deployment for good.
    RevokeDeployment {
        #[arg(long)]
        keys: PathBuf,
        /// The deployment (watchlist) id, 32 hex digits.
        #[arg(long)]
        deployment: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke one kiosk of a deployment.
    RevokeKiosk {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        deployment: String,
        #[arg(long = "kiosk-key", value_name = "KEY")]
        kiosk_key: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Deliver a document to an authority (POST /issuer/documents, on its admin listener).
    Send {
        /// The authority's admin URL (--admin-listen), e.g. http://127.0.0.1:8788.
        #[arg(long)]
        authority: String,
        file: PathBuf,
    },
}

#[derive(Args)]
pub struct RegistrationArgs {
    #[command(subcommand)]
    command: RegistrationCommand,
}

pub fn run(args: RegistrationArgs) -> Result<()> {
    match args.command {
        RegistrationCommand::Deployment { keys, watchlist, sealed, materials, kiosk_keys, budgets, out } => {
            let issuer = key_files::issuer_secret(&keys)?;
            let kiosk_keys = kiosk_keys
                .iter()
                .map(|k| key_files::public_key(k).map(|k| HexBytes(k.to_bytes())).context("--kiosk-key"))
                .collect::<Result<Vec<_>>>()?;
            let registration = match (watchlist, sealed) {
                (Some(watchlist), None) => {
                    let parsed = Watchlist::parse(read(&watchlist)?, &issuer.verifying_key())
                        .with_context(|| format!("cannot use the watchlist {}", watchlist.display()))?;
                    let materials = match materials {
                        Some(path) => read_materials(&path)?,
                        None => Vec::new(),
                    };
                    registration_for(&parsed.header, kiosk_keys, budgets, materials, now_unix())
                }
                (None, Some(sealed)) => sealed_registration(&sealed, kiosk_keys, budgets, now_unix())?,
                _ => bail!("give either --watchlist FILE or --sealed FILE"),
            };
            let document = Document::RegisterDeployment(registration);
            // Parse what was written, so a document the authority would refuse never leaves here.
            let signed = document.sign(&issuer);
            Document::parse(signed.as_bytes(), &issuer.verifying_key()).context("the registration is not usable")?;
            write_atomically(&out, signed.as_bytes())?;
            println!("{}", document.deployment().to_hex());
            Ok(())
        }
        RegistrationCommand::RevokeDeployment { keys, deployment, out } => {
            let deployment = deployment_id(&deployment)?;
            let document = Document::RevokeDeployment(DeploymentRevocation { deployment, issued: now_unix() });
            write_atomically(&out, document.sign(&key_files::issuer_secret(&keys)?).as_bytes())
        }
        RegistrationCommand::RevokeKiosk { keys, deployment, kiosk_key, out } => {
            let deployment = deployment_id(&deployment)?;
            let kiosk_key = HexBytes(key_files::public_key(&kiosk_key).context("--kiosk-key")?.to_bytes());
            let document = Document::RevokeKiosk(KioskRevocation { deployment, kiosk_key, issued: now_unix() });
            write_atomically(&out, document.sign(&key_files::issuer_secret(&keys)?).as_bytes())
        }
        RegistrationCommand::Send { authority, file } => send(&authority, &file),
    }
}

/// The registration of the deployment of a watchlist with `header`.
pub fn registration_for(
    header: &Header,
    kiosk_keys: Vec<HexBytes<32>>,
    budgets: Budgets,
    materials: Vec<Material>,
    issued: i64,
) -> Registration {
    Registration {
        deployment: HexBytes(header.watchlist_id),
        issued,
        not_before: header.valid_from,
        not_after: header.valid_until,
        tables: header.tables,
        budgets,
        kiosk_keys,
        materials,
        sealed_gallery: None,
        custody: Some(RegisteredCustody::Voprf),
    }
}

/// The registration of a sealed-custody deployment from `enroll --custody sealed`'s material.
fn sealed_registration(
    path: &Path,
    kiosk_keys: Vec<HexBytes<32>>,
    budgets: Budgets,
    issued: i64,
) -> Result<Registration> {
    use base64::Engine as _;
    let unusable = || format!("{} is not the registration material of `enroll --custody sealed`", path.display());
    let file: SealedEnrolment = serde_json::from_slice(&read(path)?).with_context(unusable)?;
    if file.custody != SEALED_CUSTODY {
        bail!("{}: custody {:?}, expected {SEALED_CUSTODY:?}", unusable(), file.custody);
    }
    let materials = serde_json::from_value(serde_json::to_value(&file.materials)?).with_context(unusable)?;
    let gallery = base64::engine::general_purpose::STANDARD.decode(&file.sealed_gallery).ok().with_context(unusable)?;
    Ok(Registration {
        deployment: deployment_id(&file.deployment)?,
        issued,
        not_before: file.not_before,
        not_after: file.not_after,
        // L is a VOPRF deployment's; a sealed face is one ciphertext.
        tables: 1,
        budgets,
        kiosk_keys,
        materials,
        sealed_gallery: Some(SealedGalleryBytes(gallery)),
        custody: Some(RegisteredCustody::BfvSealed),
    })
}

fn deployment_id(text: &str) -> Result<HexBytes<16>> {
    HexBytes::parse(text)
        .with_context(|| format!("--deployment {text}: expected the watchlist id, 32 lowercase hex digits"))
}

fn read_materials(path: &Path) -> Result<Vec<Material>> {
    serde_json::from_slice(&read(path)?).with_context(|| {
        format!("{} is not a materials file ([{{\"handle\",\"verifier\",\"sealed\"}}, …])", path.display())
    })
}

fn send(authority: &str, file: &Path) -> Result<()> {
    let rest = authority.strip_prefix("https://").or_else(|| authority.strip_prefix("http://"));
    let Some(rest) = rest else { bail!("{authority} is not an http:// or https:// URL") };
    let origin = &authority[..authority.len() - rest.len() + rest.find('/').unwrap_or(rest.len())];
    let url = format!("{origin}{DOCUMENTS_PATH}");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
    match agent.post(&url).set("Content-Type", "text/plain; charset=utf-8").send_bytes(&read(file)?) {
        Ok(_) => {
            println!("{} accepted by {origin}", file.display());
            Ok(())
        }
        Err(ureq::Error::Status(status, response)) => {
            let reason = response.into_string().unwrap_or_default();
            bail!("the authority refused {} (HTTP {status}): {}", file.display(), reason.trim())
        }
        Err(e) => bail!("cannot reach the authority at {origin}: {e}"),
    }
}
