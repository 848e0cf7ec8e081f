#!/usr/bin/env bash
# Engine bad-input corpus (tests/bad_inputs/*.yaml): each must give exit 1, an error containing the
# text of its "# expect:" line (the place: file:line:column), no new file, and an existing product
# left byte for byte as it was. Also bad --set overrides, bad output folders and usage errors.
# usage: bash engine_bad_inputs.sh <path-to-kreep> <source-dir>
set -u
kreep=$1
src=$2
corpus=$src/tests/bad_inputs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
n=0

old=$work/product.h5
printf 'previous product: must survive every failed run\n' > "$old"
cp "$old" "$work/reference"

check_untouched() { # $1: case name
    if ! cmp -s "$old" "$work/reference"; then
        echo "FAIL $1: the existing product was modified"
        fail=1
    fi
    if ls "$work" | grep -q '\.tmp\.'; then
        echo "FAIL $1: a temporary file was left behind: $(ls "$work" | grep '\.tmp\.')"
        fail=1
        rm -f "$work"/*.tmp.*
    fi
}

# expect_fail NAME STATUS TEXT -- kreep args...
expect_fail() {
    local name=$1 want_status=$2 want_text=$3
    shift 4
    n=$((n + 1))
    "$kreep" "$@" >"$work/stdout" 2>"$work/stderr"
    local status=$?
    if [ "$status" -ne "$want_status" ]; then
        echo "FAIL $name: exit status $status, expected $want_status"
        sed 's/^/    /' "$work/stderr"
        fail=1
    elif ! grep -qF -- "$want_text" "$work/stderr"; then
        echo "FAIL $name: the error does not contain: $want_text"
        sed 's/^/    /' "$work/stderr"
        fail=1
    else
        echo "ok   $name: $(head -c 300 "$work/stderr" | tr '\n' ' ')"
    fi
    check_untouched "$name"
}

for cfg in "$corpus"/*.yaml; do
    name=$(basename "$cfg")
    want=$(sed -n '1s/^# expect: //p' "$cfg")
    if [ -z "$want" ]; then
        echo "FAIL $name: no '# expect:' first line"
        fail=1
        continue
    fi
    expect_fail "$name" 1 "$want" -- run "$cfg" -o "$old"
    # a fresh target: nothing may appear
    expect_fail "$name (new target)" 1 "$want" -- run "$cfg" -o "$work/new.h5"
    if [ -e "$work/new.h5" ]; then
        echo "FAIL $name: an output file was created"
        fail=1
        rm -f "$work/new.h5"
    fi
done

good=$work/good.yaml
printf 'epma:\n  model: xpp\n' > "$good"
expect_fail "--set unknown name" 1 "--set epma.modle=pap: unknown parameter 'epma.modle' (did you mean 'epma.model'?)" \
    -- run "$good" -o "$old" --set epma.modle=pap
expect_fail "--set bad value" 1 "--set epma.takeoff_deg: 'epma.takeoff_deg' = 0 is out of range" \
    -- run "$good" -o "$old" --set epma.takeoff_deg=0
expect_fail "--set bad choice" 1 "--set epma.model: 'epma.model' must be one of xpp|pap|zaf, found 'PAP'" \
    -- run "$good" -o "$old" --set epma.model=PAP
expect_fail "--set without =" 2 "--set expects name=value" -- run "$good" -o "$old" --set epma.model
expect_fail "missing config" 1 "no_such.yaml: cannot open" -- run "$work/no_such.yaml" -o "$old"
expect_fail "config is a folder" 1 "invalid run config" -- run "$work" -o "$old"
expect_fail "no output folder" 1 "folder '$work/no/such' does not exist" \
    -- run "$good" -o "$work/no/such/out.h5"
expect_fail "usage: no -o" 2 "missing -o OUT.h5" -- run "$good"
expect_fail "usage: no config" 2 "missing RUN.yaml" -- run -o "$old"
expect_fail "usage: unknown option" 2 "unknown option '--frobnicate'" -- run "$good" -o "$old" --frobnicate
expect_fail "inspect: not HDF5" 1 "not an HDF5 file" -- inspect "$old"
expect_fail "inspect: missing" 1 "cannot read" -- inspect "$work/absent.h5"
expect_fail "config: no mode" 2 "give --defaults or --check" -- config

echo "$n cases"
exit $fail
