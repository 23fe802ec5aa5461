"""Small helpers for the training tests."""

from __future__ import annotations

import csv
from pathlib import Path

#: Steps of the shared smoke run (``make train-smoke`` trains as many).
SMOKE_STEPS = 100


def write_csv(path: Path, rows: list[tuple], header: tuple = ("text", "label")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
