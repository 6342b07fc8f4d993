// The message catalogue: one sentence per error code, per language, for the people at the kiosk
// (what happened, and what to do). Keyed by every code a VeilwatchError can carry: the engine's
// ErrorCode (src/kiosk/error.rs, generated into pkg/veilwatch.d.ts) and the codes the JavaScript
// layer adds (ApiErrorCode in api/create-kiosk.d.ts). tests/e2e/error_messages.test.mjs reads both
// sources and fails if a code lacks a sentence in any language here, or if a sentence is left over.
//
// English, and Welsh for UK deployments. The engine's own message (English, with the specifics:
// which date, which field) stays on the error; a page shows it as the detail, marked lang="en".

export const ERROR_MESSAGES = {
  en: {
    MODEL_MISMATCH: 'The face models do not match the ones this kiosk was built for. Serve the model files named in models.json.',
    MODEL_INVALID: 'A face model file is damaged or is not a face model. Download the models again.',
    INFERENCE_FAILED: 'The face engine could not process this picture. Try again; if it keeps failing, reload the page.',
    FRAME_INVALID: 'A camera frame could not be read. Check the camera, then start it again.',
    IMAGE_INVALID: 'The picture could not be read. Use a JPEG or PNG photo.',
    WATCHLIST_INVALID: 'This file is not a usable watchlist. Ask the issuer for the watchlist file again.',
    WATCHLIST_FOREIGN: 'This watchlist was not signed by the issuer key given. Check the issuer key, or ask the issuer.',
    WATCHLIST_TAMPERED: 'This watchlist has been changed since the issuer signed it, so it is refused. Ask the issuer for a new copy.',
    WATCHLIST_NOT_YET_VALID: 'This watchlist is not valid yet. Matching starts when its validity window opens.',
    WATCHLIST_EXPIRED: 'This watchlist has expired, so matching has stopped. Ask the issuer for a new one.',
    WATCHLIST_WRONG_KEY: 'The key given does not open this watchlist. Check the key from the issuer.',
    WATCHLIST_WRONG_CUSTODY: 'This watchlist needs a different kind of key custody (local key or authority). Load it with the custody the issuer named.',
    AUTHORITY_UNAVAILABLE: 'The authority could not be reached, so matching is paused. Faces are still detected and wiped; matching resumes when it answers.',
    AUTHORITY_BAD_ANSWER: 'The authority sent an answer this kiosk cannot use, so matching is paused. Tell the operator.',
    AUTHORITY_ANSWER_UNVERIFIED: 'The authority’s answer failed verification, so matching is paused. Tell the operator; load the deployment again once the authority is fixed.',
    AUTHORITY_REFUSED: 'The authority refused this kiosk’s request. Tell the operator; the reason is below.',
    PROFILE_INVALID: 'This deployment profile cannot be read. Ask the issuer for the profile file again.',
    PROFILE_FOREIGN: 'This deployment profile was not signed by the issuer key given. Check the issuer key.',
    PROFILE_TAMPERED: 'This deployment profile has been changed since it was signed, so it is refused. Ask the issuer for a new copy.',
    PROFILE_NOT_YET_VALID: 'This deployment is not valid yet. Matching starts when its validity window opens.',
    PROFILE_EXPIRED: 'This deployment has expired, so matching has stopped. Ask the issuer for a new profile.',
    PROFILE_WATCHLIST_MISMATCH: 'This deployment profile was signed for a different watchlist. Load the two files the issuer made together.',
    PROFILE_BELOW_FLOOR: 'This deployment asks for a matching threshold below its own floor, so it is refused. Ask the issuer.',
    OVERSEER_MISSING: 'This kiosk requires an independent overseer’s signature on the profile, and it has none. Ask the issuer for a co-signed profile.',
    OVERSEER_KEY_MISSING: 'This profile names an overseer, but this kiosk has no overseer key configured. Ask the operator to configure it.',
    PROFILE_REQUIRED: 'A watchlist runs only under its signed deployment profile. Choose the profile file too.',
    PROFILE_CUSTODY_MISMATCH: 'The custody chosen here differs from the one the deployment profile names. Use the profile’s custody.',
    PROFILE_AUTHORITY_KEY: 'The authority’s key does not match the one the deployment profile names. Tell the operator.',
    AUTHORITY_INSECURE: 'The authority address is not HTTPS, so it is refused. Use the authority’s HTTPS address.',
    KIOSK_NOT_ALLOWED: 'This kiosk’s key is not one the deployment allows. Have the issuer register this kiosk’s public key.',
    KIOSK_KEY_MISSING: 'This kiosk has no key yet. Create one in the operator panel and have the issuer register it.',
    DEMO_UNDER_DEPLOYMENT: 'A deployment is running, so volunteers cannot be enrolled. Enrolment is only for the demonstration mode.',
    OPTIONS_INVALID: 'The page gave the kiosk options it cannot use. Tell whoever set up this page.',
    KEY_INVALID: 'A key must be 64 hexadecimal digits. Check the key and try again.',
    ALERT_UNKNOWN: 'This alert is no longer waiting for review (it was already decided).',
    QUERY_UNKNOWN: 'The authority answered a question this kiosk no longer has (it timed out, or the face left). Nothing needs doing.',
    DISCLOSURE_UNKNOWN: 'This alert is not waiting for the authority’s reviewer material any more. Nothing needs doing.',
    KEY_CHECK_PENDING: 'The authority is still checking the previous deployment’s key. Wait a moment, then try again.',
    REVIEW_INVALID: 'A review needs a decision (confirm, reject or unsure) and the reviewer’s name.',
    NO_FACE: 'No face is in view. Look at the camera and try again.',
    FACE_QUALITY: 'The face is too small, turned away or blurred. Come closer, face the camera and try again.',
    LABEL_INVALID: 'Give a name of 1 to 80 characters.',
    AUDIT_LOG_BROKEN: 'The audit log stored on this device is damaged, so the kiosk will not run. The operator must export it and start a new one.',
    AUDIT_LOG_FOREIGN: 'The audit log stored on this device belongs to another kiosk key, so the kiosk will not run. The operator must export it and start a new one.',
    INTERNAL: 'Something went wrong inside the kiosk. Reload the page; the audit log is kept.',
    WORKER_FAILED: 'The face engine could not start in this browser. Reload the page, or use an up-to-date browser.',
    NOT_READY: 'The face models are still loading. Try again in a moment.',
    ENGINE_STOPPED: 'The face engine is restarting. Try again in a moment.',
    MODEL_DOWNLOAD_FAILED: 'The face models could not be downloaded, or did not match their checksums. Check the connection and reload the page.',
    INSECURE_CONTEXT: 'This page is not served over HTTPS, so the browser offers it no camera. Open it over HTTPS.',
    SOURCE_INVALID: 'The kiosk cannot read frames from this source. Give it the camera, a playing video or a MediaStream.',
    CAMERA_ENDED: 'The camera stopped (was it unplugged?). Reconnect it, then start the camera again.',
    CAMERA_DENIED: 'Camera permission was refused. Allow camera access for this page in the browser settings, then start the camera again.',
    CAMERA_MISSING: 'No camera was found. Connect a camera, then start the camera again.',
    CAMERA_BUSY: 'The camera is busy or not working (another program may be using it). Close that program, then start the camera again.',
    CAMERA_FAILED: 'The camera could not be started. Check it, then start the camera again.',
  },
  cy: {
    MODEL_MISMATCH: 'Nid yw’r modelau wynebau yn cyfateb i’r rhai y cafodd y ciosg hwn ei adeiladu ar eu cyfer. Gweinwch y ffeiliau model a enwir yn models.json.',
    MODEL_INVALID: 'Mae ffeil model wyneb wedi’i difrodi neu nid yw’n fodel wyneb. Llwythwch y modelau i lawr eto.',
    INFERENCE_FAILED: 'Nid oedd modd i’r peiriant wynebau brosesu’r llun hwn. Rhowch gynnig arall arni; os yw’n dal i fethu, ail-lwythwch y dudalen.',
    FRAME_INVALID: 'Nid oedd modd darllen ffrâm gan y camera. Gwiriwch y camera, yna dechreuwch ef eto.',
    IMAGE_INVALID: 'Nid oedd modd darllen y llun. Defnyddiwch lun JPEG neu PNG.',
    WATCHLIST_INVALID: 'Nid yw’r ffeil hon yn rhestr wylio y gellir ei defnyddio. Gofynnwch i’r cyhoeddwr am ffeil y rhestr wylio eto.',
    WATCHLIST_FOREIGN: 'Ni chafodd y rhestr wylio hon ei llofnodi gydag allwedd y cyhoeddwr a roddwyd. Gwiriwch allwedd y cyhoeddwr, neu holwch y cyhoeddwr.',
    WATCHLIST_TAMPERED: 'Mae’r rhestr wylio hon wedi’i newid ers i’r cyhoeddwr ei llofnodi, felly caiff ei gwrthod. Gofynnwch i’r cyhoeddwr am gopi newydd.',
    WATCHLIST_NOT_YET_VALID: 'Nid yw’r rhestr wylio hon yn ddilys eto. Bydd paru’n dechrau pan fydd ei chyfnod dilysrwydd yn agor.',
    WATCHLIST_EXPIRED: 'Mae’r rhestr wylio hon wedi dod i ben, felly mae paru wedi stopio. Gofynnwch i’r cyhoeddwr am un newydd.',
    WATCHLIST_WRONG_KEY: 'Nid yw’r allwedd a roddwyd yn agor y rhestr wylio hon. Gwiriwch yr allwedd gan y cyhoeddwr.',
    WATCHLIST_WRONG_CUSTODY: 'Mae angen math gwahanol o warchodaeth allwedd ar y rhestr wylio hon (allwedd leol neu awdurdod). Llwythwch hi gyda’r warchodaeth a enwodd y cyhoeddwr.',
    AUTHORITY_UNAVAILABLE: 'Nid oedd modd cyrraedd yr awdurdod, felly mae paru wedi’i oedi. Caiff wynebau eu canfod a’u dileu o hyd; bydd paru’n ailddechrau pan fydd yn ateb.',
    AUTHORITY_BAD_ANSWER: 'Anfonodd yr awdurdod ateb na all y ciosg hwn ei ddefnyddio, felly mae paru wedi’i oedi. Rhowch wybod i’r gweithredwr.',
    AUTHORITY_ANSWER_UNVERIFIED: 'Methodd ateb yr awdurdod y gwiriad, felly mae paru wedi’i oedi. Rhowch wybod i’r gweithredwr; llwythwch y defnydd eto pan fydd yr awdurdod wedi’i drwsio.',
    AUTHORITY_REFUSED: 'Gwrthododd yr awdurdod gais y ciosg hwn. Rhowch wybod i’r gweithredwr; mae’r rheswm isod.',
    PROFILE_INVALID: 'Nid oes modd darllen y proffil defnydd hwn. Gofynnwch i’r cyhoeddwr am ffeil y proffil eto.',
    PROFILE_FOREIGN: 'Ni chafodd y proffil defnydd hwn ei lofnodi gydag allwedd y cyhoeddwr a roddwyd. Gwiriwch allwedd y cyhoeddwr.',
    PROFILE_TAMPERED: 'Mae’r proffil defnydd hwn wedi’i newid ers iddo gael ei lofnodi, felly caiff ei wrthod. Gofynnwch i’r cyhoeddwr am gopi newydd.',
    PROFILE_NOT_YET_VALID: 'Nid yw’r defnydd hwn yn ddilys eto. Bydd paru’n dechrau pan fydd ei gyfnod dilysrwydd yn agor.',
    PROFILE_EXPIRED: 'Mae’r defnydd hwn wedi dod i ben, felly mae paru wedi stopio. Gofynnwch i’r cyhoeddwr am broffil newydd.',
    PROFILE_WATCHLIST_MISMATCH: 'Cafodd y proffil defnydd hwn ei lofnodi ar gyfer rhestr wylio wahanol. Llwythwch y ddwy ffeil a wnaeth y cyhoeddwr gyda’i gilydd.',
    PROFILE_BELOW_FLOOR: 'Mae’r defnydd hwn yn gofyn am drothwy paru sy’n is na’i isafswm ei hun, felly caiff ei wrthod. Holwch y cyhoeddwr.',
    OVERSEER_MISSING: 'Mae’r ciosg hwn yn mynnu llofnod goruchwyliwr annibynnol ar y proffil, ac nid oes un. Gofynnwch i’r cyhoeddwr am broffil wedi’i gyd-lofnodi.',
    OVERSEER_KEY_MISSING: 'Mae’r proffil hwn yn enwi goruchwyliwr, ond nid oes allwedd goruchwyliwr wedi’i gosod ar y ciosg hwn. Gofynnwch i’r gweithredwr ei gosod.',
    PROFILE_REQUIRED: 'Dim ond dan ei broffil defnydd wedi’i lofnodi y mae rhestr wylio’n rhedeg. Dewiswch ffeil y proffil hefyd.',
    PROFILE_CUSTODY_MISMATCH: 'Mae’r warchodaeth a ddewiswyd yma yn wahanol i’r un a enwir yn y proffil defnydd. Defnyddiwch warchodaeth y proffil.',
    PROFILE_AUTHORITY_KEY: 'Nid yw allwedd yr awdurdod yn cyfateb i’r un a enwir yn y proffil defnydd. Rhowch wybod i’r gweithredwr.',
    AUTHORITY_INSECURE: 'Nid yw cyfeiriad yr awdurdod yn HTTPS, felly caiff ei wrthod. Defnyddiwch gyfeiriad HTTPS yr awdurdod.',
    KIOSK_NOT_ALLOWED: 'Nid yw allwedd y ciosg hwn yn un y mae’r defnydd yn ei chaniatáu. Gofynnwch i’r cyhoeddwr gofrestru allwedd gyhoeddus y ciosg hwn.',
    KIOSK_KEY_MISSING: 'Nid oes allwedd gan y ciosg hwn eto. Crëwch un ym mhanel y gweithredwr a gofynnwch i’r cyhoeddwr ei chofrestru.',
    DEMO_UNDER_DEPLOYMENT: 'Mae defnydd yn rhedeg, felly ni ellir cofrestru gwirfoddolwyr. Dim ond yn y modd arddangos y mae cofrestru ar gael.',
    OPTIONS_INVALID: 'Rhoddodd y dudalen opsiynau i’r ciosg na all eu defnyddio. Rhowch wybod i bwy bynnag a osododd y dudalen hon.',
    KEY_INVALID: 'Rhaid i allwedd fod yn 64 digid hecsadegol. Gwiriwch yr allwedd a rhowch gynnig arall arni.',
    ALERT_UNKNOWN: 'Nid yw’r rhybudd hwn yn aros i gael ei adolygu mwyach (mae penderfyniad wedi’i wneud eisoes).',
    QUERY_UNKNOWN: 'Atebodd yr awdurdod gwestiwn nad yw gan y ciosg hwn mwyach (daeth ei amser i ben, neu gadawodd yr wyneb). Nid oes angen gwneud dim.',
    DISCLOSURE_UNKNOWN: 'Nid yw’r rhybudd hwn yn aros am ddeunydd adolygu gan yr awdurdod mwyach. Nid oes angen gwneud dim.',
    KEY_CHECK_PENDING: 'Mae’r awdurdod yn dal i wirio allwedd y defnydd blaenorol. Arhoswch am eiliad, yna rhowch gynnig arall arni.',
    REVIEW_INVALID: 'Mae angen penderfyniad (cadarnhau, gwrthod neu ansicr) ac enw’r adolygydd ar adolygiad.',
    NO_FACE: 'Nid oes wyneb yn y golwg. Edrychwch ar y camera a rhowch gynnig arall arni.',
    FACE_QUALITY: 'Mae’r wyneb yn rhy fach, wedi troi i ffwrdd neu’n aneglur. Dewch yn nes, wynebwch y camera a rhowch gynnig arall arni.',
    LABEL_INVALID: 'Rhowch enw o 1 i 80 nod.',
    AUDIT_LOG_BROKEN: 'Mae’r log archwilio sydd wedi’i gadw ar y ddyfais hon wedi’i ddifrodi, felly ni fydd y ciosg yn rhedeg. Rhaid i’r gweithredwr ei allforio a dechrau un newydd.',
    AUDIT_LOG_FOREIGN: 'Mae’r log archwilio sydd wedi’i gadw ar y ddyfais hon yn perthyn i allwedd ciosg arall, felly ni fydd y ciosg yn rhedeg. Rhaid i’r gweithredwr ei allforio a dechrau un newydd.',
    INTERNAL: 'Aeth rhywbeth o’i le y tu mewn i’r ciosg. Ail-lwythwch y dudalen; caiff y log archwilio ei gadw.',
    WORKER_FAILED: 'Nid oedd modd i’r peiriant wynebau ddechrau yn y porwr hwn. Ail-lwythwch y dudalen, neu defnyddiwch borwr cyfoes.',
    NOT_READY: 'Mae’r modelau wynebau yn dal i lwytho. Rhowch gynnig arall arni mewn eiliad.',
    ENGINE_STOPPED: 'Mae’r peiriant wynebau yn ailgychwyn. Rhowch gynnig arall arni mewn eiliad.',
    MODEL_DOWNLOAD_FAILED: 'Nid oedd modd llwytho’r modelau wynebau i lawr, neu nid oeddent yn cyfateb i’w sieciau. Gwiriwch y cysylltiad ac ail-lwythwch y dudalen.',
    INSECURE_CONTEXT: 'Nid yw’r dudalen hon yn cael ei gweini dros HTTPS, felly nid yw’r porwr yn cynnig camera iddi. Agorwch hi dros HTTPS.',
    SOURCE_INVALID: 'Ni all y ciosg ddarllen fframiau o’r ffynhonnell hon. Rhowch y camera, fideo sy’n chwarae neu MediaStream iddo.',
    CAMERA_ENDED: 'Stopiodd y camera (a gafodd ei ddatgysylltu?). Ailgysylltwch ef, yna dechreuwch y camera eto.',
    CAMERA_DENIED: 'Gwrthodwyd caniatâd i ddefnyddio’r camera. Caniatewch fynediad i’r camera ar gyfer y dudalen hon yng ngosodiadau’r porwr, yna dechreuwch y camera eto.',
    CAMERA_MISSING: 'Ni chafwyd hyd i gamera. Cysylltwch gamera, yna dechreuwch y camera eto.',
    CAMERA_BUSY: 'Mae’r camera’n brysur neu ddim yn gweithio (efallai fod rhaglen arall yn ei ddefnyddio). Caewch y rhaglen honno, yna dechreuwch y camera eto.',
    CAMERA_FAILED: 'Nid oedd modd dechrau’r camera. Gwiriwch ef, yna dechreuwch y camera eto.',
  },
};

/** The languages the catalogue speaks. */
export const LANGUAGES = Object.keys(ERROR_MESSAGES);

/** The catalogue's language for `lang` (a BCP 47 tag such as "cy" or "en-GB"); English otherwise. */
export function catalogueLanguage(lang) {
  const primary = String(lang ?? '').toLowerCase().split('-')[0];
  return Object.hasOwn(ERROR_MESSAGES, primary) ? primary : 'en';
}

/**
 * The sentence for an error's `code` in `lang`, for the people at the kiosk. An unknown code (a
 * newer engine's) gets the INTERNAL sentence; decide what to do by `code`, never by this text.
 */
export function errorMessage(code, lang = 'en') {
  const messages = ERROR_MESSAGES[catalogueLanguage(lang)];
  return Object.hasOwn(messages, code) ? messages[code] : messages.INTERNAL;
}
