"""Benchmark at train2017 scale in a real viewer: open, first draw, slider, save (issue 11).

Run it under a virtual display, with ``QT_QPA_PLATFORM`` unset (the viewer is a real
``napari.Viewer(show=True)`` drawing through OpenGL)::

    xvfb-run -a .venv/bin/python benchmarks/run.py --quick train_scale   # 1 % file, ~2 min
    xvfb-run -a .venv/bin/python benchmarks/run.py train_scale           # full size, see below

(Without a display the viewer children are wrapped in ``xvfb-run -a`` themselves.)

Files are made by ``benchmarks/make_train_like.py`` in ``benchmarks/_data/`` (git-ignored) and
reused while the generator is unchanged:

- **train2017-shaped**: 118,287 images and 860,001 annotations, ~475 MB (quick: 1 %, 1,183
  images, 8,600 annotations, ~4.7 MB), official-like records, no images on disk (the reader
  shows black images and warns once).
- **Roboflow-shaped**: 3,000 polygons on 80 images of 1024 x 1024 (quick and full alike).

Every measurement runs in its own child process (this file run with ``--child KIND``), so that
its time and peak RSS (``ru_maxrss`` of that process) are its own; a child that fails or times out
(15 min each in the full run, 3 min in the quick one) gives a row with ``ratio`` NaN and an
``error``, and the other rows still run. The children:

a. ``json``: stdlib ``json.load`` of the file (time and peak RSS: the reference), then
   ``json.dump(obj, separators=(",", ":"))`` of the loaded object to a file (the save reference);
b. ``pycocotools``: ``COCO(file)`` (reference);
c. ``load_coco``: :func:`napari_coco_masks.coco.load_coco` (time and peak RSS);
d. ``browse``: a shown viewer (napari's first-layer costs paid beforehand with a throw-away
   layer, the plugin's reader module imported beforehand, its import time reported), then
   ``viewer.open(file, plugin="napari-coco-masks")`` to the first drawn frame (Qt events
   processed and ``viewer.screenshot()``, which draws the canvas), with the peak RSS up to that
   frame; then
e. 20 slider steps to random images (``viewer.dims.set_current_step(0, k)``, events processed,
   canvas drawn), each timed: max and median;
f. ``save``: a second viewer opens the file, its Labels and Shapes layers are selected and
   saved with ``viewer.layers.save(out, selected=True, plugin="napari-coco-masks")``: time vs
   ``json.dump``, and whether the file is byte-identical to the source;
g. one 12 x 12 square painted with a new label (``Labels.data_setitem``, i.e. napari's paint
   path with undo history) on the background of an image that has annotations, the slider on
   it, then saved again: time vs ``json.dump``, and the number of annotation records whose bytes
   differ from the source (``diff`` child, msgspec raw records; expected 1, the new instance).

Rows (targets from issue 11): open to first draw / ``json.load`` <= 0.3; peak RSS of the browse
session / file size <= 2; max slider step <= 0.150 s (absolute, seconds in ``ratio``); save
unedited / ``json.dump`` <= 0.2 and byte-identical (ratio 1.0 / 0.0); save after one edit /
``json.dump`` <= 0.2 and 1 differing record; Roboflow-shaped open well under 1 s and slider
steps under 0.1 s (seconds). pycocotools ``COCO()`` and ``load_coco`` against ``json.load`` are
informational rows.

Durations on this 2-core machine (2026-12, reader of commit b5ee603): the quick run ~30 s; the
full run ~4.5 min (each child re-reads the 478 MB file: ``json.load`` ~34 s, ``json.dump`` ~49 s,
``COCO()`` ~40 s, each viewer open ~10 s, the diff ~15 s), plus ~20 s to generate the full file
the first time. A slow or broken reader makes it longer, up to the timeouts.
Each row carries the commit measured and the ``src/`` files that differed from it (``src_dirty``).

Usage::

    python benchmarks/bench_train_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import hashlib
import io
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "_data"
PLUGIN = "napari-coco-masks"
STEPS = 20
SQUARE = 12


#: What a child measured so far: reported with the error if a later step fails.
PARTIAL: dict = {}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- children


def child_json(path: str, out: str) -> dict:
    """(a) json.load time and peak RSS, then json.dump of the loaded object (compact)."""
    base = _rss_mb()
    with open(path, "rb") as fh:  # warm the page cache, as the reader's children find it
        while fh.read(1 << 24):
            pass
    t = time.perf_counter()
    with open(path, "rb") as fh:
        obj = json.load(fh)
    t_load = time.perf_counter() - t
    rss_load = _rss_mb()
    t = time.perf_counter()
    with open(out, "w") as fh:
        json.dump(obj, fh, separators=(",", ":"))
    t_dump = time.perf_counter() - t
    identical = filecmp.cmp(path, out, shallow=False)
    # json.dump streams through the pure-Python encoder; json.dumps uses the C one (faster).
    t = time.perf_counter()
    with open(out, "w") as fh:
        fh.write(json.dumps(obj, separators=(",", ":")))
    t_dumps = time.perf_counter() - t
    return {"load_s": t_load, "dump_s": t_dump, "dumps_write_s": t_dumps, "rss_base_mb": base,
            "peak_rss_load_mb": rss_load, "peak_rss_mb": _rss_mb(), "dump_identical": identical}


def child_pycocotools(path: str) -> dict:
    """(b) pycocotools COCO(file), stdout silenced."""
    from pycocotools.coco import COCO

    base = _rss_mb()
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        COCO(path)
    return {"coco_s": time.perf_counter() - t, "rss_base_mb": base, "peak_rss_mb": _rss_mb()}


def child_load_coco(path: str) -> dict:
    """(c) napari_coco_masks.coco.load_coco(file)."""
    import warnings

    from napari_coco_masks.coco import load_coco

    base = _rss_mb()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = load_coco(path)
    t_load = time.perf_counter() - t
    return {"load_coco_s": t_load, "rss_base_mb": base, "peak_rss_mb": _rss_mb(),
            "type": type(dataset).__name__}


def child_scan(path: str) -> dict:
    """Facts the viewer children need: image count, and where to paint (one image's background).

    The paint target is an image near the middle of the file with annotations; the square is a
    12 x 12 one whose pixels, grown by 3 pixels, no annotation of that image covers.
    """
    import msgspec
    import numpy as np
    from pycocotools import mask as mask_utils

    # defstruct: string annotations (``from __future__``) would not resolve in a function.
    Img = msgspec.defstruct("Img", [("id", int | str), ("height", int), ("width", int)])
    Ann = msgspec.defstruct("Ann", [("image_id", int | str), ("segmentation", msgspec.Raw)])
    Top = msgspec.defstruct("Top", [("images", list[Img]), ("annotations", list[Ann])])

    with open(path, "rb") as fh:
        top = msgspec.json.decode(fh.read(), type=Top)
    by_image: dict = {}
    for ann in top.annotations:
        by_image.setdefault(ann.image_id, []).append(ann)
    n = len(top.images)
    order = sorted(range(n), key=lambda i: abs(i - n // 2))
    for k in order:
        im = top.images[k]
        anns = by_image.get(im.id, [])
        if not anns:
            continue
        h, w = im.height, im.width
        covered = np.zeros((h, w), bool)
        for ann in anns:
            seg = json.loads(bytes(ann.segmentation))
            if isinstance(seg, dict) and isinstance(seg.get("counts"), list):
                rles = mask_utils.frPyObjects(seg, h, w)
            elif isinstance(seg, dict):
                rles = seg
            else:
                rles = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            covered |= mask_utils.decode(rles).astype(bool)
        grown = SQUARE + 6
        if h < grown or w < grown:
            continue
        # Summed-area table: the first all-free (SQUARE + 6)^2 window, scanning a 4-pixel grid.
        sat = np.pad(covered.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        for y in range(0, h - grown + 1, 4):
            for x in range(0, w - grown + 1, 4):
                s = sat[y + grown, x + grown] - sat[y, x + grown] - sat[y + grown, x] + sat[y, x]
                if s == 0:
                    return {"images": n, "annotations": len(top.annotations), "paint_index": k,
                            "paint_image_id": im.id, "paint_image_annotations": len(anns),
                            "paint_yx": [y + 3, x + 3], "paint_image_hw": [h, w]}
    return {"images": n, "annotations": len(top.annotations), "paint_index": None}


def _viewer_setup():
    """A shown viewer with napari's one-off costs paid; returns (viewer, process_events, draw)."""
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    # A napari session has had a layer before (pint's unit registry, vispy programs: ~1 s).
    tmp = viewer.add_labels(np.zeros((8, 8), np.int32))
    app.processEvents()
    viewer.screenshot(canvas_only=True)
    viewer.layers.remove(tmp)
    app.processEvents()

    def draw():
        app.processEvents()
        viewer.screenshot(canvas_only=True)  # renders the canvas

    return viewer, app.processEvents, draw


def _import_reader() -> float:
    """Import the plugin's reader module as npe2 names it; returns the seconds it took."""
    import importlib

    from npe2 import PluginManager

    t = time.perf_counter()
    manifest = PluginManager.instance().get_manifest(PLUGIN)
    for reader in manifest.contributions.readers or []:
        command = next(c for c in manifest.contributions.commands if c.id == reader.command)
        importlib.import_module(command.python_name.split(":")[0])
    return time.perf_counter() - t


def _open(viewer, path: str, draw) -> tuple[list, float, list[str]]:
    """viewer.open(path, plugin=...) up to the first drawn frame; (layers, seconds, warnings)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        layers = viewer.open(path, plugin=PLUGIN)
        draw()
        dt = time.perf_counter() - t
    messages = sorted({str(w.message)[:200] for w in caught})
    return layers, dt, messages[:8]


def _napari_floor(viewer, draw) -> float:
    """Seconds for ``viewer.open`` of a one-image, one-polygon COCO file to its first draw:
    napari's own cost of opening anything with this reader (progress bar, layer controls),
    the reference the small file is compared with. Its layers are removed afterwards."""
    import tempfile

    tiny = {"images": [{"id": 1, "file_name": "none.png", "height": 64, "width": 64}],
            "categories": [{"id": 1, "name": "x"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                             "segmentation": [[2, 2, 20, 2, 20, 20]], "area": 162.0,
                             "bbox": [2, 2, 18, 18], "iscrowd": 0}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.json")
        with open(path, "w") as fh:
            json.dump(tiny, fh)
        layers, dt, _ = _open(viewer, path, draw)
    for layer in layers:
        viewer.layers.remove(layer)
    draw()
    return dt


def child_browse(path: str, steps: int = STEPS, seed: int = 1) -> dict:
    """(d) open to first draw, with peak RSS; (e) slider steps to random images."""
    import numpy as np

    viewer, _, draw = _viewer_setup()
    import_s = _import_reader()
    floor_s = _napari_floor(viewer, draw)
    base = _rss_mb()
    layers, t_open, messages = _open(viewer, path, draw)
    rss_first = _rss_mb()
    result = PARTIAL
    result.update({"open_to_first_draw_s": t_open, "reader_import_s": import_s,
              "tiny_open_s": floor_s,
              "rss_base_mb": base, "peak_rss_first_draw_mb": rss_first, "warnings": messages,
              "layers": [f"{type(x).__name__}:{x.name}" for x in layers],
              "dims_ndim": viewer.dims.ndim, "nsteps": [int(s) for s in viewer.dims.nsteps]})
    if viewer.dims.ndim >= 3 and viewer.dims.nsteps[0] > 1:
        n = int(viewer.dims.nsteps[0])
        current = int(viewer.dims.current_step[0])
        pool = np.setdiff1d(np.arange(n), [current])
        ks = np.random.default_rng(seed).choice(pool, min(steps, pool.size), replace=False)
        times = []
        for k in ks.tolist():
            t = time.perf_counter()
            viewer.dims.set_current_step(0, k)
            draw()
            times.append(time.perf_counter() - t)
        result.update(steps=ks.tolist(), step_s=times, step_max_s=max(times),
                      step_median_s=float(np.median(times)))
    else:
        result["step_error"] = f"no image slider (dims {viewer.dims.nsteps})"
    result["peak_rss_mb"] = _rss_mb()
    viewer.close()
    return result


def child_save(path: str, out_unedited: str, out_edited: str, scan: dict) -> dict:
    """(f) save the opened file's Labels and Shapes layers unedited; (g) paint, save again."""
    import napari
    import numpy as np

    viewer, _, draw = _viewer_setup()
    _import_reader()
    layers, t_open, messages = _open(viewer, path, draw)
    chosen = [x for x in layers if isinstance(x, napari.layers.Labels | napari.layers.Shapes)]
    result = PARTIAL
    result.update({"open_to_first_draw_s": t_open, "warnings": messages,
                   "saved_layers": [f"{type(x).__name__}:{x.name}" for x in chosen]})
    viewer.layers.selection.clear()
    viewer.layers.selection.update(chosen)
    t = time.perf_counter()
    viewer.layers.save(out_unedited, selected=True, plugin=PLUGIN)
    result["save_unedited_s"] = time.perf_counter() - t

    labels = next((x for x in chosen if isinstance(x, napari.layers.Labels)), None)
    if labels is None:
        result["edit_error"] = "no Labels layer"
        return result
    k = scan.get("paint_index")
    if k is None:
        result["edit_error"] = "no image with annotations and free background"
        return result
    if viewer.dims.ndim >= 3:
        viewer.dims.set_current_step(0, k)
    draw()
    ndim = labels.ndim
    point = labels.world_to_data(viewer.dims.point[-ndim:])
    leading = tuple(int(round(c)) for c in point[: ndim - 2])
    plane = np.asarray(labels.data[leading] if leading else labels.data)
    value = max(int(plane.max()), len(labels.features)) + 1
    y, x = scan["paint_yx"]
    rr, cc = np.mgrid[y : y + SQUARE, x : x + SQUARE]
    rr, cc = rr.ravel(), cc.ravel()
    indices = tuple(np.full(rr.size, c) for c in leading) + (rr, cc)
    before = int(np.count_nonzero(plane[rr, cc]))
    try:
        labels.data_setitem(indices, value)  # what the brush does, with undo history
    except Exception as exc:
        result["edit_error"] = f"painting failed: {type(exc).__name__}: {exc}"[:2000]
        result["edit_traceback"] = traceback.format_exc()[-3000:]
        return result
    draw()
    after = np.asarray(labels.data[leading] if leading else labels.data)
    result.update(paint_value=value, paint_plane=list(leading), painted_pixels_were_labelled=before,
                  painted_pixels_now=int(np.count_nonzero(after[rr, cc] == value)))
    viewer.layers.selection.clear()
    viewer.layers.selection.update(chosen)
    t = time.perf_counter()
    viewer.layers.save(out_edited, selected=True, plugin=PLUGIN)
    result["save_edited_s"] = time.perf_counter() - t
    result["peak_rss_mb"] = _rss_mb()
    viewer.close()
    return result


def child_diff(source: str, saved: str) -> dict:
    """Annotation records whose bytes differ between two files, and the other top-level values."""
    from collections import Counter

    import msgspec

    def parts(path):
        with open(path, "rb") as fh:
            top = msgspec.json.decode(fh.read(), type=dict[str, msgspec.Raw])
        anns = msgspec.json.decode(top.pop("annotations", b"[]"), type=list[msgspec.Raw])
        return {k: bytes(v) for k, v in top.items()}, Counter(bytes(a) for a in anns), len(anns)

    a_top, a_anns, a_n = parts(source)
    b_top, b_anns, b_n = parts(saved)
    gone = a_anns - b_anns
    new = b_anns - a_anns
    return {
        "records_source": a_n, "records_saved": b_n,
        "records_removed_or_changed": sum(gone.values()),
        "records_added_or_changed": sum(new.values()),
        "differing_records": max(sum(gone.values()), sum(new.values())),
        "other_sections_identical": a_top == b_top and list(a_top) == list(b_top),
        "sections_differing": sorted(k for k in a_top.keys() | b_top.keys()
                                     if a_top.get(k) != b_top.get(k)),
    }


CHILDREN = {"json": child_json, "pycocotools": child_pycocotools, "load_coco": child_load_coco,
            "scan": child_scan, "browse": child_browse, "save": child_save, "diff": child_diff}
VIEWER_CHILDREN = {"browse", "save"}


def _child_main(kind: str, args: list) -> None:
    try:
        result = CHILDREN[kind](*args)
    except BaseException as exc:  # report, never crash the parent's benchmark
        result = {**PARTIAL, "error": f"{type(exc).__name__}: {exc}"[:2000],
                  "traceback": traceback.format_exc()[-4000:]}
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip Qt/vispy teardown: nothing left to measure


# --------------------------------------------------------------------------- parent


def run_child(kind: str, *args, timeout: float) -> dict:
    """Run one child in a fresh interpreter (own session, killed as a group on timeout)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(list(args))]
    env = dict(os.environ)
    if kind in VIEWER_CHILDREN:
        env.pop("QT_QPA_PLATFORM", None)  # a real (virtual) display, not offscreen
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY") and shutil.which("xvfb-run"):
            cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *cmd]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        return {"error": f"timeout after {timeout:.0f} s", "wall_s": time.perf_counter() - t}
    wall = time.perf_counter() - t
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("RESULT ")), None)
    if line is None:
        return {"error": f"child {kind} exited {proc.returncode} without a result: "
                         f"{(err or out)[-1500:]}", "wall_s": wall}
    result = json.loads(line[len("RESULT ") :])
    result["wall_s"] = wall
    if "error" in result:
        print(f"  [{kind}] {result['error']}", flush=True)
    return result


def _generator_tag() -> str:
    return hashlib.sha1((HERE / "make_train_like.py").read_bytes()).hexdigest()[:8]


def dataset(name: str, **params) -> Path:
    """Generate (or reuse) ``_data/<name>-<generator hash>.json``; drop stale versions."""
    sys.path.insert(0, str(HERE))
    import make_train_like

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{name}-{_generator_tag()}.json"
    for old in DATA.glob(f"{name}-*.json"):
        if old != path:
            old.unlink()
    if not path.exists():
        t = time.perf_counter()
        make_train_like.generate(path, **params)
        print(f"  generated {path.name} ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
    return path


def _row(name: str, ratio: float | None, target: str, error: str | None = None, **fields) -> dict:
    row = {"name": name, "ratio": float("nan") if ratio is None else round(float(ratio), 4),
           "target": target}
    if error:
        row["error"] = error
    row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in fields.items()})
    return row


def _err(*results: dict) -> str | None:
    errors = [r["error"] for r in results if r.get("error")]
    return "; ".join(errors) if errors else None


def _div(a, b):
    return a / b if isinstance(a, int | float) and isinstance(b, int | float) and b else None


def _sub(a, b):
    return a - b if isinstance(a, int | float) and isinstance(b, int | float) else None


def train_rows(quick: bool, timeout: float) -> list[dict]:
    from make_train_like import TRAIN_ANNOTATIONS, TRAIN_IMAGES

    scale = 0.01 if quick else 1.0
    images, anns = round(TRAIN_IMAGES * scale), round(TRAIN_ANNOTATIONS * scale)
    path = dataset("train_like_1pct" if quick else "train_like_full",
                   images=images, annotations=anns, seed=0)
    size = path.stat().st_size
    mb = size / 2**20
    label = f"train2017-shaped {images:,} images / {anns:,} anns ({size / 1e6:.0f} MB)"
    print(f"{label}: {path}", flush=True)
    outs = {k: path.with_name(f"{path.stem}.{k}.json") for k in ("dump", "unedited", "edited")}
    ref = run_child("json", str(path), str(outs["dump"]), timeout=timeout)
    outs["dump"].unlink(missing_ok=True)
    print(f"  json.load {ref.get('load_s', math.nan):.2f} s (peak "
          f"{ref.get('peak_rss_load_mb', math.nan):.0f} MiB), json.dump "
          f"{ref.get('dump_s', math.nan):.2f} s", flush=True)
    coco = run_child("pycocotools", str(path), timeout=timeout)
    ours = run_child("load_coco", str(path), timeout=timeout)
    scan = run_child("scan", str(path), timeout=timeout)
    browse = run_child("browse", str(path), timeout=timeout)
    print(f"  open -> first draw {browse.get('open_to_first_draw_s', math.nan):.2f} s, peak "
          f"{browse.get('peak_rss_mb', math.nan):.0f} MiB, slider max "
          f"{browse.get('step_max_s', math.nan) * 1e3:.0f} ms median "
          f"{browse.get('step_median_s', math.nan) * 1e3:.0f} ms", flush=True)
    save = run_child("save", str(path), str(outs["unedited"]), str(outs["edited"]), scan,
                     timeout=timeout)
    identical = None
    if outs["unedited"].exists() and "save_unedited_s" in save:
        identical = filecmp.cmp(path, outs["unedited"], shallow=False)
    diff = {"error": "no edited file saved"}
    if outs["edited"].exists() and "save_edited_s" in save:
        diff = run_child("diff", str(path), str(outs["edited"]), timeout=timeout)
    diff_unedited = {}
    if identical is False:
        diff_unedited = run_child("diff", str(path), str(outs["unedited"]), timeout=timeout)
    for p in outs.values():
        p.unlink(missing_ok=True)
    print(f"  save unedited {save.get('save_unedited_s', math.nan):.2f} s (identical: "
          f"{identical}), edited {save.get('save_edited_s', math.nan):.2f} s, "
          f"{diff.get('differing_records')} differing record(s)", flush=True)

    load_s, dump_s = ref.get("load_s"), ref.get("dump_s")
    rss_ref = {"json_load_s": load_s, "json_load_peak_rss_mb": ref.get("peak_rss_load_mb"),
               "file_mb": round(mb, 1)}
    save_err = _err(ref, save)
    note = " (quick: napari's own ~300 MB dominate, not meaningful)" if quick else ""
    dumps_s = ref.get("dumps_write_s")
    return [
        _row(f"{label}: viewer.open -> first draw / json.load",
             _div(browse.get("open_to_first_draw_s"), load_s), "<= 0.3", _err(ref, browse),
             open_to_first_draw_s=browse.get("open_to_first_draw_s"),
             reader_import_s=browse.get("reader_import_s"), layers=browse.get("layers"),
             warnings=browse.get("warnings"), **rss_ref),
        _row(f"{label}: peak RSS of the viewer session / file size",
             _div(browse.get("peak_rss_mb"), mb), "<= 2.0 (process ru_maxrss / file bytes)" + note,
             _err(browse), peak_rss_mb=browse.get("peak_rss_mb"),
             growth_over_file=_div(_sub(browse.get("peak_rss_mb"), browse.get("rss_base_mb")), mb),
             peak_rss_first_draw_mb=browse.get("peak_rss_first_draw_mb"),
             rss_before_open_mb=browse.get("rss_base_mb"), **rss_ref),
        _row(f"{label}: max slider step, seconds ({STEPS} random images, incl. draw)",
             browse.get("step_max_s"), "<= 0.150 s (absolute)",
             _err(browse) or browse.get("step_error"), step_median_s=browse.get("step_median_s"),
             step_s=[round(s, 4) for s in browse.get("step_s", [])]),
        _row(f"{label}: save unedited (Labels + Shapes) / json.dump",
             _div(save.get("save_unedited_s"), dump_s), "<= 0.2", save_err,
             save_unedited_s=save.get("save_unedited_s"), json_dump_s=dump_s,
             json_dumps_write_s=dumps_s, json_dump_reproduces_file=ref.get("dump_identical"),
             saved_layers=save.get("saved_layers"), byte_identical=identical,
             **{f"unedited_{k}": v for k, v in diff_unedited.items() if k != "wall_s"}),
        _row(f"{label}: save unedited is byte-identical (1 yes, 0 no)",
             None if identical is None else float(identical), "== 1", _err(save)),
        _row(f"{label}: save after painting one image / json.dump",
             _div(save.get("save_edited_s"), dump_s), "<= 0.2", save_err or save.get("edit_error"),
             save_edited_s=save.get("save_edited_s"), json_dump_s=dump_s,
             json_dumps_write_s=dumps_s,
             paint_image_index=scan.get("paint_index"),
             paint_image_annotations=scan.get("paint_image_annotations"),
             **{k: save.get(k) for k in ("paint_value", "painted_pixels_now",
                                         "painted_pixels_were_labelled")}),
        _row(f"{label}: annotation records whose bytes differ after the one-image edit",
             diff.get("differing_records"), "== 1 (the new instance; every other record "
             "byte-identical)", save.get("edit_error") or _err(diff),
             **{k: v for k, v in diff.items() if k not in ("wall_s", "error")}),
        _row(f"{label}: pycocotools COCO() / json.load (reference)", _div(coco.get("coco_s"), load_s),
             "informational", _err(ref, coco), coco_s=coco.get("coco_s"),
             coco_peak_rss_mb=coco.get("peak_rss_mb"), json_load_s=load_s),
        _row(f"{label}: load_coco / json.load", _div(ours.get("load_coco_s"), load_s),
             "informational", _err(ref, ours), load_coco_s=ours.get("load_coco_s"),
             load_coco_peak_rss_mb=ours.get("peak_rss_mb"),
             load_coco_rss_over_file=_div(ours.get("peak_rss_mb"), mb), json_load_s=load_s),
    ]


def roboflow_rows(timeout: float) -> list[dict]:
    path = dataset("roboflow_like_3000", images=80, annotations=3000, size=(1024, 1024),
                   crowd=0.0, seed=0)
    label = "3,000 polygons on 80 images of 1024^2"
    print(f"{label}: {path}", flush=True)
    ref = run_child("json", str(path), str(path.with_suffix(".dump.json")), timeout=timeout)
    path.with_suffix(".dump.json").unlink(missing_ok=True)
    browse = run_child("browse", str(path), timeout=timeout)
    print(f"  open -> first draw {browse.get('open_to_first_draw_s', math.nan):.2f} s, slider max "
          f"{browse.get('step_max_s', math.nan) * 1e3:.0f} ms", flush=True)
    return [
        _row(f"{label}: viewer.open -> first draw, seconds", browse.get("open_to_first_draw_s"),
             "well under 1 s (absolute)", _err(browse), json_load_s=ref.get("load_s"),
             reader_import_s=browse.get("reader_import_s"), layers=browse.get("layers"),
             peak_rss_mb=browse.get("peak_rss_mb")),
        _row(f"{label}: viewer.open -> first draw / the same for a one-polygon file "
             "(napari's own floor, same viewer)",
             _div(browse.get("open_to_first_draw_s"), browse.get("tiny_open_s")),
             "informational", _err(browse), tiny_open_s=browse.get("tiny_open_s")),
        _row(f"{label}: max slider step, seconds ({STEPS} random images, incl. draw)",
             browse.get("step_max_s"), "< 0.100 s (absolute)",
             _err(browse) or browse.get("step_error"), step_median_s=browse.get("step_median_s"),
             step_s=[round(s, 4) for s in browse.get("step_s", [])]),
    ]


def main(quick: bool = False) -> list[dict]:
    """Generate (or reuse) the files, run each measurement in a child, return the rows."""
    sys.path.insert(0, str(HERE))
    timeout = 180.0 if quick else 900.0
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--", "../src"],
                           capture_output=True, text=True, check=False).stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    print(f"  measured at commit {commit or '?'}" + (f", src/ changes: {dirty}" if dirty else ""),
          flush=True)
    rows = train_rows(quick, timeout) + roboflow_rows(timeout)
    for row in rows:
        row["commit"] = commit
        row["src_dirty"] = dirty
        if row.get("error"):
            print(f"  ! {row['name']}: {row['error'][:300]}", flush=True)
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child_main(sys.argv[2], json.loads(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 1 % file (minutes)")
    args = parser.parse_args()
    for r in main(quick=args.quick):
        print(json.dumps(r))
