//! The watchlist parser on arbitrary bytes: it must return a typed error or a watchlist, never
//! panic, and never allocate beyond what the bytes justify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilwatch::blind::format::Watchlist;

fuzz_target!(|data: &[u8]| {
    let issuer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    if let Ok(watchlist) = Watchlist::parse(data.to_vec(), &issuer) {
        // Every bucket and record the header implies must be there to slice.
        let _ = watchlist.check_window(0);
        let _ = watchlist.bucket_refs();
        for index in 0..watchlist.header.entries {
            assert!(watchlist.record(index).is_some());
        }
    }
});
