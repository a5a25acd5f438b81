"""`--keep-validate OLD_DATASET`: grow a dataset without touching its validation
(and test) split.

The old dataset's validate records are copied byte for byte, its label map is
reused (the records carry its ids), and every image whose bytes are already in
validation stays out of train, whatever its new name: metrics stay comparable
across rebuilds and nothing leaks. `validate.sha256` (one `sha256  name` line per
validation image; `test.sha256` likewise for a test split) is written by every
build so that any dataset can be kept. A test split is kept the same way.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from odhelper import files
from odhelper.data.problems import problem
from odhelper.datasetdir import HELD_OUT, DatasetDir
from odhelper.errors import OdhelperError


def write_index(parts: dict[str, list], output: Path) -> None:
    """validate.sha256 (and test.sha256 when there is a test split)."""
    for side in HELD_OUT:
        if side in parts:
            lines = sorted(f"{item.sha256}  {item.image_name}" for item in parts[side])
            files.write_text(DatasetDir(output).index(side),
                             "".join(line + "\n" for line in lines))


@dataclass
class KeptValidation:
    folder: Path
    content: dict  # the old dataset.json
    hashes: set[str]

    @classmethod
    def load(cls, folder: Path, output: Path) -> "KeptValidation":
        folder = Path(folder)
        if folder.resolve() == Path(output).resolve():
            raise OdhelperError(f"--keep-validate {folder}: must differ from the output folder")
        dataset = DatasetDir(folder)
        try:
            content = dataset.summary().raw
            index = "".join(dataset.index(side).read_text(encoding="utf-8")
                            for side in HELD_OUT if side in content.get("splits", {}))
        except (OSError, OdhelperError) as exc:
            raise OdhelperError(f"--keep-validate {folder}: not a usable dataset written by "
                                f"`odhelper tfrecord` ({exc})") from None
        hashes = {line.split()[0] for line in index.splitlines() if line.strip()}
        return cls(folder, content, hashes)

    @property
    def sides(self) -> list[str]:
        return [side for side in HELD_OUT if side in self.content.get("splits", {})]

    def exclude(self, groups: dict[str, list], report) -> dict[str, list]:
        """Drop the groups (keyed by sha256) already in validation; note each one."""
        kept = {}
        for sha, twins in groups.items():
            if sha in self.hashes:
                for twin in twins:
                    report.add(problem(twin.xml, "kept_in_validation", twin.image_name))
            else:
                kept[sha] = twins
        return kept

    def copy_into(self, output: Path) -> None:
        """The validate (and test) shards, CSV and sha256 index, byte for byte."""
        old = DatasetDir(self.folder)
        for side in self.sides:
            kept = self.content["splits"][side]
            for name in kept["shards"] + [old.csv(side).name, old.index(side).name]:
                if (self.folder / name).is_file():
                    with files.atomic_path(output / name) as temp:
                        shutil.copyfile(self.folder / name, temp)

    def patch_record(self, content: dict) -> None:
        """dataset.json: the kept validate (and test) split and its per-class counts."""
        old = {c["name"]: c for c in self.content.get("classes", [])}
        for side in self.sides:
            content["splits"][side] = self.content["splits"][side]
            for row in content["classes"]:
                for what in (f"{side}_images", f"{side}_boxes"):
                    row[what] = old.get(row["name"], {}).get(what, 0)
        content["kept_validation"] = str(self.folder.resolve())
