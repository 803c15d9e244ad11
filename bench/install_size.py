"""Installed size per extra: a fresh venv, `pip install '<wheel>[extra]'`, site-packages delta
(against the same venv before the install), largest packages listed."""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from bench.common import REPO, merge_rows, write_result


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


def measure(wheel: Path, extra: str, work: Path) -> dict:
    env = work / f"venv-{extra}"
    venv.create(env, with_pip=True)
    sp = site_packages(env)
    before = {p.name: tree_bytes(p) if p.is_dir() else p.stat().st_size for p in sp.iterdir()}
    subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[{extra}]"], check=True)
    after = {p.name: tree_bytes(p) if p.is_dir() else p.stat().st_size for p in sp.iterdir()}
    added = {name: size for name, size in after.items() if size != before.get(name)}
    top = sorted(added.items(), key=lambda kv: -kv[1])[:8]
    total = sum(added.values())
    return {"extra": extra, "added_mb": round(total / 1e6, 1),
            "top": [{"name": n, "mb": round(s / 1e6, 1)} for n, s in top]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--extras", default="minimal")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work), str(REPO)],
                       check=True, capture_output=True)
        wheel = next(work.glob("*.whl"))
        rows = []
        for extra in args.extras.split(","):
            row = measure(wheel, extra, work)
            rows.append(row)
            print(f"[{extra}] adds {row['added_mb']} MB: " + ", ".join(f"{t['name']} {t['mb']}" for t in row["top"]))
    write_result("install_size", {"rows": merge_rows("install_size", rows, ("extra",))})


if __name__ == "__main__":
    main()
