// The kiosk key: an Ed25519 key pair made by WebCrypto with a non-extractable private key, kept
// in IndexedDB (kiosk/audit-store.js) and used only through crypto.subtle.sign. It signs the audit
// chain's head; its public key (64 hex digits) is what the issuer registers and what
// `veilwatch audit verify --kiosk-key` checks a log against.

import { loadKeyPair, saveKeyPair } from './audit-store.js';

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** The signed message of an audit head (the same bytes as SignedHead::message in Rust). */
export const headMessage = ({ kioskKey, seq, head, time }) =>
  new TextEncoder().encode(`VEILWATCH-AUDIT-HEAD-V1\n${kioskKey}\n${seq}\n${head}\n${time}`);

/** `YYYY-MM-DDTHH:MM:SSZ` of a Date. */
const utc = (date) => `${date.toISOString().slice(0, 19)}Z`;

/** A kiosk key: `{pair, publicHex}`. */
async function withHex(pair) {
  return { pair, publicHex: hex(await crypto.subtle.exportKey('raw', pair.publicKey)) };
}

/** This device's kiosk key, or null if none was created yet. */
export async function loadKioskKey() {
  const pair = await loadKeyPair();
  return pair ? withHex(pair) : null;
}

/** Creates this device's kiosk key (refused if one exists: a kiosk keeps one key). */
export async function createKioskKey() {
  if (await loadKeyPair()) throw new Error('this kiosk already has a key');
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  await saveKeyPair(pair);
  return withHex(pair);
}

/** Signs the audit head `{seq, head}` now: resolves with the signed head's JSON object. */
export async function signHead(key, { seq, head }, now = new Date()) {
  const unsigned = { kioskKey: key.publicHex, seq, head, time: utc(now) };
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, key.pair.privateKey, headMessage(unsigned));
  return { ...unsigned, signature: hex(signature) };
}
