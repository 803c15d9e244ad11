"""Run `memento` in a child process that permission bits bind, even when the tests run as root.

A folder made unreadable with chmod 0 stops every user but root: root's CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH ignore the bits. The child drops those two capabilities (capset, through ctypes)
before it runs the real command line, so it meets EACCES exactly where a normal user would, while
keeping uid 0, so it still reaches the test's own folders (pytest makes them 0700, owned by root).
Run as a normal user, the child drops nothing: the bits bind it already."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CANNOT_DROP = 77    # the child's exit code when it could not drop the capabilities

CHILD = f"""
import ctypes, os, sys
if os.geteuid() == 0:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()     # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        sys.exit({CANNOT_DROP})
    keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF              # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    for name in ("effective", "permitted", "inheritable"):
        setattr(data[0], name, getattr(data[0], name) & keep)
    if libc.capset(ctypes.byref(header), data) != 0:
        sys.exit({CANNOT_DROP})
from memento.cli import main
sys.exit(main(sys.argv[1:]))
"""


def memento_cli(*args) -> subprocess.CompletedProcess:
    """`memento ARGS` from this checkout, in a child that cannot read what the permission bits forbid."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    if done.returncode == CANNOT_DROP:
        pytest.skip("cannot drop root's file-permission capabilities here (capset refused)")
    return done
