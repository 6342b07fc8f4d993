//! What one face costs the kiosk under authority custody (measurement only: `veilwatch bench` and
//! the `bench-api` wasm package): the device's half of a round of L PRF evaluations in VOPRF mode
//! (blind, then verify the batched proof and unblind, [`super::prf::BlindedBatch`]) against the
//! same in plain OPRF mode (RFC 9497 mode 0x00, which Veilwatch no longer uses: its answers cannot
//! be verified), both through the `voprf` crate. The authority's half is done here too, in
//! process, so that callers can time the device's steps alone.

use rand_core::OsRng;
use voprf::{BlindedElement, EvaluationElement, OprfClient, OprfServer, Ristretto255};

use super::prf::{code_input, BlindedBatch, DeploymentKey, MasterSecret};
use super::BlindError;

/// L PRF inputs of one face, and an authority for each mode.
pub struct ClientCost {
    inputs: Vec<Vec<u8>>,
    voprf: DeploymentKey,
    oprf: OprfServer<Ristretto255>,
}

/// A plain-OPRF batch the device blinded: its states and the blinded elements.
pub struct PlainBatch {
    states: Vec<OprfClient<Ristretto255>>,
    blinded: Vec<BlindedElement<Ristretto255>>,
}

fn failed(what: &str) -> BlindError {
    BlindError::Authority(format!("the cost measurement failed: {what}"))
}

impl ClientCost {
    /// `tables` inputs (one per table, as a face's codes give them) and fresh keys.
    pub fn new(tables: u16) -> Result<ClientCost, BlindError> {
        let id = [0xBE; 16];
        let inputs = (0..tables).map(|l| code_input(&id, l, l.wrapping_mul(37) % 256)).collect();
        let voprf = DeploymentKey::derive(&MasterSecret::generate(), &id)?;
        let oprf = OprfServer::new(&mut OsRng).map_err(|_| failed("no OPRF key"))?;
        Ok(ClientCost { inputs, voprf, oprf })
    }

    /// Device, VOPRF: blind the face's inputs.
    pub fn voprf_blind(&self) -> Result<BlindedBatch, BlindError> {
        BlindedBatch::blind(self.inputs.clone())
    }

    /// Authority, VOPRF: the elements and the batched proof.
    pub fn voprf_answer(&self, request: &[u8]) -> Result<Vec<u8>, BlindError> {
        self.voprf.evaluate_blinded(request)
    }

    /// Device, VOPRF: verify the proof and unblind; the number of PRF outputs.
    pub fn voprf_finish(&self, batch: &BlindedBatch, answer: &[u8]) -> Result<usize, BlindError> {
        Ok(batch.finish(answer, &self.voprf.public_key())?.len())
    }

    /// Device, plain OPRF: blind the face's inputs.
    pub fn oprf_blind(&self) -> Result<PlainBatch, BlindError> {
        let mut batch = PlainBatch { states: Vec::new(), blinded: Vec::new() };
        for x in &self.inputs {
            let blind = OprfClient::<Ristretto255>::blind(x, &mut OsRng).map_err(|_| failed("input rejected"))?;
            batch.states.push(blind.state);
            batch.blinded.push(blind.message);
        }
        Ok(batch)
    }

    /// Authority, plain OPRF: the evaluated elements (no proof).
    pub fn oprf_answer(&self, batch: &PlainBatch) -> Vec<EvaluationElement<Ristretto255>> {
        batch.blinded.iter().map(|b| self.oprf.blind_evaluate(b)).collect()
    }

    /// Device, plain OPRF: unblind; the number of PRF outputs.
    pub fn oprf_finish(
        &self,
        batch: &PlainBatch,
        answer: &[EvaluationElement<Ristretto255>],
    ) -> Result<usize, BlindError> {
        let mut outputs = 0;
        for ((state, x), element) in batch.states.iter().zip(&self.inputs).zip(answer) {
            state.finalize(x, element).map_err(|_| failed("an element could not be unblinded"))?;
            outputs += 1;
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_produce_one_output_per_table() {
        let cost = ClientCost::new(16).unwrap();
        let batch = cost.voprf_blind().unwrap();
        let answer = cost.voprf_answer(batch.request()).unwrap();
        assert_eq!(cost.voprf_finish(&batch, &answer).unwrap(), 16);
        let plain = cost.oprf_blind().unwrap();
        assert_eq!(cost.oprf_finish(&plain, &cost.oprf_answer(&plain)).unwrap(), 16);
    }
}
