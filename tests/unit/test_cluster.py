from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.sparse import coo_matrix, csr_matrix

from brief.digest.cluster import (
    DEFAULT_THRESHOLD,
    PAIR_THRESHOLD,
    Item,
    cluster_articles,
    group_items,
    local_scaling,
    outside_radius,
    time_factor,
    vectorize,
)
from brief.types import ArticleRecord

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def record(
    id: int, title: str, text: str, hours: float = 0, feed: int | None = None
) -> ArticleRecord:
    return ArticleRecord(
        id=id,
        feed_id=feed if feed is not None else id,
        source=f"Outlet {feed if feed is not None else id}",
        section="world",
        title=title,
        link=f"https://example.org/{id}",
        summary_text=text,
        image_url=None,
        published_at=T0 + timedelta(hours=hours),
    )


QUAKE = "A magnitude 7.1 earthquake struck central Chile on Monday, killing at least five people."
BUDGET = "The finance minister presented the annual budget to parliament, raising fuel taxes."


def test_same_story_from_several_outlets_is_one_group() -> None:
    articles = [
        record(1, "Earthquake kills five in central Chile", QUAKE),
        record(2, "Budget raises fuel taxes", BUDGET),
        record(
            3,
            "Chile earthquake: at least five dead",
            "At least five people died when an earthquake struck central Chile.",
        ),
        record(
            4,
            "Strong quake hits Chile, five killed",
            "An earthquake of magnitude 7.1 hit Chile, killing five.",
        ),
    ]
    groups = cluster_articles(articles)
    assert [[a.id for a in g] for g in groups] == [[1, 3, 4], [2]]


def test_unrelated_articles_stay_apart() -> None:
    items = [Item("Earthquake in Chile", QUAKE), Item("Budget day", BUDGET), Item("", "")]
    assert group_items(items) == [[0], [1], [2]]


def test_an_outlets_update_groups_but_its_other_story_does_not() -> None:
    articles = [
        record(1, "Earthquake kills five in central Chile", QUAKE, feed=7),
        record(2, "Earthquake kills five in central Chile (updated)", QUAKE, hours=2, feed=7),
        # Same outlet, same country, another story: shares words but is not the same news.
        record(
            3,
            "Chile central bank holds rates",
            "Chile's central bank held rates on Monday.",
            feed=7,
        ),
    ]
    assert [[a.id for a in g] for g in cluster_articles(articles)] == [[1, 2], [3]]


def test_time_factor_grace_decay_and_cut() -> None:
    hour = 3600.0
    factors = time_factor(np.array([0.0, 12 * hour, 36 * hour, 73 * hour, np.nan]))
    assert factors[0] == factors[1] == 1.0  # within the grace period
    assert factors[2] == pytest.approx(0.5)  # one half-life past it
    assert factors[3] == 0.0  # past the maximum gap
    assert factors[4] == 1.0  # unknown time: no decay


def test_dates_keep_far_apart_articles_apart() -> None:
    same = ("Earthquake kills five in central Chile", QUAKE)
    near = [Item(*same, time=T0), Item(*same, time=T0 + timedelta(hours=6))]
    far = [Item(*same, time=T0), Item(*same, time=T0 + timedelta(days=4))]
    undated = [Item(*same), Item(*same)]
    assert group_items(near) == [[0, 1]]
    assert group_items(far) == [[0], [1]]
    assert group_items(undated) == [[0, 1]]


def test_decay_weakens_a_borderline_match() -> None:
    a = Item("Earthquake kills five in central Chile", QUAKE, time=T0)
    b_text = "Rescuers in Chile searched rubble after the earthquake on Monday."
    b_near = Item("Rescuers search rubble in Chile", b_text, time=T0 + timedelta(hours=1))
    b_later = Item("Rescuers search rubble in Chile", b_text, time=T0 + timedelta(hours=60))
    similarity = float((vectorize([a, b_near]) @ vectorize([a, b_near]).T)[0, 1])
    threshold = similarity * 0.9  # a borderline match: just above the threshold
    assert group_items([a, b_near], threshold=threshold, pair_threshold=threshold) == [[0, 1]]
    assert group_items([a, b_later], threshold=threshold, pair_threshold=threshold) == [[0], [1]]


def test_two_lone_articles_need_a_firmer_match_than_joining_a_story() -> None:
    # Two outlets' articles that share only a topic ("climate change") stay apart, as
    # they did in an edition of real feeds; a third outlet's differently worded take on
    # a story two outlets already tell joins it at the lower threshold.
    dhs = Item(
        "Trump DHS pick can't say climate change is man-made",
        "Kirstjen Nielsen told senators she could not say climate change is man-made.",
        source="TPM",
    )
    bases = Item(
        "Climate change threatens half of US bases worldwide",
        "A Pentagon report finds that climate change threatens military bases.",
        source="Guardian",
    )
    pair = [dhs, bases]
    similarity = float((vectorize(pair) @ vectorize(pair).T)[0, 1])
    assert DEFAULT_THRESHOLD <= similarity < PAIR_THRESHOLD
    assert group_items(pair) == [[0], [1]]
    assert group_items(pair, pair_threshold=DEFAULT_THRESHOLD) == [[0, 1]]

    jobs = [
        Item("US added 75,000 jobs in May as hiring slowed",
             "Employers added 75,000 jobs in May, the Labor Department said.", source="NYT"),
        Item("Job growth slows sharply as payrolls add 75,000 in May",
             "Payrolls grew by 75,000 in May, the Labor Department said on Friday.", source="WSJ"),
        Item("Job growth sputters in May, but Wall Street rallies",
             "Employers added far fewer jobs than expected in May, yet stocks rose on hopes of a "
             "Fed rate cut.",
             source="WaPo"),
    ]  # fmt: skip
    matrix = vectorize(jobs)
    close, third = (matrix @ matrix.T).toarray()[0, 1], (matrix @ matrix.T).toarray()[2, :2]
    assert close >= PAIR_THRESHOLD and DEFAULT_THRESHOLD <= third.mean() < PAIR_THRESHOLD
    assert group_items(jobs) == [[0, 1, 2]]


def test_average_link_does_not_chain() -> None:
    # a~b and b~c, but a and c share nothing: average-link keeps c out of {a, b}.
    items = [
        Item("alpha bravo charlie delta", "alpha bravo charlie delta echo"),
        Item("alpha bravo charlie delta foxtrot golf", "echo foxtrot golf hotel"),
        Item("foxtrot golf hotel india", "foxtrot golf hotel india juliet"),
    ]
    groups = group_items(items, threshold=0.3)
    assert [0, 1, 2] not in groups


def test_grouping_is_deterministic_and_fast_enough() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    items = [
        Item(" ".join(rng.choice(words, 8)), " ".join(rng.choice(words, 30))) for _ in range(2000)
    ]
    assert group_items(items) == group_items(items)


def test_two_articles_of_one_outlet_are_two_stories_unless_near_copies() -> None:
    from scipy.sparse import coo_matrix

    from brief.digest.cluster import average_link

    # 0 and 1: one outlet, 0.2 alike; 2 (another outlet) is 0.5 alike to both.
    rows, cols = np.array([0, 0, 1]), np.array([1, 2, 2])
    pairs = coo_matrix((np.array([0.2, 0.5, 0.5]), (rows, cols)), shape=(3, 3))
    sources = np.array([7, 7, 8], dtype=np.int64)
    assert average_link(3, pairs, 0.3) == [[0, 1, 2]]
    assert sorted(average_link(3, pairs, 0.3, sources=sources)) == [[0, 2], [1]]
    near = coo_matrix((np.array([0.9, 0.5, 0.5]), (rows, cols)), shape=(3, 3))
    assert average_link(3, near, 0.3, sources=sources) == [[0, 1, 2]]


def test_near_identical_articles_cost_n_times_k_pairs_not_n_squared() -> None:
    import numpy as np
    from scipy.sparse import csr_matrix

    from brief.digest.cluster import MAX_NEIGHBOURS, similar_pairs

    n = 600
    same = csr_matrix(np.ones((n, 4)) / 2.0)  # 600 copies of one L2-normalised vector
    pairs = similar_pairs(same, np.full(n, np.nan), 0.3)
    assert pairs.nnz <= n * MAX_NEIGHBOURS < n * (n - 1) // 2
    # Every row keeps its strongest pairs; all are equal here, so the lowest columns win.
    first = sorted(pairs.col[pairs.row == 0].tolist())
    assert first == list(range(1, MAX_NEIGHBOURS + 1))


def test_local_scaling_takes_off_only_the_radius_above_the_reference() -> None:
    pairs = coo_matrix(([0.5, 0.5, 0.5], ([0, 1, 2], [1, 2, 3])), shape=(4, 4))
    radius = np.array([0.1, 0.2, 0.45, 0.45])
    scaled = local_scaling(pairs, radius, reference=0.25)
    # quiet pair untouched; crowded pairs lowered by half of each side's excess
    assert scaled.data == pytest.approx([0.5, 0.4, 0.3])


def test_radius_counts_only_other_stories() -> None:
    pairs = coo_matrix(([0.9, 0.4, 0.2], ([0, 0, 1], [1, 2, 2])), shape=(3, 3))
    radius = outside_radius(pairs, [[0, 1], [2]], k=2)
    assert radius == pytest.approx([0.2, 0.1, 0.3])  # (0.4 + 0) / 2, (0.2 + 0) / 2, (0.4 + 0.2) / 2


# One story told by ten outlets in their own words, in a window of other news that
# shares its words (Chile, quake, rescue): the hubness correction must not split it.
BIG_STORY = [
    (
        "Earthquake kills five in central Chile",
        "A magnitude 7.1 earthquake struck central Chile on Monday, killing at least five people.",
    ),
    (
        "Chile quake: at least five dead",
        "At least five people died when a strong earthquake hit central Chile.",
    ),
    (
        "Strong earthquake hits Chile, five killed",
        "An earthquake of magnitude 7.1 shook central Chile, killing five.",
    ),
    (
        "Deadly quake strikes central Chile",
        "A 7.1-magnitude quake struck central Chile early Monday; five people were killed.",
    ),
    (
        "Chile earthquake death toll rises to five",
        "Five people are dead after a powerful earthquake in central Chile, officials said.",
    ),
    (
        "Five dead as 7.1 quake rocks Chile",
        "A powerful 7.1 earthquake rocked central Chile, leaving five people dead.",
    ),
    (
        "Magnitude 7.1 earthquake jolts central Chile",
        "Five people were killed when the earthquake jolted central Chile on Monday.",
    ),
    (
        "Chile: powerful earthquake kills at least five",
        "A powerful earthquake in central Chile killed at least five people on Monday.",
    ),
    (
        "Central Chile hit by deadly earthquake",
        "The 7.1 earthquake hit central Chile, killing five and damaging buildings.",
    ),
    (
        "Quake in Chile leaves five dead",
        "An earthquake measuring 7.1 left five dead in central Chile on Monday.",
    ),
]
NEIGHBOURS = [
    ("Chile central bank holds rates", "Chile's central bank held interest rates on Monday."),
    (
        "Earthquake drill held in Japan schools",
        "Schools across Japan held an earthquake drill on Monday.",
    ),
    (
        "Chile copper output falls",
        "Copper output in Chile fell in October, the mining ministry said.",
    ),
    (
        "Rescue teams train for quake response",
        "Rescue teams trained for an earthquake response in California.",
    ),
    ("Chile wins Davis Cup tie", "Chile won its Davis Cup tie against Peru on Monday."),
    (
        "Volcano erupts in Indonesia",
        "A volcano erupted in Indonesia on Monday, forcing evacuations.",
    ),
    (
        "Five killed in Texas highway crash",
        "Five people were killed in a highway crash in Texas on Monday.",
    ),
    (
        "Chile election: run-off set for December",
        "Chile will hold a presidential run-off in December.",
    ),
]


def test_a_story_of_ten_outlets_in_a_crowded_window_stays_one_group() -> None:
    articles = [record(i, t, text) for i, (t, text) in enumerate(BIG_STORY + NEIGHBOURS)]
    groups = [[a.id for a in g] for g in cluster_articles(articles)]
    assert list(range(len(BIG_STORY))) in groups
    assert all(len(g) == 1 for g in groups if g[0] >= len(BIG_STORY))


@pytest.mark.parametrize("span", [3e5, 3e3], ids=["decayed", "within-grace"])
def test_dense_blocks_find_the_same_pairs_as_sparse_ones(
    monkeypatch: pytest.MonkeyPatch, span: float
) -> None:
    # A day of look-alike articles goes the dense way (a dense product, partition, not a
    # sort of every pair); it must keep the very pairs and similarities the sparse way
    # keeps, ties broken by column, whether or not the dates decay anything.
    import brief.digest.cluster as cluster

    rng = np.random.default_rng(3)
    n = 900
    x = np.round(rng.random((n, 50)) ** 6, 2)
    x[x < 0.05] = 0.0
    x[::7] = x[0]  # exact ties
    matrix = csr_matrix(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9))
    times = np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * span)
    monkeypatch.setattr(cluster, "_DENSE_SHARE", 2.0)
    sparse = cluster.similar_pairs(matrix, times, 0.2)
    monkeypatch.setattr(cluster, "_DENSE_SHARE", 0.0)
    dense = cluster.similar_pairs(matrix, times, 0.2)
    assert sparse.nnz > n * 20
    assert (sparse.row == dense.row).all() and (sparse.col == dense.col).all()
    assert np.array_equal(sparse.data, dense.data)


def test_three_outlets_in_other_words_make_a_story_two_do_not() -> None:
    # Three outlets' takes on one story (NeuS's "New California" secession bid), each
    # pair below the lone-pair threshold: together they are one story, while any two of
    # them alone could be a topic in common, not a story, and stay apart.
    trio = [
        Item(
            "Fed up with taxes, rural Californians plan to leave the state",
            "Residents of northern California counties say high taxes justify a new state.",
            source="Fox",
        ),
        Item(
            "These right-wing Californians want to secede",
            "Conservatives in northern California are pushing a plan to split from the state.",
            source="Vice",
        ),
        Item(
            "New California? Five times Californians failed to split the state",
            "Plans to break up California have failed before; a new group is trying again.",
            source="LAT",
        ),
    ]
    matrix = vectorize(trio)
    similarity = (matrix @ matrix.T).toarray()[np.triu_indices(3, 1)]
    assert (similarity >= DEFAULT_THRESHOLD).all() and (similarity < PAIR_THRESHOLD).all()
    assert group_items(trio) == [[0, 1, 2]]
    for pair in ([0, 1], [1, 2], [0, 2]):
        assert group_items([trio[i] for i in pair]) == [[0], [1]]
