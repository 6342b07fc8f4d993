// Anchoring the audit log (DESIGN §1 G7, §5): the chain's head is signed with the kiosk key every
// minute, at every alert, after every review and before an export; each signed head is stored
// beside the log (IndexedDB, exported as the anchors file of `veilwatch audit verify --anchors`)
// and, in authority custody, POSTed to `${authority}/v1/anchor`, signed as every authority request
// (kiosk/authority-client.js). Sending is fire-and-forget with a timeout: a failure (with the
// authority's reason) is counted and shown, and never holds up matching.

import { putHead } from './audit-store.js';
import { signedFetch } from './authority-client.js';
import { signHead } from './kiosk-key.js';

const SEND_TIMEOUT_MS = 5_000;
const ANCHOR_PATH = '/v1/anchor';

/**
 * The page's anchoring. `engineHead()` resolves with the engine's `{seq, head}` (or undefined),
 * `kioskKey()` is the key or null, `authority()` the authority URL in authority or sealed custody or null,
 * `deployment()` the loaded deployment's id (32 hex) or null, and `show(counts)` displays
 * `{signedSeq, signedAt, sent, failed, lastFailure}`.
 */
export function auditAnchors({ engineHead, kioskKey, authority, deployment = () => null, show }) {
  const counts = { signedSeq: 0, signedAt: null, sent: 0, failed: 0, lastFailure: null };
  let queue = Promise.resolve();

  function send(url, signed, key) {
    signedFetch(url, {
      path: ANCHOR_PATH,
      body: JSON.stringify(signed),
      contentType: 'application/json',
      deploymentHex: deployment(),
      kioskKey: key,
      timeoutMs: SEND_TIMEOUT_MS,
    }).then(() => {
      counts.sent += 1;
    }).catch((error) => {
      counts.failed += 1;
      counts.lastFailure = error.message;
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
    if (url) send(url, signed, key);
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
