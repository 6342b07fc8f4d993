//! The wasm-bindgen facade: converts JS values to library types and library errors to JS
//! `Error`s carrying a stable `code` ([`crate::kiosk::ErrorCode`]). It holds no rule of its own:
//! every rule lives in [`crate::kiosk`] and runs under `cargo test`. TypeScript types are generated
//! from the Rust types (tsify), so `pkg/veilwatch.d.ts` cannot drift from what the calls return.
//!
//! Embeddings and codes never cross this boundary in the production calls; [`bench_api`] holds the
//! calls for tests and benchmarks.

mod authority_xhr;
mod bench_api;
mod engine;
mod kiosk;

use serde::Serialize;
use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::kiosk::KioskError;

/// A JS `Error` with the error's message and its stable `code`.
fn js_error(error: KioskError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().as_str().into());
    js.into()
}

fn to_ts<T: Serialize + tsify::Tsify>(value: &T) -> Result<Ts<T>, JsValue> {
    value.into_ts().map_err(|e| js_sys::Error::new(&format!("cannot pass the result to JS: {e}")).into())
}

fn from_ts<T>(value: Ts<T>, what: &str) -> Result<T, JsValue>
where
    T: serde::de::DeserializeOwned + tsify::Tsify,
    T::JsType: Clone,
{
    value.to_rust().map_err(|e| js_error(KioskError::Options(format!("{what}: {e}"))))
}

/// Verifies a signed deployment profile against the issuer's key (hex) and returns what the public
/// notice shows. Throws if it is foreign, altered or outside its window.
#[wasm_bindgen(js_name = verifyProfile)]
pub fn verify_profile(text: &str, issuer_hex: &str) -> Result<Ts<crate::governance::profile::Profile>, JsValue> {
    let notice = crate::kiosk::status::verified_notice(text, issuer_hex, crate::time::now_unix()).map_err(js_error)?;
    to_ts(&notice)
}
