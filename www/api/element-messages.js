// The words <veilwatch-kiosk> shows, per language (the element's `lang` attribute, else the
// document's; English when neither names one of these). Welsh, for UK deployments. Errors are
// not here: their sentences are the message catalogue's (api/error-messages.js), keyed by code.

const MB = (bytes) => Math.round(bytes / 1e6);

export const MESSAGES = {
  en: {
    start: 'Start camera',
    stop: 'Stop',
    fullscreen: 'Full screen',
    modelsLabel: 'Face models downloaded',
    loading: 'Loading the face models…',
    progress: (loaded, total) => `Loading the face models… ${MB(loaded)} MB${total > 0 ? ` of ${MB(total)} MB` : ''}`,
    ready: 'Models loaded. Press Start camera.',
    running: 'Camera running. Faces are processed on this device only.',
    stopped: 'Camera stopped. Tracks ended and their data wiped.',
    notStarted: 'The kiosk could not start.',
    noFaces: 'No faces yet.',
    alert: (track) => `Alert on track ${track}: waiting for a person to review it. Nothing is done automatically.`,
  },
  cy: {
    start: 'Dechrau’r camera',
    stop: 'Stopio',
    fullscreen: 'Sgrin lawn',
    modelsLabel: 'Modelau wynebau wedi’u llwytho i lawr',
    loading: 'Yn llwytho’r modelau wynebau…',
    progress: (loaded, total) => `Yn llwytho’r modelau wynebau… ${MB(loaded)} MB${total > 0 ? ` o ${MB(total)} MB` : ''}`,
    ready: 'Mae’r modelau wedi’u llwytho. Pwyswch Dechrau’r camera.',
    running: 'Mae’r camera’n rhedeg. Caiff wynebau eu prosesu ar y ddyfais hon yn unig.',
    stopped: 'Mae’r camera wedi stopio. Daeth y tracio i ben a chafodd eu data ei ddileu.',
    notStarted: 'Nid oedd modd cychwyn y ciosg.',
    noFaces: 'Dim wynebau eto.',
    alert: (track) => `Rhybudd ar drac ${track}: yn aros i berson ei adolygu. Ni wneir dim yn awtomatig.`,
  },
};

/** The messages for `lang` (a BCP 47 tag such as "cy" or "en-GB"). */
export const messagesFor = (lang) => MESSAGES[String(lang ?? '').toLowerCase().split('-')[0]] ?? MESSAGES.en;
