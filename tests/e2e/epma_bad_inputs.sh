#!/usr/bin/env bash
# EPMA bad-input corpus (tests/bad_inputs/epma/<case>/: beads_QNT/, beads_STD/ or points.csv, and
# `expect`): `kreep run` on each must exit 1 with an error containing every line of `expect` (the place:
# file:line and what is wrong), write no new file and leave an existing product byte for byte as it was.
# usage: bash epma_bad_inputs.sh <path-to-kreep> <source-dir>
set -u
kreep=$1
src=$2
corpus=$src/tests/bad_inputs/epma
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
n=0
old=$work/product.h5
printf 'previous product: must survive every failed run\n' > "$old"
cp "$old" "$work/reference"

for dir in "$corpus"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    [ -f "$dir/expect" ] || continue
    n=$((n + 1))
    cfg=$work/run.yaml
    {
        echo "epma:"
        echo "  inputs:"
        [ -d "$dir/beads_QNT" ] && echo "    - \"$dir/beads_QNT\""
        if [ -d "$dir/beads_STD" ]; then
            echo "    - \"$dir/beads_STD\""
        elif [ -d "$dir/beads_QNT" ]; then
            echo "    - \"$src/sample_runs/ce5-glass-beads/exports/beads_STD\""
        fi
        [ -f "$dir/points.csv" ] && echo "    - \"$dir/points.csv\""
    } > "$cfg"
    "$kreep" run "$cfg" -o "$old" >"$work/stdout" 2>"$work/stderr"
    status=$?
    ok=1
    if [ "$status" -ne 1 ]; then
        echo "FAIL $name: exit status $status, expected 1"
        ok=0
    fi
    while IFS= read -r want; do
        [ -n "$want" ] || continue
        if ! grep -qF -- "$want" "$work/stderr"; then
            echo "FAIL $name: the error does not contain: $want"
            ok=0
        fi
    done < "$dir/expect"
    if ! cmp -s "$old" "$work/reference"; then
        echo "FAIL $name: the existing product was modified"
        ok=0
    fi
    if ls "$work" | grep -q '\.tmp\.'; then
        echo "FAIL $name: a temporary file was left behind"
        rm -f "$work"/*.tmp.*
        ok=0
    fi
    if [ $ok -eq 1 ]; then
        echo "ok   $name: $(head -c 240 "$work/stderr" | tr '\n' ' ')"
    else
        sed 's/^/    /' "$work/stderr"
        fail=1
    fi
done
if [ "$n" -lt 10 ]; then
    echo "FAIL: only $n EPMA bad-input cases found in $corpus"
    fail=1
fi
echo "$n EPMA bad-input cases"
exit $fail
