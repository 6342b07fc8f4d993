// The status line under the camera buttons (#status): what the kiosk is doing, in a polite live
// region (role=status), and, in the error style, what went wrong and what to do about it, in an
// assertive one (role=alert), so that a screen reader interrupts for a problem but not for news.
// Only one of the two shows at a time; #status's text is whichever does.

/**
 * The status line in `element`, which holds the two regions `[role=status]` and `[role=alert]`.
 * `say(text, {error, topic})` replaces what it shows; `topic` names a message the page may later
 * want to take back (`showing(topic)` says whether it still shows).
 */
export function statusLine(element) {
  const news = element.querySelector('[role="status"]');
  const problem = element.querySelector('[role="alert"]');
  return {
    say(text, { error = false, topic = '' } = {}) {
      (error ? problem : news).textContent = text;
      (error ? news : problem).textContent = '';
      element.classList.toggle('error', error);
      element.dataset.topic = topic;
    },
    showing(topic) {
      return element.dataset.topic === topic;
    },
  };
}
