#!/usr/bin/env python3
"""Licences of the packages installed for the Python that runs this script (issue 30).

Usage: .venv/bin/python scripts/check_licences.py
Prints `name version licence [verdict]` per installed distribution, then a summary; exits 1
when a runtime package is AGPL or GPL (by its metadata, or as measured: imageio-ffmpeg's
bundled ffmpeg is run) and is not in ALLOWED. Unknown licences are listed, not failed.
"""
import importlib.metadata as md
import os
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
# requirements/base.txt mixes runtime and test packages; these lines are the test suite's.
TEST_ROOTS = {"pytest", "pytest-xdist", "hypothesis"}
# Always runtime: odhelper itself and TensorFlow (scripts/setup.sh adds it, not base.txt).
EXTRA_RUNTIME_ROOTS = {"odhelper": set(), "tensorflow-cpu": set(), "tensorflow": {"and-cuda"}}

ALLOWED = {  # normalized name -> reason
    "imageio-ffmpeg": "odhelper/report/video.py reads and writes videos (codec libx264) with "
    "imageio's FFMPEG plugin, which runs this ffmpeg as a separate program through pipes "
    "(subprocess); nothing links it, and odhelper does not redistribute it (pip installs it)",
}

GPL_ONLY_LIBS = ("frei0r", "libcdio", "libdavs2", "librubberband", "libvidstab", "libx264",
                 "libx265", "libxavs", "libxavs2", "libxvid")  # ffmpeg configure's GPL list


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def licence_of(meta):
    """License-Expression, else a one-line License field, else the License :: classifiers."""
    if expression := (meta.get("License-Expression") or "").strip():
        return expression
    field = (meta.get("License") or "").strip()
    if field and len(field) <= 80 and "\n" not in field and field.upper() != "UNKNOWN":
        return field
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return "; ".join(classifiers) or "unknown"


# Policy. AGPL, GPL: fail unless in ALLOWED, with the reason. LGPL: accepted; a Python package
# is imported at run time from its own installed files, which the user can replace, and
# odhelper neither copies nor modifies it (use as LGPL-2.1 s.6 / LGPL-3.0 s.4 intend).
# No licence in the metadata: "unknown", listed at the end for a human, not a failure.
# Test-only packages (reached only from TEST_ROOTS) are listed, not judged: odhelper never
# imports them. Everything else installed is judged, even what no requirement names (pip).
def classify(licence):
    """'agpl', 'gpl', 'lgpl', 'ok' or 'unknown'. 'A OR B' (no parentheses) takes the milder."""
    if licence.strip().lower() in ("", "unknown", "none"):
        return "unknown"
    if "(" not in licence and re.search(r"\sOR\s", licence):
        kinds = [classify(part) for part in re.split(r"\s+OR\s+", licence)]
        return min(kinds, key=["ok", "lgpl", "unknown", "gpl", "agpl"].index)
    text = licence.upper()
    if re.search(r"AGPL|AFFERO", text):
        return "agpl"
    if re.search(r"(?<![AL])GPL|GNU GENERAL PUBLIC|GNU GPL", text):
        return "gpl"
    if re.search(r"LGPL|LESSER GENERAL PUBLIC|LIBRARY GENERAL PUBLIC", text):
        return "lgpl"
    return "ok"


def judge(name, licence, role="runtime", measured=None):
    """(fails, verdict) for one package; `measured` is a (kind, note) found beyond metadata."""
    kind, note = classify(licence), measured[1] if measured else ""
    if measured and measured[0] in ("gpl", "nonfree", "linked", "unknown"):
        kind = measured[0]
    if role == "test-only":
        return False, f"test-only, {kind}: not judged"
    if kind in ("nonfree", "linked"):  # never allow-listed
        return True, f"FAIL: {note}"
    if kind in ("agpl", "gpl"):
        if norm(name) in ALLOWED:
            return False, f"allowed: {note + ': ' if note else ''}{ALLOWED[norm(name)]}"
        return True, f"FAIL: {kind.upper()}{', ' + note if note else ''}, not in ALLOWED"
    verdict = {"ok": "ok", "lgpl": "ok, LGPL (imported, replaceable)", "unknown": "unknown"}[kind]
    verdict += "" if role == "runtime" else f", {role}"
    return False, verdict + (f": {note}" if note else "")


def requirement(line):
    """(normalized name, extras, extras its marker needs) of a requirements/Requires-Dist line."""
    if not (match := re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", line)):
        return None
    extras = {norm(e) for e in (match[2] or "").split(",") if e.strip()}
    marker = line.split(";", 1)[1] if ";" in line else ""
    needs = {norm(e) for e in re.findall(r"extra\s*==\s*['\"]([^'\"]+)", marker)}
    return norm(match[1]), extras, needs


def closure(roots, dists):
    """Names reachable from roots {name: extras} through Requires-Dist (other markers ignored:
    a dependency is counted when installed, which errs towards 'runtime')."""
    seen, todo = set(), [(n, set(e)) for n, e in roots.items()]
    while todo:
        name, extras = todo.pop()
        if name not in dists or (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        for line in dists[name].requires or []:
            req = requirement(line)
            if req and (not req[2] or req[2] & extras):
                todo.append((req[0], req[1]))
    return {name for name, _ in seen}


def roles(dists):
    runtime_roots = dict(EXTRA_RUNTIME_ROOTS)
    if not REQUIREMENTS.is_dir():  # the script alone, away from the repository: judge everything
        return {name: "runtime" for name in dists}
    for file in ("base.txt", "nodeps.txt"):
        for line in (REQUIREMENTS / file).read_text().splitlines():
            req = requirement(line.split("#", 1)[0])
            if req and req[0] not in TEST_ROOTS:
                runtime_roots[req[0]] = req[1]
    runtime = closure(runtime_roots, dists)
    test = closure({name: set() for name in TEST_ROOTS}, dists)
    return {name: "runtime" if name in runtime else "test-only" if name in test else "not required"
            for name in dists}


def executables(dist):
    """Native programs (ELF, PE) shipped inside the package: not console scripts, not libraries."""
    found = []
    for file in dist.files or []:
        path = str(file)
        if path.startswith("..") or re.search(r"\.(so(\.[\d.]+)?|pyd|dylib|dll|pyc?)$", path):
            continue
        full = dist.locate_file(file)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            with open(full, "rb") as stream:
                head = stream.read(4)
            if head == b"\x7fELF" or head[:2] == b"MZ":
                found.append(path)
    return found


def measure_ffmpeg(dist, programs):
    """(kind, note) of imageio-ffmpeg's bundled ffmpeg, from the binary itself."""
    exe = next((p for p in programs if Path(p).name.startswith("ffmpeg")), None)
    if exe is None:
        return "unknown", "no bundled ffmpeg binary found in this wheel"
    exe = str(dist.locate_file(exe))
    try:
        version, terms = (subprocess.run([exe, "-hide_banner", arg], capture_output=True, text=True,
                                         timeout=60).stdout for arg in ("-version", "-L"))
    except (OSError, subprocess.SubprocessError) as exc:
        return "unknown", f"bundled ffmpeg {exe} does not run ({exc})"
    config = re.search(r"^configuration:(.*)$", version, re.M)
    flags = config[1].split() if config else []
    wanted = [f for f in flags if f in ("--enable-gpl", "--enable-version3", "--enable-nonfree")]
    libs = [lib for lib in GPL_ONLY_LIBS if f"--enable-{lib}" in flags]
    first = version.split("\n", 1)[0].replace("ffmpeg version ", "ffmpeg ")
    gpl = re.search(r"GNU (Lesser |Affero )?General Public License.*?version (\d)", terms, re.S)
    terms_name = f"{'L' if gpl and gpl[1] == 'Lesser ' else ''}GPL-{gpl[2]}+" if gpl else "?"
    note = (f"{first.split(' Copyright')[0]}, {' '.join(wanted) or 'no --enable-gpl'}, "
            f"GPL-only libraries: {' '.join(libs) or 'none'}, -L says {terms_name}")
    # "Run as a separate process" checked, not assumed: the wheel runs it with subprocess and
    # ships no libav* shared library that anything could link.
    source = Path(dist.locate_file("imageio_ffmpeg/_io.py"))
    linked = [str(f) for f in dist.files or [] if re.search(r"libav\w*\.(so|dll|dylib)", str(f))]
    if linked or not source.is_file() or "subprocess" not in source.read_text():
        return "linked", f"ffmpeg may be linked or not run as a process: review ({note})"
    if "--enable-nonfree" in flags:
        return "nonfree", f"ffmpeg built with --enable-nonfree, not redistributable ({note})"
    if "--enable-gpl" in flags:
        return "gpl", f"GPL-built ffmpeg executable, run as a separate process ({note})"
    return "ok", note


def main():
    dists = {}
    for dist in md.distributions():  # first on sys.path wins, as for imports
        dists.setdefault(norm(dist.metadata["Name"]), dist)
    role_of = roles(dists)
    failed, allowed, unknown, shipped = [], [], [], []
    for name in sorted(dists):
        dist = dists[name]
        licence, programs = licence_of(dist.metadata), executables(dist)
        measured = measure_ffmpeg(dist, programs) if name == "imageio-ffmpeg" else None
        fails, verdict = judge(name, licence, role_of[name], measured)
        print(f"{dist.metadata['Name']} {dist.version} {licence} [{verdict}]")
        (failed if fails else allowed if verdict.startswith("allowed") else []).append(name)
        if verdict.startswith("unknown"):
            unknown.append(name)
        if programs and name != "imageio-ffmpeg":
            shipped.append(f"{name} ({', '.join(programs)}; licence from metadata: {licence})")
    counts = ", ".join(f"{list(role_of.values()).count(r)} {r}"
                       for r in ("runtime", "test-only", "not required"))
    print(f"check_licences: {len(dists)} packages ({counts}): {len(failed)} failed, "
          f"{len(allowed)} allow-listed, {len(unknown)} unknown")
    for name in unknown:
        files = ", ".join(dists[name].metadata.get_all("License-File") or []) or "none declared"
        print(f"check_licences: look at {name}: licence unknown (its licence files: {files})")
    for item in shipped:
        print(f"check_licences: ships a native executable not covered by the check: {item}")
    if failed:
        print(f"check_licences: FAILED: {', '.join(failed)} (AGPL/GPL, not in ALLOWED)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
