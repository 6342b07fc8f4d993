// The JavaScript API's contract, in node against pkg/: the option names Kiosk.create and
// loadWatchlist take (and the ones they refuse), the camelCase shape of every result the page reads,
// the probe crop as a Uint8Array, and the stable `code` on every Error — the page decides by code,
// so a code that changes or goes missing breaks it as surely as a renamed field.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, freePort, haveLfw, lfw, repo } from '../harness.mjs';
import { signedFetch } from '../../www/kiosk/authority-client.js';

const { initSync, Kiosk, verifyProfile } = await import(join(repo, 'pkg/veilwatch.js'));
initSync({ module: readFileSync(join(repo, 'pkg/veilwatch_bg.wasm')) });
const detector = readFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx'));
const recognizer = readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx'));

const haveData = haveLfw('the JS API contract tests');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);

/** Writes `rgba` into the kiosk's frame buffer, then processes it (the production frame path). */
function processFrame(kiosk, rgba, width, height, t) {
  kiosk.frameBuffer(width, height).set(rgba);
  return kiosk.processFrame(width, height, t);
}

/** Asserts that `fn` throws an Error with this `code` and a message matching `pattern`. */
function throwsCode(fn, code, pattern = /./) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, `an Error, not ${e}`);
    assert.equal(e.code, code, `code of "${e.message}"`);
    assert.match(e.message, pattern);
    return true;
  });
}

// The notice is the signed profile document itself (`requiresOverseer` is optional there).
const NOTICE_KEYS = ['contact', 'custody', 'legalBasis', 'location', 'notice', 'operator', 'purpose', 'queryRatePerMinute',
  'threshold', 'thresholdFloor', 'validFrom', 'validUntil', 'watchlistSha256'];
const noticeKeys = (notice) => {
  assert.ok(notice.requiresOverseer === undefined || typeof notice.requiresOverseer === 'boolean');
  return Object.keys(notice).filter((k) => k !== 'requiresOverseer').sort();
};
const COUNTER_KEYS = ['alerts', 'facesEmbedded', 'facesProcessed', 'facesRejected', 'frames', 'fullDetections', 'matchAttempts', 'matchFailures',
  'rateLimited', 'retained', 'tracksActive', 'tracksEnded'];

describe('the JS API contract', { skip: !haveData }, () => {
  let scratch;
  let issuer;
  let prfKey;
  let foreignIssuer;
  let watchlist;
  let frame;
  let blank;
  const file = (name) => join(scratch, name);
  const deployment = (overrides = {}) => ({
    watchlist, issuerKey: issuer, profile: readFileSync(file('ok.vwp'), 'utf8'), custody: { kind: 'local', prfKey }, ...overrides,
  });

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-jsapi-'));
    issuer = veilwatch('keygen', '--out', file('keys')).trim();
    prfKey = readFileSync(file('keys/secret/prf-local.key'), 'utf8').trim();
    foreignIssuer = veilwatch('keygen', '--out', file('other-keys')).trim();
    for (const [name, from, to] of [['Colin_Powell', 2, 8], ['Tony_Blair', 1, 5]]) {
      mkdirSync(file(`people/${name}`), { recursive: true });
      for (let i = from; i <= to; i++) symlinkSync(photo(name, i), file(`people/${name}/${name}_${i}.jpg`));
    }
    veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('list.vwl'), '--valid-until', '2099-01-01');
    watchlist = new Uint8Array(readFileSync(file('list.vwl')));
    const template = (from, until) => JSON.stringify({
      purpose: 'JS API test', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'node',
      validFrom: from, validUntil: until, threshold: 53, thresholdFloor: 50, custody: { kind: 'local' },
      queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    });
    writeFileSync(file('ok.json'), template('2020-01-01T00:00:00Z', '2099-01-01T00:00:00Z'));
    writeFileSync(file('expired.json'), template('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'));
    for (const name of ['ok', 'expired']) {
      veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('list.vwl'), '--template', file(`${name}.json`), '--out', file(`${name}.vwp`));
    }
    // Profiles that name a tampered and a garbage file, so that the watchlist's own checks are reached.
    const tampered = readFileSync(file('list.vwl'));
    tampered[tampered.length - 100] ^= 1;
    writeFileSync(file('tampered.vwl'), tampered);
    writeFileSync(file('garbage.vwl'), new Uint8Array(10));
    for (const name of ['tampered', 'garbage']) {
      veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file(`${name}.vwl`), '--template', file('ok.json'), '--out', file(`${name}.vwp`));
    }
    // The enrolled person in a photo that was not enrolled, on a 640×480 camera-sized frame.
    execFileSync('python3', ['-c', `
import sys
from PIL import Image
canvas = Image.new("RGB", (640, 480), (128, 128, 128))
face = Image.open(sys.argv[1]).convert("RGB")
canvas.paste(face, ((640 - face.width) // 2, (480 - face.height) // 2))
open(sys.argv[2], "wb").write(canvas.convert("RGBA").tobytes())
`, photo('Colin_Powell', 1), file('frame.rgba')]);
    frame = new Uint8Array(readFileSync(file('frame.rgba')));
    blank = new Uint8Array(640 * 480 * 4).fill(128);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('Kiosk.create takes the deployment, and status() and its notice are camelCase', () => {
    const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
    const status = kiosk.status();
    assert.equal(status.matching, true);
    assert.equal(status.entries, 64, "2 entries pad to the size class of 64");
    assert.equal(status.custody, 'hmac-sha256-local');
    assert.match(status.custodyNote, /local key/);
    assert.equal(typeof status.threshold, 'number');
    assert.equal(typeof status.tables, 'number');
    assert.match(status.validUntil, /^20\d\d-/);
    assert.ok(status.secondsLeft > 0);
    assert.equal(status.pendingReviews, 0);
    assert.deepEqual(noticeKeys(status.notice), NOTICE_KEYS);
    assert.equal(status.notice.legalBasis, 'Test data (LFW)');
    assert.deepEqual(status.notice.custody, { kind: 'local' });
    assert.ok(status.expectedFalseAlertsPer1000 > 0 && status.estimatedTrueMatchRate > 0.5, 'calibrated figures for this watchlist');
    const [low, high] = status.expectedFalseAlertsCi95;
    assert.ok(low <= status.expectedFalseAlertsPer1000 && status.expectedFalseAlertsPer1000 <= high, 'an interval around it');
    assert.match(status.falseAlertsCalibration, /-photo templates against \w+ strangers/);
    assert.ok(status.groupRates.length >= 10, 'strangers by race and gender, watchlisted people by gender');
    for (const g of status.groupRates) {
      const rates = g.falseAlertsPer1000 === undefined ? ['trueMatchRate'] : ['falseAlertsPer1000', 'falseAlertsCi95'];
      assert.deepEqual(Object.keys(g).sort(), [...rates, 'group', 'people'].sort());
      if (g.falseAlertsCi95) {
        const [low, high] = g.falseAlertsCi95;
        assert.ok(low <= g.falseAlertsPer1000 && g.falseAlertsPer1000 <= high, `${g.group}: an interval around it`);
      }
    }
    assert.match(status.groupRatesCalibration, /relative to all UTKFace fillers/);
    assert.deepEqual(Object.keys(status).filter((k) => k.includes('_')), [], 'no snake_case key');
    const idle = Kiosk.create({ detector, recognizer }).status();
    assert.equal(idle.matching, false);
    assert.equal(idle.notice, undefined);
  });

  test('processFrame: camelCase faces and counters, an alert with its record and a Uint8Array probe, no matchingError', () => {
    const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
    const t0 = Date.now();
    let result;
    let alerts = [];
    for (let i = 0; i < 20 && alerts.length === 0; i++) {
      result = processFrame(kiosk, frame, 640, 480, t0 + 100 * i);
      alerts = result.alerts;
    }
    assert.equal(alerts.length, 1, 'the enrolled person raised an alert');
    const [alert] = alerts;
    assert.deepEqual(Object.keys(result).filter((k) => k !== 'matchingError').sort(), ['alerts', 'counters', 'faces']);
    assert.equal(result.matchingError, undefined, 'undefined, not null, when matching worked');
    const [face] = result.faces;
    assert.deepEqual(Object.keys(face).sort(), ['box', 'landmarks', 'quality', 'score', 'track']);
    assert.deepEqual(Object.keys(face.quality).sort(), ['facePx', 'pitchDeg', 'rejections', 'rollDeg', 'sharpness', 'yawDeg']);
    assert.deepEqual(Object.keys(result.counters).sort(), COUNTER_KEYS);
    assert.equal(result.counters.retained, 0);
    assert.ok(result.counters.facesProcessed >= 1 && result.counters.matchAttempts >= 1);
    assert.equal(alert.track, face.track);
    assert.match(alert.record.referenceId, /^REF-\d+$/);
    assert.equal(alert.record.label, 'Colin Powell');
    assert.match(alert.record.enrolled, /^\d{4}-\d\d-\d\d$/);
    for (const key of ['category', 'source']) assert.equal(typeof alert.record[key], 'string');
    assert.ok(alert.collisions <= alert.tables && alert.collisions > 0);
    assert.ok(alert.impliedCosine > 0 && alert.impliedCosine <= 1);
    assert.ok(alert.probe instanceof Uint8Array && !(alert.probe instanceof Uint8ClampedArray));
    assert.equal(alert.probe.length, 112 * 112 * 4);
    assert.equal(kiosk.status().pendingReviews, 1);

    throwsCode(() => kiosk.reviewAlert(alert.id, 'maybe', 'A. Reviewer'), 'REVIEW_INVALID');
    throwsCode(() => kiosk.reviewAlert(alert.id, 'confirm', '  '), 'REVIEW_INVALID');
    kiosk.reviewAlert(alert.id, 'confirm', 'A. Reviewer');
    throwsCode(() => kiosk.reviewAlert(alert.id, 'confirm', 'A. Reviewer'), 'ALERT_UNKNOWN');
    assert.equal(kiosk.status().pendingReviews, 0);
    assert.match(kiosk.auditLog(), /"decision":"confirmed","reference_id":"REF-\d+","reviewer":"A. Reviewer"/);
  });

  test('a frame after the deployment window throws a window-closed code; detection goes on without matching', () => {
    const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
    const after2099 = Date.UTC(2099, 0, 2);
    assert.throws(() => processFrame(kiosk, frame, 640, 480, after2099), (e) =>
      ['WATCHLIST_EXPIRED', 'PROFILE_EXPIRED'].includes(e.code) && /ask the issuer/.test(e.message));
    assert.equal(kiosk.status().matching, false);
    const next = processFrame(kiosk, frame, 640, 480, after2099 + 100);
    assert.equal(next.faces.length, 1);
    assert.equal(next.counters.matchAttempts, 0);
  });

  test('loadWatchlist takes one options object; each refusal has its code and leaves the loaded deployment in place', () => {
    const kiosk = Kiosk.create({ detector, recognizer });
    kiosk.loadWatchlist(deployment());
    assert.equal(kiosk.status().entries, 64);
    const tampered = Uint8Array.from(watchlist);
    tampered[tampered.length - 100] ^= 1;
    const wrongKey = prfKey.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    throwsCode(() => kiosk.loadWatchlist(deployment({ profile: readFileSync(file('expired.vwp'), 'utf8') })), 'PROFILE_EXPIRED',
      /the deployment expired on 2021-01-01T00:00:00Z; ask the issuer for a new profile/);
    throwsCode(() => kiosk.loadWatchlist(deployment({ profile: undefined })), 'PROFILE_REQUIRED', /needs its signed deployment profile/);
    throwsCode(() => kiosk.loadWatchlist(deployment({ watchlist: tampered, profile: readFileSync(file('tampered.vwp'), 'utf8') })), 'WATCHLIST_TAMPERED');
    throwsCode(() => kiosk.loadWatchlist(deployment({ watchlist: tampered })), 'PROFILE_WATCHLIST_MISMATCH');
    throwsCode(() => kiosk.loadWatchlist(deployment({ custody: { kind: 'local', prfKey: wrongKey } })), 'WATCHLIST_WRONG_KEY');
    throwsCode(() => kiosk.loadWatchlist(deployment({ issuerKey: foreignIssuer })), 'PROFILE_FOREIGN');
    throwsCode(() => kiosk.loadWatchlist(deployment({ issuerKey: 'ab' })), 'KEY_INVALID', /64 hex digits/);
    throwsCode(() => kiosk.loadWatchlist(deployment({ watchlist: new Uint8Array(10), profile: readFileSync(file('garbage.vwp'), 'utf8') })), 'WATCHLIST_INVALID');
    throwsCode(() => kiosk.loadWatchlist(deployment({ kioskPublicKey: 'xyz' })), 'KEY_INVALID', /kiosk public key/);
    throwsCode(() => kiosk.loadWatchlist(deployment({ custody: { kind: 'authority', url: 'https://a.example' } })), 'PROFILE_CUSTODY_MISMATCH');
    throwsCode(() => kiosk.loadWatchlist(deployment({ custody: { kind: 'cloud' } })), 'OPTIONS_INVALID');
    throwsCode(() => kiosk.loadWatchlist(watchlist, issuer, prfKey), 'OPTIONS_INVALID');
    const status = kiosk.status();
    assert.equal(status.matching, true);
    assert.equal(status.entries, 64, "2 entries pad to the size class of 64");
    assert.equal(status.notice.validUntil, '2099-01-01T00:00:00Z');
  });

  test('authority custody: loadWatchlist returns the key check, and only the authority\'s right answer loads the list', async () => {
    // An authority-custody list and its profile for this authority and one kiosk: a WebCrypto
    // Ed25519 key, as the kiosk page makes it, which signs the key check (www/kiosk/authority-client.js).
    veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('oprf.vwl'), '--custody', 'authority', '--valid-until', '2099-01-01');
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const kioskKey = { pair, publicHex: Buffer.from(await crypto.subtle.exportKey('raw', pair.publicKey)).toString('hex') };
    veilwatch('registration', 'deployment', '--keys', file('keys'), '--watchlist', file('oprf.vwl'), '--kiosk-key', kioskKey.publicHex,
      '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000', '--out', file('oprf.vwr'));
    // An authority that knows the deployment but holds another OPRF key: the list's issuer, another key.
    cpSync(file('keys'), file('mixed-keys'), { recursive: true });
    cpSync(join(file('other-keys'), 'authority/authority-master.key'), join(file('mixed-keys'), 'authority/authority-master.key'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    writeFileSync(file('authority.json'), JSON.stringify({
      purpose: 'JS API test', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'node',
      validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50,
      custody: { kind: 'authority', url }, queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    }));
    veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('oprf.vwl'), '--template', file('authority.json'),
      '--kiosk-key', kioskKey.publicHex, '--out', file('oprf.vwp'));
    const oprf = () => ({
      watchlist: new Uint8Array(readFileSync(file('oprf.vwl'))), issuerKey: issuer, profile: readFileSync(file('oprf.vwp'), 'utf8'),
      custody: { kind: 'authority', url }, kioskPublicKey: kioskKey.publicHex,
    });
    throwsCode(() => Kiosk.create({ detector, recognizer, ...oprf() }), 'OPTIONS_INVALID', /loadWatchlist/);

    const kiosk = Kiosk.create({ detector, recognizer });
    kiosk.loadWatchlist(deployment());
    // The key check goes to its own endpoint, naming the deployment (the watchlist id).
    const evaluate = async (keyCheck) => {
      const response = await signedFetch(url, { path: '/v1/key-check', body: keyCheck, deploymentHex: kiosk.deploymentId(), kioskKey });
      return new Uint8Array(await response.arrayBuffer());
    };
    const untilUp = async () => {
      for (let i = 0; i < 100; i++) {
        try {
          return await fetch(`${url}/v1/health`);
        } catch {
          await new Promise((ok) => setTimeout(ok, 100));
        }
      }
      throw new Error('the authority did not start');
    };

    // No network during loadWatchlist: nothing listens yet. The open check keeps the local list running.
    let keyCheck = kiosk.loadWatchlist(oprf());
    assert.ok(keyCheck instanceof Uint8Array && keyCheck.length === 32, 'one blinded element');
    const inspected = JSON.parse(veilwatch('inspect', file('oprf.vwl'), '--issuer', issuer));
    assert.equal(kiosk.deploymentId(), inspected.deployment_id, 'the deployment the key check is for');
    assert.match(readFileSync(file('oprf.vwp'), 'utf8'), new RegExp(`"authorityPublicKey":"${inspected.authority_public_key}"`));
    const waiting = kiosk.status();
    assert.equal(waiting.custody, 'hmac-sha256-local', 'the running deployment stays until the check passes');
    assert.match(waiting.loading, /checking the authority/);
    throwsCode(() => kiosk.loadWatchlist(oprf()), 'KEY_CHECK_PENDING');
    throwsCode(() => kiosk.failKeyCheck('the authority did not answer within 5 s'), 'AUTHORITY_UNAVAILABLE', /did not answer within 5 s/);
    throwsCode(() => kiosk.completeKeyCheck(new Uint8Array(32)), 'KEY_CHECK_PENDING');
    keyCheck = kiosk.loadWatchlist(oprf());
    throwsCode(() => kiosk.completeKeyCheck(new Uint8Array(32).fill(255)), 'AUTHORITY_BAD_ANSWER');
    keyCheck = kiosk.loadWatchlist(oprf());
    throwsCode(() => kiosk.completeKeyCheck(new Uint8Array(96).fill(255)), 'AUTHORITY_ANSWER_UNVERIFIED', /failed verification/);

    // An authority with another master secret (trusting the same issuer, the deployment registered)
    // answers: its proof fails under the watchlist's deployment key, the answer is refused, the
    // local list still runs.
    const foreign = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--keys', join(file('mixed-keys'), 'authority'), '--listen', `127.0.0.1:${port}`, '--register', file('oprf.vwr')],
      { stdio: 'ignore' });
    try {
      await untilUp();
      keyCheck = kiosk.loadWatchlist(oprf());
      const wrong = await evaluate(keyCheck);
      assert.equal(wrong.length, 32 + 64, 'an element and its proof');
      throwsCode(() => kiosk.completeKeyCheck(wrong), 'AUTHORITY_ANSWER_UNVERIFIED', /the authority's answer failed verification; matching is paused/);
      assert.match(kiosk.auditLog(), /"endpoint":"key-check"/, 'the unverified answer is in the audit log');
    } finally {
      foreign.kill();
      await new Promise((ok) => foreign.once('exit', ok));
    }
    assert.equal(kiosk.status().custody, 'hmac-sha256-local');
    assert.ok(!kiosk.status().loading, 'no check left open');
    const configs = () => kiosk.auditLog().trim().split('\n').filter((l) => JSON.parse(l).kind === 'config').length;
    assert.equal(configs(), 1, 'refused loads are not logged as loads');

    // The list's own authority: loaded, and only now logged.
    const right = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--keys', join(file('keys'), 'authority'), '--listen', `127.0.0.1:${port}`, '--register', file('oprf.vwr')],
      { stdio: 'ignore' });
    try {
      await untilUp();
      keyCheck = kiosk.loadWatchlist(oprf());
      kiosk.completeKeyCheck(await evaluate(keyCheck));
    } finally {
      right.kill();
    }
    assert.equal(kiosk.status().custody, 'voprf-ristretto255-sha512');
    assert.equal(kiosk.status().matching, true);
    assert.equal(configs(), 2);
  });

  test('unknown option names are refused with OPTIONS_INVALID', () => {
    throwsCode(() => Kiosk.create({ detector, recognizer, prfkey: prfKey }), 'OPTIONS_INVALID', /prfkey/);
    const kiosk = Kiosk.create({ detector, recognizer });
    throwsCode(() => kiosk.loadWatchlist({ ...deployment(), prfKey }), 'OPTIONS_INVALID', /prfKey/);
    throwsCode(() => kiosk.loadWatchlist(deployment({ custody: { kind: 'local', prfKey, url: 'https://a.example' } })), 'OPTIONS_INVALID', /url/);
  });

  test('Kiosk.create refuses a half-given deployment or a swapped model, by code', () => {
    throwsCode(() => Kiosk.create({ detector, recognizer, watchlist }), 'OPTIONS_INVALID', /issuerKey/);
    throwsCode(() => Kiosk.create({ detector, recognizer, issuerKey: issuer }), 'OPTIONS_INVALID', /watchlist/);
    throwsCode(() => Kiosk.create({ detector, recognizer, watchlist, issuerKey: issuer }), 'OPTIONS_INVALID', /custody/);
    throwsCode(() => Kiosk.create({ detector: recognizer, recognizer }), 'MODEL_MISMATCH');
    throwsCode(() => Kiosk.create({ detector, recognizer, overseerPublicKey: 'ab' }), 'KEY_INVALID', /overseer key/);
    throwsCode(() => Kiosk.create({ detector, recognizer, overseerPublicKey: foreignIssuer, ...deployment() }), 'OVERSEER_MISSING');
  });

  test('verifyProfile returns the camelCase notice; an expired, foreign, altered or malformed profile is refused by code', () => {
    const notice = verifyProfile(readFileSync(file('ok.vwp'), 'utf8'), issuer);
    assert.deepEqual(noticeKeys(notice), NOTICE_KEYS);
    assert.equal(notice.validFrom, '2020-01-01T00:00:00Z');
    assert.equal(notice.queryRatePerMinute, 600);
    throwsCode(() => verifyProfile(readFileSync(file('expired.vwp'), 'utf8'), issuer), 'PROFILE_EXPIRED');
    throwsCode(() => verifyProfile(readFileSync(file('ok.vwp'), 'utf8'), foreignIssuer), 'PROFILE_FOREIGN');
    throwsCode(() => verifyProfile('not a profile', issuer), 'PROFILE_INVALID');
    const altered = readFileSync(file('ok.vwp'), 'utf8').replace('JS API test', 'JS API tesT');
    throwsCode(() => verifyProfile(altered, issuer), 'PROFILE_TAMPERED');
  });

  test('demo enrolment: NO_FACE on an empty frame, then the visitor is enrolled and matched', () => {
    const kiosk = Kiosk.create({ detector, recognizer });
    kiosk.frameBuffer(640, 480).set(blank);
    throwsCode(() => kiosk.enrollFromFrame(640, 480, 'Visitor'), 'NO_FACE');
    kiosk.frameBuffer(640, 480).set(frame);
    assert.equal(kiosk.enrollFromFrame(640, 480, 'Visitor'), 1);
    assert.equal(kiosk.status().entries, 64, 'one volunteer pads to the size class of 64');
    assert.equal(kiosk.status().mode, 'demo');
    assert.equal(kiosk.status().queryRatePerMinute, 60);
  });

  test('the frame buffer: one per size, refused when the frame is not the size it was asked for, wiped after use', () => {
    const kiosk = Kiosk.create({ detector, recognizer });
    throwsCode(() => kiosk.processFrame(640, 480), 'FRAME_INVALID', /frameBuffer\(width, height\)/);
    throwsCode(() => kiosk.frameBuffer(0, 480), 'FRAME_INVALID', /no pixels/);
    throwsCode(() => kiosk.frameBuffer(9000, 480), 'FRAME_INVALID', /larger than 8192/);
    const buffer = kiosk.frameBuffer(640, 480);
    assert.ok(buffer instanceof Uint8Array && buffer.length === 640 * 480 * 4);
    buffer.set(frame);
    throwsCode(() => kiosk.processFrame(640, 479), 'FRAME_INVALID', /prepared for 640×480/);
    const view = kiosk.frameBuffer(640, 480);
    assert.ok(view.every((b) => b === 0), 'a refused frame is wiped too');
    view.set(frame);
    assert.equal(kiosk.processFrame(640, 480, Date.now()).faces.length, 1);
    assert.ok(kiosk.frameBuffer(640, 480).every((b) => b === 0), 'wiped after processing');
  });

  test('demo enrolment is refused, by code and in words, while a deployment is loaded', () => {
    const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
    kiosk.frameBuffer(640, 480).set(frame);
    throwsCode(() => kiosk.enrollFromFrame(640, 480, 'Visitor'), 'DEMO_UNDER_DEPLOYMENT', /only possible in demo mode/);
    const status = kiosk.status();
    assert.equal(status.mode, 'deployment');
    assert.equal(status.entries, 64, 'the deployment (2 entries, padded to 64) is still loaded');
    assert.match(status.demoEnrolmentRefused, /Veilwatch CI at node/);
  });
});
