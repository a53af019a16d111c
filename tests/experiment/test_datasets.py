"""Tests for circuitdsl.datasets: generator, CSV round trip, reference file, errors."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.datasets import (ImageSet, StimulusFileError, generate_category_stimuli,
                                 load_image_csv, save_image_csv)
from circuitdsl.datasets import _regions

REFERENCE = Path("/work/shared/data/stimuli_set.csv")
HEADER = ",".join([f"pixel_{i}" for i in range(1, 5)] + ["category"])


@pytest.fixture(scope="module")
def generated():
    return generate_category_stimuli(n_stimuli=1000, n_pixels=20, seed=0)


def _active_positions(image_set, category):
    """1-based pixel positions that are ever active in the given category."""
    rows = image_set.images[image_set.categories == category]
    return set((np.flatnonzero((rows > 0).any(axis=0)) + 1).tolist())


# --- generator -------------------------------------------------------------

def test_generator_shape_dtype_and_source(generated):
    assert generated.images.shape == (1000, 20)
    assert generated.categories.shape == (1000,)
    assert generated.images.dtype == np.float64
    assert generated.categories.dtype == np.int64
    assert (generated.n_stimuli, generated.n_pixels) == (1000, 20)
    assert generated.source == "generated(seed=0, n=1000)"
    assert len(generated.sha256) == 64


def test_generator_values_and_categories(generated):
    assert set(np.unique(generated.images).tolist()) <= {0.0, 0.6, 1.0}
    assert set(np.unique(generated.categories).tolist()) == {1, 2}
    share = np.mean(generated.categories == 1)
    assert 0.45 <= share <= 0.55
    # randomly ordered, not sorted into blocks
    assert np.any(np.diff(generated.categories[:20]) != 0)


def test_generator_category_regions(generated):
    cat1 = _active_positions(generated, 1)
    cat2 = _active_positions(generated, 2)
    assert cat1 <= set(range(2, 10)) | {18, 19, 20}
    assert cat2 <= set(range(11, 16))
    assert {4, 5, 6, 7} <= cat1 and {12, 13, 14} <= cat2
    rows1 = generated.images[generated.categories == 1]
    # most category-1 activity is in pixels 4-7; strays are a minority
    assert (rows1[:, 3:7] > 0).sum() > 0.7 * (rows1[:, :9] > 0).sum()
    stray_share = np.mean((rows1[:, 17:] > 0).any(axis=1))
    assert 0.05 < stray_share < 0.5
    assert ((rows1 > 0).sum(axis=1) >= 1).all()


def test_generator_category2_active_counts():
    s = generate_category_stimuli(n_stimuli=5000, seed=3)
    counts = (s.images[s.categories == 2] > 0).sum(axis=1)
    assert set(counts.tolist()) == {0, 1, 3}
    assert 0 < np.sum(counts == 0) < 0.05 * counts.size


def test_generator_is_deterministic():
    a = generate_category_stimuli(200, 20, seed=7)
    b = generate_category_stimuli(200, 20, seed=7)
    c = generate_category_stimuli(200, 20, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.categories, b.categories)
    assert a.sha256 == b.sha256
    assert not np.array_equal(a.images, c.images)
    assert a.sha256 != c.sha256
    expected = hashlib.sha256(a.images.astype("<f8").tobytes()
                              + a.categories.astype("<i8").tobytes()).hexdigest()
    assert a.sha256 == expected


@pytest.mark.parametrize("n_pixels", [4, 5, 7, 10, 40, 100])
def test_generator_scales_to_other_sizes(n_pixels):
    s = generate_category_stimuli(400, n_pixels, seed=1)
    assert s.images.shape == (400, n_pixels)
    (lo1, hi1), (lo2, hi2), (lo3, hi3) = _regions(n_pixels)
    assert 0 <= lo1 <= hi1 < lo2 <= hi2 < lo3 <= hi3 == n_pixels - 1
    cat1 = {p - 1 for p in _active_positions(s, 1)}
    cat2 = {p - 1 for p in _active_positions(s, 2)}
    assert cat1 <= set(range(lo1, hi1 + 1)) | set(range(lo3, hi3 + 1))
    assert cat2 <= set(range(lo2, hi2 + 1))


def test_regions_for_reference_size_and_scaled():
    assert _regions(20) == ((1, 8), (10, 14), (17, 19))
    assert _regions(40) == ((2, 17), (20, 29), (34, 39))
    for n in range(4, 301):
        (lo1, hi1), (lo2, hi2), (lo3, hi3) = _regions(n)
        assert 0 <= lo1 <= hi1 < lo2 <= hi2 < lo3 <= hi3 == n - 1, n


@pytest.mark.parametrize("kwargs, word", [({"n_stimuli": 0}, "n_stimuli"),
                                          ({"n_pixels": 3}, "n_pixels")])
def test_generator_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        generate_category_stimuli(**kwargs)


def test_image_set_is_read_only_and_validated(generated):
    with pytest.raises(ValueError):
        generated.images[0, 0] = 5.0
    with pytest.raises(ValueError, match="categories must have shape"):
        ImageSet(np.zeros((3, 4)), np.array([1, 2]), "x", "")
    with pytest.raises(ValueError, match=">= 1"):
        ImageSet(np.zeros((2, 4)), np.array([0, 1]), "x", "")


# --- round trip ------------------------------------------------------------

def test_save_then_load_round_trip(tmp_path, generated):
    path = tmp_path / "stimuli.csv"
    save_image_csv(generated, path)
    text = path.read_text()
    assert text.splitlines()[0] == ",".join(
        [f"pixel_{i}" for i in range(1, 21)] + ["category"])
    assert not text.endswith("\n")
    assert set(",".join(text.splitlines()[1:]).split(",")) <= {"0", "0.6", "1", "2"}
    loaded = load_image_csv(path, n_pixels=20)
    np.testing.assert_array_equal(loaded.images, generated.images)
    np.testing.assert_array_equal(loaded.categories, generated.categories)
    assert loaded.source == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_keeps_arbitrary_floats_exactly(tmp_path):
    images = np.array([[0.1, 1 / 3, -2.5, 1e-300], [7.0, 0.0, 0.6, 123456.789]])
    s = ImageSet(images, np.array([1, 3]), "test", "")
    path = tmp_path / "floats.csv"
    save_image_csv(s, path)
    assert path.read_text().splitlines()[2] == "7,0,0.6,123456.789,3"
    np.testing.assert_array_equal(load_image_csv(path).images, images)


# --- reference file --------------------------------------------------------

@pytest.mark.skipif(not REFERENCE.exists(), reason="reference stimuli_set.csv not available")
def test_reference_file():
    s = load_image_csv(REFERENCE, n_pixels=20)
    assert s.images.shape == (1000, 20)
    assert (np.sum(s.categories == 1), np.sum(s.categories == 2)) == (501, 499)
    assert s.categories[:5].tolist() == [2, 1, 1, 2, 1]
    assert set(np.unique(s.images).tolist()) == {0.0, 0.6, 1.0}
    assert _active_positions(s, 2) == set(range(11, 16))
    assert s.sha256 == hashlib.sha256(REFERENCE.read_bytes()).hexdigest()


# --- accepted variations ---------------------------------------------------

def test_loader_accepts_whitespace_blank_lines_and_category_anywhere(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("category, a ,b\n1 ,0,0.6\n\n 2, 1 ,0\n")
    s = load_image_csv(path)
    np.testing.assert_array_equal(s.images, [[0.0, 0.6], [1.0, 0.0]])
    assert s.categories.tolist() == [1, 2]
    assert s.n_pixels == 2


# --- malformed files -------------------------------------------------------

def _write(tmp_path, text, name="stimuli.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, **kwargs):
    with pytest.raises(StimulusFileError) as info:
        load_image_csv(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    return message


def test_missing_file(tmp_path):
    assert _error(tmp_path / "nope.csv").endswith("nope.csv: file not found")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_empty_file(tmp_path, text):
    assert "file is empty" in _error(_write(tmp_path, text))


def test_no_category_column(tmp_path):
    message = _error(_write(tmp_path, "pixel_1,pixel_2,label\n0,1,1\n"))
    assert "line 1" in message and "'category' column, found 0" in message


def test_two_category_columns(tmp_path):
    message = _error(_write(tmp_path, "pixel_1,category,category\n0,1,1\n"))
    assert "'category' column, found 2" in message


def test_wrong_cell_count(tmp_path):
    text = f"{HEADER}\n0,0,0,0,1\n0,0,0,2\n"
    assert "stimuli.csv, line 3: expected 5 cells, found 4" in _error(_write(tmp_path, text))


def test_non_numeric_pixel_message_format(tmp_path):
    rows = ["0,0,0,0,1"] * 5 + ["0,0,abc,0,2"]
    path = _write(tmp_path, "\n".join([HEADER] + rows))
    assert _error(path) == f"{path}, line 7, column 'pixel_3': 'abc' is not a number"


def test_empty_pixel_cell_and_line_counts_blank_lines(tmp_path):
    path = _write(tmp_path, f"{HEADER}\n0,0,0,0,1\n\n0,,0,0,2\n")
    assert "line 4, column 'pixel_2': '' is not a number" in _error(path)


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity"])
def test_non_finite_pixel(tmp_path, cell):
    path = _write(tmp_path, f"{HEADER}\n0,0,0,0,1\n0,0,0,{cell},2\n")
    assert f"line 3, column 'pixel_4': pixel value '{cell}' is not finite" in _error(path)


@pytest.mark.parametrize("cell", ["0", "-1", "1.5", "x", "nan"])
def test_category_not_positive_integer(tmp_path, cell):
    path = _write(tmp_path, f"{HEADER}\n0,0,0,0,1\n0,0,0,0,{cell}\n")
    message = _error(path)
    assert f"line 3, column 'category': category '{cell}' is not a positive integer" in message


def test_single_category(tmp_path):
    path = _write(tmp_path, f"{HEADER}\n0,0,0,0,2\n1,0,0,0,2\n")
    assert "all rows have category 2; need at least 2 distinct categories" in _error(path)


def test_header_only(tmp_path):
    assert "no data rows" in _error(_write(tmp_path, HEADER + "\n"))


def test_n_pixels_mismatch(tmp_path):
    path = _write(tmp_path, f"{HEADER}\n0,0,0,0,1\n0,0,0,0,2\n")
    message = _error(path, n_pixels=20)
    assert "file has 4 pixel columns but the cortex expects n_pixels=20" in message
    assert load_image_csv(path, n_pixels=4).n_pixels == 4


def test_not_utf8(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"pixel_1,category\n\xff\xfe,1\n")
    assert "not UTF-8 text" in _error(path)
