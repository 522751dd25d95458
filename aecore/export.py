"""Export a model's codes for TensorFlow's Embedding Projector, and strips of digits as animations.

:func:`projector_zip` makes one folder, zipped, that each Projector opens as it is:

- TensorBoard (``tensorboard --logdir <folder>``, Projector tab) reads ``projector_config.pbtxt``, its plugin's
  ProjectorConfig text proto, with paths relative to that file: codes, map, metadata and sprite;
- projector.tensorflow.org's Load dialog takes a vectors TSV and a metadata TSV, but no sprite;
- ``projector_config.json`` is the standalone projector's config, whose relative paths resolve against the
  page: it works where the folder's files are served beside a standalone projector page.

The files: vectors TSV (one row per point, tab-separated, no header); metadata TSV (one row per point in
the same order, a header line naming the columns when there are several); a sprite (square thumbnails in a
ceil(sqrt(N))-wide grid, row by row, at most 8192 px a side).

Every tensor has at least 3 columns: the Projector's PCA projects onto columns 0-9 of the SVD of X'X / N,
and with 2 columns its third component (the z of its default 3-D view) is NaN, so no point is drawn. A zero
third column keeps the first two components the map's own plane and the third zero.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from aecore.catalog import safe_name
from aecore.data import CLASS_NAMES
from aecore.errors import InputError
from aecore.images import to_numpy

MIN_COLUMNS = 3  # the Projector's PCA yields NaN past a tensor's column count; its default view needs 3
MAX_SPRITE_PX = 8192  # the Projector refuses a larger sprite
THUMB = 28
PROJECTOR_HELP = ("a folder for TensorFlow's Embedding Projector: open it with `tensorboard --logdir <folder>` "
                  "(Projector tab, with pictures), or load its vectors and metadata TSV files at "
                  "projector.tensorflow.org (no pictures there); README.txt inside says how")


class ExportError(InputError):
    """Data that cannot be exported, with a message for the user."""


def vectors_tsv(values) -> bytes:
    values = np.asarray(values, dtype=np.float32)
    return "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in values).encode()


def drawable(values) -> np.ndarray:
    """``values`` (N, D) as float32 with zero columns added up to :data:`MIN_COLUMNS`, so the Projector draws it."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or not len(values):
        raise ExportError(f"a tensor for the Projector needs rows of values, not an array of shape {values.shape}")
    return np.pad(values, ((0, 0), (0, max(0, MIN_COLUMNS - values.shape[1]))))


def metadata_tsv(columns: dict[str, list]) -> bytes:
    """One row per point; a header line only when there are several columns (the Projector's rule)."""
    names = list(columns)
    n = len(columns[names[0]])
    if any(len(v) != n for v in columns.values()):
        raise ExportError("every metadata column needs one value per point")
    clean = {k: [str(v).replace("\t", " ").replace("\n", " ") for v in vals] for k, vals in columns.items()}
    rows = ["\t".join(names)] if len(names) > 1 else []
    rows += ["\t".join(clean[k][i] for k in names) for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def sprite_png(images, thumb: int = THUMB) -> bytes:
    """Every image as a ``thumb``-pixel square, in a ceil(sqrt(N)) x ceil(sqrt(N)) grid, row by row."""
    from PIL import Image

    a = to_numpy(images)
    side = math.ceil(math.sqrt(len(a)))
    if side * thumb > MAX_SPRITE_PX:
        raise ExportError(f"{len(a):,} thumbnails of {thumb} px exceed the Projector's {MAX_SPRITE_PX} px sprite")
    sheet = np.zeros((side * thumb, side * thumb), np.uint8)
    for i, img in enumerate(a):
        r, c = divmod(i, side)
        tile = Image.fromarray((img * 255 + 0.5).astype(np.uint8)).resize((thumb, thumb), Image.NEAREST)
        sheet[r * thumb: (r + 1) * thumb, c * thumb: (c + 1) * thumb] = np.asarray(tile)
    buf = io.BytesIO()
    Image.fromarray(sheet, "L").save(buf, format="PNG")
    return buf.getvalue()


def class_names(labels, dataset: str) -> list[str]:
    """Each label's class name in ``dataset`` (``7`` for an MNIST digit, ``Sneaker`` for Fashion-MNIST)."""
    if dataset not in CLASS_NAMES:
        raise ExportError(f"unknown dataset {dataset!r}: choose one of {', '.join(CLASS_NAMES)}")
    names = CLASS_NAMES[dataset]
    labels = np.asarray(labels).astype(int).tolist()
    bad = sorted({v for v in labels if not 0 <= v < len(names)})
    if bad:
        raise ExportError(f"labels {bad[:5]} are not classes of {dataset} (0 to {len(names) - 1})")
    return [names[v] for v in labels]


def projector_folder(name: str, method: str | None = None) -> str:
    """The export's folder name, safe on every system: the model's name and the map's method."""
    return "-".join(safe_name(part) for part in (name, method, "projector") if part)


def projector_zip_name(name: str, method: str | None = None) -> str:
    """The zip's suggested download name: the folder it holds, zipped."""
    return projector_folder(name, method) + ".zip"


def _pbtxt_string(text: str) -> str:
    """``text`` as a quoted text-proto string: bytes outside printable ASCII, quotes and backslashes escaped."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03o}"
                         for b in text.encode()) + '"'


def projector_config_pbtxt(embeddings: list[dict]) -> bytes:
    """TensorBoard's ProjectorConfig text proto for the embeddings of :func:`projector_files`' JSON config."""
    out = []
    for e in embeddings:
        out += ["embeddings {", f"  tensor_name: {_pbtxt_string(e['tensorName'])}"]
        out += [f"  tensor_shape: {v}" for v in e["tensorShape"]]
        out += [f"  tensor_path: {_pbtxt_string(e['tensorPath'])}",
                f"  metadata_path: {_pbtxt_string(e['metadataPath'])}"]
        if "sprite" in e:
            out += ["  sprite {", f"    image_path: {_pbtxt_string(e['sprite']['imagePath'])}"]
            out += [f"    single_image_dim: {v}" for v in e["sprite"]["singleImageDim"]] + ["  }"]
        out.append("}")
    return ("\n".join(out) + "\n").encode()


def projector_files(name: str, codes, labels, coords=None, images=None, *, dataset: str, rows=None,
                    method: str | None = None) -> dict[str, bytes]:
    """{file name: bytes} of the folder :func:`projector_zip` zips: the codes, the 2-D map (when ``coords``) as a
    second tensor, metadata (class name, numeric label, test row, map x/y), the sprite (when ``images``), both
    configs and a README. ``rows`` are the points' test rows (0..N-1 when None); ``method`` names the map."""
    codes = drawable(codes)
    n = len(codes)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    named = class_names(labels, dataset)
    sizes = {"labels": len(named), "test rows": len(rows)}
    sizes.update({} if coords is None else {"map points": len(coords)})
    sizes.update({} if images is None else {"images": len(images)})
    if any(v != n for v in sizes.values()):
        raise ExportError(f"{n:,} codes but " + ", ".join(f"{v:,} {k}" for k, v in sizes.items() if v != n))
    stem = safe_name(name)
    meta = {"label": named, "label_id": np.asarray(labels).astype(int).tolist(), "test_row": rows.tolist()}
    files = {f"{stem}_vectors.tsv": vectors_tsv(codes)}
    embeddings = [{"tensorName": f"{name} codes", "tensorShape": list(codes.shape),
                   "tensorPath": f"{stem}_vectors.tsv", "metadataPath": f"{stem}_metadata.tsv"}]
    if coords is not None:
        coords = np.asarray(coords, dtype=np.float32)
        meta.update(map_x=[f"{v:.6g}" for v in coords[:, 0]], map_y=[f"{v:.6g}" for v in coords[:, 1]])
        padded = drawable(coords)
        files[f"{stem}_map.tsv"] = vectors_tsv(padded)
        embeddings.append({"tensorName": f"{name} map" + (f" ({method})" if method else ""),
                           "tensorShape": list(padded.shape), "tensorPath": f"{stem}_map.tsv",
                           "metadataPath": f"{stem}_metadata.tsv"})
    files[f"{stem}_metadata.tsv"] = metadata_tsv(meta)
    if images is not None:
        files[f"{stem}_sprite.png"] = sprite_png(images)
        for e in embeddings:
            e["sprite"] = {"imagePath": f"{stem}_sprite.png", "singleImageDim": [THUMB, THUMB]}
    files["projector_config.pbtxt"] = projector_config_pbtxt(embeddings)
    files["projector_config.json"] = json.dumps({"embeddings": embeddings}, indent=1).encode()
    files["README.txt"] = readme(name, dataset, embeddings, list(meta))
    return files


def readme(name: str, dataset: str, embeddings: list[dict], columns: list[str]) -> bytes:
    """How to open the folder in each Projector, for the README.txt beside the files."""
    tensors = "\n".join(f"  {e['tensorPath']}: {e['tensorName']}, {e['tensorShape'][0]:,} x {e['tensorShape'][1]}"
                         for e in embeddings)
    return f"""{name}: test images of {dataset}, for TensorFlow's Embedding Projector (made by Latent Lab).

{tensors}
  {embeddings[0]['metadataPath']}: one row per point, columns {', '.join(columns)}
Tensors narrower than 3 columns get zero columns: the Projector's PCA draws no point with 2.

TensorBoard, with pictures (sprites):
  pip install tensorboard
  tensorboard --logdir <this unzipped folder>
  then open the Projector tab (it reads projector_config.pbtxt) and pick a tensor.

projector.tensorflow.org, without pictures (its Load dialog takes no sprite):
  Load, then step 1: a tensor TSV above; step 2: {embeddings[0]['metadataPath']}.

A standalone projector page you serve yourself: projector_config.json's paths are relative to the page, so
serve these files in the page's folder and open the page with ?config=projector_config.json.
""".encode()


def projector_zip(name: str, codes, labels, images, coords, rows=None, *, dataset: str,
                  method: str | None = None) -> bytes:
    """:func:`projector_files` in one folder named :func:`projector_folder`, zipped, for a map of test rows ``rows``
    (all when None): ``codes``, ``labels`` and ``images`` cover the whole test set, ``coords`` only those rows."""
    pick = slice(None) if rows is None else np.asarray(rows, dtype=int)
    if rows is not None and len(pick) and not (0 <= pick.min() and pick.max() < len(codes)):
        raise ExportError(f"test rows must lie in 0..{len(codes) - 1}")
    files = projector_files(name, np.asarray(codes)[pick], np.asarray(labels)[pick], coords, to_numpy(images)[pick],
                            dataset=dataset, rows=rows, method=method)
    folder = projector_folder(name, method)
    return zip_bytes({f"{folder}/{k}": v for k, v in files.items()})


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def gif(frames, scale: int = 4, seconds_per_frame: float = 0.15, bounce: bool = True) -> bytes:
    """An animated GIF of digits (N, 1, 28, 28), enlarged ``scale`` times; ``bounce`` plays it back and forth."""
    from PIL import Image

    a = (to_numpy(frames) * 255 + 0.5).astype(np.uint8)
    pictures = [Image.fromarray(f).resize((28 * scale, 28 * scale), Image.NEAREST) for f in a]
    if bounce and len(pictures) > 2:
        pictures += pictures[-2:0:-1]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=int(seconds_per_frame * 1000), loop=0)
    return buf.getvalue()
