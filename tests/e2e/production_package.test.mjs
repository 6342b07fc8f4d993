// The production package (pkg/, what the kiosk page loads) has no call that returns an embedding, a
// code or a score (DESIGN §2, G1): with one, a page could pull a passer-by's template out of the
// engine — `cosineWithReference(frame, e_i)` gives component i of the embedding. Such calls exist
// only in pkg-bench/ (cargo feature `bench-api`). Both packages are read as an attacker would use
// them: the TypeScript declarations (what a page is offered) and each wasm module's export list
// (what a page can call even when no declaration or glue mentions it).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { repo } from '../harness.mjs';

const BUILDS = ['veilwatch_bg.wasm', 'veilwatch_relaxed_bg.wasm'];

// Name fragments of calls that hand out an embedding, a code, a score, a crop or a benchmark hook.
// Matched against export and method names only (not types: `ErrorCode` and a face's detection
// `score` field are part of the production API).
const DENIED = /cosine|embedding|benchmark|bench|code|score|crop|template|similarity|lsh|activation|trace|groupelement/i;

/** The callable names a `.d.ts` declares: classes, their methods and static functions, free
 * functions, and the raw wasm exports listed in `InitOutput`. */
function declaredNames(dts) {
  const names = new Set();
  let inClass = null;
  for (const line of dts.split('\n')) {
    let m;
    if ((m = line.match(/^export class (\w+)/))) {
      inClass = m[1];
      names.add(inClass);
    } else if ((m = line.match(/^export function (\w+)/))) {
      names.add(m[1]);
    } else if ((m = line.match(/^export interface InitOutput/))) {
      inClass = 'InitOutput';
    } else if (line.startsWith('}')) {
      inClass = null;
    } else if (inClass === 'InitOutput' && (m = line.match(/^\s+readonly (\w+):/))) {
      names.add(m[1]);
    } else if (inClass && (m = line.match(/^\s+(?:static\s+)?(\w+)\s*\(/))) {
      names.add(`${inClass}.${m[1]}`);
    }
  }
  return names;
}

// Compiled in a child node with relaxed SIMD enabled (node 20 cannot compile the relaxed build
// without the flag); only the export list comes back.
const wasmExports = (pkg, file) => new Set(JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e',
  'const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));' +
  'process.stdout.write(JSON.stringify(WebAssembly.Module.exports(m).map((e) => e.name)))', join(repo, pkg, file)],
{ encoding: 'utf8' })));

function packageNames(pkg) {
  const names = { dts: declaredNames(readFileSync(join(repo, pkg, 'veilwatch.d.ts'), 'utf8')) };
  for (const file of BUILDS) names[file] = wasmExports(pkg, file);
  return names;
}

const production = packageNames('pkg');
const bench = packageNames('pkg-bench');
const denied = (names) => [...names].filter((n) => DENIED.test(n)).sort();

describe('the production package pkg/ has no embedding, code or score oracle', () => {
  test('the bench package has the test calls, and the deny-list recognises every call only it has', () => {
    for (const [where, names] of Object.entries(bench)) {
      const onlyInBench = [...names].filter((n) => !production[where].has(n));
      assert.ok(onlyInBench.length > 0, `${where}: pkg-bench has calls pkg/ lacks (built with --features bench-api)`);
      assert.deepEqual(onlyInBench.filter((n) => !DENIED.test(n)), [],
        `${where}: every bench-only call matches the deny-list; extend DENIED if a new one does not`);
    }
    assert.ok(bench.dts.has('Engine.cosineWithReference') && bench.dts.has('BlindBench'), 'the oracle this test is about');
    assert.ok(bench['veilwatch_bg.wasm'].has('engine_cosineWithReference'));
  });

  for (const where of ['dts', ...BUILDS]) {
    test(`${where === 'dts' ? 'veilwatch.d.ts' : where}: no call present in the bench build is forbidden here`, () => {
      const forbidden = denied(bench[where]);
      assert.ok(forbidden.length >= 5, `the bench build's forbidden calls: ${forbidden}`);
      assert.deepEqual(forbidden.filter((n) => production[where].has(n)), [], 'forbidden calls in pkg/');
      assert.deepEqual(denied(production[where]), [], 'names in pkg/ that look like an oracle');
    });
  }

  test('the production API the kiosk page needs is there', () => {
    for (const name of ['Kiosk.create', 'Kiosk.frameBuffer', 'Kiosk.processFrame', 'Kiosk.reviewAlert', 'Kiosk.auditLog',
      'Kiosk.status', 'Engine.detect', 'Engine.analyse', 'verifyProfile']) {
      assert.ok(production.dts.has(name), `${name} in pkg/veilwatch.d.ts`);
    }
    for (const file of BUILDS) assert.ok(production[file].has('kiosk_processFrame'), `${file} exports kiosk_processFrame`);
  });

  // An audit line number was a number in AuditHead.seq and a bigint in auditLinesAfter(seq): a page
  // had to convert between the two, and mixing them throws a TypeError. One type now: number.
  test('the production API speaks one number type: no bigint anywhere a page passes or reads a value', () => {
    const dts = readFileSync(join(repo, 'pkg/veilwatch.d.ts'), 'utf8');
    const api = dts.slice(0, dts.indexOf('export type InitInput'));
    assert.match(api, /auditLinesAfter\(seq: number\): string;/);
    assert.match(api, /seq: number;/);
    assert.doesNotMatch(api, /\bbigint\b/i);
  });
});
