#!/usr/bin/env python3
"""Writes tests/corpus/policies/NNN-name.expected from `purser check-policy` (the real output).

    PURSER_BIN=.build/debug/purser python3 tests/corpus/make_policy_expected.py            # show every output
    PURSER_BIN=.build/debug/purser python3 tests/corpus/make_policy_expected.py --write    # (re)write .expected
    PURSER_BIN=.build/debug/purser python3 tests/corpus/make_policy_expected.py --check    # exit 1 on any difference

Read every message before writing: an .expected file states what the validator *should* say, so a
wrong or unhelpful message is to be fixed in the validator, not recorded here. In .expected files
the literal `{file}` stands for the policy file's path.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
POLICIES = os.path.join(HERE, "policies")
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def policy_files():
    return sorted(path for path in glob.glob(os.path.join(POLICIES, "*"))
                  if os.path.splitext(path)[1] in (".yaml", ".json"))


def check_policy_lines(binary: str, path: str):
    result = subprocess.run([binary, "check-policy", path], capture_output=True, timeout=60)
    text = result.stdout.decode("utf-8")
    lines = [line.replace(path, "{file}") for line in text.splitlines()]
    return result.returncode, lines, result.stderr.decode("utf-8", "replace")


def main() -> int:
    binary = os.environ.get("PURSER_BIN", os.path.join(REPO_ROOT, ".build", "debug", "purser"))
    mode = sys.argv[1] if len(sys.argv) > 1 else "--show"
    differences = 0
    for path in policy_files():
        code, lines, _ = check_policy_lines(binary, path)
        expected_path = os.path.splitext(path)[0] + ".expected"
        text = "\n".join(lines) + "\n"
        name = os.path.basename(path)
        if mode == "--write":
            with open(expected_path, "w") as handle:
                handle.write(text)
        elif mode == "--check":
            with open(expected_path) as handle:
                if handle.read() != text:
                    differences += 1
                    print(f"differs: {name}")
        else:
            print(f"== {name} (exit {code})\n{text}", end="")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
