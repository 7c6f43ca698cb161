#!/usr/bin/env bash
# Builds and runs the libFuzzer harness for the wire codec. Usage: Fuzz/run.sh [seconds=60] [extra libFuzzer flags...]
#
# No SwiftPM: the harness and Sources/PurserWire/*.swift are compiled as one module with
# -sanitize=fuzzer,address into .build-fuzz/frame-fuzzer. The corpus (.build-fuzz/corpus) is seeded
# from every frame of clients/testdata/vectors.json and tests/corpus/frames.json and every file of
# Fuzz/regression/, and kept between runs. Crashing inputs are copied into Fuzz/regression/, which
# FrameCorpusTests replays.
set -euo pipefail

seconds=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build-fuzz"
swiftc=${SWIFTC:-swiftc}
mkdir -p "$out/corpus" "$out/artifacts"

echo "== building $out/frame-fuzzer"
"$swiftc" -O -sanitize=fuzzer,address -use-ld=lld -parse-as-library -module-name FrameFuzz \
    "$root/Fuzz/FrameFuzzer.swift" "$root"/Sources/PurserWire/*.swift -o "$out/frame-fuzzer"

echo "== seeding $out/corpus"
python3 - "$root" "$out/corpus" <<'PY'
import hashlib, json, os, sys
root, corpus = sys.argv[1], sys.argv[2]
seeds = []
for path, key in (("clients/testdata/vectors.json", "vectors"), ("tests/corpus/frames.json", "frames"),
                  ("tests/corpus/frames.json", "accepted")):
    with open(os.path.join(root, path)) as handle:
        seeds += [bytes.fromhex(entry["hex"]) for entry in json.load(handle)[key]]
regression = os.path.join(root, "Fuzz", "regression")
for name in sorted(os.listdir(regression)):
    if not name.startswith(".") and name != "README.md":
        with open(os.path.join(regression, name), "rb") as handle:
            seeds.append(handle.read())
for seed in seeds:
    with open(os.path.join(corpus, "seed-" + hashlib.sha1(seed).hexdigest()), "wb") as handle:
        handle.write(seed)
print(f"{len(seeds)} seeds")
PY

before=$(ls "$out/artifacts" | wc -l)
echo "== fuzzing for ${seconds}s"
set +e
SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$out/frame-fuzzer" "$out/corpus" \
    -dict="$root/Fuzz/frame.dict" -max_len=70000 -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$@" 2>&1 | tee "$out/last-run.log"
status=${PIPESTATUS[0]}
set -e

executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/last-run.log" | tail -1 | grep -o '[0-9]*$' || echo "?")
crashes=0
for artifact in "$out"/artifacts/*; do
    [ -e "$artifact" ] || continue
    name=$(basename "$artifact")
    if [ ! -e "$root/Fuzz/regression/$name" ]; then
        cp "$artifact" "$root/Fuzz/regression/$name"
        echo "saved Fuzz/regression/$name"
    fi
done
crashes=$(( $(ls "$out/artifacts" | wc -l) - before ))
echo "== executions: $executions, crashes: $crashes (libFuzzer exit status $status)"
[ "$crashes" -eq 0 ] && [ "$status" -eq 0 ]
