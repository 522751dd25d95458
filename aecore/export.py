"""Export a model's codes in TensorFlow's Embedding Projector format, and strips of digits as animations.

The Projector (projector.tensorflow.org, or TensorBoard's plugin) loads:

- a vectors TSV: one row per point, its values separated by tabs, no header;
- a metadata TSV: one row per point in the same order; with more than one column, the first line is a
  header naming them (with a single column there is no header);
- a sprite: one image of square thumbnails in a grid, row by row, the grid ceil(sqrt(N)) thumbnails wide
  and high; and a ``projector_config.json`` that ties them together.

:func:`projector_files` writes all of them for the codes, and the 2-D map as a second tensor, so the
map the app drew can be opened there too.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from aecore.images import to_numpy


def vectors_tsv(values) -> bytes:
    values = np.asarray(values, dtype=np.float32)
    return "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in values).encode()


def metadata_tsv(columns: dict[str, list]) -> bytes:
    """One row per point; a header line only when there are several columns (the Projector's rule)."""
    names = list(columns)
    n = len(columns[names[0]])
    if any(len(v) != n for v in columns.values()):
        raise ValueError("every metadata column needs one value per point")
    clean = {k: [str(v).replace("\t", " ").replace("\n", " ") for v in vals] for k, vals in columns.items()}
    rows = ["\t".join(names)] if len(names) > 1 else []
    rows += ["\t".join(clean[k][i] for k in names) for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def sprite_png(images, thumb: int = 28) -> bytes:
    """Every image as a ``thumb``-pixel square, in a ceil(sqrt(N)) x ceil(sqrt(N)) grid, row by row."""
    from PIL import Image

    a = to_numpy(images)
    side = math.ceil(math.sqrt(len(a)))
    if side * thumb > 8192:
        raise ValueError(f"{len(a):,} thumbnails of {thumb} px exceed the Projector's 8192 px sprite")
    sheet = np.zeros((side * thumb, side * thumb), np.uint8)
    for i, img in enumerate(a):
        r, c = divmod(i, side)
        tile = Image.fromarray((img * 255 + 0.5).astype(np.uint8)).resize((thumb, thumb), Image.NEAREST)
        sheet[r * thumb: (r + 1) * thumb, c * thumb: (c + 1) * thumb] = np.asarray(tile)
    buf = io.BytesIO()
    Image.fromarray(sheet, "L").save(buf, format="PNG")
    return buf.getvalue()


def projector_files(name: str, codes, labels, coords=None, images=None, class_names=None,
                    rows=None) -> dict[str, bytes]:
    """{file name: bytes} for the Embedding Projector: codes, metadata (label, test row, map x/y), the map
    as a second 2-D tensor, the sprite and the config."""
    codes = np.asarray(codes, dtype=np.float32)
    labels = np.asarray(labels)
    rows = np.arange(len(codes)) if rows is None else np.asarray(rows)
    meta = {"label": [class_names[int(v)] if class_names else int(v) for v in labels], "test_row": rows.tolist()}
    files = {f"{name}_vectors.tsv": vectors_tsv(codes)}
    embeddings = [{"tensorName": f"{name} codes", "tensorShape": list(codes.shape),
                   "tensorPath": f"{name}_vectors.tsv", "metadataPath": f"{name}_metadata.tsv"}]
    if coords is not None:
        coords = np.asarray(coords, dtype=np.float32)
        meta.update(map_x=coords[:, 0].tolist(), map_y=coords[:, 1].tolist())
        files[f"{name}_map.tsv"] = vectors_tsv(coords)
        embeddings.append({"tensorName": f"{name} map", "tensorShape": list(coords.shape),
                           "tensorPath": f"{name}_map.tsv", "metadataPath": f"{name}_metadata.tsv"})
    files[f"{name}_metadata.tsv"] = metadata_tsv(meta)
    if images is not None:
        files[f"{name}_sprite.png"] = sprite_png(images)
        for e in embeddings:
            e["sprite"] = {"imagePath": f"{name}_sprite.png", "singleImageDim": [28, 28]}
    files["projector_config.json"] = json.dumps({"embeddings": embeddings}, indent=1).encode()
    return files


def projector_zip(name: str, codes, labels, images, coords, rows=None) -> bytes:
    """:func:`projector_files` as one zip, for a map of test rows ``rows`` (all when None)."""
    pick = slice(None) if rows is None else np.asarray(rows)
    return zip_bytes(projector_files(name, np.asarray(codes)[pick], np.asarray(labels)[pick], coords,
                                     to_numpy(images)[pick], rows=rows))


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
