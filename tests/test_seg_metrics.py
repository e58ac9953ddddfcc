"""IoUMetric against a hand-computed confusion matrix, with ignore_index."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jittor as jt
from jvision.registry import METRICS
from jseg.evaluation import IoUMetric, confusion_matrix, metrics_from_confusion
import jseg.evaluation.iou_metric as iou_module

# 3 classes; one pixel is ignored (255, predicted 0: must not count)
GT = np.array([[0, 0, 1],
               [1, 2, 255]], np.uint8)
PRED = np.array([[0, 1, 1],
                 [2, 2, 0]], np.int64)
# rows: ground truth, columns: prediction
CM = np.array([[1, 1, 0],
               [0, 1, 1],
               [0, 0, 1]])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(confusion_matrix(PRED, GT, 3, ignore_index=255), CM)


def test_metrics_by_hand(capsys):
    m = IoUMetric(class_names=["a", "b", "c"], print_table=True)
    m.process({"gt_seg": GT[None]}, PRED[None])
    r = m.evaluate()
    assert "| b " in capsys.readouterr().out  # the table is printed at evaluate
    # IoU = TP / (gt + pred - TP): a 1/(2+1-1), b 1/(2+2-1), c 1/(1+2-1); Acc = TP / gt
    assert r["IoU.a"] == pytest.approx(1 / 2) and r["IoU.b"] == pytest.approx(1 / 3) and r["IoU.c"] == pytest.approx(1 / 2)
    assert r["Acc.a"] == pytest.approx(1 / 2) and r["Acc.b"] == pytest.approx(1 / 2) and r["Acc.c"] == pytest.approx(1)
    assert r["aAcc"] == pytest.approx(3 / 5)
    assert r["mIoU"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
    assert r["mAcc"] == pytest.approx(2 / 3)
    table = m.table()
    assert "| b " in table and "33.33" in table and "60.00" in table  # IoU.b and aAcc in percent


def test_dice_and_fscore():
    m = IoUMetric(num_classes=3, metrics=("mIoU", "mDice", "mFscore"))
    m.process({"gt_seg": [GT]}, [PRED])
    r = m.evaluate()
    # Dice = 2TP / (gt + pred): 2/3, 2/4, 2/3; precision = TP / pred: 1, 1/2, 1/2; recall = Acc
    assert r["Dice.class_0"] == pytest.approx(2 / 3) and r["mDice"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert r["mPrecision"] == pytest.approx((1 + 1 / 2 + 1 / 2) / 3)
    f = [2 * p * q / (p + q) for p, q in ((1, 1 / 2), (1 / 2, 1 / 2), (1 / 2, 1))]
    assert r["mFscore"] == pytest.approx(sum(f) / 3)


def test_absent_classes():
    # class 2 is predicted but never in the labels -> IoU 0 (counted); class 3 appears nowhere -> left out
    gt = np.array([[0, 1, 1]])
    pred = np.array([[0, 1, 2]])
    m = IoUMetric(num_classes=4)
    m.process({"gt_seg": gt[None]}, pred[None])
    r = m.evaluate()
    assert r["IoU.class_2"] == 0.0 and "Acc.class_2" not in r
    assert "IoU.class_3" not in r
    assert r["mIoU"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert r["mAcc"] == pytest.approx((1 + 1 / 2) / 2)
    per = metrics_from_confusion(m.last_results["confusion"])
    assert math.isnan(per["IoU"][3]) and math.isnan(per["Acc"][2])


def test_accumulates_over_batches_and_accepts_jittor():
    a = IoUMetric(num_classes=3)
    a.process({"gt_seg": jt.array(GT[None].astype(np.int32))}, jt.array(PRED[None].astype(np.int32)))
    a.process({"gt_seg": GT[None]}, [PRED])
    np.testing.assert_array_equal(a.confusion, 2 * CM)
    assert a.num_images == 2
    a.reset()
    assert a.confusion.sum() == 0


def test_evaluate_sums_over_ranks(monkeypatch):
    """``evaluate`` must all-reduce the confusion matrix: simulate a second rank's counts."""
    other = np.array([[3, 0, 0], [0, 0, 0], [0, 2, 0]])
    calls = []

    def fake_all_reduce_sum(x):
        calls.append(np.array(x))
        return np.asarray(x) + other

    monkeypatch.setattr(iou_module, "all_reduce_sum", fake_all_reduce_sum)
    m = IoUMetric(num_classes=3)
    m.process({"gt_seg": GT[None]}, PRED[None])
    r = m.evaluate()
    assert len(calls) == 1
    total = CM + other
    expected = metrics_from_confusion(total)
    assert r["mIoU"] == pytest.approx(np.nanmean(expected["IoU"]))
    assert r["aAcc"] == pytest.approx(np.trace(total) / total.sum())


def test_errors_are_clear():
    m = IoUMetric(num_classes=3)
    with pytest.raises(ValueError, match=r"label value\(s\) \[7\].*'x\.png'"):
        m.process({"gt_seg": np.array([[[0, 7]]]), "meta": [{"filename": "x.png"}]}, np.array([[[0, 1]]]))
    with pytest.raises(ValueError, match=r"predicted value\(s\) \[3\]"):
        m.process({"gt_seg": np.array([[[0, 1]]])}, np.array([[[0, 3]]]))
    with pytest.raises(ValueError, match=r"\(1, 3\) != label shape \(1, 2\).*'y\.png'"):
        m.process({"gt_seg": np.array([[[0, 1]]]), "meta": [{"filename": "y.png"}]}, np.array([[[0, 1, 1]]]))
    with pytest.raises(ValueError, match="2 predictions for 1 label maps"):
        m.process({"gt_seg": np.array([[[0, 1]]])}, [np.array([[0, 1]])] * 2)
    with pytest.raises(ValueError, match="no labelled pixels"):
        IoUMetric(num_classes=3).evaluate()
    with pytest.raises(ValueError, match="needs num_classes"):
        IoUMetric()


def test_built_from_registry_with_dataset_names():
    m = METRICS.build(dict(type="IoUMetric", dataset="ADE20K"))
    assert m.num_classes == 150 and m.class_names[0] == "wall"
    m = METRICS.build(dict(type="IoUMetric", dataset="Scenes", prefix="val/"))
    m.process({"gt_seg": np.zeros((1, 2, 2), np.uint8)}, np.zeros((1, 2, 2), np.int64))
    r = m.evaluate()
    assert r["val/mIoU"] == 1.0 and r["val/IoU.sky"] == 1.0 and "val/IoU.car" not in r
