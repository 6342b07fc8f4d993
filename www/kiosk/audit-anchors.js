// Anchoring the audit log (DESIGN §1 G7, §5): the chain's head is signed with the kiosk key every
// minute, at every alert, after every review and before an export; each signed head is stored
// beside the log (IndexedDB, exported as the anchors file of `veilwatch audit verify --anchors`)
// and, in authority custody, POSTed to `${authority}/v1/anchor`. Sending is fire-and-forget with a
// timeout: a failure is counted and shown, and never holds up matching.

import { putHead } from './audit-store.js';
import { signHead } from './kiosk-key.js';

const SEND_TIMEOUT_MS = 5_000;

/** Where `/v1/anchor` is for an authority base URL. */
export const anchorUrl = (authority) => `${authority.replace(/\/+$/, '')}/v1/anchor`;

/**
 * The page's anchoring. `engineHead()` resolves with the engine's `{seq, head}` (or undefined),
 * `kioskKey()` is the key or null, `authority()` the authority URL in authority custody or null,
 * and `show(counts)` displays `{signedSeq, signedAt, sent, failed, lastFailure}`.
 */
export function auditAnchors({ engineHead, kioskKey, authority, show }) {
  const counts = { signedSeq: 0, signedAt: null, sent: 0, failed: 0, lastFailure: null };
  let queue = Promise.resolve();

  function send(url, signed) {
    fetch(anchorUrl(url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signed),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    }).then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      counts.sent += 1;
    }).catch((error) => {
      counts.failed += 1;
      counts.lastFailure = error.name === 'TimeoutError' ? `no answer within ${SEND_TIMEOUT_MS / 1000} s` : error.message;
    }).finally(() => show(counts));
  }

  async function signCurrentHead() {
    const key = kioskKey();
    if (!key) return;
    const head = await engineHead();
    if (!head || head.seq === counts.signedSeq) return;
    const signed = await signHead(key, head);
    await putHead(signed);
    counts.signedSeq = signed.seq;
    counts.signedAt = signed.time;
    const url = authority();
    if (url) send(url, signed);
    show(counts);
  }

  return {
    counts,
    /** Signs (and stores, and sends) the current head, after any signing already under way. */
    anchor() {
      queue = queue.then(signCurrentHead).catch((error) => {
        counts.lastFailure = `the audit head could not be signed: ${error.message}`;
        show(counts);
      });
      return queue;
    },
  };
}
