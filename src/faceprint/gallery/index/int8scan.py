"""Exact search over a large sub-index: an int8 first pass with proven error bounds.

A single query against a million 128-d float32 vectors reads 512 MB; on two cores
that takes 20-60 ms however the arithmetic is done, because it is bound by memory.
This pass reads a quarter of that: int8 codes of the vectors, multiplied with an
int8 code of the query by ONNX Runtime's integer matrix product (its packed VNNI
kernel, both cores). The approximate scores it gives differ from the exact ones by
at most a bound ``E`` computed for each query, so every vector whose approximate
score is within ``2E`` of the k-th best approximate score is a candidate, and the
exact top k are always among the candidates. The candidates are then scored
exactly on their float vectors. The answer is the exact search's answer, not an
approximation of it; only the work is less.

The bound. With per-dimension scales ``s`` (the largest ``|x_d|`` over the base
divided by 127) the codes are ``c = rint(x / s)``, so ``|x_d / s_d - c_d| <= 1/2``
(plus the float32 rounding of ``x / s``, covered by ``CODE_ERROR``).
The query's scaled vector ``y = q * s`` gets one scale ``t`` (its largest ``|y_d|``
over 127) and the code ``p = rint(y / t)``. Then, exactly,

    q . x = t (p . c) + sum_d (y_d - t p_d) c_d + sum_d y_d (x_d / s_d - c_d)

and the last two terms are at most ``max_d |y_d - t p_d| * C + ||y||_1 / 2`` in size,
where ``C`` is the largest ``||c||_1`` over the base. ``p . c`` is an exact integer.
A margin covers float32 rounding in the approximate scores.

Distances. ``ip`` ranks by ``q . x``; ``l2`` ranks by ``2 q . x - ||x||^2`` (the
squared distance is ``||q||^2`` minus that), so its error is twice the bound.

Changes. Vectors added after the pass was built (the tail) are scored exactly, in
float, on every search; removed ones are masked out. When the tail or the removed
part grows past a fraction of the base, the owner builds a new pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime import cpu_session, default_threads

#: the codes' largest error in units of the scale: 1/2 from rounding, plus the
#: float32 product ``x * (1 / s)`` they are rounded from (a few ulps of 127)
CODE_ERROR = 0.5 + 1e-4
#: sub-indexes with fewer vectors are searched by FAISS's flat scan alone
MIN_VECTORS = 20_000
#: a sub-index is searched by FAISS alone until it has answered this many queries
#: (a pass costs about as much to build as 20 FAISS scans)
PASS_AFTER = 16
#: a new pass is built when the tail or the removed rows exceed this part of the base
STALE_FRACTION = 0.05
#: more candidates than this part of the base: the bound does not help, scan in float
MAX_CANDIDATE_FRACTION = 0.2


def _product_model(dim: int) -> bytes:
    """An ONNX graph: ``y[m, n] = (a[m, :] - 128) . codes[:, n]`` in exact int32; the
    ``codes`` initializer is a placeholder that the session replaces."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("MatMulInteger", ["a", "codes", "zero"], ["y"])]
    inits = [numpy_helper.from_array(np.zeros((dim, 1), np.int8), "codes"),
             numpy_helper.from_array(np.array(128, np.uint8), "zero")]
    graph = helper.make_graph(
        nodes, "int8_scan",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, dim])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, None])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


class Int8Scan:
    """The first pass over the base vectors ``vectors`` (rows in ``ids`` order) of one
    sub-index in space ``space`` (``ip`` or ``l2``)."""

    def __init__(self, vectors: np.ndarray, ids: np.ndarray, space: str) -> None:
        x = np.asarray(vectors, np.float32)
        n, self.dim = x.shape
        self.space = space
        self.ids = np.asarray(ids, np.int64).copy()
        step = 32_768
        chunks = range(0, n, step)
        peak = np.zeros(self.dim, np.float32)
        for lo in chunks:
            np.maximum(peak, np.abs(x[lo:lo + step]).max(axis=0), out=peak)
        self.scale = np.where(peak > 0, peak.astype(np.float64) / 127.0, 1.0)
        inverse = (1.0 / self.scale).astype(np.float32)
        codes_t = np.empty((self.dim, n), np.int8)  # the product's layout: dim x n
        l1 = np.zeros(n, np.int32)
        for lo in chunks:  # in float32 chunks: no float64 copy of the whole base
            block = np.clip(np.rint(x[lo:lo + step] * inverse), -127, 127)
            codes_t[:, lo:lo + step] = block.T
            l1[lo:lo + step] = np.abs(block).sum(axis=1)
        self.c1 = float(l1.max()) if n else 0.0
        # l2 ranks by 2 q.x - |x|^2: the squared norms, in float64
        self.norms = (np.einsum("ij,ij->i", x, x, dtype=np.float64) if space == "l2"
                      else np.zeros(n))
        self.max_norm = float(self.norms.max()) if n else 0.0
        self.dead = np.zeros(n, bool)
        self.n_dead = 0
        self.tail_ids = np.zeros(0, np.int64)
        self.tail = np.zeros((0, self.dim), np.float32)
        self._session: Any = cpu_session(_product_model(self.dim), threads=default_threads(),
                                         initializers={"codes": codes_t})

    @property
    def stale(self) -> bool:
        base = max(len(self.ids), 1)
        return (len(self.tail_ids) > STALE_FRACTION * base
                or self.n_dead > STALE_FRACTION * base)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.tail_ids = np.concatenate([self.tail_ids, np.asarray(ids, np.int64)])
        self.tail = np.concatenate([self.tail, np.asarray(vectors, np.float32)])

    def drop(self, ids: np.ndarray) -> None:
        gone = np.asarray(ids, np.int64)
        self.dead |= np.isin(self.ids, gone)
        self.n_dead = int(self.dead.sum())
        keep = ~np.isin(self.tail_ids, gone)
        self.tail_ids, self.tail = self.tail_ids[keep], self.tail[keep]

    def _codes(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per query: its uint8 code (zero point 128), its scale ``t`` and its bound."""
        y = queries.astype(np.float64) * self.scale
        peak = np.abs(y).max(axis=1)
        t = np.where(peak > 0, peak / 127.0, 1.0)
        p = np.clip(np.rint(y / t[:, None]), -127, 127)
        rest = np.abs(y - t[:, None] * p).max(axis=1)
        bound = rest * self.c1 + CODE_ERROR * np.abs(y).sum(axis=1)
        return (p + 128).astype(np.uint8), t, bound

    def search(self, queries: np.ndarray, k: int, exact: Any) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's answer for ``queries`` (prepared for the space): per query the ``k``
        best (ip: largest inner product; l2: smallest squared distance) and their
        ids, -1 past the end. ``exact(ids)`` returns the float vectors of base ids."""
        q = np.ascontiguousarray(queries, np.float32)
        codes, t, bound = self._codes(q)
        products = self._session.run(None, {"a": codes})[0]
        weight = 2.0 if self.space == "l2" else 1.0
        norms32 = self.norms.astype(np.float32)
        live = len(self.ids) - self.n_dead
        dist = np.full((len(q), k), np.inf if self.space == "l2" else -np.inf, np.float32)
        found = np.full((len(q), k), -1, np.int64)
        for row in range(len(q)):
            approx = products[row].astype(np.float32) * np.float32(t[row])
            if self.space == "l2":
                approx = np.float32(weight) * approx - norms32
            if self.n_dead:
                approx[self.dead] = -np.inf
            cand = np.zeros(0, np.int64)
            if live:
                kk = min(k, live)
                kth = float(np.partition(approx, len(approx) - kk)[len(approx) - kk])
                # float32 rounding of the approximate scores: a few ulps of their size
                margin = 1e-5 * (weight * t[row] * 127 * self.c1 + self.max_norm + 1.0)
                window = 2.0 * weight * float(bound[row]) + margin
                cand = np.flatnonzero(approx >= kth - window)
                if len(cand) > MAX_CANDIDATE_FRACTION * len(self.ids):
                    cand = np.flatnonzero(~self.dead)
            cand_ids = np.concatenate([self.ids[cand], self.tail_ids])
            vecs = np.concatenate([np.asarray(exact(self.ids[cand]), np.float32), self.tail])
            d, order = _exact_top(vecs, q[row], k, self.space)
            dist[row, :len(order)] = d
            found[row, :len(order)] = cand_ids[order]
        return dist, found


def _exact_top(vecs: np.ndarray, query: np.ndarray, k: int, space: str
               ) -> tuple[np.ndarray, np.ndarray]:
    """The k best of ``vecs`` for ``query`` in FAISS's convention (ip: inner product,
    descending; l2: squared distance, ascending), ties broken by position."""
    if space == "ip":
        score = vecs @ query
        order = np.lexsort((np.arange(len(score)), -score))[:k]
        return score[order], order
    diff = vecs - query
    sq = np.einsum("ij,ij->i", diff, diff)
    order = np.lexsort((np.arange(len(sq)), sq))[:k]
    return sq[order], order
