// Alerts waiting for a person: the face seen now beside the watchlist photo, what matched, and the
// three decisions. Nothing here acts on an alert; a decision goes to the engine (and its audit
// log) through `onDecide`, and the alert leaves the list only once the engine has recorded it.

const $ = (id) => document.getElementById(id);

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function figure(content, caption) {
  const element = document.createElement('figure');
  element.append(...content, Object.assign(document.createElement('figcaption'), { textContent: caption }));
  return element;
}

// Fills an alert's text and reference photo: the record when the kiosk has it, else why not
// (under authority custody the record comes from the authority after the alert, see update()).
function describe(item, alert) {
  const { collisions, tables, impliedCosine, record, material } = alert;
  item.dataset.match = JSON.stringify({ id: alert.id, collisions, tables, impliedCosine });
  if (item.dataset.photoUrl) URL.revokeObjectURL(item.dataset.photoUrl);
  delete item.dataset.photoUrl;
  const reference = item.querySelectorAll('figure')[1];
  reference.querySelector('img')?.remove();
  if (record?.photoJpegHex) {
    const img = document.createElement('img');
    const url = URL.createObjectURL(new Blob([hexToBytes(record.photoJpegHex)], { type: 'image/jpeg' }));
    img.src = url;
    img.alt = `Reference photo of ${record.label}`;
    img.width = 112;
    img.height = 112;
    item.dataset.photoUrl = url;
    reference.prepend(img);
  }
  // Sealed custody has no tables: its comparison is of quantised templates, at the threshold.
  const agreement = tables > 0
    ? `${collisions} of ${tables} tables agree (implied similarity ${impliedCosine.toFixed(2)}).`
    : `The sealed comparison at the authority found a similarity at or above the threshold ${impliedCosine.toFixed(3)}.`;
  const text = item.querySelector('p');
  text.textContent = record
    ? `Alert ${alert.id}: ${record.label} (${record.referenceId}, ${record.category}) — ${agreement} Source: ${record.source}.`
    : `Alert ${alert.id}: ${material ?? 'no record'} — ${agreement}`;
  item.classList.toggle('without-material', !record);
}

/**
 * The alert list (#alert-list, with #no-alerts, the #reviewer field and #alert-announce, where a
 * new alert is announced). `onDecide(id, decision,
 * reviewer)` is called when a reviewer who gave their name picks confirm, reject or unsure; `say`
 * (the status line's) reports a missing reviewer name.
 */
export function alertsPanel({ onDecide, say }) {
  const list = $('alert-list');
  /** Disclosures that arrived before their alert was listed (the two messages may cross). */
  const early = new Map();

  function decide(id, decision) {
    const reviewer = $('reviewer').value.trim();
    if (!reviewer) {
      say('Enter the reviewer name before deciding on an alert.', { error: true });
      $('reviewer').focus();
      return;
    }
    onDecide(id, decision, reviewer);
  }

  return {
    /** Adds an alert from processFrame's `alerts`. */
    add(alert) {
      $('no-alerts').hidden = true;
      const { id } = alert;
      const item = document.createElement('li');
      item.className = 'alert';
      item.dataset.alert = alert.id;
      const probe = document.createElement('canvas');
      probe.width = 112;
      probe.height = 112;
      probe.setAttribute('aria-label', 'Face seen by the camera');
      const pixels = new Uint8ClampedArray(alert.probe.buffer, alert.probe.byteOffset, alert.probe.length);
      probe.getContext('2d').putImageData(new ImageData(pixels, 112, 112), 0, 0);
      // The canvas now holds the only copy (cleared by `remove` after the review): wipe the
      // transferred crop and drop the reference, so that no array of it lingers in the page.
      pixels.fill(0);
      alert.probe = null;
      const faces = document.createElement('div');
      faces.className = 'faces';
      faces.append(figure([probe], 'Seen now'), figure([], 'Watchlist photo'));
      const text = document.createElement('p');
      item.append(faces, text);
      describe(item, { ...alert, ...early.get(alert.id) });
      early.delete(alert.id);
      const buttons = document.createElement('div');
      buttons.className = 'review';
      for (const [decision, label] of [['confirm', 'Confirm match'], ['reject', 'Reject'], ['unsure', 'Unsure']]) {
        const button = Object.assign(document.createElement('button'), { type: 'button', textContent: label });
        button.dataset.decision = decision;
        button.addEventListener('click', () => decide(id, decision));
        buttons.append(button);
      }
      item.append(buttons);
      list.append(item);
      // A new alert is what the reviewer must not miss: announced at once (#alert-announce is an
      // assertive live region) and focused, so that the keyboard is on its decisions. Not while
      // someone types in a field (the reviewer's name, the operator's form): the announcement
      // alone then, rather than a caret that jumps away mid-word.
      $('alert-announce').textContent = `New alert ${id}: waiting for a person to review it. Nothing is done automatically.`;
      item.tabIndex = -1;
      if (!document.activeElement?.matches('input, textarea, select')) item.focus();
    },

    /**
     * Shows what a disclosure brought for alert `alert` (authority custody): its `record`, or in
     * `material` why it is not available. The alert stays for review either way.
     */
    update({ alert, record, material }) {
      const item = list.querySelector(`li.alert[data-alert="${alert}"]`);
      if (item) describe(item, { ...JSON.parse(item.dataset.match), record, material });
      else early.set(alert, { record, material });
    },

    /** Removes a reviewed alert, wiping its probe crop first. Returns whether it was listed. */
    remove(id) {
      const item = list.querySelector(`li.alert[data-alert="${id}"]`);
      if (!item) return false;
      const probe = item.querySelector('canvas');
      probe?.getContext('2d').clearRect(0, 0, probe.width, probe.height);
      if (item.dataset.photoUrl) URL.revokeObjectURL(item.dataset.photoUrl);
      item.remove();
      $('no-alerts').hidden = list.children.length > 0;
      if ($('alert-announce').textContent.startsWith(`New alert ${id}:`)) $('alert-announce').textContent = '';
      return true;
    },
  };
}
