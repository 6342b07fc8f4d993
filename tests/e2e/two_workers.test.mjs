// The kiosk's two Workers (issue 19, item 2) in Chromium: the detection Worker (www/detect-worker.js)
// and the engine Worker (www/kiosk-worker.js), each tested against the real other side played by
// the test page with the real engine (pkg/): frames cross from one to the other only in a
// transferred buffer, which the engine Worker zeroes and hands back, also when it refuses the frame.
// The whole kiosk running on both Workers to an alert is tests/e2e/kiosk.test.mjs's.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fakeCamera, haveLfw, launchWithCamera, lfw, serveKiosk } from '../harness.mjs';

const haveData = haveLfw('the two-Worker tests');

describe('the kiosk\'s two Workers', { skip: !haveData }, () => {
  let scratch;
  let server;
  let origin;
  let browser;
  let page;
  /** The path of every Worker the page started. */
  const started = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-two-workers-'));
    const camera = fakeCamera(join(scratch, 'face.y4m'), [join(lfw, 'Tony_Blair/Tony_Blair_0002.jpg')], 3);
    ({ origin, process: server } = await serveKiosk());
    browser = await launchWithCamera(camera);
    page = await browser.newPage();
    page.on('worker', (worker) => started.push(new URL(worker.url()).pathname));
    await page.goto(`${origin}/notice.html`);
    // Helpers in the page: one camera frame as a bitmap, and its RGBA pixels.
    await page.evaluate(async () => {
      const { openCamera, grabFrame, hasFrame } = await import('/kiosk/camera.js');
      const video = document.createElement('video');
      video.muted = true;
      await openCamera(video, () => {});
      while (!hasFrame(video)) await new Promise((r) => setTimeout(r, 10));
      window.bitmap = () => grabFrame(video);
      window.pixelsOf = async () => {
        const bitmap = await grabFrame(video);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d');
        context.drawImage(bitmap, 0, 0);
        const { data, width, height } = context.getImageData(0, 0, bitmap.width, bitmap.height);
        bitmap.close();
        return { pixels: data.buffer, width, height };
      };
      window.models = async () => Promise.all(['face_detection_yunet_2023mar_int8bq.onnx', 'face_recognition_sface_2021dec_int8bq.onnx']
        .map(async (name) => new Uint8Array(await (await fetch(`/models/${name}`)).arrayBuffer())));
      // The next message of `port` (or Worker) that `accept` takes.
      window.next = (port, accept) => new Promise((resolve) => {
        const listener = ({ data }) => {
          if (!accept(data)) return;
          port.removeEventListener('message', listener);
          resolve(data);
        };
        port.addEventListener('message', listener);
        port.start?.();
      });
    });
  });

  after(async () => {
    await browser?.close();
    server?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the engine client runs both Workers and a frame comes back from the engine Worker with its faces', async () => {
    const reply = await page.evaluate(async () => {
      const { EngineClient } = await import('/kiosk/engine-client.js');
      const engine = new EngineClient('/kiosk-worker.js');
      await engine.start({});
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await engine.processFrame(await window.bitmap(), Date.now()));
      await engine.stop();
      const depth = engine.pipelineDepth;
      engine.terminate();
      return { depth, faces: replies.map((r) => r.faces.length), full: replies.at(-1).counters.fullDetections };
    });
    assert.deepEqual(started.toSorted(), ['/detect-worker.js', '/kiosk-worker.js'], 'both Workers ran');
    assert.equal(reply.depth, 2);
    assert.deepEqual(reply.faces, [1, 1, 1], 'each frame\'s face, detected in one Worker and processed in the other');
    assert.equal(reply.full, 1, 'the first frame at the full input, the others reduced (the detection Worker\'s schedule)');
  });

  test('the detection Worker hands each frame on in a transferred buffer, with its detection', async () => {
    const handed = await page.evaluate(async () => {
      const worker = new Worker('/detect-worker.js', { type: 'module' });
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ type: 'connect', port: port1 }, [port1]);
      const [detector] = await window.models();
      const started = window.next(port2, (m) => m.type !== 'frame');
      port2.postMessage({ type: 'start', detector }, [detector.buffer]);
      const start = await started;
      const frame = window.next(port2, (m) => m.type === 'frame');
      const bitmap = await window.bitmap();
      worker.postMessage({ id: 7, type: 'frame', bitmap, t: 1 }, [bitmap]);
      const { id, width, height, pixels, detection } = await frame;
      const varied = new Set(new Uint8Array(pixels).subarray(0, 200_000)).size;
      worker.terminate();
      return { start: start.type, id, width, height, bytes: pixels.byteLength, varied, faces: detection.faces.length, pass: detection.pass };
    });
    assert.equal(handed.start, 'started');
    assert.deepEqual([handed.id, handed.width, handed.height, handed.bytes], [7, 640, 480, 640 * 480 * 4]);
    assert.ok(handed.varied > 50, 'the pixels are the frame\'s');
    assert.deepEqual([handed.faces, handed.pass], [1, 'full']);
  });

  test('the engine Worker zeroes each frame\'s buffer and hands it back, also when it refuses the frame', async () => {
    const seen = await page.evaluate(async () => {
      const pkg = await import('/pkg/veilwatch.js');
      const { engineWasmUrl } = await import('/pkg/engine-wasm.js');
      await pkg.default({ module_or_path: engineWasmUrl(new URL('/pkg/', location.href)) });
      const [detectorModel] = await window.models();
      const detector = pkg.FaceDetector.create(detectorModel);

      const worker = new Worker('/kiosk-worker.js', { type: 'module' });
      const { port1, port2 } = new MessageChannel();
      // This page plays the detection Worker: it accepts the model the engine Worker hands over.
      const modelHanded = window.next(port1, (m) => m.type === 'start').then((m) => {
        port1.postMessage({ type: 'started' });
        return m.detector.byteLength;
      });
      const started = window.next(worker, (m) => m.id === 1);
      worker.postMessage({ id: 1, type: 'start', detectorPort: port2 }, [port2]);
      const startReply = await started;
      const sendFrame = async (id, forge) => {
        const { pixels, width, height } = await window.pixelsOf();
        detector.frameBuffer(width, height).set(new Uint8Array(pixels));
        const detection = forge(detector.detect(width, height));
        const reply = window.next(worker, (m) => m.id === id);
        const back = window.next(port1, (m) => m.type === 'wiped');
        port1.postMessage({ id, type: 'frame', t: Date.now(), width, height, detection, pixels }, [pixels]);
        const wiped = new Uint8Array((await back).pixels);
        return { reply: await reply, bytes: wiped.length, nonZero: wiped.some((b) => b !== 0), detachedHere: pixels.byteLength === 0 };
      };
      const honest = await sendFrame(2, (d) => d);
      const forged = await sendFrame(3, (d) => ({ ...d, faces: d.faces.map((f) => ({ ...f, box: [Number.NaN, 0, 10, 10] })) }));
      worker.terminate();
      detector.free();
      const summary = ({ reply, ...rest }) => ({ ...rest, type: reply.type, code: reply.code, faces: reply.faces?.length });
      return { start: startReply.type, modelBytes: await modelHanded, honest: summary(honest), forged: summary(forged) };
    });
    assert.equal(seen.start, 'reply');
    assert.ok(seen.modelBytes > 10_000, 'the engine Worker handed over the detector model it downloaded and checked');
    assert.deepEqual(seen.honest, { bytes: 640 * 480 * 4, nonZero: false, detachedHere: true, type: 'reply', code: undefined, faces: 1 },
      'the frame was processed, and its buffer came back all zeros');
    assert.deepEqual(seen.forged, { bytes: 640 * 480 * 4, nonZero: false, detachedHere: true, type: 'error', code: 'OPTIONS_INVALID', faces: undefined },
      'a detection no detector made is refused, and the buffer still comes back all zeros');
  });
});
