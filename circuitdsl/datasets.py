"""Image stimuli for the category-learning experiment.

A stimulus is a flattened 1-D image of ``n_pixels`` values with an integer
category label (>= 1).  This module generates synthetic stimulus sets with the
structure of the reference set (``stimuli_set.csv``) and reads and writes the
CSV format: a header ``pixel_1,...,pixel_N,category`` and one stimulus a row.
"""
import csv
import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuitdsl.errors import ValidationError

__all__ = ["ImageSet", "StimulusFileError", "generate_category_stimuli",
           "load_image_csv", "save_image_csv"]

_LOW, _HIGH = 0.6, 1.0
# Frequencies calibrated against the 1000-row reference file.
_P_SECOND_BUMP = 0.62   # category 1: a second bump near the first
_P_FULL_BUMP = 0.45     # category 1: bump complete, else dropped to one 0.6 pixel
_P_STRAY = 0.3          # category 1: stray activity near the right edge
_P_STRAY_BUMP = 0.05    # ... which is usually one 0.6 pixel, rarely a bump
_P_CAT2_BUMP = 0.65     # category 2: full 0.6-1-0.6 bump ...
_P_CAT2_SINGLE = 0.344  # ... or one 0.6 pixel; the rest are all-zero rows


class StimulusFileError(ValidationError):
    """A stimulus CSV file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class ImageSet:
    """Stimuli as rows of ``images`` with labels ``categories``.

    The arrays are copied and made read-only so that ``sha256`` stays valid.
    """

    images: np.ndarray
    categories: np.ndarray
    source: str
    sha256: str

    def __post_init__(self) -> None:
        images = np.array(self.images, dtype=np.float64)
        categories = np.array(self.categories, dtype=np.int64)
        if images.ndim != 2:
            raise ValidationError(f"images must be 2-D, got shape {images.shape}")
        if categories.shape != (images.shape[0],):
            raise ValidationError(f"categories must have shape ({images.shape[0]},), "
                                  f"got {categories.shape}")
        if categories.size and categories.min() < 1:
            raise ValidationError("categories must be >= 1")
        for field, array in (("images", images), ("categories", categories)):
            array.setflags(write=False)
            object.__setattr__(self, field, array)

    @property
    def n_pixels(self) -> int:
        """Number of pixels per stimulus."""
        return int(self.images.shape[1])

    @property
    def n_stimuli(self) -> int:
        """Number of stimuli."""
        return int(self.images.shape[0])


def _regions(n_pixels: int) -> tuple[tuple[int, int], ...]:
    """0-based inclusive pixel ranges: category 1, category 2, strays.

    For 20 pixels these are 2-9, 11-15 and 18-20 in 1-based terms; other sizes
    scale them, nudged so that the three ranges never overlap.
    """
    hi1 = max(1, math.ceil(0.45 * n_pixels) - 1)
    lo1 = min(math.floor(0.05 * n_pixels), hi1)
    lo2 = max(math.floor(0.50 * n_pixels), hi1 + 1)
    lo3 = n_pixels - max(1, round(0.15 * n_pixels))
    hi2 = max(lo2, min(math.ceil(0.75 * n_pixels) - 1, lo3 - 1))
    return (lo1, hi1), (lo2, hi2), (lo3, n_pixels - 1)


def _centre(rng: np.random.Generator, lo: int, hi: int, a: float, b: float) -> int:
    """A bump centre in [lo, hi], distributed like Beta(a, b) over the range."""
    if hi - lo >= 2:  # keep both flanks inside the range when it is wide enough
        lo, hi = lo + 1, hi - 1
    n = hi - lo + 1
    return lo + min(int(rng.beta(a, b) * n), n - 1)


def _add_bump(row: np.ndarray, centre: int, lo: int, hi: int) -> None:
    for i, value in ((centre - 1, _LOW), (centre, _HIGH), (centre + 1, _LOW)):
        if lo <= i <= hi:
            row[i] = max(row[i], value)


def _category1(rng: np.random.Generator, n_pixels: int, main, stray) -> np.ndarray:
    row = np.zeros(n_pixels)
    placed: list[tuple[int, bool]] = []
    for _ in range(1 + int(rng.random() < _P_SECOND_BUMP)):
        full = bool(rng.random() < _P_FULL_BUMP)
        for _attempt in range(20):
            centre = _centre(rng, *main, 4.0, 3.0)
            # Two 1.0 pixels are never adjacent in the reference set.
            if all(abs(centre - c) >= (2 if full and f else 1) for c, f in placed):
                break
        else:
            continue  # the range is too narrow for a second bump
        placed.append((centre, full))
        if full:
            _add_bump(row, centre, *main)
        else:
            row[centre] = max(row[centre], _LOW)
    if rng.random() < _P_STRAY:
        lo, hi = stray
        if rng.random() < _P_STRAY_BUMP:
            _add_bump(row, int(rng.integers(lo, hi + 1)), lo, hi)
        else:  # strays cluster at the very edge, as in the reference set
            row[max(lo, hi - int(rng.geometric(0.65)) + 1)] = _LOW
    return row


def _category2(rng: np.random.Generator, n_pixels: int, main) -> np.ndarray:
    row = np.zeros(n_pixels)
    u = rng.random()
    if u < _P_CAT2_BUMP:
        _add_bump(row, _centre(rng, *main, 1.2, 1.0), *main)
    elif u < _P_CAT2_BUMP + _P_CAT2_SINGLE:
        row[_centre(rng, *main, 6.0, 5.0)] = _LOW
    return row


def generate_category_stimuli(n_stimuli: int = 1000, n_pixels: int = 20,
                              seed: int = 0) -> ImageSet:
    """Generate a deterministic two-category stimulus set.

    Category 1 has one or two 0.6-1-0.6 bumps, each possibly dropped out to a
    single 0.6 pixel, in the first ~45 % of the image (pixels 2-9 of 20, mostly
    4-7), and sometimes a stray pixel in the last ~15 % (18-20 of 20).
    Category 2 has a full bump, a single 0.6 pixel or (rarely) nothing in
    ~55-75 % (pixels 11-15 of 20).  Categories are balanced to within one
    stimulus and shuffled.  The same ``seed`` always gives the same set.
    """
    if n_stimuli < 1:
        raise ValidationError(f"n_stimuli must be >= 1, got {n_stimuli}")
    if n_pixels < 4:
        raise ValidationError(f"n_pixels must be >= 4, got {n_pixels}")
    rng = np.random.default_rng(seed)
    n_cat1 = n_stimuli // 2 + int(n_stimuli % 2 == 1 and rng.random() < 0.5)
    categories = rng.permutation(
        np.repeat(np.array([1, 2], dtype=np.int64), [n_cat1, n_stimuli - n_cat1]))
    cat1_range, cat2_range, stray_range = _regions(n_pixels)
    images = np.zeros((n_stimuli, n_pixels))
    for i, category in enumerate(categories):
        images[i] = (_category1(rng, n_pixels, cat1_range, stray_range)
                     if category == 1 else _category2(rng, n_pixels, cat2_range))
    # Fixed byte order so that the digest is the same on every platform.
    digest = hashlib.sha256(images.astype("<f8").tobytes()
                            + categories.astype("<i8").tobytes()).hexdigest()
    return ImageSet(images, categories, f"generated(seed={seed}, n={n_stimuli})", digest)


def _rows(name: str, text: str):
    """Yield (line number, stripped cells) for each non-blank CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            if cells and not (len(cells) == 1 and not cells[0].strip()):
                yield reader.line_num, [cell.strip() for cell in cells]
    except csv.Error as exc:
        raise StimulusFileError(f"{name}, line {reader.line_num}: {exc}") from None


def _number(text: str) -> float | None:
    if "_" in text:  # float() accepts "1_0"; a data file should not
        return None
    try:
        return float(text)
    except ValueError:
        return None


def load_image_csv(path, n_pixels: int | None = None) -> ImageSet:
    """Read a stimulus CSV file into an :class:`ImageSet`.

    The header must contain a ``category`` column; every other column is a
    pixel, in file order.  Any problem raises :class:`StimulusFileError` with a
    one-line message naming the file and, where it applies, the line (header =
    line 1) and column.  If ``n_pixels`` is given the file must match it.
    """
    name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise StimulusFileError(f"{name}: file not found") from None
    except OSError as exc:
        raise StimulusFileError(f"{name}: cannot read file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StimulusFileError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    rows = _rows(name, text)
    line, header = next(rows, (0, None))
    if header is None:
        raise StimulusFileError(f"{name}: file is empty")
    cat_cols = [j for j, h in enumerate(header) if h.lower() == "category"]
    if len(cat_cols) != 1:
        raise StimulusFileError(f"{name}, line {line}: header must have exactly one "
                                f"'category' column, found {len(cat_cols)}")
    cat_col = cat_cols[0]
    pixel_cols = [j for j in range(len(header)) if j != cat_col]
    if not pixel_cols:
        raise StimulusFileError(f"{name}, line {line}: header has no pixel columns")
    if n_pixels is not None and len(pixel_cols) != n_pixels:
        raise StimulusFileError(f"{name}: file has {len(pixel_cols)} pixel columns but "
                                f"the cortex expects n_pixels={n_pixels}")
    images, categories = [], []
    for line, cells in rows:
        if len(cells) != len(header):
            raise StimulusFileError(f"{name}, line {line}: expected {len(header)} "
                                    f"cells, found {len(cells)}")
        for j in pixel_cols:
            value = _number(cells[j])
            where = f"{name}, line {line}, column {header[j]!r}"
            if value is None:
                raise StimulusFileError(f"{where}: {cells[j]!r} is not a number")
            if not math.isfinite(value):
                raise StimulusFileError(f"{where}: pixel value {cells[j]!r} is not finite")
            images.append(value)
        value = _number(cells[cat_col])
        if value is None or not (math.isfinite(value) and value >= 1
                                 and value.is_integer() and value < 2**62):
            raise StimulusFileError(f"{name}, line {line}, column {header[cat_col]!r}: "
                                    f"category {cells[cat_col]!r} is not a positive integer")
        categories.append(int(value))
    if not categories:
        raise StimulusFileError(f"{name}: no data rows after the header")
    distinct = sorted(set(categories))
    if len(distinct) < 2:
        raise StimulusFileError(f"{name}: all rows have category {distinct[0]}; "
                                "need at least 2 distinct categories")
    return ImageSet(np.array(images, dtype=np.float64).reshape(-1, len(pixel_cols)),
                    np.array(categories, dtype=np.int64), name,
                    hashlib.sha256(raw).hexdigest())


def _format_value(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(f"cannot save non-finite pixel value {value}")
    return str(int(value)) if value.is_integer() else repr(value)


def save_image_csv(image_set: ImageSet, path) -> None:
    """Write ``image_set`` as CSV: header ``pixel_1..pixel_N,category``.

    Values are written compactly (``0``, ``0.6``, ``1``) yet exactly, so
    :func:`load_image_csv` returns identical arrays.  Like the reference file,
    there is no trailing newline.
    """
    header = [f"pixel_{i}" for i in range(1, image_set.n_pixels + 1)] + ["category"]
    lines = [",".join(header)]
    for row, category in zip(image_set.images, image_set.categories):
        lines.append(",".join([*map(_format_value, row), str(int(category))]))
    Path(path).write_bytes("\n".join(lines).encode("ascii"))
