"""active.json: what every finished round adopted, so a killed run resumes
without adopting twice or losing adoptions."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odhelper import files



@dataclass
class RoundRecord:
    round: int
    steps: int  # total training steps after this round
    adopted: dict[str, list[str]] = field(default_factory=dict)  # class -> pool keys
    reviewed: dict[str, list[str]] = field(default_factory=dict)  # sent to review
    metrics: dict[str, float] = field(default_factory=dict)
    train_images: int = 0  # training pictures of this round's dataset
    seconds: float = 0.0
    trained: bool = False  # False: adoptions saved, training still to do

    def count(self, name: str) -> int:
        return len(self.adopted.get(name, []))


@dataclass
class ActiveState:
    classes: list[str]
    boxed_train_images: int = 0
    rounds: list[RoundRecord] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def adopted_keys(self) -> set[str]:
        return {key for r in self.rounds for keys in r.adopted.values() for key in keys}

    def reviewed_keys(self) -> set[str]:
        return {key for r in self.rounds for keys in r.reviewed.values() for key in keys}

    def next_round(self) -> int:
        return self.rounds[-1].round + 1 if self.rounds else 0

    def save(self, path: Path) -> None:
        files.write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> "ActiveState | None":
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        rounds = [RoundRecord(**r) for r in data.pop("rounds", [])]
        return cls(rounds=rounds, **data)
