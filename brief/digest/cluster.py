"""Pure: articles -> stories (groups of articles that report the same thing).

The method, offline and with no model:

1. Each article becomes a TF-IDF vector of its title (weighted up) and its
   lead (the first sentences of its text): lower-cased words, English stop
   words dropped, Snowball stems, sublinear term counts,
   smoothed IDF over the window, L2-normalised.
2. Cosine similarity is sparse: the matrix product ``X @ X.T`` is taken in
   row blocks and only the pairs at or above the threshold are kept, so
   memory grows with the number of similar pairs, not with n².
3. Dates: two articles far apart in time are less likely to be one story.
   Within ``grace`` of each other their similarity counts in full; past that
   it halves every ``half_life``; past ``max_gap`` they never group. Articles
   without a time (the benchmark corpora have none) get no decay at all.
4. Grouping is average-link agglomerative clustering cut at the threshold:
   two groups merge only when the mean similarity of all their pairs reaches
   it, which is what stops a chain of pairwise look-alikes becoming one blob.
   It runs on the sparse graph with a heap; absent pairs count as 0.
   Two lone articles start a story only at a firmer similarity (PAIR_THRESHOLD)
   than an article needs to join a story two outlets already tell (the
   threshold), unless a third outlet's article is close to both: a lone pair
   that shares a topic word or two ("climate change", "Virginia") is the usual
   false match, while three outlets' differently worded takes on one story, or
   the third outlet's take on a story two already tell, are the usual splits.
5. Outlets: one story rarely carries two articles of one outlet, so such a
   pair counts at half its similarity and two groups that share an outlet
   merge only as near-copies (an update: mean similarity >= NEAR_COPY).
6. Hubness: a generic article sits close to many stories. A first, stricter
   pass (FIRST_PASS) finds each article's own story; each article's radius is
   then its mean similarity to its nearest articles of *other* stories, and
   the final pass runs on similarities less the radii above a reference
   (local scaling). Measuring the radius outside the article's own story
   keeps a story told by ten outlets from looking "crowded" and splitting.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csr_matrix

from brief.digest.text import tokens
from brief.types import ArticleRecord

# A trade between stories split (shown twice) and unrelated stories glued into one
# summary, which misleads: the worse of the two, and a glued pair counts two outlets, so
# it leads the edition. With one threshold for every merge, 0.13 reached recall 0.94 on
# NeuS day windows (bench/cluster.py, outlet known) but glued 8 pairs of unrelated
# stories in an edition of real feeds (bench/edition_quality.py); 0.21 and 0.23 still
# glued a DHS nominee's hearing under "Climate change threatens half of US bases"; 0.25
# glued none and split one story in five (recall 0.81). Every glued pair was two lone
# articles with nothing else close to both, so two lone articles still need 0.25
# (PAIR_THRESHOLD) unless a third outlet's article is close to both, and an article joins
# a story at 0.14 (DEFAULT_THRESHOLD). 0.13 lets "Five killed in Texas highway crash" join
# a ten-outlet Chile earthquake story in a crowded window (tests/unit/test_cluster.py);
# 0.14 keeps it out. Held-out windows: P 0.99 / R 0.92 with the outlet known, 0.90 / 0.92
# without; the real edition glues no news stories (bench/README.md).
DEFAULT_THRESHOLD = 0.14
PAIR_THRESHOLD = 0.25  # two lone articles must be this similar to start a story alone
SAME_SOURCE = 0.5  # one outlet's two articles must be this much closer to group
TITLE_WEIGHT = 1.5
LEAD_WORDS = 60  # how much of an article's text stands for it
GRACE = timedelta(hours=12)
HALF_LIFE = timedelta(hours=24)
MAX_GAP = timedelta(hours=72)
_BLOCK = 512  # rows per block of the similarity product
# A block where more than this share of pairs reach the threshold is done dense.
_DENSE_SHARE = 0.3
_SAMPLE_ROWS = 16  # the rows of a block that decide whether it is done dense
_DENSE_CELLS = 1 << 21  # pairs per dense slice (16 MB of float64)
# Pairs below FLOOR x threshold count as 0 in average-link: fewer pairs to merge (faster),
# and a join needs support from most of a story's articles (0.5: recall +0.005 held-out,
# outlet-unknown precision -0.026, 30% slower).
FLOOR = 0.85
NEAR_COPY = 0.4  # two groups that share an outlet merge only at this mean similarity
# Each article keeps only its most similar neighbours: a window of near-identical
# articles (a wire story syndicated everywhere, a spammy feed) then costs n x K pairs,
# not n², in time and memory. Real stories rarely reach this many articles.
MAX_NEIGHBOURS = 40
# Local scaling: an article's radius is the mean similarity of its nearest few;
# radii above the reference are taken off the pair's similarity (see local_scaling).
SCALE_NEIGHBOURS = 5
REFERENCE_RADIUS = 0.25
FIRST_PASS = 0.3  # the stricter threshold that finds each article's own story first


def lead_of(text: str, words: int = LEAD_WORDS) -> str:
    """The first `words` words of a text: what stands for an article when grouping."""
    return " ".join(text.split()[:words])


@dataclass(frozen=True)
class Item:
    """What grouping looks at: a title, a lead and (when known) a time."""

    title: str
    lead: str
    time: datetime | None = None
    source: str | None = None  # the outlet (feed); None when unknown


def vectorize(items: Sequence[Item], *, title_weight: float = TITLE_WEIGHT) -> csr_matrix:
    """TF-IDF rows (L2-normalised) of title-weighted title + lead."""
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, item in enumerate(items):
        weights: dict[int, float] = {}
        for part, factor in ((item.title, title_weight), (item.lead, 1.0)):
            for word, count in Counter(tokens(part)).items():
                j = vocab.setdefault(word, len(vocab))
                weights[j] = weights.get(j, 0.0) + factor * (1.0 + math.log(count))
        for j, w in weights.items():
            rows.append(i)
            cols.append(j)
            vals.append(w)
    n = len(items)
    matrix = csr_matrix(
        (np.asarray(vals, dtype=np.float64), (np.asarray(rows), np.asarray(cols))),
        shape=(n, max(len(vocab), 1)),
    )
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    matrix.data *= idf[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    inv = np.repeat(1.0 / norms, np.diff(matrix.indptr))
    matrix.data *= inv
    return matrix


def time_factor(
    gap_seconds: npt.NDArray[np.float64],
    *,
    grace: timedelta = GRACE,
    half_life: timedelta = HALF_LIFE,
    max_gap: timedelta = MAX_GAP,
) -> npt.NDArray[np.float64]:
    """How much a similarity counts for two articles `gap_seconds` apart (NaN: unknown -> 1)."""
    gap = np.nan_to_num(np.abs(gap_seconds), nan=0.0)
    over = np.maximum(gap - grace.total_seconds(), 0.0)
    factor = np.power(0.5, over / half_life.total_seconds())
    return np.where(gap > max_gap.total_seconds(), 0.0, factor)


def _seconds(items: Sequence[Item]) -> npt.NDArray[np.float64]:
    return np.array(
        [it.time.timestamp() if it.time is not None else np.nan for it in items], dtype=np.float64
    )


def _source_codes(items: Sequence[Item]) -> npt.NDArray[np.int64]:
    codes: dict[str, int] = {}
    return np.array(
        [-1 if it.source is None else codes.setdefault(it.source, len(codes)) for it in items],
        dtype=np.int64,
    )


def similar_pairs(
    matrix: csr_matrix,
    times: npt.NDArray[np.float64],
    threshold: float,
    **decay: timedelta,
) -> coo_matrix:
    """The upper-triangle pairs whose cosine similarity, times the date decay, reaches
    `threshold` (each row keeps its MAX_NEIGHBOURS strongest)."""
    n = matrix.shape[0]
    matrix = matrix.copy()
    matrix.sort_indices()  # the dense way then adds terms in the sparse way's order
    transposed = matrix.T.tocsc()
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float64]] = []
    for start in range(0, n, _BLOCK):
        block = matrix[start : start + _BLOCK]
        later = transposed[:, start:]  # each pair once: the block's rows with later rows
        if _looks_dense(block[:_SAMPLE_ROWS] @ later, threshold):
            r, c, v = _dense_block_pairs(matrix, block, start, times, threshold, **decay)
        else:
            r, c, v = _sparse_block_pairs(block @ later, start, times, threshold, **decay)
        rows.append(r)
        cols.append(c)
        vals.append(v)
    return coo_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, np.int64),
                np.concatenate(cols) if cols else np.zeros(0, np.int64),
            ),
        ),
        shape=(n, n),
    )


def _looks_dense(sample: csr_matrix, threshold: float) -> bool:
    """Whether a block's first rows pair with most later rows (look-alike articles)."""
    pairs = sample.tocoo()
    above = (pairs.col > pairs.row) & (pairs.data >= threshold)
    return bool(np.count_nonzero(above) > _DENSE_SHARE * sample.shape[0] * sample.shape[1])


def _sparse_block_pairs(
    product: csr_matrix,
    start: int,
    times: npt.NDArray[np.float64],
    threshold: float,
    **decay: timedelta,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`similar_pairs` of a block of rows, from its sparse product with the rows from
    the block's first on."""
    block = product.tocoo()
    r = block.row.astype(np.int64) + start
    c = block.col.astype(np.int64) + start
    keep = (c > r) & (block.data >= threshold)
    r, c, v = r[keep], c[keep], block.data[keep]
    v = v * time_factor(times[r] - times[c], **decay)
    keep = v >= threshold
    return _top_per_row(r[keep], c[keep], v[keep], MAX_NEIGHBOURS)


def _dense_block_pairs(
    matrix: csr_matrix,
    block: csr_matrix,
    start: int,
    times: npt.NDArray[np.float64],
    threshold: float,
    **decay: timedelta,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`similar_pairs` of a block of rows where most pairs are similar (a day of look-alike
    articles): the product taken dense over the block's own terms (a sparse product that
    fills up costs several times more), each row's strongest found by partition, not by
    sorting all its pairs; the same pairs, ties by column. Rows go a few at a time to
    bound memory."""
    k = MAX_NEIGHBOURS
    terms = np.unique(block.indices)
    later = matrix[start:][:, terms]  # each pair once: the block's rows with later rows
    later.sort_indices()
    width = later.shape[0]
    step = max(16, _DENSE_CELLS // width)
    out: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []
    for first in range(0, block.shape[0], step):
        mine = block[first : first + step][:, terms].toarray()
        dense = np.ascontiguousarray((later @ mine.T).T)
        row = np.arange(first, first + dense.shape[0])  # from the block's first row
        dense[np.arange(width)[None, :] <= row[:, None]] = 0.0  # each pair once: column > row
        _decay_in_place(dense, times[start + row], times[start:], **decay)
        dense[dense < threshold] = 0.0
        if width > k:
            kth = -np.partition(-dense, k - 1, axis=1)[:, k - 1 : k]
            above = dense > kth
            tied = (dense == kth) & (dense > 0.0)
            room = k - above.sum(axis=1, keepdims=True)
            keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
        else:
            keep = dense > 0.0
        r, c = np.nonzero(keep)
        out.append((r.astype(np.int64) + start + first, c.astype(np.int64) + start, dense[r, c]))
    r = np.concatenate([o[0] for o in out])
    c = np.concatenate([o[1] for o in out])
    v = np.concatenate([o[2] for o in out])
    return _top_per_row(r, c, v, k)  # in the sparse path's order


def _decay_in_place(
    dense: npt.NDArray[np.float64],
    row_times: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    **decay: timedelta,
) -> None:
    """`dense *= time_factor(row_times[:, None] - times[None, :])`, skipped when no two
    of these articles are more than the grace apart (the factor is then 1 throughout)."""
    known = times[~np.isnan(times)]
    mine = row_times[~np.isnan(row_times)]
    if not len(known) or not len(mine):
        return
    grace = decay.get("grace", GRACE).total_seconds()
    if max(mine.max() - known.min(), known.max() - mine.min()) <= grace:
        return
    dense *= time_factor(row_times[:, None] - times[None, :], **decay)


def same_source_penalty(
    pairs: coo_matrix, sources: npt.NDArray[np.int64], factor: float = SAME_SOURCE
) -> coo_matrix:
    """Pairs of one outlet (codes in `sources`, -1 = unknown) at `factor` of their similarity:
    one outlet's two articles must be near-copies (an update) to group, while two
    outlets need only tell the same story."""
    same = (sources[pairs.row] == sources[pairs.col]) & (sources[pairs.row] >= 0)
    data = np.where(same, pairs.data * factor, pairs.data)
    return coo_matrix((data, (pairs.row, pairs.col)), shape=pairs.shape)


def outside_radius(
    pairs: coo_matrix, groups: Sequence[Sequence[int]], k: int = SCALE_NEIGHBOURS
) -> npt.NDArray[np.float64]:
    """Each article's radius: the mean similarity of its `k` nearest articles outside
    its own group (absent pairs count as 0). How crowded its neighbourhood is with
    other stories, not how many outlets carry its own."""
    n = pairs.shape[0]
    group = np.empty(n, dtype=np.int64)
    for g, members in enumerate(groups):
        group[list(members)] = g
    r = np.concatenate([pairs.row, pairs.col]).astype(np.int64)
    c = np.concatenate([pairs.col, pairs.row]).astype(np.int64)
    v = np.concatenate([pairs.data, pairs.data])
    outside = group[r] != group[c]
    r, c, v = _top_per_row(r[outside], c[outside], v[outside], k)
    return np.bincount(r, weights=v, minlength=n) / k


def local_scaling(
    pairs: coo_matrix, radius: npt.NDArray[np.float64], reference: float = REFERENCE_RADIUS
) -> coo_matrix:
    """Pair similarities less how far their articles sit in crowded neighbourhoods.

    A generic article ("Trump says ...", "Stocks fall") is close to dozens of
    other stories; without a correction it is everyone's nearest neighbour
    (hubness) and chains stories together. Each side's radius above `reference`
    is taken off, halved (CSLS, Conneau et al. 2018, clipped below so that a
    quiet window keeps the plain threshold).
    """
    excess = np.maximum(radius, reference) - reference
    data = pairs.data - 0.5 * (excess[pairs.row] + excess[pairs.col])
    return coo_matrix((data, (pairs.row, pairs.col)), shape=pairs.shape)


def _top_per_row(
    r: npt.NDArray[np.int64], c: npt.NDArray[np.int64], v: npt.NDArray[np.float64], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The `k` strongest pairs of each row (ties broken by column, so deterministic)."""
    if len(r) == 0:
        return r, c, v
    # np.lexsort((c, -v, r)) as two stable argsorts, ten times faster on millions of
    # pairs (a day of near-identical articles): by column, then by row and similarity
    # folded into one key (similarities are cosines, within [-1, 1]).
    order = np.argsort(c, kind="stable")
    key = r[order] * 4.0 + (2.0 - np.clip(v[order], -1.0, 1.0))
    order = order[np.argsort(key, kind="stable")]
    r, c, v = r[order], c[order], v[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    rank = np.arange(len(r)) - np.repeat(starts, np.diff(np.r_[starts, len(r)]))
    keep = rank < k
    return r[keep], c[keep], v[keep]


def _third_supports(
    neighbours: Sequence[dict[int, float]],
    size: Sequence[int],
    a: int,
    b: int,
    threshold: float,
    outlets: Sequence[set[int]],
) -> bool:
    """Whether a third outlet's article (or story, by its mean) is at `threshold` or
    closer to both lone articles a and b: three outlets telling one story in other words."""
    near, far = sorted((neighbours[a], neighbours[b]), key=len)
    both = outlets[a] | outlets[b]
    return any(
        s >= threshold * size[k]
        and far.get(k, 0.0) >= threshold * size[k]
        and outlets[k].isdisjoint(both)
        for k, s in near.items()
    )


def _neighbour_sums(n: int, pairs: coo_matrix) -> list[dict[int, float]]:
    """Each article's similarity to each of its neighbours (both ways, no self-pairs)."""
    off = pairs.row != pairs.col
    one_way = coo_matrix((pairs.data[off], (pairs.row[off], pairs.col[off])), shape=(n, n))
    rows = (one_way + one_way.T).tocsr()  # duplicates summed, as pairs add up
    index, value, start = rows.indices.tolist(), rows.data.tolist(), rows.indptr.tolist()
    return [dict(zip(index[a:b], value[a:b], strict=True)) for a, b in pairwise(start)]


def average_link(
    n: int,
    pairs: coo_matrix,
    threshold: float,
    *,
    sources: npt.NDArray[np.int64] | None = None,
    near_copy: float = NEAR_COPY,
    pair_threshold: float = 0.0,
) -> list[list[int]]:
    """Average-link agglomerative clustering over a sparse similarity graph.

    Merges the two groups with the highest mean pairwise similarity while that
    mean is at least `threshold`. Pairs absent from `pairs` count as 0, so keep
    pairs somewhat below the threshold for a close match to dense average-link.

    With `sources` (outlet codes, -1 = unknown): one story rarely carries two
    articles of one outlet, so two groups that share an outlet merge only when
    their mean similarity also reaches `near_copy` (an outlet's update).

    Two lone articles merge only at `pair_threshold` or more, or when an article of a
    third outlet is at `threshold` to both; a group of two or more takes in another at
    `threshold`.
    """
    neighbours = _neighbour_sums(n, pairs)
    size = [1] * n
    members: list[list[int]] = [[i] for i in range(n)]
    alive = [True] * n
    outlets: list[set[int]] = [
        set() if sources is None or sources[i] < 0 else {int(sources[i])} for i in range(n)
    ]
    heap = [
        (-s, a, b) for a in range(n) for b, s in neighbours[a].items() if a < b and s >= threshold
    ]
    heapq.heapify(heap)
    while heap:
        negative, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        if neighbours[a].get(b, 0.0) / (size[a] * size[b]) != -negative:
            continue  # stale: a fresher entry for this pair is in the heap
        if -negative < near_copy and not outlets[a].isdisjoint(outlets[b]):
            continue  # one outlet on both sides and not an update: two stories
        if (
            -negative < pair_threshold
            and size[a] == 1
            and size[b] == 1
            and not _third_supports(neighbours, size, a, b, threshold, outlets)
        ):
            continue  # two lone articles need a firmer match, or a third outlet's word
        if len(neighbours[a]) < len(neighbours[b]):
            a, b = b, a
        del neighbours[a][b]
        for k, s in neighbours[b].items():
            if k == a:
                continue
            del neighbours[k][b]
            total = neighbours[a].get(k, 0.0) + s
            neighbours[a][k] = total
            neighbours[k][a] = total
        neighbours[b] = {}
        alive[b] = False
        size[a] += size[b]
        members[a].extend(members[b])
        members[b] = []
        outlets[a] |= outlets[b]
        outlets[b] = set()
        mine = outlets[a]
        for k, s in neighbours[a].items():
            mean = s / (size[a] * size[k])
            # A pair that cannot merge at this mean (one outlet on both sides and not an
            # update) is not queued; a later merge of either side queues it afresh.
            if mean >= threshold and (mean >= near_copy or mine.isdisjoint(outlets[k])):
                heapq.heappush(heap, (-mean, min(a, k), max(a, k)))
    return [sorted(m) for i, m in enumerate(members) if alive[i]]


def cluster_matrix(
    matrix: csr_matrix,
    times: npt.NDArray[np.float64],
    *,
    sources: npt.NDArray[np.int64] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    pair_threshold: float = PAIR_THRESHOLD,
    same_source: float = SAME_SOURCE,
    floor: float = FLOOR,
    near_copy: float = NEAR_COPY,
    scale: bool = True,
    grace: timedelta = GRACE,
    half_life: timedelta = HALF_LIFE,
    max_gap: timedelta = MAX_GAP,
) -> list[list[int]]:
    """Average-link groups of L2-normalised rows (times in epoch seconds, NaN: unknown).

    Pair similarities below `floor` x `threshold` are treated as 0; two lone articles
    group only at `pair_threshold` (see average_link). With `scale`,
    a first, stricter pass finds each article's story, and the second runs on
    similarities less each article's crowding by other stories (local_scaling).
    """
    n = matrix.shape[0]
    if n == 0:
        return []
    low = threshold * floor
    raw = similar_pairs(matrix, times, low, grace=grace, half_life=half_life, max_gap=max_gap)
    pairs = raw if sources is None else same_source_penalty(raw, sources, same_source)
    if scale:
        first = max(FIRST_PASS, threshold)
        strong = pairs.data >= first * floor  # the first pass's own floor: fewer pairs to merge
        strict = coo_matrix(
            (pairs.data[strong], (pairs.row[strong], pairs.col[strong])), shape=(n, n)
        )
        stories = average_link(n, strict, first, sources=sources, near_copy=near_copy)
        pairs = local_scaling(pairs, outside_radius(raw, stories))
        keep = pairs.data >= low
        pairs = coo_matrix((pairs.data[keep], (pairs.row[keep], pairs.col[keep])), shape=(n, n))
    groups = average_link(
        n, pairs, threshold, sources=sources, near_copy=near_copy, pair_threshold=pair_threshold
    )
    groups.sort(key=lambda g: g[0])
    return groups


def group_items(
    items: Sequence[Item],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    pair_threshold: float = PAIR_THRESHOLD,
    title_weight: float = TITLE_WEIGHT,
    same_source: float = SAME_SOURCE,
    grace: timedelta = GRACE,
    half_life: timedelta = HALF_LIFE,
    max_gap: timedelta = MAX_GAP,
) -> list[list[int]]:
    """Group items (indexes into `items`), each group sorted, groups by first index."""
    if not items:
        return []
    return cluster_matrix(
        vectorize(items, title_weight=title_weight),
        _seconds(items),
        sources=_source_codes(items),
        threshold=threshold,
        pair_threshold=pair_threshold,
        same_source=same_source,
        grace=grace,
        half_life=half_life,
        max_gap=max_gap,
    )


def cluster_articles(
    articles: Sequence[ArticleRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    title_weight: float = TITLE_WEIGHT,
    same_source: float = SAME_SOURCE,
    grace: timedelta = GRACE,
    half_life: timedelta = HALF_LIFE,
    max_gap: timedelta = MAX_GAP,
) -> list[list[ArticleRecord]]:
    """Articles that report the same story, grouped (input order kept within and across groups)."""
    items = [
        Item(a.title, lead_of(a.full_text or a.summary_text), a.published_at, str(a.feed_id))
        for a in articles
    ]
    groups = group_items(
        items,
        threshold=threshold,
        title_weight=title_weight,
        same_source=same_source,
        grace=grace,
        half_life=half_life,
        max_gap=max_gap,
    )
    return [[articles[i] for i in g] for g in groups]
