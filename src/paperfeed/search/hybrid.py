"""Reciprocal-rank fusion: how hybrid search and related papers merge ranked lists.

RRF (Cormack, Clarke and Büttcher, SIGIR 2009) scores a paper by the sum of
``weight / (k + rank)`` over the lists that contain it. It needs no score
calibration between BM25 and cosine similarity, which live on unrelated scales,
and k = 60 (the paper's value, used by hosted search services) keeps one list's
top hit from drowning out agreement further down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60
#: How many hits each branch contributes to hybrid search.
BRANCH_DEPTH = 50


@dataclass(slots=True)
class Fused:
    paper_id: str
    score: float
    #: 1-based rank in each list that holds the paper.
    ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[str]],
    *,
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[Fused]:
    """Fuse ranked id lists named by branch (``{"keyword": [...], "semantic": [...]}``).

    Best first; equal scores (e.g. a paper first in one list against another first
    in the other) go to the paper with the better best rank, then to the branch
    listed first, then to the smaller id, so the order never depends on dict or
    set iteration order.
    """
    fused: dict[str, Fused] = {}
    branch_order = {name: position for position, name in enumerate(ranked)}
    for name, ids in ranked.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, paper_id in enumerate(dict.fromkeys(ids), start=1):
            entry = fused.get(paper_id)
            if entry is None:
                entry = fused[paper_id] = Fused(paper_id, 0.0)
            entry.score += weight / (k + rank)
            entry.ranks[name] = rank

    def order(entry: Fused) -> tuple[float, int, int, str]:
        best_rank, best_branch = min((r, branch_order[n]) for n, r in entry.ranks.items())
        return (-entry.score, best_rank, best_branch, entry.paper_id)

    return sorted(fused.values(), key=order)
