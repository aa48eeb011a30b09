"""Clustering (faceprint.cluster): the link graph, the three methods and the scores.

The graph is checked against all-pairs distances, agglomerative's per-component
shortcut against scipy's linkage over every face, chinese whispers for its seed;
on real LFW faces (dlib-resnet through the default pipeline) every method must
keep four people apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from faceprint.cluster import (
    METHODS,
    FaceRef,
    assign,
    cluster_faces,
    cluster_labels,
    default_threshold,
    link_graph,
    renumber,
    score,
)
from faceprint.distance import pairwise
from faceprint.embedders.dlib_resnet import THRESHOLD
from faceprint.errors import FaceprintError, UnknownNameError
from faceprint.types import Box

PEOPLE = ("Colin_Powell", "Laura_Bush", "Serena_Williams", "Tony_Blair")


def people_like(n_people: int = 30, per: int = 8, seed: int = 0) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """Vectors scattered like dlib-resnet's: centres ~0.95 apart, faces ~0.38."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.95 / np.sqrt(256), size=(n_people, 128))
    truth = np.repeat(np.arange(n_people), per)
    return centres[truth] + rng.normal(0, 0.38 / np.sqrt(256), (len(truth), 128)), truth


@pytest.mark.parametrize("metric,threshold", [("euclidean", 0.5), ("sqeuclidean", 0.25),
                                              ("cosine", 0.12)])
def test_link_graph_is_every_pair_within_the_threshold(metric: str, threshold: float) -> None:
    x, _ = people_like()
    g = link_graph(x, threshold, metric, block=37)  # type: ignore[arg-type]
    d = pairwise(x, x, metric)  # type: ignore[arg-type]
    np.fill_diagonal(d, np.inf)
    want = d <= threshold
    assert want.sum() > len(x)  # the test means something
    got = g.toarray()
    assert ((got > 0) == want).all()
    np.testing.assert_allclose(got[want], d[want], atol=2e-5)


def test_agglomerative_per_component_equals_linkage_over_all_faces() -> None:
    x, _ = people_like(n_people=25, per=6, seed=3)
    d = pdist(x)
    for method in ("average", "complete"):
        for t in (0.35, 0.45, 0.6):
            full = renumber(fcluster(linkage(d, method), t, "distance"), 1)
            ours = cluster_labels(x, "agglomerative", threshold=t, linkage=method,  # type: ignore[arg-type]
                                  min_size=1)
            assert (full == ours).all(), (method, t)


def test_chinese_whispers_is_deterministic_for_a_seed() -> None:
    x, truth = people_like(seed=5)
    a = cluster_labels(x, "chinese-whispers", threshold=0.5, seed=1)
    b = cluster_labels(x, "chinese-whispers", threshold=0.5, seed=1)
    assert (a == b).all()
    assert score(truth, a).bcubed_f1 > 0.99


def test_scores_by_hand() -> None:
    # truth: A A A B B; clusters: {0,1} {2,3} {4 alone}
    s = score(["A", "A", "A", "B", "B"], np.array([0, 0, 1, 1, -1]))
    # pairs together: (0,1) right, (2,3) wrong -> precision 1/2; same-person pairs: 3 + 1
    assert s.pairwise_precision == pytest.approx(0.5)
    assert s.pairwise_recall == pytest.approx(0.25)
    # BCubed precision: 1, 1, 1/2, 1/2, 1 -> 0.8; recall: 2/3, 2/3, 1/3, 1/2, 1/2 -> 8/15
    assert s.bcubed_precision == pytest.approx(0.8)
    assert s.bcubed_recall == pytest.approx(8 / 15)
    assert (s.clusters, s.singletons, s.people, s.people_with_two) == (2, 1, 2, 2)


def test_renumber_largest_first_and_noise() -> None:
    assert renumber(np.array([7, 7, 3, 3, 3, 9, -1])).tolist() == [1, 1, 0, 0, 0, -1, -1]


def test_bad_method_and_threshold() -> None:
    x, _ = people_like(n_people=3, per=3)
    with pytest.raises(UnknownNameError, match="kmeans"):
        cluster_labels(x, "kmeans", threshold=0.5)
    with pytest.raises(UnknownNameError):
        default_threshold("kmeans", THRESHOLD)
    with pytest.raises(FaceprintError, match="> 0"):
        cluster_labels(x, threshold=0.0)
    assert cluster_labels(np.empty((0, 128)), threshold=0.5).tolist() == []


def test_default_threshold_follows_the_verification_threshold() -> None:
    for m in METHODS:
        t = default_threshold(m, THRESHOLD)
        assert 0.6 * THRESHOLD < t <= THRESHOLD
        assert default_threshold(m, 2 * THRESHOLD) == pytest.approx(2 * t)


def test_assign_joins_the_cluster_most_neighbours_are_in() -> None:
    x, truth = people_like(n_people=4, per=6, seed=2)
    ids = truth + 10
    ids[truth == 3] = -1  # person 3 is noise: nobody joins it
    new, new_truth = x[::6] + 0.001, truth[::6]
    got = assign(x, ids, new, threshold=0.5)
    assert got.tolist() == [10, 11, 12, -1]
    assert (new_truth[:3] + 10 == got[:3]).all()


# -- real faces ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lfw_faces(lfw_dir: Path) -> tuple[np.ndarray, list[str], list[FaceRef]]:
    """The central face of six images of each of four LFW people, default pipeline."""
    from faceprint.datasets.lfw import central
    from faceprint.pipeline import Pipeline

    pipe = Pipeline()
    vectors, truth, refs = [], [], []
    for person in PEOPLE:
        for i in range(1, 7):
            path = lfw_dir / "images" / person / f"{person}_{i:04d}.jpg"
            image = pipe.load(path)
            face = central(pipe.detector.detect(image), image.shape[1], image.shape[0])
            vectors.append(pipe.embed_faces(image, [face])[0])
            truth.append(person)
            refs.append(FaceRef(str(path), face.box))
    return np.stack(vectors), truth, refs


@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_real_people_apart(
        method: str, lfw_faces: tuple[np.ndarray, list[str], list[FaceRef]]) -> None:
    x, truth, refs = lfw_faces
    result = cluster_faces(x, refs, method, threshold=default_threshold(method, THRESHOLD))
    s = score(truth, np.array([next((c.id for c in result.clusters if f in c.faces), -1)
                               for f in refs]))
    assert s.pairwise_precision == 1.0  # nobody put with somebody else
    assert s.bcubed_f1 > 0.75
    sizes = [c.size for c in result.clusters]
    assert sizes == sorted(sizes, reverse=True)
    assert [c.id for c in result.clusters] == list(range(1, len(sizes) + 1))
    assert sum(sizes) + len(result.noise) == len(refs)
    assert result.to_dict()["clusters"][0]["faces"][0]["box"] == result.clusters[0].faces[
        0].box.as_list()


def test_faces_and_embeddings_must_match() -> None:
    with pytest.raises(FaceprintError, match="2 embeddings for 1 faces"):
        cluster_faces(np.zeros((2, 128)), [FaceRef("a.jpg", Box(0, 0, 1, 1))], threshold=0.5)


def test_embedding_map_samples_large_sets(tmp_path: Path) -> None:
    from PIL import Image

    from faceprint.figures import embedding_map

    x, truth = people_like(n_people=6, per=10)
    out = embedding_map(x, [f"p{t}" for t in truth], tmp_path / "m.png", max_points=40,
                        perplexity=5)
    with Image.open(out) as im:
        px = np.asarray(im.convert("RGB")).astype(int)
    coloured = (px.max(axis=2) - px.min(axis=2)) > 60  # the dots; axes and text are grey
    assert coloured.sum() > 1000
