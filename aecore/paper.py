"""What a photo or a picture file needs before its ink can be read as a digit (aecore.preprocess's uploads):
the paper's uneven light and shadows, a thumbnail enlarged by repeating pixels, a solid block that is no digit.
Numpy, Pillow and scipy's labelling."""

from __future__ import annotations

import numpy as np

LIT_MIN_SIDE, LIT_SIDE, LIT_STROKES = 32, 96, 3  # uneven light: on pictures this large, reduced, this many strokes wide
EDGE_WIDTH = 2  # a part at the picture's edge this many times wider than the strokes is not ink


def unenlarged(grey: np.ndarray) -> np.ndarray:
    """A picture enlarged by repeating each pixel f x f times (a thumbnail blown up) at its own resolution,
    so it is enlarged once, smoothly, like any small picture, rather than read as blocks."""
    for f in (32, 16, 8, 4, 3, 2):
        if grey.shape[0] % f == 0 and grey.shape[1] % f == 0 and grey.shape[0] >= 4 * f and grey.shape[1] >= 4 * f:
            small = grey[::f, ::f]
            if np.array_equal(np.repeat(np.repeat(small, f, 0), f, 1), grey):
                return small
    return grey


def window(a: np.ndarray, k: int, reduce) -> np.ndarray:
    """``reduce`` (np.min or np.max) over a k x k window (k odd), the edges repeated."""
    from numpy.lib.stride_tricks import sliding_window_view

    a = np.pad(a, k // 2, mode="edge")
    return reduce(sliding_window_view(reduce(sliding_window_view(a, k, axis=0), axis=-1), k, axis=1), axis=-1)


def under_uneven_light(grey: np.ndarray, dark_ink: bool, stroke: float) -> np.ndarray | None:
    """Ink in [0, 1] measured against the paper's light estimated around each place: a grey closing (an
    opening for light ink) of a reduced copy of the picture over LIT_STROKES times the ``stroke`` width (in
    the picture's pixels), wider than the strokes and narrower than a shadow. Dark ink is the share of the
    paper's light it takes away. None for small pictures and for strokes too wide to tell from the light."""
    from PIL import Image

    h, w = grey.shape
    if min(h, w) < LIT_MIN_SIDE:
        return None
    scale = LIT_SIDE / max(h, w)
    small = np.asarray(Image.fromarray(grey).resize((max(3, round(w * scale)), max(3, round(h * scale))),
                                                    Image.BOX), np.float32)
    k = 2 * round(LIT_STROKES * stroke * scale / 2) + 1
    if k > max(small.shape) / 3:  # strokes too wide to tell from the light: an enlarged low-resolution picture
        return None
    first, then = (np.max, np.min) if dark_ink else (np.min, np.max)
    paper = window(window(small, k, first), k, then)
    paper = np.asarray(Image.fromarray(paper).resize((w, h), Image.BILINEAR), np.float32)
    lit = 1.0 - grey / np.maximum(paper, 1e-3) if dark_ink else grey - paper
    top = float(np.percentile(lit, 99.5))
    return np.clip(lit / top, 0.0, 1.0) if top >= 0.15 else None


def stroke_width(mask: np.ndarray) -> float:
    """The thickness of the strokes in ``mask``, in pixels: 2 area / perimeter (a stroke w wide and L long:
    2 w L / 2 L), the picture's edge not counted in the perimeter."""
    perimeter = np.count_nonzero(np.diff(mask, axis=0)) + np.count_nonzero(np.diff(mask, axis=1))
    return 2 * float(mask.sum()) / max(perimeter, 1)


def away_from_edges(mask: np.ndarray) -> np.ndarray:
    """``mask`` without the parts that touch the picture's edge and are far wider than the others: a table or a
    hard shadow beyond the sheet reaches the edge as a broad area, while a photographed digit's strokes, even
    cut by a tight crop, keep their width (:func:`stroke_width`, part by part: EDGE_WIDTH leaves room for a
    stroke cut by the edge, whose cut side is not counted)."""
    from scipy import ndimage

    parts, n = ndimage.label(mask)
    if n < 2:
        return mask
    area = np.bincount(parts.ravel(), minlength=n + 1)
    perimeter = np.zeros(n + 1)
    for a, b in ((parts[1:], parts[:-1]), (parts[:, 1:], parts[:, :-1])):
        change = a != b
        perimeter += np.bincount(a[change], minlength=n + 1) + np.bincount(b[change], minlength=n + 1)
    width = 2 * area / np.maximum(perimeter, 1)
    at_edge = np.zeros(n + 1, bool)
    at_edge[np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]])] = True
    inner = ~at_edge
    inner[0] = False
    if not inner.any():
        return mask
    stroke = stroke_width(inner[parts])
    broad = at_edge & (width > EDGE_WIDTH * stroke)
    broad[0] = False
    return mask & ~broad[parts]


def solid(crop: np.ndarray) -> bool:
    """A squarish block with ink everywhere: seen at 8 cells on its longer side (the coarsest a digit is
    uploaded at), every cell is more than half ink. A heavily inked digit, even an 8x8 one, has an empty part;
    a thick bar may be a one."""
    from PIL import Image

    h, w = crop.shape
    if min(h, w) < 0.6 * max(h, w):
        return False
    scale = min(1.0, 8 / max(h, w))
    cells = Image.fromarray(crop).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX)
    return float(np.asarray(cells).min()) > 0.5
