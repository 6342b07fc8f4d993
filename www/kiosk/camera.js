// The camera: opening it, explaining in words why it could not be opened, closing it, and taking
// one frame as a transferable ImageBitmap.

/** The error code (an ApiErrorCode) for a getUserMedia error. */
export function cameraErrorCode(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'CAMERA_DENIED';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'CAMERA_MISSING';
    case 'NotReadableError':
      return 'CAMERA_BUSY';
    default:
      return 'CAMERA_FAILED';
  }
}

/** Why the camera could not be started, and what to do, for a getUserMedia error. */
export function cameraProblem(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was refused. Allow camera access for this page in the browser settings, then press Start camera again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect a camera, then press Start camera again.';
    case 'NotReadableError':
      return 'The camera is busy or not working (another program may be using it). Close that program, then press Start camera again.';
    default:
      return `The camera could not be started: ${error?.message ?? error}.`;
  }
}

/**
 * Opens the camera into `video` and resolves with its stream once it plays; `onEnded` is called if
 * the camera goes away on its own (unplugged). Rejects with the getUserMedia error.
 */
export async function openCamera(video, onEnded) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw Object.assign(new Error('this browser offers no camera access'), { name: 'NotFoundError' });
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  for (const track of stream.getVideoTracks()) track.addEventListener('ended', onEnded);
  video.srcObject = stream;
  await video.play();
  return stream;
}

/** Stops every track of `stream` and detaches it from `video`. */
export function closeCamera(video, stream) {
  stream?.getTracks().forEach((t) => t.stop());
  video.srcObject = null;
}

/** Whether `video` has a frame to take. */
export const hasFrame = (video) => video.readyState >= 2;

/** The current frame of `video`, as a bitmap to transfer to the engine. */
export const grabFrame = (video) => createImageBitmap(video);

/**
 * While `state.stream` is set, takes frames of `video` and hands each to `send(bitmap)` (which
 * returns a promise), at most `inFlight` at a time (the engine's pipeline depth:
 * `EngineClient.pipelineDepth`): a frame is taken only once fewer than that many `send`s are
 * unsettled, so a slow device drops frames rather than queue them. `unreadable(error)` hears of a
 * frame that could not be taken. `state.framesInFlight` counts them.
 */
export function pumpFrames(video, state, send, unreadable, { inFlight = 1 } = {}) {
  state.framesInFlight = 0;
  const pump = () => {
    if (!state.stream) return;
    if (state.framesInFlight < inFlight && hasFrame(video)) {
      state.framesInFlight += 1;
      grabFrame(video).then(send, unreadable).finally(() => { state.framesInFlight -= 1; });
    }
    requestAnimationFrame(pump);
  };
  requestAnimationFrame(pump);
}
