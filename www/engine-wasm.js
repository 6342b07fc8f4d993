// Which build of the Veilwatch engine this browser should run. `tools/build-wasm` makes two from
// the same source: `veilwatch_bg.wasm` (SIMD128, which every browser we target runs) and
// `veilwatch_relaxed_bg.wasm` (SIMD128 plus relaxed SIMD, whose fused multiply-add makes the face
// models about 7% faster; Chromium has it, not every browser does). Both share one JS glue file
// (`veilwatch.js`): the build checks that the two glues are byte-for-byte the same.
//
//   import init from './pkg/veilwatch.js';
//   import { engineWasmUrl } from './pkg/engine-wasm.js';
//   await init({ module_or_path: engineWasmUrl(new URL('./pkg/', import.meta.url)) });

// The smallest module that uses relaxed SIMD: one function returning
// f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0). An engine validates it only if it
// implements the proposal.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
  0xfd, 0x0c, ...new Array(16).fill(0),
  0xfd, 0x0c, ...new Array(16).fill(0),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** Whether this JavaScript engine runs WebAssembly relaxed SIMD. */
export function supportsRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The file name of the engine build to load here. */
export function engineWasmFile() {
  return supportsRelaxedSimd() ? 'veilwatch_relaxed_bg.wasm' : 'veilwatch_bg.wasm';
}

/** The URL of the engine build to load here, in the package folder `pkgBase` (a URL ending in /). */
export function engineWasmUrl(pkgBase) {
  return new URL(engineWasmFile(), pkgBase);
}
