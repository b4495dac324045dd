"""Agreement of two assessors on the pairs both judged (eval/README.md, "Agreement").

Usage: python scripts/judge_agreement.py > eval/qrels/AGREEMENT.md

Compares eval/qrels/second-assessor.qrels with the first assessors' labels in
eval/qrels/{default,debian-faq,debian-reference}.qrels, and
eval/qrels/second-assessor-holdout.qrels with eval/qrels/NAME-holdout.qrels (the held-out
question sets), and eval/qrels/second-assessor-r-manuals.qrels with eval/qrels/r-manuals.qrels: exact agreement, Cohen's kappa
(unweighted and linearly weighted, scikit-learn), the confusion matrix, and the
agreement on "unrelated (0) or not", which the shown-quote measure rests on.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.metrics import cohen_kappa_score, confusion_matrix

ROOT = Path(__file__).resolve().parent.parent
QRELS = ROOT / "eval" / "qrels"
COLLECTIONS = ("default", "debian-faq", "debian-reference")


def read(path: Path) -> dict[tuple[str, str], int]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        qid, _, pid, grade = line.split()
        out[(qid, pid)] = int(grade)
    return out


def table(name: str, a: list[int], b: list[int]) -> list[str]:
    same = sum(x == y for x, y in zip(a, b))
    u_a = [x == 0 for x in a]
    u_b = [y == 0 for y in b]
    lines = [
        f"| {name} | {len(a)} | {same / len(a):.3f} | {cohen_kappa_score(a, b):.3f} | "
        f"{cohen_kappa_score(a, b, weights='linear'):.3f} | "
        f"{sum(x == y for x, y in zip(u_a, u_b)) / len(a):.3f} | {cohen_kappa_score(u_a, u_b):.3f} |"
    ]
    return lines


SETS = (
    ("first question sets", "second-assessor.qrels", "", "about 12% of each collection", COLLECTIONS),
    ("held-out question sets", "second-assessor-holdout.qrels", "-holdout",
     "the questions whose id's SHA-256 begins with 0-3, about a quarter of each set", COLLECTIONS),
    ("PDF manuals", "second-assessor-r-manuals.qrels", "",
     "the questions whose id's SHA-256 begins with 0-3, a fifth of the set", ("r-manuals",)),
)


def main() -> None:
    print("# Agreement of the graded judgments\n")
    print("For each question set a second assessor judged every pooled passage of a sample of questions "
          "(chosen by a hash of the question id) without seeing the first labels.")
    for title, second_file, suffix, sample, names in SETS:
        second = read(QRELS / second_file)
        print(f"\n## {title[0].upper() + title[1:]} (sample: {sample})\n")
        print("| collection | pairs | exact agreement | Cohen's kappa | linear weighted kappa | agreement on unrelated (0) vs not | kappa on unrelated vs not |")
        print("|---|---|---|---|---|---|---|")
        all_a: list[int] = []
        all_b: list[int] = []
        for name in names:
            first = read(QRELS / f"{name}{suffix}.qrels")
            pairs = sorted(k for k in second if k in first)
            a = [first[k] for k in pairs]
            b = [second[k] for k in pairs]
            all_a += a
            all_b += b
            print("\n".join(table(name + suffix, a, b)))
        print("\n".join(table("all", all_a, all_b)))
        print("\nConfusion matrix over all pairs (rows: first assessor 0/1/2; columns: second assessor 0/1/2):\n")
        m = confusion_matrix(all_a, all_b, labels=[0, 1, 2])
        print("| first \\ second | 0 | 1 | 2 |\n|---|---|---|---|")
        for g, row in zip((0, 1, 2), m):
            print(f"| {g} | " + " | ".join(str(x) for x in row) + " |")


if __name__ == "__main__":
    main()
