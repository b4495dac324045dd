"""assistant.index.keyword: bm25s is loaded without SciPy when nothing else needs it, and the
keyword index it builds and its scores are the same either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "Refugees forcibly returned from China are detained and interrogated.",
    "The Commission of Inquiry reported crimes against humanity in 2014.",
    "Public executions were held in the border towns.",
    "Families of defectors are punished as well.",
]

PROBE = """
import sys, numpy as np
if {scipy_first}:
    import scipy.sparse
from assistant.index.keyword import KeywordIndex, stopwords
index = KeywordIndex.build({texts!r})
index.save(__import__("pathlib").Path({out!r}))
loaded = KeywordIndex.load(__import__("pathlib").Path({out!r}), mmap=True)
rows = np.arange(loaded.count())
np.save({scores!r}, np.stack([loaded.scores(loaded.terms(q), rows) for q in ("returned from China", "executions", "defectors families")]))
print("scipy loaded:", "scipy.sparse" in sys.modules, "stopwords:", len(stopwords()))
import scipy.sparse  # still importable afterwards, for whatever needs it
print("scipy then:", scipy.sparse.csr_matrix.__name__)
"""


def run(tmp_path: Path, scipy_first: bool) -> tuple[str, np.ndarray, set[str]]:
    out, scores = tmp_path / f"kw-{scipy_first}", tmp_path / f"scores-{scipy_first}.npy"
    code = PROBE.format(scipy_first=scipy_first, texts=TEXTS, out=str(out), scores=str(scores))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    files = {p.name for p in out.iterdir() if p.suffix == ".npy" or p.name == "size.txt"}
    return done.stdout, np.load(scores), files


def test_bm25s_loads_without_scipy_and_scores_as_it_does_with_it(tmp_path):
    alone, scores_alone, files_alone = run(tmp_path, scipy_first=False)
    beside, scores_beside, files_beside = run(tmp_path, scipy_first=True)
    assert "scipy loaded: False" in alone and "scipy loaded: True" in beside
    assert "scipy then: csr_matrix" in alone
    # (the saved arrays themselves differ from process to process: bm25s numbers its
    # vocabulary in set order, which depends on the string hash seed)
    assert files_alone == files_beside and "size.txt" in files_alone and len(files_alone) > 1
    assert np.array_equal(scores_alone, scores_beside)
    assert scores_alone[0, 0] > 0 and scores_alone[1, 2] > 0 and scores_alone[2, 3] > 0
    assert scores_alone[0, 2] == 0
