// sealed custody's device side for tests/bench/sealed_device.mjs: the same code in node and in a
// page (served as a module file, since the kiosk origin's CSP forbids evaluating strings), given the
// exports of pkg-bench's glue module.

/** The timed device steps over `glue` (pkg-bench/veilwatch.js, initialised). */
export function deviceSide(glue) {
  let bench = null;
  const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
  const b64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  return {
    encrypt({ keySeed, querySeed, probe }) {
      bench?.free();
      const t0 = performance.now();
      bench = new glue.SealedBench(fromHex(keySeed));
      const t1 = performance.now();
      const query = bench.encrypt(Int32Array.from(probe), fromHex(querySeed));
      const t2 = performance.now();
      return { keygen_ms: t1 - t0, encrypt_ms: t2 - t1, publicKey: b64(bench.publicKey()), rotationKey: b64(bench.rotationKey()), query: b64(query) };
    },
    claim({ answer, opening }) {
      const t0 = performance.now();
      const positives = bench.positives(unb64(answer));
      const t1 = performance.now();
      bench.claim(new Uint8Array(16).fill(7), unb64(opening));
      const t2 = performance.now();
      return { positives, decrypt_ms: t1 - t0, claim_ms: t2 - t1 };
    },
    voprf(runs) {
      const prf = new glue.BlindBench(64, 1024);
      const times = [];
      for (let i = 0; i < runs + 2; i++) {
        const t0 = performance.now(); prf.voprfBlind(); const t1 = performance.now(); prf.voprfAnswer(); const t2 = performance.now();
        if (prf.voprfFinish() !== 1024) throw new Error('a PRF output is missing');
        if (i >= 2) times.push(t1 - t0 + (performance.now() - t2));
      }
      prf.free();
      return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    },
  };
}
