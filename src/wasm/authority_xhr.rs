//! The key check of authority custody when a watchlist loads: one synchronous XMLHttpRequest
//! (allowed in Workers), so that loading stays one call. The body is one blinded element. An
//! authority that does not answer within [`TIMEOUT_MS`] fails the load. Faces are not matched
//! through here: `processFrame` returns their queries and the Worker sends them with an
//! asynchronous `fetch` (www/kiosk-worker.js, `completeQuery`).

use crate::blind::prf::{OprfClientPrf, OprfTransport, Prf};
use crate::blind::BlindError;

/// How long a round trip to the authority may take.
pub const TIMEOUT_MS: u32 = 5_000;

pub struct XhrAuthority {
    url: String,
}

/// The PRF of authority custody, reaching the authority at `url` over XHR.
pub fn connect(url: &str) -> Box<dyn Prf> {
    Box::new(OprfClientPrf { transport: XhrAuthority { url: url.to_owned() } })
}

impl OprfTransport for XhrAuthority {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        let fail = |what: &str| BlindError::Authority(format!("cannot reach the authority at {}: {what}", self.url));
        let xhr = web_sys::XmlHttpRequest::new().map_err(|_| fail("no XMLHttpRequest here"))?;
        let endpoint = format!("{}/v1/evaluate", self.url.trim_end_matches('/'));
        xhr.open_with_async("POST", &endpoint, false).map_err(|_| fail("the URL was refused"))?;
        xhr.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
        xhr.set_request_header("Content-Type", "application/octet-stream").map_err(|_| fail("header refused"))?;
        xhr.set_timeout(TIMEOUT_MS);
        let body = js_sys::Uint8Array::from(blinded);
        xhr.send_with_opt_buffer_source(Some(&body)).map_err(|e| {
            let name = js_sys::Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string());
            if name.as_deref() == Some("TimeoutError") {
                BlindError::Authority(format!(
                    "the authority at {} did not answer within {} s",
                    self.url,
                    TIMEOUT_MS / 1000
                ))
            } else {
                fail("the request failed (down, or blocked by the page's security policy)")
            }
        })?;
        let status = xhr.status().map_err(|_| fail("no status"))?;
        if status != 200 {
            return Err(BlindError::Authority(format!("the authority answered HTTP {status}")));
        }
        let response = xhr.response().map_err(|_| BlindError::AuthorityAnswer("no body".into()))?;
        Ok(js_sys::Uint8Array::new(&response).to_vec())
    }
}
