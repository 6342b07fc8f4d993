// The message catalogue (www/api/error-messages.js) has a sentence for every error code a kiosk can
// raise, in every language it offers — so a Welsh kiosk never falls back to an English sentence, or
// to "something went wrong", for a refusal the engine or the page can actually make. The codes are
// read from their sources, not listed here: the engine's ErrorCode from src/kiosk/error.rs (the
// strings JS sees), the JavaScript layer's from ApiErrorCode in www/api/create-kiosk.d.ts; and every
// code the page-side JavaScript raises must be one of the two, so the type a portal checks against
// is complete. Cost: well under a second (no browser, no wasm).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ERROR_MESSAGES, errorMessage, LANGUAGES } from '../../www/api/error-messages.js';

// Not from ../harness.mjs, which loads the wasm package: this test needs no build.
const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The engine's codes: `ErrorCode::Variant => "CODE"` in ErrorCode::as_str. */
function engineCodes() {
  const source = readFileSync(join(repo, 'src/kiosk/error.rs'), 'utf8');
  const codes = [...source.matchAll(/ErrorCode::\w+ => "([A-Z_]+)"/g)].map((m) => m[1]);
  const variants = source.match(/pub enum ErrorCode \{([^}]*)\}/)[1].split(',').map((v) => v.trim()).filter(Boolean);
  assert.equal(codes.length, variants.length, 'as_str names every ErrorCode variant');
  return codes;
}

/** The JavaScript layer's codes: the string literals of `type ApiErrorCode = …;`. */
function apiCodes() {
  const dts = readFileSync(join(repo, 'www/api/create-kiosk.d.ts'), 'utf8');
  const union = dts.match(/export type ApiErrorCode =([^;]*);/)[1];
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
}

/** The codes JavaScript under www/ raises: `code: 'X'`, `refusal(request, 'X', …)`, `failure('X', …)`,
 * and the `return 'X';` of a function that picks a code (kiosk/camera.js's cameraErrorCode). */
function raisedCodes() {
  const files = readdirSync(join(repo, 'www'), { recursive: true }).filter((f) => f.endsWith('.js'));
  const codes = new Set();
  for (const file of files) {
    const source = readFileSync(join(repo, 'www', file), 'utf8');
    for (const m of source.matchAll(/\bcode: '([A-Z_]+)'|\brefusal\('\w+', '([A-Z_]+)'|\bfailure\('([A-Z_]+)'|\breturn '([A-Z][A-Z_]+)';/g)) codes.add(m[1] ?? m[2] ?? m[3] ?? m[4]);
  }
  return codes;
}

describe('the error message catalogue', () => {
  const every = new Set([...engineCodes(), ...apiCodes()]);

  test('the sources name the codes (the parsers above still find them)', () => {
    assert.ok(engineCodes().includes('WATCHLIST_EXPIRED'), 'engine codes read from src/kiosk/error.rs');
    assert.ok(apiCodes().includes('INSECURE_CONTEXT'), 'API codes read from create-kiosk.d.ts');
    assert.ok(raisedCodes().has('MODEL_DOWNLOAD_FAILED'), 'codes raised by www/ read');
    assert.ok(raisedCodes().has('CAMERA_BUSY'), 'codes picked by www/ read');
  });

  test('every code the JavaScript raises is in ErrorCode or ApiErrorCode', () => {
    const untyped = [...raisedCodes()].filter((code) => !every.has(code));
    assert.deepEqual(untyped, [], 'add these to ApiErrorCode in www/api/create-kiosk.d.ts');
  });

  test('every code has a sentence in English and in Welsh, and no sentence is left over', () => {
    assert.deepEqual([...LANGUAGES].sort(), ['cy', 'en']);
    for (const lang of LANGUAGES) {
      const missing = [...every].filter((code) => !Object.hasOwn(ERROR_MESSAGES[lang], code));
      assert.deepEqual(missing, [], `codes without a sentence in ${lang}`);
      const stale = Object.keys(ERROR_MESSAGES[lang]).filter((code) => !every.has(code));
      assert.deepEqual(stale, [], `sentences in ${lang} for codes no source raises`);
      for (const code of every) assert.match(ERROR_MESSAGES[lang][code], /^\S.{10,}[.)]$/u, `${lang} ${code} is a sentence`);
    }
    // Translated, not copied: a Welsh sentence equal to the English one is an untranslated one.
    const copied = [...every].filter((code) => ERROR_MESSAGES.cy[code] === ERROR_MESSAGES.en[code]);
    assert.deepEqual(copied, [], 'Welsh sentences identical to the English ones');
  });

  test('errorMessage picks the language by its BCP 47 tag, English otherwise, and never throws', () => {
    assert.equal(errorMessage('WATCHLIST_EXPIRED', 'cy-GB'), ERROR_MESSAGES.cy.WATCHLIST_EXPIRED);
    assert.equal(errorMessage('WATCHLIST_EXPIRED', 'CY'), ERROR_MESSAGES.cy.WATCHLIST_EXPIRED);
    assert.equal(errorMessage('WATCHLIST_EXPIRED', 'fr'), ERROR_MESSAGES.en.WATCHLIST_EXPIRED);
    assert.equal(errorMessage('WATCHLIST_EXPIRED'), ERROR_MESSAGES.en.WATCHLIST_EXPIRED);
    // A code from a newer engine, or a prototype key, is not a sentence of its own.
    assert.equal(errorMessage('A_CODE_FROM_A_NEWER_ENGINE', 'cy'), ERROR_MESSAGES.cy.INTERNAL);
    assert.equal(errorMessage('__proto__', 'en'), ERROR_MESSAGES.en.INTERNAL);
    assert.equal(errorMessage('toString', '__proto__'), ERROR_MESSAGES.en.INTERNAL);
  });
});
