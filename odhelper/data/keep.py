"""`--keep-validate OLD_DATASET`: grow a dataset without touching its validation
(and test) split.

The old dataset's validate records are copied byte for byte, its label map is
reused (the records carry its ids), and every image whose bytes are already in
validation stays out of train, whatever its new name, and so does a near-duplicate
of one (near_duplicates.py): metrics stay comparable across rebuilds and nothing
leaks. `validate.sha256` (one `sha256  name` line per validation image) and
`validate.phash` (its perceptual hashes; `test.*` likewise for a test split) are
written by every build so that any dataset can be kept. A test split is kept the
same way.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from odhelper import files, log
from odhelper.data import csvout, near_duplicates
from odhelper.data.problems import problem
from odhelper.datasetdir import HELD_OUT, DatasetDir
from odhelper.errors import OdhelperError


def write_index(parts: dict[str, list], output: Path) -> None:
    """validate.sha256 and validate.phash (and test.* when there is a test split)."""
    for side in HELD_OUT:
        if side in parts:
            lines = sorted(f"{item.sha256}  {item.image_name}" for item in parts[side])
            files.write_text(DatasetDir(output).index(side),
                             "".join(line + "\n" for line in lines))
            lines = sorted(f"{_hash_text(item.picture_hash)}  {item.image_name}"
                           for item in parts[side])
            files.write_text(DatasetDir(output).picture_hashes(side),
                             "".join(line + "\n" for line in lines))


def _hash_text(value: tuple[int, int] | None) -> str:
    return "- -" if value is None else f"{value[0]:016x} {value[1]:064x}"


def _read_hashes(text: str) -> list[tuple[tuple[int, int], str]]:
    """((short, long) pHash, name) of each line of a <side>.phash file that has them."""
    found = []
    for line in text.splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 3 and "-" not in fields[:2]:
            try:
                found.append(((int(fields[0], 16), int(fields[1], 16)), fields[2]))
            except ValueError:
                continue
    return found


@dataclass
class KeptValidation:
    folder: Path
    content: dict  # the old dataset.json
    hashes: set[str]
    pictures: list[tuple[tuple[int, int], str]]  # perceptual hashes of its held-out pictures

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
        return cls(folder, content, hashes, _kept_picture_hashes(dataset, content))

    @property
    def sides(self) -> list[str]:
        return [side for side in HELD_OUT if side in self.content.get("splits", {})]

    def exclude(self, groups: dict[str, list], report) -> dict[str, list]:
        """Drop the groups (keyed by sha256) already in validation, and those with a
        near-duplicate there; note each one."""
        kept = {}
        index = near_duplicates.HashIndex([value for value, _ in self.pictures]) \
            if self.pictures else None
        for sha, twins in groups.items():
            if sha in self.hashes:
                for twin in twins:
                    report.add(problem(twin.xml, "kept_in_validation", twin.image_name))
                continue
            like = self._near(index, twins)
            if like:
                for twin in twins:
                    report.add(problem(twin.xml, "near_kept_validation",
                                       f"{twin.image_name} looks like {like}"))
                continue
            kept[sha] = twins
        return kept

    def _near(self, index, twins: list) -> str:
        """The name of a kept held-out picture that one of `twins` near-duplicates."""
        for twin in twins:
            if index is not None and twin.picture_hash is not None:
                found = index.near(twin.picture_hash)
                if len(found):
                    return self.pictures[int(found[0])][1]
        return ""

    def copy_into(self, output: Path) -> None:
        """The validate (and test) shards, CSV and sha256 index, byte for byte."""
        old = DatasetDir(self.folder)
        for side in self.sides:
            kept = self.content["splits"][side]
            for name in kept["shards"] + [old.csv(side).name, old.index(side).name,
                                          old.picture_hashes(side).name]:
                if (self.folder / name).is_file():
                    with files.atomic_path(output / name) as temp:
                        shutil.copyfile(self.folder / name, temp)
                else:  # e.g. no .phash from an older odhelper: ours would be of no pictures
                    (output / name).unlink(missing_ok=True)
        self._copy_picture_rows(old, DatasetDir(output))

    def _copy_picture_rows(self, old: DatasetDir, new: DatasetDir) -> None:
        """pictures.csv: the kept sides' rows come from the earlier dataset."""
        if not old.pictures_csv.is_file() or not new.pictures_csv.is_file():
            return
        rows = [r for r in csvout.read_pictures(new.pictures_csv) if r["split"] not in self.sides]
        rows += [r for r in csvout.read_pictures(old.pictures_csv) if r["split"] in self.sides]
        csvout.write_pictures([tuple(r[c] for c in csvout.PICTURE_COLUMNS) for r in rows],
                              new.pictures_csv)

    def patch_record(self, content: dict) -> None:
        """dataset.json: the kept validate (and test) split and its per-class counts."""
        old = {c["name"]: c for c in self.content.get("classes", [])}
        for side in self.sides:
            content["splits"][side] = self.content["splits"][side]
            for row in content["classes"]:
                for what in (f"{side}_images", f"{side}_boxes"):
                    row[what] = old.get(row["name"], {}).get(what, 0)
        content["kept_validation"] = str(self.folder.resolve())


def _kept_picture_hashes(dataset: DatasetDir, content: dict) -> list:
    """The held-out pictures' perceptual hashes; none (with a warning) from a dataset
    written before they were."""
    found = []
    for side in HELD_OUT:
        if side not in content.get("splits", {}):
            continue
        try:
            found += _read_hashes(dataset.picture_hashes(side).read_text(encoding="utf-8"))
        except OSError:
            log.warning("--keep-validate %s: no %s (written by an older odhelper): "
                        "near-duplicates of its %s pictures are not recognised; only "
                        "byte-identical copies stay out of training", dataset.root,
                        dataset.picture_hashes(side).name, side)
    return found
