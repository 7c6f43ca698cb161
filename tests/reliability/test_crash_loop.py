"""The crash loop (crash_loop.py) with two cycles, so that `make test` exercises it.

`make crash-test` runs the full loop (20 cycles by default).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

from reliability_support import HERE, require_binary

EXPECTED = ["cycles run", "settles acknowledged", "settles found afterwards", "lost", "cap violations", "reconcile passed"]


def test_crash_loop_two_cycles():
    binary = require_binary()
    result = subprocess.run([sys.executable, os.path.join(HERE, "crash_loop.py"), "--cycles", "2", "--bin", binary],
                            capture_output=True, text=True, timeout=180)
    print(result.stdout)
    print(result.stderr[-4000:])
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[-6:]] == EXPECTED, result.stdout
    values = dict(line.split(": ", 1) for line in lines[-6:])
    assert values["cycles run"] == "2"
    acknowledged = int(values["settles acknowledged"])
    assert acknowledged > 0, "no settle was acknowledged: the loop measured nothing"
    assert int(values["settles found afterwards"]) == acknowledged
    assert values["lost"] == "0"
    assert values["cap violations"] == "0"
    passed, runs = map(int, re.fullmatch(r"(\d+)/(\d+)", values["reconcile passed"]).groups())
    assert passed == runs == 3, values["reconcile passed"]
    assert result.returncode == 0, f"crash_loop.py exited {result.returncode}"
