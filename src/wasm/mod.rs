//! The wasm-bindgen facade: converts JS values to library types and library errors to JS
//! `Error`s carrying a stable `code` ([`crate::kiosk::ErrorCode`]). It holds no rule of its own:
//! every rule lives in [`crate::kiosk`] and runs under `cargo test`. TypeScript types are generated
//! from the Rust types (tsify), so `pkg/veilwatch.d.ts` cannot drift from what the calls return.
//!
//! Embeddings, codes and similarity scores never cross this boundary in the production calls; the
//! calls for tests and benchmarks that return them live in `bench_api`, compiled only with the
//! cargo feature `bench-api` (the separate `pkg-bench/` package, never the production `pkg/`).

#[cfg(feature = "bench-api")]
mod bench_api;
mod detector;
mod engine;
mod kiosk;
mod panic;
#[cfg(feature = "sealed-kiosk")]
mod sealed;

use serde::Serialize;
use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::kiosk::KioskError;

/// Every heap block is zeroed before it is freed or moved (G2): tract's activations, the JS glue's
/// argument copies, every `Vec` a face passed through. Left out only in the negative-control build
/// of the heap test (`unwiped-heap-for-tests`), which must then find the face.
#[cfg(not(feature = "unwiped-heap-for-tests"))]
#[global_allocator]
static ZERO_ON_FREE: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

/// How much of the wasm shadow stack [`with_stack_wiped`] zeroes below its caller, in 8-byte words:
/// 128 KiB of the 1 MiB stack. The kiosk's deepest call (loading both models, or a frame through
/// both models and the matcher) reaches about 35 KiB below the top (measured with the scan of
/// tests/e2e/wasm_heap.test.mjs, which fails if anything is left deeper).
const STACK_WIPE_WORDS: usize = 16 * 1024;

/// Runs `call`, then zeroes the stack it used (G2). The wasm shadow stack lives in the linear
/// memory, which JS can read; a value moved by copy (an embedding is a `[f32; 128]`) leaves its
/// old copies in dead stack frames that `Zeroize` on the final value never reaches.
fn with_stack_wiped<T>(call: impl FnOnce() -> T) -> T {
    let result = call();
    wipe_dead_stack();
    result
}

/// Zeroes [`STACK_WIPE_WORDS`] words of stack below the caller's frame, where the frames of the
/// calls it made lay. Never inlined, so that its array sits below the caller, not inside it.
#[inline(never)]
fn wipe_dead_stack() {
    let mut scratch = [0u64; STACK_WIPE_WORDS];
    zeroize::Zeroize::zeroize(&mut scratch[..]);
    std::hint::black_box(&scratch);
}

/// A JS `Error` with the error's message and its stable `code`.
fn js_error(error: KioskError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().as_str().into());
    js.into()
}

fn to_ts<T: Serialize + tsify::Tsify>(value: &T) -> Result<Ts<T>, JsValue> {
    value.into_ts().map_err(|e| js_error(KioskError::Internal(format!("cannot pass the result to JS: {e}"))))
}

/// An options object from JS, into its Rust type. Every key the object has is shown to serde, so
/// `deny_unknown_fields` refuses a misspelt option (serde-wasm-bindgen reads only the declared
/// fields of a struct); errors name the option's path (`custody.prfKey: …`).
fn from_ts<T>(value: Ts<T>, what: &str) -> Result<T, JsValue>
where
    T: serde::de::DeserializeOwned + tsify::Tsify,
    T::JsType: JsCast,
{
    let every_key = EveryKey(serde_wasm_bindgen::Deserializer::from(value.js_value()));
    serde_path_to_error::deserialize(every_key).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!(" {path}:") };
        js_error(KioskError::Options(format!("{what}:{at} {}", e.into_inner())))
    })
}

/// A deserializer that reads a struct as a map of all its keys.
struct EveryKey(serde_wasm_bindgen::Deserializer);

impl<'de> serde::Deserializer<'de> for EveryKey {
    type Error = serde_wasm_bindgen::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Verifies a signed deployment profile against the issuer's key (hex) and returns what the public
/// notice shows. Throws if it is foreign, altered or outside its window.
#[wasm_bindgen(js_name = verifyProfile)]
pub fn verify_profile(
    text: &str,
    #[wasm_bindgen(js_name = issuerKey)] issuer_hex: &str,
) -> Result<Ts<crate::governance::profile::Profile>, JsValue> {
    let notice = crate::kiosk::status::verified_notice(text, issuer_hex, crate::time::now_unix()).map_err(js_error)?;
    to_ts(&notice)
}
