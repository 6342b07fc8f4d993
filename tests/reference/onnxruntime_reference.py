#!/usr/bin/env python3
# requires: onnx onnxruntime numpy pillow
"""Independent onnxruntime reference for the Rust (tract) face pipeline.

Runs the same YuNet 2023mar detector and SFace recogniser ONNX models with
onnxruntime, and mirrors OpenCV's cv::FaceDetectorYN preprocessing/decoding, so
the Rust output (boxes, landmarks, scores, embeddings) can be checked against a
second, unrelated inference engine.

onnxruntime cannot load the shipped int8 "bq" models directly: they use blocked
DequantizeLinear (block_size != 0), and SFace declares graph inputs no node
uses. So each model is rewritten in memory first: constant DequantizeLinear
nodes are folded into float32 initializers, dead initializers/inputs dropped,
and (for YuNet) the 640x640 shape annotations removed so any input size works.

Usage:
  python3 tests/reference/onnxruntime_reference.py --models DIR \
      --images IMG1 IMG2 ... --crops CROP1.png ... --out OUT.json
  python3 tests/reference/onnxruntime_reference.py --models DIR --write-folded OUT_DIR
"""
import argparse
import json
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image

YUNET = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE = "face_recognition_sface_2021dec_int8bq.onnx"
SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K = 0.6, 0.3, 5000


def fold_dequantize(model, free_shapes=False):
    """Fold constant (blocked) DequantizeLinear nodes into float32 initializers."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    kept, new_inits = [], []
    for node in g.node:
        if node.op_type != "DequantizeLinear" or not all(i in inits for i in node.input if i):
            kept.append(node)
            continue
        attrs = {a.name: a.i for a in node.attribute}
        axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
        x = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zp = (numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
              if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
        axis %= max(x.ndim, 1)
        if block:  # blocked: scale/zp have ceil(dim/block) entries along axis
            idx = [slice(None)] * x.ndim
            idx[axis] = slice(0, x.shape[axis])
            scale = np.repeat(scale, block, axis=axis)[tuple(idx)]
            zp = np.repeat(zp, block, axis=axis)[tuple(idx)]
        elif scale.ndim == 1 and x.ndim > 1:  # per-axis
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zp = scale.reshape(shape), zp.reshape(shape)
        y = ((x - zp) * scale).astype(np.float32)
        new_inits.append(numpy_helper.from_array(y, node.output[0]))
    del g.node[:]
    g.node.extend(kept)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    all_inits = [t for t in list(g.initializer) + new_inits if t.name in used]
    del g.initializer[:]
    g.initializer.extend(all_inits)
    names = {t.name for t in all_inits}  # initializer-backed inputs only add warnings
    keep_inputs = [i for i in g.input if i.name in used and i.name not in names]
    del g.input[:]
    g.input.extend(keep_inputs)
    if free_shapes:  # stored intermediate/output shapes assume 640x640 input
        del g.value_info[:]
        for o in g.output:
            for d in o.type.tensor_type.shape.dim:
                d.Clear()
        for i in g.input:
            dims = i.type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "height", "width"
    return model


def session(path, free_shapes=False):
    model = fold_dequantize(onnx.load(path), free_shapes)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def detect(sess, image_path):
    rgb = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    pad_h, pad_w = math.ceil(h / 32) * 32, math.ceil(w / 32) * 32
    blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
    blob[0, :, :h, :w] = rgb[:, :, ::-1].transpose(2, 0, 1)  # BGR, no mean/scale
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: blob})))
    cands = []
    for s in (8, 16, 32):
        cols, rows = pad_w // s, pad_h // s
        cls = np.clip(out[f"cls_{s}"][0, :, 0], 0, 1)
        obj = np.clip(out[f"obj_{s}"][0, :, 0], 0, 1)
        bbox, kps = out[f"bbox_{s}"][0], out[f"kps_{s}"][0]
        scores = np.sqrt(cls * obj)
        for idx in np.nonzero(scores >= SCORE_THRESHOLD)[0]:
            r, c = divmod(int(idx), cols)
            assert r < rows
            b = bbox[idx].astype(np.float64)
            cx, cy = (c + b[0]) * s, (r + b[1]) * s
            bw, bh = math.exp(b[2]) * s, math.exp(b[3]) * s
            lm = [[(float(kps[idx, 2 * k]) + c) * s, (float(kps[idx, 2 * k + 1]) + r) * s]
                  for k in range(5)]
            cands.append({"box": [cx - bw / 2, cy - bh / 2, bw, bh],
                          "landmarks": lm, "score": float(scores[idx])})
    cands.sort(key=lambda f: -f["score"])
    faces = []
    for f in cands:  # greedy NMS
        if all(iou(f["box"], k["box"]) <= NMS_THRESHOLD for k in faces):
            faces.append(f)
            if len(faces) >= TOP_K:
                break
    return faces


def embed(sess, crop_path):
    rgb = np.asarray(Image.open(crop_path).convert("RGB"), dtype=np.float32)
    assert rgb.shape == (112, 112, 3), f"{crop_path}: expected 112x112, got {rgb.shape}"
    blob = rgb.transpose(2, 0, 1)[None]  # RGB, 0..255; model normalises itself
    v = sess.run(["fc1"], {sess.get_inputs()[0].name: blob})[0][0].astype(np.float64)
    return (v / np.linalg.norm(v)).tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--images", nargs="*", default=[])
    ap.add_argument("--crops", nargs="*", default=[])
    ap.add_argument("--out")
    ap.add_argument("--write-folded", metavar="DIR",
                    help="also save both models with their weights folded to f32, for onnxruntime-web")
    a = ap.parse_args()
    if a.write_folded:
        os.makedirs(a.write_folded, exist_ok=True)
        for name, free in ((YUNET, True), (SFACE, False)):
            model = fold_dequantize(onnx.load(os.path.join(a.models, name)), free)
            onnx.save(model, os.path.join(a.write_folded, name.replace("_int8bq", "_folded")))
    if not a.out:
        return
    result = {"detections": [], "embeddings": []}
    if a.images:
        det = session(os.path.join(a.models, YUNET), free_shapes=True)
        result["detections"] = [{"image": p, "faces": detect(det, p)} for p in a.images]
    if a.crops:
        rec = session(os.path.join(a.models, SFACE))
        result["embeddings"] = [{"crop": p, "embedding": embed(rec, p)} for p in a.crops]
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
