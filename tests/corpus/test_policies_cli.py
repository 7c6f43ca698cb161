"""`purser check-policy` on every file of tests/corpus/policies prints exactly its .expected lines.

    PURSER_BIN=.build/debug/purser python3 -m pytest tests/corpus -q

PolicyCorpusTests (Swift) checks the same files through PolicyParser; this checks the CLI: its
output, nothing on stderr, and exit status 1 (0 for the valid control file).
"""
from __future__ import annotations

import os

import pytest

import make_policy_expected as corpus

FILES = corpus.policy_files()


def test_corpus_is_large() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(path) for path in FILES])
def test_check_policy_prints_the_expected_lines(path: str) -> None:
    binary = os.environ.get("PURSER_BIN", os.path.join(corpus.REPO_ROOT, ".build", "debug", "purser"))
    if not os.path.isabs(binary):
        binary = os.path.join(corpus.REPO_ROOT, binary)
    assert os.access(binary, os.X_OK), f"purser binary not found at {binary} (set PURSER_BIN)"
    with open(os.path.splitext(path)[0] + ".expected") as handle:
        expected = handle.read().splitlines()
    code, lines, stderr = corpus.check_policy_lines(binary, path)
    assert lines == expected
    assert stderr == ""
    valid = len(expected) == 1 and expected[0].startswith("ok: ")
    assert code == (0 if valid else 1)
    if not valid:
        assert all(line.startswith("{file}:") for line in lines), "every problem line starts with FILE:LINE:COLUMN"
