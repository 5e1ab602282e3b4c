"""imbalance.labels: task and format decisions, conversions, and errors that name the row and value."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from imbalance.labels import LabelInfo, infer_task, inspect_labels, to_class_ids, to_multi_hot, to_one_hot


@pytest.mark.parametrize(
    "y, expected",
    [
        ([0, 1, 1, 0], LabelInfo("binary", "sparse", 2, 4)),
        ([[0], [1], [1]], LabelInfo("binary", "sparse", 2, 3)),
        ([0.0, 1.0, 1.0], LabelInfo("binary", "sparse", 2, 3)),
        ([True, False], LabelInfo("binary", "sparse", 2, 2)),
        ([[1, 0], [0, 1]], LabelInfo("binary", "one_hot", 2, 2)),
        ([0, 2, 1, 2], LabelInfo("multiclass", "sparse", 3, 4)),
        ([[0, 0, 1], [1, 0, 0]], LabelInfo("multiclass", "one_hot", 3, 2)),
        ([[0, 1, 1], [0, 0, 0]], LabelInfo("multilabel", "multi_hot", 3, 2)),
        ([[1, 1], [0, 1]], LabelInfo("multilabel", "multi_hot", 2, 2)),
    ],
)
def test_inspect_labels_decides_task_format_and_classes(y, expected):
    assert inspect_labels(y) == expected
    assert infer_task(y) == expected.task


def test_array_types_are_all_accepted():
    ids = np.array([0, 2, 1])
    for y in (ids, ids.tolist(), pd.Series(ids), tf.constant(ids), ids.astype("float32")):
        assert inspect_labels(y) == LabelInfo("multiclass", "sparse", 3, 3)
    assert inspect_labels(pd.DataFrame({"a": [1, 0], "b": [1, 1]})).task == "multilabel"


def test_num_classes_allows_absent_classes_and_task_overrides_ambiguity():
    assert inspect_labels([0, 1], num_classes=5) == LabelInfo("multiclass", "sparse", 5, 2)
    one_positive_each = [[0, 1, 0], [1, 0, 0]]
    assert inspect_labels(one_positive_each).task == "multiclass"
    assert inspect_labels(one_positive_each, task="multilabel") == LabelInfo("multilabel", "multi_hot", 3, 2)


def test_conversions_agree_with_numpy():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, size=50)
    one_hot = np.eye(4)[ids]
    np.testing.assert_array_equal(to_class_ids(ids), ids)
    np.testing.assert_array_equal(to_class_ids(one_hot), ids)
    np.testing.assert_array_equal(to_one_hot(ids), one_hot)
    np.testing.assert_array_equal(to_multi_hot(ids), one_hot)
    np.testing.assert_array_equal(to_multi_hot(ids, num_classes=6), np.eye(6)[ids])
    multi_hot = (rng.random((50, 4)) < 0.3).astype(int)
    multi_hot[0] = [1, 1, 0, 0]
    np.testing.assert_array_equal(to_multi_hot(multi_hot), multi_hot)
    binary = rng.integers(0, 2, size=20)
    np.testing.assert_array_equal(to_multi_hot(binary), binary[:, None])
    np.testing.assert_array_equal(to_one_hot(binary), np.eye(2)[binary])
    assert to_multi_hot(binary).dtype == np.float32


def test_multi_hot_rows_are_never_argmaxed():
    with pytest.raises(ValueError, match="no single class id"):
        to_class_ids([[1, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        ([0, np.nan, 1], {}, r"finite; row 1 holds nan"),
        ([0, -1, 1], {}, r">= 0; row 1 holds -1"),
        ([0, 1.5, 1], {}, r"whole numbers; row 1 holds 1\.5"),
        (np.zeros((2, 2, 2)), {}, r"shape \(2, 2, 2\)"),
        ([[0, 2], [1, 0]], {}, r"only 0 and 1; row 0, column 1 holds 2"),
        ([[0, 0.5], [1, 0]], {}, r"row 0, column 1 holds 0\.5"),
        ([[0, 1, 0], [1, 0, 0]], {"num_classes": 4}, r"3 columns but num_classes=4"),
        ([0, 1, 5], {"num_classes": 3}, r"< num_classes=3; row 2 holds 5"),
        (["cat", "dog"], {}, r"such as \['cat'\]"),
        ([], {}, r"empty"),
        ([0, 1], {"num_classes": 0}, r"num_classes=0"),
        ([0, 1], {"task": "regression"}, r"task='regression'"),
        ([0, 2], {"task": "binary"}, r"row 1 holds 2"),
        ([[1, 1], [0, 1]], {"task": "multiclass"}, r"row 0 holds 2 ones"),
    ],
)
def test_bad_labels_raise_naming_the_row_and_value(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        inspect_labels(y, **kwargs)
