// The one-line status under the camera buttons (#status, a polite live region): what the kiosk is
// doing and, in the error style, what went wrong and what to do about it.

/**
 * The status line in `element`. `say(text, {error, topic})` replaces what it shows; `topic` names
 * a message the page may later want to take back (`showing(topic)` says whether it still shows).
 */
export function statusLine(element) {
  return {
    say(text, { error = false, topic = '' } = {}) {
      element.textContent = text;
      element.classList.toggle('error', error);
      element.dataset.topic = topic;
    },
    showing(topic) {
      return element.dataset.topic === topic;
    },
  };
}
