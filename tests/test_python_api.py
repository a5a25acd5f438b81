"""The Python API: the README's example runs as written (with the tiny model's settings
instead of 1,500 steps), in a real process, printing nothing but its own lines; keyword
names are the long flags; pictures given as arrays or paths give the same detections."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from faults_support import ROOT
from lifecycle_support import SIZE
from run_support import make_pictures

TINY = (f"steps=2, batch_size=2, log_every=1, report=False, "
        f"set=['model.ssd.image_resizer.fixed_shape_resizer.height={SIZE}', "
        f"'model.ssd.image_resizer.fixed_shape_resizer.width={SIZE}']")

CHECKS = '''
import numpy as np
from PIL import Image

first = sorted(found.path for found in detector.predict("new_pictures"))[0]
[from_array] = detector.predict(np.asarray(Image.open(first).convert("RGB")), threshold=0)
[from_path] = detector.predict([first], threshold=0)
assert from_array.path is None and from_path.path == first
assert len(from_path) > 0 and from_path.boxes.shape == (len(from_path), 4)
assert np.allclose(np.sort(from_array.scores), np.sort(from_path.scores), atol=2e-3)
assert drawn.shape == Image.open(found.path).size[::-1] + (3,)
'''


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_keywords_are_the_long_flags():
    import odhelper
    from odhelper.errors import UsageError
    from odhelper.options.data import TfrecordOptions
    from odhelper.options.fields import from_keywords

    built = from_keywords(TfrecordOptions, {"input": ".", "output": "out",
                                            "split_ratio": "8,1,1"})
    assert built.split_ratio == "8,1,1" and built.output.name == "out"
    with pytest.raises(UsageError, match="unknown option 'split_raito'; did you mean "
                                         "'split_ratio'"):
        odhelper.tfrecord(input=".", output="out", split_raito="8,1,1")
    light = subprocess.run([sys.executable, "-c", "import sys, odhelper; odhelper.load; "
                            "print('tensorflow' in sys.modules)"], capture_output=True,
                           text=True, cwd=ROOT, check=True)
    assert light.stdout.strip() == "False"


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path):
    make_pictures(tmp_path / "my_data", count=12, size=SIZE)
    (tmp_path / "new_pictures").mkdir()
    for picture in sorted((tmp_path / "my_data").glob("*.jpg"))[:3]:
        shutil.copy(picture, tmp_path / "new_pictures")
    example = readme_example()
    assert "steps=1500)" in example
    script = example.replace("steps=1500)", TINY + ")") + CHECKS
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-4000:]
    printed = done.stdout  # the example's own prints (numpy arrays span lines), nothing else
    assert printed.startswith("2 {") and "mAP" in printed.splitlines()[0], printed
    assert printed.count(str(tmp_path / "new_pictures")) == 3, printed
    assert not re.search(r"^\[(INFO|WARNING|ERROR)\|", printed, re.M), printed  # no log lines
    assert "Average Precision" not in printed  # nor pycocotools' summaries
    assert (tmp_path / "runs" / "mine" / "export" / "saved_model" / "saved_model.pb").is_file()
    assert "Program Success" in (tmp_path / "runs" / "mine" / "odhelper.log").read_text()
