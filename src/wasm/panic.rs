//! What a Rust panic leaves for JS. A panic aborts the wasm instance (a `RuntimeError:
//! unreachable` in JS) and the instance is not used again: the page restarts the engine Worker.
//! The hook keeps the panic's message and location so that the Worker can report *why*
//! (`code: 'INTERNAL'`) and the restarted kiosk can write it into the audit log's `restart` line.

use std::sync::{Mutex, Once};

use wasm_bindgen::prelude::*;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// Installs the hook (once per instance).
pub(super) fn install() {
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(message);
            }
        }));
    });
}

/// The message of the panic that stopped this instance, if one did (read once, then cleared).
/// The Worker calls it after a call failed with a `WebAssembly.RuntimeError`.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok()?.take()
}
