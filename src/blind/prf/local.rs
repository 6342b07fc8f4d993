//! `hmac-sha256-local`: HMAC-SHA256 under a key shipped with the deployment (offline
//! demonstrations). Whoever holds the key can enumerate every code of every table, which is why a
//! kiosk says this custody is the weaker one. The key is wiped on drop.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Prf, PrfSuite};
use crate::blind::BlindError;

/// `hmac-sha256-local`.
pub struct LocalHmac {
    key: Zeroizing<[u8; 32]>,
}

impl LocalHmac {
    pub fn new(key: [u8; 32]) -> LocalHmac {
        LocalHmac { key: Zeroizing::new(key) }
    }
}

impl Prf for LocalHmac {
    fn suite(&self) -> PrfSuite {
        PrfSuite::HmacSha256Local
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        Ok(inputs
            .iter()
            .map(|x| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
                mac.update(x);
                Zeroizing::new(mac.finalize().into_bytes().to_vec())
            })
            .collect())
    }
}
