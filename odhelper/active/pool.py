"""The image-level pool: POOL_DIR/<class name>/*.jpg, pictures known to show that class."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper import log
from odhelper.constants import IMAGE_SUFFIXES
from odhelper.errors import OdhelperError


@dataclass(frozen=True)
class PoolImage:
    path: Path
    label: str  # the class the picture is known to contain

    @property
    def key(self) -> str:
        """Stable identity inside the pool: '<class>/<file name>'."""
        return f"{self.label}/{self.path.name}"


def scan_pool(pool_dir: str | Path, classes: list[str]) -> list[PoolImage]:
    """Every picture under POOL_DIR/<class>/, sorted; unknown class folders are an error."""
    pool_dir = Path(pool_dir)
    if not pool_dir.is_dir():
        raise OdhelperError(f"{pool_dir}: pool folder not found")
    folders = sorted(p for p in pool_dir.iterdir() if p.is_dir())
    unknown = [f.name for f in folders if f.name not in classes]
    if unknown:
        raise OdhelperError(f"{pool_dir}: class folders not in the label map: "
                            f"{', '.join(unknown)} (known: {', '.join(classes)})")
    images: dict[str, PoolImage] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = PoolImage(path, folder.name)
            if image.key in images:  # adopted files are named <class>/<name>: one each
                log.warning("%s: skipped, same class and name as %s (rename one)", path,
                            images[image.key].path)
                continue
            images[image.key] = image
    if not images:
        raise OdhelperError(f"{pool_dir}: no pictures in any class folder")
    return list(images.values())
