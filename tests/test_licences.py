"""scripts/check_licences.py: the installed packages pass, imageio-ffmpeg's GPL-built ffmpeg is
allow-listed as measured, and an AGPL package outside the allow-list fails."""
from __future__ import annotations

import email.message
import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_licences.py"


def _script():
    spec = importlib.util.spec_from_file_location("check_licences", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_packages_pass_and_ffmpeg_is_allowed_as_measured():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    ffmpeg = [line for line in lines if line.startswith("imageio-ffmpeg ")]
    assert len(ffmpeg) == 1, done.stdout
    assert "[allowed: GPL-built ffmpeg executable, run as a separate process (" in ffmpeg[0]
    assert "--enable-gpl" in ffmpeg[0]  # read from the binary's -version, not asserted
    assert _script().ALLOWED["imageio-ffmpeg"] in ffmpeg[0]
    assert any(line.startswith("odhelper ") and "Apache-2.0 [ok]" in line for line in lines)
    assert any(line.startswith("pytest ") and "test-only" in line for line in lines)
    summary = [line for line in lines
               if line.startswith("check_licences: ") and " packages (" in line]
    assert len(summary) == 1 and " 0 failed, 1 allow-listed, " in summary[0], done.stdout


def test_without_its_allow_list_entry_the_measured_ffmpeg_fails(capsys):
    script = _script()
    del script.ALLOWED["imageio-ffmpeg"]  # this module's copy only
    assert script.main() == 1
    out = capsys.readouterr().out
    assert "check_licences: FAILED: imageio-ffmpeg " in out
    assert any(line.startswith("imageio-ffmpeg ") and "[FAIL: GPL, GPL-built ffmpeg" in line
               for line in out.splitlines())


def test_agpl_package_outside_the_allow_list_fails():
    script = _script()
    meta = email.message.Message()
    meta["Name"] = "made-up-agpl-package"
    meta["License-Expression"] = "AGPL-3.0-only"
    licence = script.licence_of(meta)
    assert licence == "AGPL-3.0-only"
    fails, verdict = script.judge("made-up-agpl-package", licence)
    assert fails and verdict.startswith("FAIL: AGPL")

    old_style = email.message.Message()  # no expression: the classifier decides
    old_style["Classifier"] = "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"
    assert script.judge("made-up-gpl-package", script.licence_of(old_style))[0]
    # LGPL passes (policy in the script); a test-only package is listed, not judged.
    assert not script.judge("made-up-lgpl-package", "LGPL-2.1-or-later")[0]
    assert not script.judge("made-up-test-tool", "AGPL-3.0-only", role="test-only")[0]
