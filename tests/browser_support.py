"""Open a report in a real headless browser (chromium): every <img> loads, every
section shows numbers, and a screenshot is taken. Tests skip without chromium."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const empty = [...document.querySelectorAll('section')]
    .filter(s => !/\\d/.test(s.innerText)).map(s => s.id);
  document.body.setAttribute('data-images', String(images.length));
  document.body.setAttribute('data-broken', String(broken));
  document.body.setAttribute('data-no-numbers', empty.join(' '));
});</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on this machine (apt-get install chromium)")


def _browser(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", *args], capture_output=True, text=True,
                          timeout=240, check=True)


def check_page(report: Path, screenshot: Path) -> dict:
    """Load `report` in chromium; return the image count, broken images and the ids
    of sections without a digit; write a full-page-width screenshot."""
    probe = screenshot.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    dom = _browser("--virtual-time-budget=20000", "--dump-dom", probe.as_uri()).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    found = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body))
    _browser("--window-size=1280,4000", f"--screenshot={screenshot}", report.as_uri())
    return {"images": int(found["images"]), "broken": int(found["broken"]),
            "no_numbers": found["no-numbers"].split(), "screenshot": screenshot}
