"""Offline engine benchmark: wall time and peak memory at 250 to 100,000 answers.

Each size runs in a fresh child process, so its peak resident memory
(`ru_maxrss`) is its own and includes numpy, scikit-learn and the embedder's
weights. Each size is read by the embedder the engine picks for it (the sentence
encoder up to 600 distinct texts, word vectors above), named on its line; growth
is compared between sizes read by the same one. Answers are synthetic but varied:
sentences assembled from workplace templates, about a third of them text-only.
When `benchmarks/llm_cost.py` offers `measure(n_answers)`, its LLM call and
prompt-token figures for 10,000 answers are printed too. The last line is the
summary the README and CI quote:

    answers=100000 seconds=… peak_mib=… llm_calls=… prompt_tokens_per_answer_token=…

Run: `python benchmarks/analysis.py` (or `--sizes 1000 10000`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = {
    "give-away": "If we handed every one of our customers to our best competitor tomorrow, "
    "how sure are you that they would come back to us?",
    "prospects-first": "Do we treat prospects better than our existing customers?",
    "serve-or-process": "Do we serve our customers, or do we just process them?",
    "different-from-last-year": "What are we doing for customers today that we were not doing "
    "a year ago?",
    "best-experience": "Do we really give the best customer experience in our field?",
    "safe-to-tell": "Can people here tell the truth about customers without being punished?",
}
OPENERS = {
    "positive": ["Honestly,", "Without a doubt", "I think", "From what I see", "Yes,", "Clearly"],
    "negative": ["Honestly,", "Sadly", "I think", "From what I see", "No,", "To be frank"],
}
SUBJECTS = [
    "our customers",
    "the big accounts",
    "long-standing clients",
    "new sign-ups",
    "most callers",
    "the people I speak to",
    "small businesses",
    "our regular buyers",
]
CLAIMS = {
    "positive": [
        "would come back within weeks",
        "trust us more than anyone else",
        "get quick answers from the support team",
        "love the new mobile app",
        "are treated better than any prospect",
        "feel genuinely looked after",
        "notice the faster refunds",
        "appreciate the evening chat service",
        "value the relationship with their account manager",
        "rarely complain about prices",
    ],
    "negative": [
        "would stay with the competitor",
        "wait on hold for forty minutes",
        "pay more than new customers for the same plan",
        "get bounced between departments",
        "complain about late deliveries every week",
        "feel like a ticket number",
        "are looking at other suppliers",
        "hear nothing back for days",
        "are frustrated by rigid scripts",
        "say the product has fallen behind",
    ],
}
REASONS = [
    "because of the pricing",
    "since the reorganisation",
    "after the system migration",
    "thanks to the renewal programme",
    "because the team is stretched",
    "this quarter",
    "in my region",
    "on the phone line",
    "at renewal time",
    "when something breaks",
]


def synthetic_answers(n: int, seed: int = 7) -> list[dict]:
    """n varied answers: executives mostly positive, frontline mostly negative on some questions."""
    rng = random.Random(seed)
    question_ids = list(QUESTIONS)
    rows = []
    for i in range(n):
        qid = question_ids[i % len(question_ids)]
        role = "executive" if rng.random() < 0.3 else "frontline"
        contradiction = qid in ("give-away", "prospects-first", "serve-or-process")
        positive = rng.random() < (0.85 if role == "executive" or not contradiction else 0.2)
        tone = "positive" if positive else "negative"
        text = (
            f"{rng.choice(OPENERS[tone])} {rng.choice(SUBJECTS)} {rng.choice(CLAIMS[tone])} "
            f"{rng.choice(REASONS)}."
        )
        if rng.random() < 0.3:
            text += f" {rng.choice(SUBJECTS).capitalize()} {rng.choice(CLAIMS[tone])}."
        rating = (
            None
            if qid == "serve-or-process" or rng.random() < 0.1
            else (rng.choice([4, 5]) if positive else rng.choice([1, 2]))
        )
        rows.append(
            {
                "id": f"b{i}",
                "question_id": qid,
                "question": QUESTIONS[qid],
                "role": role,
                "rating": rating,
                "text": text,
            }
        )
    return rows


def child(n: int) -> None:
    """Run one size in this process and print its figures as JSON."""
    import resource

    from bot.analysis.embeddings import default_embedder
    from bot.analysis.models import AnswerRecord
    from bot.analysis.offline import analyse_offline

    answers = [AnswerRecord(**row) for row in synthetic_answers(n)]
    embedder = default_embedder(len({a.text for a in answers}))  # as analyse_offline picks
    embedder.embed(["warm up"])  # loading the weights is not per-answer work
    start = time.perf_counter()
    analysis = analyse_offline(answers, min_group=5)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "answers": n,
                "seconds": round(seconds, 2),
                "peak_mib": round(peak_kib / 1024, 1),
                "themes": len(analysis.themes),
                "contradictions": len(analysis.contradictions),
                "embedder": embedder.name,
            }
        )
    )


def llm_figures(n: int) -> dict:
    """The LLM engine's cost figures, when its benchmark is present."""
    path = ROOT / "benchmarks" / "llm_cost.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location("llm_cost", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "measure"):
        return {}
    return module.measure(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[250, 1000, 10000, 100000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(figures)
        print(
            f"{n:>7} answers: {figures['seconds']:6.2f} s, peak {figures['peak_mib']:7.1f} MiB, "
            f"{figures['themes']} themes, {figures['contradictions']} contradictions "
            f"({figures['embedder']})",
            flush=True,
        )
    # Growth is compared between sizes read by the same embedder: a round of up to
    # SENTENCE_MODEL_TEXTS distinct texts gets the slower sentence encoder.
    pairs = zip(results, results[1:], strict=False)
    for before, after in (pair for pair in pairs if pair[0]["embedder"] == pair[1]["embedder"]):
        ratio = after["seconds"] / max(before["seconds"], 1e-9)
        size = after["answers"] / before["answers"]
        print(f"growth {before['answers']}→{after['answers']} ({size:.0f}×): time ×{ratio:.1f}")
    llm = llm_figures(10000)
    calls = llm.get("llm_calls", "n/a")
    ratio = llm.get("prompt_tokens_per_answer_token", "n/a")
    if llm:
        print(f"LLM engine at 10000 answers: {calls} calls, {ratio} prompt tokens per answer token")
    last = results[-1]
    print(
        f"answers={last['answers']} seconds={last['seconds']} peak_mib={last['peak_mib']} "
        f"llm_calls={calls} prompt_tokens_per_answer_token={ratio}"
    )


if __name__ == "__main__":
    main()
