"""Online triplet mining picks the triplets its definition names, on hand-made
embeddings (no data, no training)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import require_module

torch = require_module("torch")

from faceprint.train.losses import (  # noqa: E402
    ArcFaceHead,
    DistillHead,
    mine_batchall,
    mine_batchhard,
    mine_semihard,
    squared_distances,
    triplet_loss,
)

MARGIN = 0.2


def unit(*angles_deg: float) -> torch.Tensor:
    """Unit vectors in the plane at the given angles (degrees)."""
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    return torch.tensor(np.stack([np.cos(a), np.sin(a)], axis=1), dtype=torch.float64)


def test_squared_distances_are_squared_l2() -> None:
    x = unit(0, 90, 180)
    d = squared_distances(x)
    assert torch.allclose(d, torch.tensor([[0, 2, 4], [2, 0, 2], [4, 2, 0]],
                                          dtype=torch.float64), atol=1e-12)


def test_semihard_picks_the_closest_negative_inside_the_margin_band() -> None:
    # anchor 0 and positive 1 at 20 degrees: d(a,p) = 2 - 2 cos 20 = 0.1206.
    # negatives at 25 (d = 0.187: semi-hard), 30 (0.268: semi-hard, farther),
    # 10 (0.030: hard, closer than the positive) and 90 (2.0: easy).
    emb = unit(0, 20, 25, 30, 10, 90)
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    dist = squared_distances(emb)
    t = mine_semihard(dist, labels, MARGIN)
    first = [(int(a), int(p), int(n)) for a, p, n in zip(t.anchor, t.positive, t.negative)
             if int(a) == 0]
    assert first == [(0, 1, 2)]
    d_ap, d_an = float(dist[0, 1]), float(dist[0, 2])
    assert d_ap < d_an < d_ap + MARGIN


def test_every_semihard_choice_is_in_the_band_when_one_exists() -> None:
    rng = np.random.default_rng(3)
    emb = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(24, 8))), dim=1)
    labels = torch.tensor(np.repeat(np.arange(6), 4))
    dist = squared_distances(emb)
    t = mine_semihard(dist, labels, MARGIN)
    assert len(t) == 6 * 4 * 3  # one triplet per ordered anchor-positive pair
    checked = 0
    for a, p, n in zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist()):
        assert labels[a] == labels[p] and labels[a] != labels[n] and a != p
        d_ap = float(dist[a, p])
        negs = [j for j in range(24) if labels[j] != labels[a]]
        band = [j for j in negs if d_ap < float(dist[a, j]) < d_ap + MARGIN]
        if band:
            checked += 1
            assert d_ap < float(dist[a, n]) < d_ap + MARGIN
            assert float(dist[a, n]) == min(float(dist[a, j]) for j in band)
        elif any(float(dist[a, j]) > d_ap for j in negs):
            # no semi-hard negative: the closest one beyond the positive (zero loss)
            assert float(dist[a, n]) == min(float(dist[a, j]) for j in negs
                                            if float(dist[a, j]) > d_ap)
        else:
            # all negatives harder than the positive: the farthest of them
            assert float(dist[a, n]) == max(float(dist[a, j]) for j in negs)
    assert checked > 0


def test_batch_hard_takes_the_farthest_positive_and_closest_negative() -> None:
    emb = unit(0, 5, 40, 60, 70)
    labels = torch.tensor([0, 0, 0, 1, 1])
    t = mine_batchhard(squared_distances(emb), labels)
    got = {int(a): (int(p), int(n)) for a, p, n in zip(t.anchor, t.positive, t.negative)}
    assert got[0] == (2, 3)  # farthest positive 40 deg, closest negative 60 deg
    assert got[1] == (2, 3)
    assert got[2] == (0, 3)
    assert got[3] == (4, 2)
    assert got[4] == (3, 2)


def test_batch_all_lists_every_valid_triplet_and_negatives_only_items_are_never_anchors(
        ) -> None:
    labels = torch.tensor([0, 0, 1, 1, 1, -1])
    t = mine_batchall(labels)
    got = set(zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist()))
    want = {(a, p, n) for a, p, n in itertools.permutations(range(6), 3)
            if labels[a] >= 0 and labels[a] == labels[p] and labels[a] != labels[n]}
    assert got == want
    assert 5 not in t.anchor.tolist() and 5 not in t.positive.tolist()
    assert 5 in t.negative.tolist()
    semi = mine_semihard(squared_distances(unit(0, 10, 20, 30, 40, 50)), labels, MARGIN)
    assert 5 not in semi.anchor.tolist()


def test_triplet_loss_is_the_hinge_on_mined_triplets() -> None:
    emb = unit(0, 20, 25, 90).requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 2])
    loss, stats = triplet_loss(emb, labels, margin=MARGIN, mining="semihard")
    d = squared_distances(emb.detach())
    # anchor 0: the semi-hard negative at 25 degrees; anchor 1 (at 20 degrees): the
    # negative at 25 is closer than its positive, so the one beyond it (90) is taken
    want = np.mean([max(0.0, float(d[0, 1] - d[0, 2]) + MARGIN),
                    max(0.0, float(d[1, 0] - d[1, 3]) + MARGIN)])
    assert want > 0.05
    assert float(loss) == pytest.approx(want, abs=1e-9)
    assert stats.triplets == 2
    loss.backward()
    assert emb.grad is not None and float(emb.grad.abs().sum()) > 0


def test_arcface_and_distillation_losses_reward_the_right_answer() -> None:
    torch.manual_seed(0)
    head = ArcFaceHead(2, 2, scale=16.0, margin=0.3)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    emb = unit(0, 90).float()
    right = head(emb, torch.tensor([0, 1]))
    wrong = head(emb, torch.tensor([1, 0]))
    assert float(right) < 0.1 < float(wrong)
    distill = DistillHead(2, 2, relation=1.0)
    assert float(distill(emb, emb)) == pytest.approx(0.0, abs=1e-6)
    assert float(distill(emb, unit(90, 0).float())) > 0.9
