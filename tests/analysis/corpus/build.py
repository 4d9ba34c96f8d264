"""Build the development corpus's exports and gold labels from its hand-written sources.

Each `src/<company>.yaml` holds one fictional company's round: its questions (ids from
the question bank, `prompts/questions.yaml`, whose text and scale labels they take),
the gold verdict per question and every answer, one per line of a block, written by hand:

    <role><rating> <gold theme> | <text>

with role `e` (executive) or `f` (frontline), rating 1-5 or `-` for a text-only
answer, and the gold theme a short slug (`-` for answers in a group the anonymity
floor hides; `junk`, `injection` and `off-topic` for what they say).

It writes, next to this file, `<company>.jsonl` (the export shape `run_bot.py analyse`
reads) and `<company>.labels.json` (scales, gold divergence, gold theme per answer,
hidden groups, flagged answers, and whether the company is held out of tuning).
Run `python tests/analysis/corpus/build.py` after editing a source.

Beside the exports, `readings.yaml` holds the rating a reader gave each themed answer in
words of the tuning companies (the stance head's training, `bot.analysis.stance`). A new
tuning company is read before it trains anything; `tests/analysis/test_stance.py` names
any answer without a reading.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from bot.core.questions import load_bank  # noqa: E402

LINE = re.compile(r"^(?P<role>[ef])(?P<rating>[1-5-])\s+(?P<theme>[a-z-]+)\s*\|\s*(?P<text>.*)$")
ROLE = {"e": "executive", "f": "frontline"}


def build(source: Path, bank: dict) -> tuple[list[dict], dict]:
    """One company's export rows and gold labels."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    prefix = "".join(word[0] for word in source.stem.split("-"))
    rows: list[dict] = []
    labels: dict = {
        "company": data["company"],
        "held_out": bool(data["held_out"]),
        "min_group": int(data["min_group"]),
        "questions": {},
        "themes": {},
        "hidden": [],
        "flagged": {"injection": [], "junk": []},
    }
    for question in data["questions"]:
        qid = question["id"]
        bank_question = bank[qid]
        labels["questions"][qid] = {
            "kind": question["kind"],
            "diverges": bool(question["diverges"]),
            "low": bank_question.low_label,
            "high": bank_question.high_label,
            "why": bank_question.why_prompt,
        }
        for role in question.get("hidden", []):
            labels["hidden"].append({"question_id": qid, "role": role})
        for line in question["answers"].splitlines():
            if not line.strip():
                continue
            match = LINE.match(line)
            if match is None:
                raise SystemExit(f"{source}: cannot read answer line {line!r}")
            answer_id = f"{prefix}-{len(rows) + 1:03d}"
            rating = match["rating"]
            rows.append(
                {
                    "id": answer_id,
                    "round": "1",
                    "question_id": qid,
                    "question": bank_question.text,
                    "role": ROLE[match["role"]],
                    "rating": None if rating == "-" else int(rating),
                    "text": match["text"].strip(),
                }
            )
            theme = match["theme"]
            if theme in ("junk", "injection"):
                labels["flagged"][theme].append(answer_id)
            elif theme != "-":
                labels["themes"][answer_id] = theme
    return rows, labels


def main() -> None:
    bank = {q.id: q for q in load_bank(ROOT / "prompts" / "questions.yaml")}
    for source in sorted((HERE / "src").glob("*.yaml")):
        rows, labels = build(source, bank)
        with (HERE / f"{source.stem}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        (HERE / f"{source.stem}.labels.json").write_text(
            json.dumps(labels, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(f"{source.stem}: {len(rows)} answers, {len(labels['questions'])} questions")


if __name__ == "__main__":
    main()
