#!/usr/bin/env bash
# Engine end to end: every command's --help; `kreep config --defaults` reads back and matches
# config/defaults.yaml; a real run (sample_runs/ce5-glass-beads) gives a product that `kreep inspect`
# describes, that h5py and pandas read in one line, that repeats bit for bit with a fixed
# SOURCE_DATE_EPOCH, with --log-json giving one JSON object per line and --set reaching provenance.
# usage: bash engine_run.sh <path-to-kreep> <source-dir>
set -u
kreep=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

for cmd in run inspect config zaf isochron wmean; do
    if "$kreep" "$cmd" --help >"$work/help" 2>&1 && grep -q "usage" "$work/help"; then ok "kreep $cmd --help"
    else bad "kreep $cmd --help (status or text)"; fi
done
"$kreep" --help >/dev/null 2>&1 && ok "kreep --help" || bad "kreep --help"
"$kreep" >/dev/null 2>&1; [ $? -eq 2 ] && ok "kreep without a command: 2" || bad "kreep without a command: not 2"
"$kreep" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command: 2" || bad "unknown command: not 2"

# --defaults: valid YAML that kreep itself accepts, and the committed config/defaults.yaml is current
if "$kreep" config --defaults >"$work/defaults.yaml"; then ok "config --defaults"; else bad "config --defaults"; fi
grep -q '^epma:' "$work/defaults.yaml" && ok "defaults list the epma section" || bad "no epma section in --defaults"
if "$kreep" config --check "$work/defaults.yaml" >/dev/null 2>"$work/err"; then ok "the defaults validate"
else bad "the defaults do not validate: $(cat "$work/err")"; fi
"$kreep" config --write "$work/written.yaml" && cmp -s "$work/written.yaml" "$work/defaults.yaml" \
    && ok "config --write" || bad "config --write differs from --defaults"
if cmp -s "$work/defaults.yaml" "$src/config/defaults.yaml"; then ok "config/defaults.yaml is current"
else bad "config/defaults.yaml is stale: regenerate with kreep config --write config/defaults.yaml"; fi

run=$src/sample_runs/ce5-glass-beads/run.yaml
if [ ! -f "$run" ]; then
    echo "SKIP: $run is absent"
    exit $fail
fi
out=$work/beads.h5
SOURCE_DATE_EPOCH=1700000000 "$kreep" run "$run" -o "$out" --log-json 2>"$work/log"
status=$?
[ $status -eq 0 ] && ok "kreep run sample (status 0)" || bad "kreep run sample: status $status: $(tail -3 "$work/log")"
if [ -s "$work/log" ] && ! grep -qv '^{.*}$' "$work/log"; then ok "--log-json: every line a JSON object"
else bad "--log-json output is not JSON lines"; fi
ls "$work" | grep -q '\.tmp\.' && bad "temporary file left" || ok "no temporary file"
SOURCE_DATE_EPOCH=1700000000 "$kreep" run "$run" -o "$work/again.h5" 2>/dev/null
cmp -s "$out" "$work/again.h5" && ok "the run repeats bit for bit" || bad "two runs differ"

"$kreep" inspect "$out" >"$work/inspect" 2>&1 && ok "inspect" || bad "inspect failed: $(cat "$work/inspect")"
for want in "schema            kreep" "config_sha256" "created_utc       2023-11-14T22:13:20Z" \
            "/epma/points  table" "/provenance/inputs  table" "input file(s)"; do
    grep -qF "$want" "$work/inspect" && ok "inspect shows '$want'" || bad "inspect lacks '$want'"
done

"$kreep" run "$run" -o "$work/set.h5" --set epma.model=pap 2>/dev/null && ok "run with --set" || bad "run with --set"

py=""
for cand in "${KREEP_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import h5py, pandas, tables' >/dev/null 2>&1; then py=$cand; break; fi
done
if [ -z "$py" ]; then
    echo "SKIP: readers: no python3 with h5py, pandas and tables"
else
    if "$py" - "$out" "$work/set.h5" <<'PY'
import sys, warnings
warnings.simplefilter("ignore")
import h5py, pandas
p, q = sys.argv[1], sys.argv[2]
a = h5py.File(p)["epma/points"][()]
df = pandas.read_hdf(p, "epma/points")
assert len(a) == len(df) > 0, (len(a), len(df))
for key in ("epma/samples", "provenance/parameters", "provenance/inputs", "provenance/calibration"):
    assert len(pandas.read_hdf(p, key)) > 0, key
f = h5py.File(p)
for name in ("schema", "schema_version", "software_version", "created_utc", "config_sha256"):
    assert name in f.attrs, name
units = f["epma/points"].attrs["column_units"]
assert len(units) == len(df.columns)
par = pandas.read_hdf(q, "provenance/parameters").set_index("name")
assert par.loc["epma.model", "value"] == "pap" and par.loc["epma.model", "source"] == "--set", par.loc["epma.model"]
assert "model: pap" in h5py.File(q)["provenance/config_yaml"][()].decode()
print("readers ok:", len(df), "rows in epma/points")
PY
    then ok "h5py and pandas read the product; --set recorded"
    else bad "python readers"; fi
fi
exit $fail
