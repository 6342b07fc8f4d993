// The kiosk's durable state in IndexedDB (database `veilwatch-audit`), shared by the page and the
// engine Worker: the audit log's lines (keyed by their seq), the signed heads (anchors, keyed by
// seq) and the kiosk key (a non-extractable WebCrypto CryptoKeyPair: IndexedDB stores the key
// object, never its private bytes). Nothing biometric is ever written here.

const DB = 'veilwatch-audit';
const LINES = 'lines';
const HEADS = 'heads';
const KEYS = 'keys';

let opening = null;

function open() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      for (const store of [LINES, HEADS, KEYS]) request.result.createObjectStore(store);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

// Runs `use(store)` in one transaction and resolves with the value it returns (a request's result
// if it returns a request) once the transaction has committed.
async function transaction(name, mode, use) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, mode, { durability: 'strict' });
    const value = use(tx.objectStore(name));
    tx.oncomplete = () => resolve(value instanceof IDBRequest ? value.result : value);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the audit store transaction was aborted'));
  });
}

/** The stored audit log as JSON lines ('' if there is none yet), and how many lines it has. */
export async function storedLog() {
  const lines = await transaction(LINES, 'readonly', (store) => store.getAll());
  return { text: lines.map((line) => `${line}\n`).join(''), count: lines.length };
}

/** Stores `text` (JSON lines) as lines `first`, `first + 1`, … of the log. */
export function appendLines(first, text) {
  const lines = text.split('\n').filter((line) => line !== '');
  return transaction(LINES, 'readwrite', (store) => lines.forEach((line, i) => store.put(line, first + i)));
}

/** Removes the stored log and its signed heads (after the operator exported them). */
export async function clearLog() {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction([LINES, HEADS], 'readwrite', { durability: 'strict' });
    tx.objectStore(LINES).clear();
    tx.objectStore(HEADS).clear();
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

/** Stores a signed head (its JSON) under its seq. */
export function putHead(signed) {
  return transaction(HEADS, 'readwrite', (store) => store.put(JSON.stringify(signed), signed.seq));
}

/** The stored signed heads as JSON lines, oldest first. */
export async function storedHeads() {
  const heads = await transaction(HEADS, 'readonly', (store) => store.getAll());
  return heads.map((head) => `${head}\n`).join('');
}

/** The kiosk's key pair, or undefined if none was created on this device. */
export function loadKeyPair() {
  return transaction(KEYS, 'readonly', (store) => store.get('kiosk'));
}

/** Keeps the kiosk's key pair (CryptoKey objects; the private key is non-extractable). */
export function saveKeyPair(pair) {
  return transaction(KEYS, 'readwrite', (store) => store.add(pair, 'kiosk'));
}
