#!/usr/bin/env bash
# bench/armv7l_check.sh — do memento's small tiers (minimal, pocket) install on 32-bit Pi OS (armv7l,
# Python 3.11, bookworm armhf glibc 2.36) from PyPI alone, with no compiler? And which vector extras cannot?
# Resolves with `pip download --only-binary=:all:` for the armv7l platform tags; writes
# bench/results/armv7l.json. Needs network access to PyPI; no root, no emulation.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/bench/results/armv7l.json
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

python3 -m build --wheel --outdir "$WORK/dist" "$REPO" > "$WORK/build.log" 2>&1
WHEEL=$(ls "$WORK"/dist/*.whl)

# Tags a bookworm armhf (glibc 2.36) pip accepts: pip does not expand a perennial manylinux_2_X tag to
# older glibc versions, so list them all (apsw's armv7l wheels are manylinux_2_28/2_31 only).
PLAT=(--platform linux_armv7l)
for g in $(seq 17 36); do PLAT+=(--platform "manylinux_2_${g}_armv7l"); done
download() {   # download DEST REQUIREMENT... (for armv7l, binary wheels only: no compiler involved)
  local dest=$1; shift
  python3 -m pip download -q --disable-pip-version-check --only-binary=:all: "${PLAT[@]}" \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none --dest "$dest" "$@"
}

# pip evaluates environment markers against THIS machine (x86_64) even with --platform, so
# `pip download wheel[minimal]` would still ask for psutil. Evaluate the wheel's Requires-Dist
# for an armv7l Pi ourselves (extras that name memento-openclaw[...] are expanded).
reqs() {
  python3 - "$WHEEL" "$1" <<'EOF'
import sys, zipfile
from packaging.requirements import Requirement
wheel, extra = sys.argv[1:]
zf = zipfile.ZipFile(wheel)
meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
deps = [Requirement(l.split(":", 1)[1].strip()) for l in meta.splitlines() if l.startswith("Requires-Dist:")]
pi = {"platform_machine": "armv7l", "python_version": "3.11", "python_full_version": "3.11.2",
      "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
      "implementation_name": "cpython", "platform_python_implementation": "CPython"}
def expand(extra, seen):
    for r in deps:
        if r.marker is None or r.marker.evaluate({**pi, "extra": extra}):
            if r.name == "memento-openclaw":
                for e in r.extras - seen:
                    yield from expand(e, seen | {e})
            else:
                yield str(Requirement(f"{r.name}{r.specifier}"))
print("\n".join(dict.fromkeys(expand(extra, {extra}))))
EOF
}

: > "$WORK/rows.tsv"
for extra in minimal pocket full light tiny; do
  mapfile -t want < <(reqs "$extra")
  # The whole extra as one resolution, then each requirement alone to name the ones that fail.
  rc=0; download "$WORK/d-$extra" "${want[@]}" > "$WORK/log-$extra" 2>&1 || rc=$?
  printf '%s\t*\t%s\t%s\n' "$extra" "$rc" "$(grep -m1 -o 'No matching distribution found for .*' "$WORK/log-$extra" || true)" >> "$WORK/rows.tsv"
  ls "$WORK/d-$extra" 2>/dev/null | sed "s/^/$extra\tfile\t0\t/" >> "$WORK/rows.tsv" || true
  for r in "${want[@]}"; do
    rc=0; download "$WORK/one" "$r" > "$WORK/log-one" 2>&1 || rc=$?
    printf '%s\t%s\t%s\t%s\n' "$extra" "$r" "$rc" "$(grep -m1 -o 'No matching distribution found for .*' "$WORK/log-one" || true)" >> "$WORK/rows.tsv"
  done
done
# The compiled packages under those extras (pip stops at the first one missing), one by one.
for r in numpy onnxruntime tokenizers psutil; do
  rc=0; download "$WORK/one" --no-deps "$r" > "$WORK/log-one" 2>&1 || rc=$?
  printf 'native\t%s\t%s\t%s\n' "$r" "$rc" "$(grep -m1 -o 'No matching distribution found for .*' "$WORK/log-one" || true)" >> "$WORK/rows.tsv"
done
# What a plain `pip download wheel[minimal]` does (markers taken from this x86_64 host): for the record.
rc=0; download "$WORK/naive" "$WHEEL[minimal]" > "$WORK/log-naive" 2>&1 || rc=$?
printf 'naive\t*\t%s\t%s\n' "$rc" "$(grep -m1 -o 'No matching distribution found for .*' "$WORK/log-naive" || true)" >> "$WORK/rows.tsv"

python3 - "$WORK/rows.tsv" "$OUT" "$(basename "$WHEEL")" "$(python3 -m pip --version | cut -d' ' -f1-2)" "$(git -C "$REPO" rev-parse HEAD)" <<'EOF'
import json, sys, time
rows_file, out, wheel, pip, commit = sys.argv[1:]
doc = {"question": "does `pip install memento-openclaw[<extra>]` resolve for 32-bit Pi OS (armv7l, CPython 3.11, "
                   "glibc 2.36) from PyPI binary wheels alone (no compiler)?",
       "wheel": wheel, "pip": pip, "commit": commit, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "platform_tags": "linux_armv7l + manylinux_2_17..2_36_armv7l", "python": "cp311 (abi cp311/abi3/none)",
       "markers": "the wheel's Requires-Dist evaluated for platform_machine=armv7l (pip would use the host's)",
       "extras": {}}
for line in open(rows_file).read().splitlines():
    extra, req, rc, err = (line.split("\t") + [""])[:4]
    if extra == "naive":
        doc["naive_pip_download_wheel_minimal"] = {
            "ok": rc == "0", "error": err or None,
            "why": "pip download --platform still evaluates markers for the host (x86_64), so psutil's "
                   "`platform_machine != 'armv7l'` marker is true there; a real armv7l pip skips psutil"}
        continue
    if extra == "native":
        doc.setdefault("compiled_dependencies_armv7l_wheel", {})[req] = rc == "0"
        continue
    e = doc["extras"].setdefault(extra, {"resolves": None, "files": [], "requirements": {}})
    if req == "*":
        e["resolves"], e["error"] = rc == "0", err or None
    elif req == "file":
        e["files"].append(err)
    else:
        e["requirements"][req] = "ok" if rc == "0" else f"FAILS: {err or 'exit ' + rc}"
for e in doc["extras"].values():
    e["failing"] = [r for r, v in e["requirements"].items() if v != "ok"]
doc["minimal_installs_on_armv7l"] = doc["extras"]["minimal"]["resolves"]
doc["pocket_installs_on_armv7l"] = doc["extras"]["pocket"]["resolves"]
doc["vector_extras_64_bit_only"] = [x for x, e in doc["extras"].items()
                                    if x not in ("minimal", "pocket") and not e["resolves"]]
open(out, "w").write(json.dumps(doc, indent=2) + "\n")
print(json.dumps({k: doc[k] for k in ("minimal_installs_on_armv7l", "pocket_installs_on_armv7l",
                                      "vector_extras_64_bit_only")}),
      {x: e["failing"] for x, e in doc["extras"].items()})
EOF
echo "armv7l_check: wrote $OUT" >&2
