//! `veilwatch profile sign | cosign | verify`: the issuer signs a deployment profile for a
//! watchlist (listing the kiosks allowed to run it); an independent overseer co-signs it; anyone
//! with the issuer's public key (and the overseer's, when the deployment has one) verifies it, and
//! that it names a given watchlist.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use veilwatch::blind::format::Watchlist;
use veilwatch::governance::profile::{cosign, Custody, EstimateFile, Profile, SignedProfile};
use veilwatch::hex::hex;
use veilwatch::sealed::descriptor::VerifiedDescriptor;
use veilwatch::time::now_unix;

use crate::files::{read, write_atomically};
use crate::key_files;

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Sign a profile (JSON without watchlistSha256) for a watchlist. Under authority custody the
    /// custody's authorityPublicKey is filled in from the watchlist's header; under sealed custody
    /// the "watchlist" is the sealed deployment's descriptor (`enroll --custody sealed` writes
    /// FILE.deployment), and the template's threshold is its thresholdMilli.
    Sign {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        watchlist: PathBuf,
        /// Profile fields as JSON (camelCase names); watchlistSha256 is filled in from --watchlist.
        #[arg(long)]
        template: PathBuf,
        /// A kiosk allowed to run the deployment: its Ed25519 public key (64 hex digits, or a file
        /// holding them). Repeat for each kiosk; added to the template's kioskKeys. Required (here
        /// or in the template) for authority custody.
        #[arg(long = "kiosk-key", value_name = "KEY")]
        kiosk_keys: Vec<String>,
        /// The per-entry false-alert estimate `enroll --stranger-cohort` wrote beside the watchlist
        /// (WATCHLIST.false-alerts.json), recorded as the profile's falseAlertEstimate; refused if
        /// it was written for another watchlist or threshold.
        #[arg(long)]
        false_alerts: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Co-sign a signed profile as the overseer (with a key folder made by `veilwatch keygen` for
    /// the overseer: its issuer.key is the overseer's signing key).
    Cosign {
        profile: PathBuf,
        /// The overseer's key folder.
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a signed profile (and, with --watchlist, that it names that watchlist).
    Verify {
        profile: PathBuf,
        #[arg(long)]
        issuer: String,
        /// The overseer's public key (hex, or a file holding it): its co-signature is then required.
        #[arg(long = "overseer-key", value_name = "KEY")]
        overseer_key: Option<String>,
        #[arg(long)]
        watchlist: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

pub fn run(args: ProfileArgs) -> Result<()> {
    match args.command {
        ProfileCommand::Sign { keys, watchlist, template, kiosk_keys, false_alerts, out } => {
            sign(keys, watchlist, template, &kiosk_keys, false_alerts, out)
        }
        ProfileCommand::Cosign { profile, keys, out } => cosign_as_overseer(profile, keys, out),
        ProfileCommand::Verify { profile, issuer, overseer_key, watchlist } => {
            verify(profile, &issuer, overseer_key.as_deref(), watchlist)
        }
    }
}

fn sign(
    keys: PathBuf,
    watchlist: PathBuf,
    template: PathBuf,
    kiosk_keys: &[String],
    false_alerts: Option<PathBuf>,
    out: PathBuf,
) -> Result<()> {
    let file = read(&watchlist)?;
    let mut profile =
        Profile::from_template(&read(&template)?, &file).with_context(|| template.display().to_string())?;
    let issuer = key_files::issuer_secret(&keys)?;
    let descriptor = veilwatch::sealed::descriptor::looks_like_descriptor(&file);
    if descriptor && !matches!(profile.custody, Custody::Sealed { .. }) {
        bail!(
            "{} is a sealed deployment's descriptor; its profile names sealed custody: {{\"kind\": \"sealed\", \"url\": …}}",
            watchlist.display()
        );
    }
    if let Custody::Authority { authority_public_key, .. } = &mut profile.custody {
        let parsed = Watchlist::parse(file.clone(), &issuer.verifying_key())
            .with_context(|| format!("cannot read the deployment key of {}", watchlist.display()))?;
        let Some(key) = parsed.header.authority_key.map(|k| hex(&k)) else {
            bail!("{} is a local-custody watchlist; its profile cannot name authority custody", watchlist.display());
        };
        match authority_public_key {
            Some(given) if *given != key => bail!(
                "the template's authorityPublicKey {given} is not the watchlist's deployment key {key}; leave it out \
                 and it is filled in"
            ),
            _ => *authority_public_key = Some(key),
        }
    }
    if let Custody::Sealed { .. } = &profile.custody {
        let sealed = VerifiedDescriptor::parse(&file, &issuer.verifying_key()).with_context(|| {
            format!(
                "{} is not a sealed deployment's descriptor signed by this issuer (enroll --custody sealed writes \
                 FILE.deployment)",
                watchlist.display()
            )
        })?;
        let threshold = sealed.descriptor.threshold_milli;
        if profile.threshold != threshold {
            bail!(
                "the template's threshold is {}, but the sealed deployment compares at {threshold} (thousandths of \
                 cosine); kiosks refuse a profile whose threshold is not the list's",
                profile.threshold
            );
        }
    }
    for key in kiosk_keys {
        let key = hex(&key_files::public_key(key).context("--kiosk-key")?.to_bytes());
        if !profile.kiosk_keys.contains(&key) {
            profile.kiosk_keys.push(key);
        }
    }
    if let Some(path) = &false_alerts {
        let file: EstimateFile = serde_json::from_slice(&read(path)?)
            .with_context(|| format!("{} is not an estimate written by enroll --stranger-cohort", path.display()))?;
        profile.false_alert_estimate = Some(file.estimate_for(&profile).with_context(|| path.display().to_string())?);
    }
    let signed = profile.sign(&issuer).with_context(|| template.display().to_string())?;
    write_atomically(&out, signed.as_bytes())
}

fn cosign_as_overseer(profile: PathBuf, keys: PathBuf, out: PathBuf) -> Result<()> {
    let text = String::from_utf8(read(&profile)?).with_context(|| format!("{} is not text", profile.display()))?;
    let overseer = key_files::issuer_secret(&keys)?;
    let cosigned = cosign(&text, &overseer).with_context(|| profile.display().to_string())?;
    write_atomically(&out, cosigned.as_bytes())?;
    println!("co-signed as overseer {}", hex(&overseer.verifying_key().to_bytes()));
    Ok(())
}

fn verify(profile: PathBuf, issuer: &str, overseer: Option<&str>, watchlist: Option<PathBuf>) -> Result<()> {
    let in_profile = || profile.display().to_string();
    let overseer = overseer.map(key_files::public_key).transpose().context("--overseer-key")?;
    let signed = SignedProfile::parse(&read(&profile)?, &key_files::public_key(issuer)?, overseer.as_ref())
        .with_context(in_profile)?;
    signed.check_window(now_unix()).with_context(in_profile)?;
    if let Some(w) = watchlist {
        signed.check_watchlist(&read(&w)?).with_context(in_profile)?;
    }
    let p = &signed.profile;
    println!("profile OK: {} at {}, valid {} – {}", p.operator, p.location, p.valid_from, p.valid_until);
    if signed.overseer.is_some() {
        println!("co-signed by the overseer");
    }
    match p.kiosk_keys.len() {
        0 => println!("kiosks: any device (local custody)"),
        n => println!("kiosks allowed: {n}"),
    }
    Ok(())
}
