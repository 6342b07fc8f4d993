// The browser's request signer (www/kiosk/authority-client.js) against the Rust one: signing the
// request of tests/vectors/request-signature.json with a WebCrypto Ed25519 key (non-extractable,
// imported from the vector's seed) gives exactly the vector's headers, which tests/request_signature.rs
// checks the Rust `RequestSigner` produces and the Rust verifier accepts. Ed25519 is deterministic,
// so equal signatures mean the two sides sign the same bytes. Without a kiosk key nothing is sent.

import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { repo } from '../harness.mjs';
import { authorityOrigin, signedFetch, signedHeaders } from '../../www/kiosk/authority-client.js';

const vector = JSON.parse(readFileSync(`${repo}/tests/vectors/request-signature.json`, 'utf8'));

const fromHex = (hex) => Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

// A kiosk key as kiosk-key.js keeps it, from the vector's 32-byte seed (PKCS #8 of an Ed25519 seed).
async function kioskKeyFromSeed(seedHex) {
  const pkcs8 = new Uint8Array([...fromHex('302e020100300506032b657004220420'), ...fromHex(seedHex)]);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']));
  const publicHex = hex(Buffer.from(jwk.x, 'base64url'));
  return { pair: { privateKey }, publicHex };
}

test('WebCrypto signs the same bytes as the Rust RequestSigner', async () => {
  const kioskKey = await kioskKeyFromSeed(vector.seedHex);
  assert.equal(kioskKey.pair.privateKey.extractable, false);
  assert.equal(kioskKey.publicHex, vector.headers['veilwatch-kiosk']);
  const headers = await signedHeaders({
    authority: vector.authority,
    method: 'post',
    path: vector.path,
    body: vector.body,
    deploymentHex: vector.deploymentHex,
    kioskKey,
    timestamp: vector.timestamp,
    nonceHex: vector.nonceHex,
  });
  assert.deepEqual(headers, vector.headers);
  // A byte more of body is another signature.
  const altered = await signedHeaders({ ...vector, method: 'POST', body: `${vector.body} `, kioskKey });
  assert.notEqual(altered['veilwatch-signature'], vector.headers['veilwatch-signature']);
  // The same request for another authority (staging rather than production) is another signature.
  const elsewhere = await signedHeaders({ ...vector, method: 'POST', authority: 'https://staging.authority.example:8787', kioskKey });
  assert.notEqual(elsewhere['veilwatch-signature'], vector.headers['veilwatch-signature']);
});

test('a request is signed for the origin of the authority URL, as the Rust side spells it', () => {
  assert.equal(authorityOrigin('HTTPS://Authority.Example:443/'), 'https://authority.example');
  assert.equal(authorityOrigin('http://127.0.0.1:8787'), 'http://127.0.0.1:8787');
  assert.equal(authorityOrigin('http://authority.example:80/v1'), 'http://authority.example');
});

test('without a kiosk key nothing is sent and the operator is told to create one', async () => {
  let sent = false;
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => { sent = true; return realFetch('http://127.0.0.1:9/'); };
  try {
    await assert.rejects(
      signedFetch('http://127.0.0.1:9', { path: '/v1/evaluate', body: new Uint8Array(32), deploymentHex: vector.deploymentHex, kioskKey: null }),
      (error) => error.code === 'KIOSK_KEY_MISSING' && /create one in the operator panel/.test(error.message),
    );
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.equal(sent, false);
});
