//! The deployment-profile parser on arbitrary bytes: a typed error or a profile, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilwatch::governance::profile::SignedProfile;

fuzz_target!(|data: &[u8]| {
    let issuer = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
    let overseer = ed25519_dalek::SigningKey::from_bytes(&[2; 32]).verifying_key();
    let _ = SignedProfile::parse(data, &issuer, None);
    let _ = SignedProfile::parse(data, &issuer, Some(&overseer));
});
