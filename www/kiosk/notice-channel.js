// The public notice shows what the kiosk actually runs under (G8): the kiosk page publishes the
// profile it loaded and verified (its status's `notice`, a public document) on a same-origin
// BroadcastChannel, and the notice page asks for it there, instead of fetching and verifying
// /deployment/* on its own (which could differ from what the kiosk loaded, or from nothing at all).
// Nothing but the public profile and the mode crosses this channel.

const CHANNEL = 'veilwatch-notice';

/** What the notice page needs from a kiosk status: the mode, the profile, the window's end. */
const noticeOf = (status) => ({
  mode: status?.mode ?? 'idle',
  notice: status?.notice ?? null,
  validUntil: status?.validUntil ?? null,
  queryRatePerMinute: status?.queryRatePerMinute ?? null,
});

/**
 * The kiosk page's side: answers every notice page that asks, and tells open ones when the
 * deployment changes. Call `update(status)` with each new kiosk status.
 */
export function publishNotice() {
  const channel = new BroadcastChannel(CHANNEL);
  let current = noticeOf(null);
  channel.onmessage = ({ data }) => {
    if (data?.type === 'ask') channel.postMessage({ type: 'notice', ...current });
  };
  return {
    update(status) {
      const next = noticeOf(status);
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      current = next;
      channel.postMessage({ type: 'notice', ...current });
    },
  };
}

/**
 * The notice page's side: calls `show(notice)` with the running kiosk's notice now and whenever it
 * changes; `show(null)` if no kiosk page answers within `timeoutMs`.
 */
export function followKiosk(show, timeoutMs = 3000) {
  const channel = new BroadcastChannel(CHANNEL);
  let answered = false;
  channel.onmessage = ({ data }) => {
    if (data?.type !== 'notice') return;
    answered = true;
    show(data);
  };
  channel.postMessage({ type: 'ask' });
  setTimeout(() => { if (!answered) show(null); }, timeoutMs);
}
