"""15 x 15 two-category dot images for the full corticostriatal model (big-model page §8).

The original set (`image_example.csv`) may not be shipped; this generator reproduces its
statistics: each image is 7 "plus" dots (a centre of 1.0 and its four neighbours at 0.6,
clipped at the border, a later dot overwriting an earlier one), placed by jittering the 7 dot
locations of its category's prototype (about 0.6 px SD per axis after rounding). The images
are flattened column-major (pixel p -> row (p-1) mod 15, column (p-1) // 15), so each
5-neuron WTA of the visual cortex sees 5 vertically adjacent pixels of one column.

The original has 630 distinct images among its 1000 rows; drawing each row from a pool of
`pool_size` = 500 exemplars per category, with replacement, gives the same share of repeats
(a pool of K gives K (1 - exp(-n/K)) distinct rows out of n: 316 for 500 of 500).

A user who has the original loads it with `load_image_csv` (`--stimuli FILE.csv`); its
trailing spaces in the category column are stripped by the loader.
"""
from __future__ import annotations

import hashlib

import numpy as np

from circuitdsl.datasets import ImageSet

__all__ = ["PROTOTYPES", "generate_dot_images", "image_statistics"]

#: Prototype dot locations (row, column), 0-based, from the page's table.
PROTOTYPES = {
    1: ((3.5, 10.9), (5.6, 8.4), (5.6, 12.0), (6.1, 1.5), (7.1, 4.3), (9.6, 1.6), (10.4, 4.5)),
    2: ((2.3, 5.4), (4.5, 5.7), (5.7, 4.2), (7.4, 7.4), (9.5, 3.3), (9.6, 5.6), (12.2, 12.3)),
}
_CENTRE, _ARM = 1.0, 0.6


def _paint(grid, row, col):
    """One plus dot, overwriting what is under it (the original's draw order)."""
    side = grid.shape[0]
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r, c = row + dr, col + dc
        if 0 <= r < side and 0 <= c < side:
            grid[r, c] = _ARM
    grid[row, col] = _CENTRE


def _exemplar(rng, prototype, side, jitter):
    grid = np.zeros((side, side))
    for row, col in prototype:
        r = int(np.clip(np.rint(row + jitter * rng.standard_normal()), 0, side - 1))
        c = int(np.clip(np.rint(col + jitter * rng.standard_normal()), 0, side - 1))
        _paint(grid, r, c)
    return grid.flatten(order="F")


def generate_dot_images(n_stimuli: int = 1000, side: int = 15, seed: int = 0,
                        jitter: float = 0.5, pool_size: int | None = 500,
                        prototypes=None) -> ImageSet:
    """A deterministic set of `n_stimuli` flattened side x side dot images, categories 1 and 2
    balanced to within one and shuffled (switch probability about 0.5).

    `jitter` is the SD (px) of the Gaussian shift of each dot before rounding (0.5 gives about
    0.6 px after rounding); `pool_size` exemplars are made per category and rows drawn from
    them with replacement (None: every row a fresh exemplar). `prototypes` maps category ->
    dot locations (default PROTOTYPES, which assumes side 15)."""
    if n_stimuli < 2:
        raise ValueError(f"n_stimuli must be >= 2 (two categories), got {n_stimuli}")
    protos = PROTOTYPES if prototypes is None else prototypes
    if prototypes is None and side != 15:
        raise ValueError(f"the default prototypes are for 15 x 15 images, got side={side}; "
                         "pass prototypes= for another size")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0 px, got {jitter!r}")
    if pool_size is not None and pool_size < 1:
        raise ValueError(f"pool_size must be >= 1 or None, got {pool_size!r}")
    rng = np.random.default_rng(seed)
    labels = sorted(protos)
    n_first = n_stimuli // 2 + int(n_stimuli % 2 == 1 and rng.random() < 0.5)
    categories = rng.permutation(np.repeat(np.asarray(labels[:2], dtype=np.int64),
                                           [n_first, n_stimuli - n_first]))
    images = np.zeros((n_stimuli, side * side))
    if pool_size is None:
        for i, cat in enumerate(categories):
            images[i] = _exemplar(rng, protos[int(cat)], side, jitter)
    else:
        pools = {cat: np.array([_exemplar(rng, protos[cat], side, jitter)
                                for _ in range(pool_size)]) for cat in labels[:2]}
        for i, cat in enumerate(categories):
            images[i] = pools[int(cat)][rng.integers(pool_size)]
    digest = hashlib.sha256(images.astype("<f8").tobytes()
                            + categories.astype("<i8").tobytes()).hexdigest()
    return ImageSet(images, categories,
                    f"generated dots(seed={seed}, n={n_stimuli}, jitter={jitter}, "
                    f"pool={pool_size})", digest)


def image_statistics(images: ImageSet, n_wta_pixels: int = 5) -> dict:
    """The page's §8 statistics of an image set (for tests and for comparing a file with the
    generator): non-zero counts, value totals, distinct rows, pixel overlaps within and between
    categories, nearest-class-mean accuracy, active WTAs per image, category order."""
    x, cats = images.images, images.categories
    nz = x != 0
    one, two = cats == 1, cats == 2

    def shared(a, b, same):
        m = nz[a].astype(float) @ nz[b].astype(float).T
        if same:
            iu = np.triu_indices(m.shape[0], 1)
            return float(m[iu].mean())
        return float(m.mean())

    means = {c: x[cats == c].mean(axis=0) for c in (1, 2)}
    d = np.stack([((x - means[c]) ** 2).sum(axis=1) for c in (1, 2)], axis=1)
    predicted = np.where(d[:, 0] <= d[:, 1], 1, 2)
    wta = nz.reshape(len(x), -1, n_wta_pixels).any(axis=2).sum(axis=1)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, cats, -1]) != 0))
    return dict(
        n=len(x), n_cat1=int(one.sum()), n_cat2=int(two.sum()),
        nonzero_min=int(nz.sum(1).min()), nonzero_max=int(nz.sum(1).max()),
        nonzero_mean=float(nz.sum(1).mean()),
        ones_mean=float((x == 1.0).sum(1).mean()), arms_mean=float((x == 0.6).sum(1).mean()),
        distinct=len({r.tobytes() for r in x}),
        shared_within_1=shared(one, one, True), shared_within_2=shared(two, two, True),
        shared_between=shared(one, two, False),
        nearest_mean_accuracy=float(np.mean(predicted == cats)),
        active_wtas_mean=float(wta.mean()),
        switch_probability=float(np.mean(cats[1:] != cats[:-1])),
        longest_run=int(runs.max()),
    )
