#!/usr/bin/env bash
# bench/pi.sh — the emulated Raspberry Pi Zero 2 W lane (issue 6, item 4). Run as root.
#
# Builds memento's wheel, installs it from PyPI's aarch64 wheels into fresh venvs inside an emulated
# arm64 rootfs (qemu-user, from $ARM64), runs the tests of the small tiers (minimal, pocket) under a
# 100 MB memory cap and measures install size, peak RSS, cold start and warm recall per tier; writes
# bench/results/pi-lane.json with the emulated figures and Pi Zero 2 W ESTIMATES (bench/pi_measure.py
# summarize).
#
# Env: ARM64=DIR                       required: the emulated aarch64 userland's scripts, DIR/make-rootfs.sh
#                                      and DIR/run-arm64.sh (what they must do: docs/development.md)
#      PI_TIERS="pocket minimal"       tiers to measure (pocket: what a Pi Zero 2 W is detected as;
#                                      minimal: keyword-only), under the same 100 MB cap; "pocket minimal light
#                                      tiny" adds the vector tiers (their extras go into the host venv too;
#                                      much longer under qemu)
#      PI_VECTOR_MEM_LIMIT=            memory cap for light/tiny (default none: onnxruntime under qemu
#                                      costs ~110 MB more than on a Pi, so 100M would measure qemu)
#      PI_STORE_SIZE=10000  PI_RUNS=7  PI_QUERIES=100
#      ROOTFS=/var/tmp/memento-arm64-rootfs  PI_STAGE=/var/tmp/memento-pi-lane
#      PI_HOST_VENV=/var/tmp/memento-pi-host-venv   the host's venv for the wheel build and native stores
#      PI_RESULT=bench/results/pi-lane.json
#      MEMENTO_PI_LANE=1               CI mode: exit 1 if the tests or a Pi budget fail
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${ARM64:-}" ] || [ ! -x "$ARM64/make-rootfs.sh" ] || [ ! -x "$ARM64/run-arm64.sh" ]; then
  echo "pi.sh: set ARM64 to the folder holding the emulated aarch64 userland's make-rootfs.sh and" \
       "run-arm64.sh (ARM64=${ARM64:-<unset>}); what they do: docs/development.md, \"The emulated Raspberry Pi lane\"" >&2
  exit 2
fi
ARM64=$(cd "$ARM64" && pwd)
export ROOTFS=${ROOTFS:-/var/tmp/memento-arm64-rootfs}
STAGE=${PI_STAGE:-/var/tmp/memento-pi-lane}   # mounted at /work inside: outside the repo others edit
CI_MODE=${MEMENTO_PI_LANE:-0}
# The minimal tier by default: what a Pi Zero 2 W runs, and what the host venv below installs unasked.
TIERS=${PI_TIERS:-pocket minimal}
N=${PI_STORE_SIZE:-10000}
RESULT=${PI_RESULT:-$REPO/bench/results/pi-lane.json}
[ "$(id -u)" = 0 ] || { echo "pi.sh: must run as root (chroot, mounts, cgroups)" >&2; exit 1; }

T0=$SECONDS
step() { echo "== pi.sh [$((SECONDS - T0))s] $*" >&2; echo "$((SECONDS - T0)) $*" >> "$STAGE/out/timeline.txt"; }
# qemu-user madvises its translated-code cache into transparent huge pages, so an emulated process
# grows in 2 MB steps of code cache a Pi never has (26.6 of the 45 MB anonymous memory of `memento
# mcp` here): a few KB more code run could cost 2 MB and flip a test at the 100 MB cap. With THP off
# for the lane (PR_SET_THP_DISABLE, inherited by qemu) the cap meets memory at 4 KB pages.
no_thp() { python3 -c 'import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(41, 1, 0, 0, 0) != 0: sys.exit("pi.sh: prctl(PR_SET_THP_DISABLE) failed")
os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
run() { no_thp "$ARM64/run-arm64.sh" "$STAGE" "$@"; }   # inside the rootfs, cwd /work = $STAGE
# Runs the command in the rootfs with the tier's venv python; the env carries what bench needs.
py_in() { local tier=$1; shift; run env PI_RUNS="${PI_RUNS:-7}" PI_QUERIES="${PI_QUERIES:-100}" \
  MEMENTO_CACHE_DIR=/work/model-cache "/root/venv-$tier/bin/python" "$@"; }

# The stage holds only the wheel, the tests and the bench files, so the tests import the installed
# wheel (not a source tree) and the concurrent edits in the repo cannot change a run half-way.
rm -rf "$STAGE"; mkdir -p "$STAGE"/{dist,bench,out,stores}
# The host side (the wheel build, the native stores) runs in a venv of the lane's own: a fresh
# machine's python3 has neither `build` nor memento's dependencies (apsw, psutil), and Debian's refuses
# pip installs outside a venv. Kept between runs, so a second run installs nothing new.
HOST_VENV=${PI_HOST_VENV:-/var/tmp/memento-pi-host-venv}
step "host venv $HOST_VENV"
if [ ! -x "$HOST_VENV/bin/python3" ]; then
  python3 -c 'import ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
  python3 -m venv "$HOST_VENV"
fi
"$HOST_VENV/bin/python3" -m pip install -q --disable-pip-version-check build
step "build wheel"
"$HOST_VENV/bin/python3" -m build --wheel --outdir "$STAGE/dist" "$REPO" > "$STAGE/out/build.log" 2>&1
# The same wheel natively, with the extras of every tier the lane runs; reinstalled without its
# dependencies each run, because the version number does not change with the code.
EXTRAS=$(echo $TIERS | tr ' ' ',')
HOST_WHEEL=$(ls "$STAGE"/dist/*.whl)
"$HOST_VENV/bin/python3" -m pip install -q --disable-pip-version-check "$HOST_WHEEL[$EXTRAS]"
"$HOST_VENV/bin/python3" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$HOST_WHEEL"
cp -r "$REPO/tests" "$REPO/pyproject.toml" "$STAGE/"   # pyproject: pytest markers
# The bench modules pi_measure runs and the tests import (tests/test_ci.py checks this list).
cp "$REPO"/bench/{__init__,corpus,pi_measure,locomo_sweep,locomo,locomo_capture}.py "$STAGE/bench/"
WHEEL=/work/dist/$(basename "$(ls "$STAGE"/dist/*.whl)")

step "rootfs"   # idempotent: a finished rootfs is reused
"$ARM64/make-rootfs.sh" "$ROOTFS" > "$STAGE/out/rootfs.log" 2>&1 || { cat "$STAGE/out/rootfs.log" >&2; exit 1; }

# Machine facts: the host that emulates, the guest userland, and the commit the wheel came from.
python3 - "$REPO" "$STAGE/out/machine.json" <<'EOF'
import json, os, platform, subprocess, sys
git = lambda *a: subprocess.run(["git", "-C", sys.argv[1], *a], capture_output=True, text=True).stdout.strip()
qemu = subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"host": platform.platform(), "host_cpu": cpu, "host_cpus": os.cpu_count(), "qemu": qemu,
           "guest": "Debian bookworm arm64 rootfs (qemu-user, QEMU_CPU=cortex-a53)",
           "commit": git("rev-parse", "HEAD"), "tree_dirty": bool(git("status", "--porcelain", "--", "memento", "sql", "pyproject.toml")),
           "when": __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime())},
          open(sys.argv[2], "w"), indent=2)
EOF
run python3 -c 'import platform, json; print(json.dumps({"python": platform.python_version(), "machine": platform.machine()}))' \
  > "$STAGE/out/guest.json"

for tier in $TIERS; do
  # The 10k store is built natively by the same wheel, in the host venv (the SQLite file format is
  # the same on both sides; embedding 10k texts under qemu would take longer than the whole lane).
  step "$tier: build ${N}-memory store natively"
  MEMENTO_CACHE_DIR=$STAGE/native-cache \
    "$HOST_VENV/bin/python3" "$STAGE/bench/pi_measure.py" build-store "$STAGE/stores/$tier.db" "$tier" "$N" > "$STAGE/out/store-$tier.json"
  MEMENTO_CACHE_DIR=$STAGE/native-cache \
    "$HOST_VENV/bin/python3" "$STAGE/bench/pi_measure.py" rss "$STAGE/stores/$tier.db" "$tier" > "$STAGE/out/rss-native-$tier.json"
  rm -rf "$STAGE/native-cache"   # the emulated side builds its own model folder (first_load_s)

  step "$tier: fresh venv, pip install [$tier] (aarch64 wheels from PyPI)"
  run sh -c "rm -rf /root/venv-$tier && python3 -m venv /root/venv-$tier"
  py_in "$tier" bench/pi_measure.py install-size "/root/venv-$tier" "$WHEEL[$tier]" > "$STAGE/out/size-$tier.json"

  limit=${PI_VECTOR_MEM_LIMIT:-}
  # The small tiers (no numpy, no onnxruntime) are what a Pi Zero 2 W runs: their tests and their
  # figures run under the 100 MB cap, each in its own venv (pocket: MEMENTO_REQUIRE_TIERS as tox's env).
  if [ "$tier" = minimal ] || [ "$tier" = pocket ]; then
    limit=100M
    require=minimal; [ "$tier" = pocket ] && require=minimal,pocket
    step "$tier: tests under ARM64_MEM_LIMIT=100M"
    # Test tools go in after the size was taken, so they are not counted in it. The sqlite3 shell
    # lets the two "readable with sqlite3" tests run instead of skipping (once per rootfs).
    run "/root/venv-$tier/bin/python" -m pip install -q --disable-pip-version-check pytest hypothesis
    run sh -c 'command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }'
    # Hypothesis builds its Unicode tables into .hypothesis/ on its first run ever, peaking at ~240 MB
    # (measured natively): a one-time cost of the test tool, paid here outside the cap.
    run "/root/venv-$tier/bin/python" -c \
      'from hypothesis.internal.charmap import charmap, intervals_from_codec; charmap(); intervals_from_codec("utf-8")'
    # One pytest process per test file, and one per test that starts a second Python interpreter
    # (marker spawns_python), each under the 100M cap. Why not one process for the whole suite: under
    # qemu-user every process carries its own translated-code cache, which grows with the code run, so
    # a single pytest running everything peaks at ~118 MB emulated (58 MB natively), and pytest
    # (~55 MB emulated) plus a child interpreter (~45 MB) cannot share 100 MB. pytest's entry-point
    # plugins stay off (hypothesis runs without its plugin), which saves ~9 MB per process.
    tdir=$STAGE/out/tests-$tier; mkdir -p "$tdir"
    select="not vector and not slow"
    pytest=(env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 MEMENTO_REQUIRE_TIERS=$require
            "/root/venv-$tier/bin/python" -m pytest -q -p no:cacheprovider -rfEs)
    units=()
    for f in "$STAGE"/tests/test_*.py; do units+=("tests/$(basename "$f")|$select and not spawns_python"); done
    while read -r id; do units+=("$id|$select"); done < <(run "${pytest[@]}" --collect-only -m "$select and spawns_python" | grep '::')
    for unit in "${units[@]}"; do
      target=${unit%%|*}; marks=${unit#*|}; name=$(echo "$target" | tr '/:' '__')
      echo "ARM64_MEM_LIMIT=100M pytest -m '$marks' $target" > "$tdir/$name.cmd"
      rc=0; ARM64_MEM_LIMIT=100M run "${pytest[@]}" -m "$marks" "$target" > "$tdir/$name.log" 2>&1 || rc=$?
      echo "$rc" > "$tdir/$name.rc"
      echo "  $target: exit $rc, $(grep -E '[0-9]+ (passed|failed|error|deselected)' "$tdir/$name.log" | tail -n 1)" >&2
      if [ "$rc" != 0 ] && [ "$rc" != 5 ]; then
        # Tell a memory kill (137) from failing tests: the same run, no cap, with its peak RSS.
        # (/usr/bin/time -v only here: under the cap its own qemu process would count against the 100 MB.)
        rc=0; run /usr/bin/time -v "${pytest[@]}" -m "$marks" "$target" > "$tdir/$name.uncapped.log" 2>&1 || rc=$?
        echo "$rc" > "$tdir/$name.uncapped.rc"
      fi
    done
  fi

  step "$tier: cold start, peak RSS, warm recall (emulated${limit:+, ARM64_MEM_LIMIT=$limit})"
  echo "${limit:-none}" > "$STAGE/out/limit-$tier"
  ARM64_MEM_LIMIT=$limit py_in "$tier" bench/pi_measure.py bench "stores/$tier.db" "$tier" > "$STAGE/out/bench-$tier.json"
done

step "summarize"
echo "$((SECONDS - T0))" > "$STAGE/out/wall_s"
python3 "$STAGE/bench/pi_measure.py" summarize "$STAGE/out" "$RESULT" \
  | python3 -c 'import json, sys; print(json.dumps({t: {k: v for k, v in r.items() if not isinstance(v, (dict, list))}
      for t, r in json.load(sys.stdin).items() if t in ("minimal", "pocket", "light", "tiny")}, indent=1))'
echo "pi.sh: wrote $RESULT in $((SECONDS - T0))s (logs: $STAGE/out)" >&2

# CI: fail on the tests (under the 100M cap) or on a Pi budget (RAM < 100 MB, installed < 50 MB,
# cold < 3 s, warm < 100 ms), for each small tier the lane ran.
if [ "$CI_MODE" = 1 ]; then
  python3 - "$RESULT" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
bad = []
for tier in ("minimal", "pocket"):
    m = doc.get(tier, {})
    if not m.get("tests"):
        continue
    bad += [f"{tier}.{k}" for k, ok in [
        ("tests", m["tests"]["passed"]), ("installed_mb", m["installed_mb"] < 50),
        ("peak_rss_mb", m["peak_rss_mb"] < 100), ("cold_start_s_pi_estimate", m["cold_start_s_pi_estimate"] < 3),
        ("warm_recall_p50_ms_pi_estimate", m["warm_recall_p50_ms_pi_estimate"] < 100)] if not ok]
sys.exit(f"pi lane: over budget or failing: {bad}" if bad else 0)
EOF
fi
