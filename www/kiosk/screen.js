// The screen of an unattended kiosk: kept on while the camera runs (Screen Wake Lock), and a
// full-screen kiosk mode. The browser drops a wake lock whenever the page is hidden; it is asked for
// again when the page shows, for as long as the kiosk wants it. Where the browser has no Wake Lock
// API, or refuses it (battery saver), the kiosk runs anyway and `keepOn` says so.

/** A keeper of the screen wake lock: `keepOn()` while the camera runs, `release()` when it stops. */
export function screenKeeper() {
  let lock = null;
  let wanted = false;

  async function acquire() {
    if (!wanted || lock || document.visibilityState !== 'visible' || !navigator.wakeLock) return;
    try {
      lock = await navigator.wakeLock.request('screen');
      lock.addEventListener('release', () => {
        lock = null;
      });
    } catch {
      lock = null;
    }
  }
  document.addEventListener('visibilitychange', acquire);

  return {
    /** Asks for the screen to stay on; resolves with whether the browser granted it. */
    async keepOn() {
      wanted = true;
      await acquire();
      return lock !== null;
    },
    /** Lets the screen sleep again. */
    release() {
      wanted = false;
      lock?.release().catch(() => {});
      lock = null;
    },
  };
}

/** Shows `element` full screen, or leaves full screen if anything is full screen. */
export function toggleFullscreen(element) {
  if (document.fullscreenElement) return document.exitFullscreen();
  if (!element.requestFullscreen) return Promise.reject(new Error('this browser has no full-screen mode'));
  return element.requestFullscreen({ navigationUI: 'hide' });
}
