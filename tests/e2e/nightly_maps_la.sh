#!/usr/bin/env bash
# Maps and LA-ICP-MS sessions as nightly inputs (issue 6): an inbox of JEOL map folders (entry: map; the
# template's one epma.maps.inputs item holds the per-element settings, nightly fills in name, cnd and each
# element's file from the folder) and an inbox of LA-ICP-MS session folders (laicpms.inputs receives the
# folder's exports). Night 1 reduces both map folders and the session and quarantines a map folder without
# a Ti map; the quantified map equals the one `kreep run` makes from the sample run's own item; night 2
# does nothing; touching one map file reruns only its map.
# usage: bash nightly_maps_la.sh <path-to-kreep> <source-dir>
set -u
kreep=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
sql() {
    if command -v sqlite3 >/dev/null; then sqlite3 "$1" "$2"
    else python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(str(c) for c in r))' "$1" "$2"; fi
}
run=$src/sample_runs/ce5-glass-beads
if ! "$kreep" config --defaults 2>/dev/null | grep -q 'laicpms:'; then
    echo "SKIP: the LA-ICP-MS stage is not built"
    exit 0
fi
cd "$work"
mkdir -p inbox/maps inbox/laicpms tmpl
for m in G107-a G107-b; do cp -r "$run/maps" "inbox/maps/$m"; done
cp -r "$run/maps" inbox/maps/no-ti && rm inbox/maps/no-ti/G107_Ti.map
cp -r "$run/laicpms/spots" inbox/laicpms/session-1

# the map template: the sample run's item for G107 without its cnd and file paths (nightly finds them
# in each folder: *.cnd, *_<El>.map), Ti's file given as an explicit pattern
{
    echo "run:"
    echo "  name: maps"
    echo "epma:"
    echo "  maps:"
    echo "    inputs:"
    sed -e '/^#/d' -e '/^  cnd:/d' -e 's/file: maps\/G107_[A-Z][a-z]*\.map, //' \
        -e 's/{element: Ti, line: Ka,/{element: Ti, line: Ka, file: "*_Ti.map",/' -e 's/^/      /' "$run/maps/G107.maps.yaml"
} >tmpl/maps.yaml
cat >tmpl/la.yaml <<'YAML'
run:
  name: la
laicpms:
  calibrant: NIST610
  internal_standard: Si
  internal_standard_default_ugg: 170000   # the beads' Si (36 wt% SiO2); reference glasses use calib/
  drift: linear
YAML
cat >nightly.yaml <<'YAML'
nightly:
  products: products
  scan_interval_s: 0
instruments:
  maps:
    inbox: inbox/maps
    template: tmpl/maps.yaml
    inputs_key: epma.maps.inputs
    entry: map
  laicpms:
    inbox: inbox/laicpms
    template: tmpl/la.yaml
    inputs_key: laicpms.inputs
    inputs: ["*.csv"]
YAML
"$kreep" nightly nightly.yaml >out1 2>err1
st=$?
cat out1
[ $st -eq 3 ] && ok "night 1: exit 3 (a map folder quarantined)" || bad "night 1: exit $st: $(cat err1)"
for e in maps/G107-a maps/G107-b laicpms/session-1; do
    grep -q "^reduced      $e (new)" out1 && [ -f "products/$e.h5" ] && ok "night 1: $e reduced" || bad "night 1: $e not reduced"
done
grep '^QUARANTINED  maps/no-ti: ' out1 | grep -qF "no file matching '*_Ti.map' (the count map of Ti)" && ok "a map folder without its Ti map is quarantined, saying so" \
    || bad "no-ti not quarantined with a clear reason"
h5ls -r products/maps/G107-a.h5 | grep -q '^/epma/maps/G107-a/TiO2_wt ' && ok "map product: /epma/maps/G107-a/TiO2_wt" \
    || bad "map product lacks /epma/maps/G107-a/TiO2_wt"
h5ls -r products/laicpms/session-1.h5 | grep -q '^/laicpms/spots ' && ok "LA product: /laicpms/spots" || bad "LA product lacks /laicpms/spots"
o=$(sql products/kreep.db "select overrides from runs where path like '%G107-a'")
case "$o" in
*"name: \"G107-a\", cnd: \"$work/inbox/maps/G107-a/G107.cnd\""*"file: \"$work/inbox/maps/G107-a/G107_Ti.map\""*)
    ok "ledger: the run's epma.maps.inputs item names the folder's .cnd and maps" ;;
*) bad "ledger overrides: $o" ;;
esac

# the same map through the sample run's own item (kreep run): identical quantified pixels
"$kreep" run "$run/run.yaml" -o ref.h5 --set 'epma.inputs=[]' >/dev/null 2>&1 || "$kreep" run "$run/run.yaml" -o ref.h5 >/dev/null 2>&1
same=1
for d in TiO2_wt SiO2_wt total_wt; do
    h5diff products/maps/G107-a.h5 ref.h5 "/epma/maps/G107-a/$d" "/epma/maps/G107/$d" >/dev/null 2>&1 || same=0
done
[ $same = 1 ] && ok "nightly map item = the sample run's item: TiO2, SiO2 and total maps identical" \
    || bad "the nightly map differs from kreep run's"

"$kreep" nightly nightly.yaml >out2 2>&1
st=$?
[ $st -eq 0 ] && grep -q '^nothing to do: 4 entries unchanged' out2 && ok "night 2: nothing to do (the quarantined folder too)" \
    || bad "night 2: exit $st: $(cat out2)"

touch inbox/maps/G107-b/G107_Fe.map
"$kreep" nightly nightly.yaml >out3 2>&1
[ "$(grep -c '^reduced ' out3)" = 1 ] && grep -q '^reduced      maps/G107-b (touched: content unchanged, rerun requested)' out3 \
    && ok "touching one map file reruns only its map" || bad "touch: $(cat out3)"

cp "$run/maps/G107_Ti.map" inbox/maps/no-ti/
"$kreep" nightly nightly.yaml >out4 2>&1
[ $? -eq 0 ] && grep -q '^reduced      maps/no-ti (inputs changed)' out4 && ok "the completed folder is reduced the next night" \
    || bad "completed folder: $(cat out4)"
exit $fail
