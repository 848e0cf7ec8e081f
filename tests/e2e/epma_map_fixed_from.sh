#!/usr/bin/env bash
# A Ti-only map gets a proper matrix correction when its unmapped elements come from the bead's own EPMA
# point mean (`fixed_from`): on the sample run's G107 bead, the glass TiO2 of a map of Ti alone agrees with
# that of the full 8-element map (same Ti counts) within 0.5 %, while the same Ti map with nothing fixed
# (a matrix of TiO2 alone) is more than 1 % off (2.7 % here). An unknown sample id is a clear error and writes nothing.
# usage: bash epma_map_fixed_from.sh <path-to-kreep> <source-dir>
set -u
kreep=$1
src=$(cd "$2" && pwd)
run=$src/sample_runs/ce5-glass-beads
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# $1 = map name, $2 = elements (YAML flow list), $3 = extra map keys
config() {
    cat <<YAML
epma:
  inputs: ["$run/exports/beads_QNT", "$run/exports/beads_STD"]
  sample_id: last_underscore
  maps:
    png: false
    inputs:
      - name: $1
        cnd: "$run/maps/G107.cnd"
        $3
        elements: $2
        regions:
          - {name: glass, where: ["TiO2 > 8"]}
YAML
}
all='[{element: Si, file: "'$run'/maps/G107_Si.map", dead_time_us: 1.10, standard: CaSiO3, std_cps_na: 310, background: {cps_na: 0.55}},
      {element: Na, file: "'$run'/maps/G107_Na.map", dead_time_us: 1.10, standard: NaAlSi3O8, std_cps_na: 95, background: {cps_na: 0.25}},
      {element: Al, file: "'$run'/maps/G107_Al.map", dead_time_us: 1.05, standard: Al2O3, std_cps_na: 520, background: {cps_na: 0.5}},
      {element: Mg, file: "'$run'/maps/G107_Mg.map", dead_time_us: 1.05, standard: MgO, std_cps_na: 610, background: {cps_na: 0.45}},
      {element: Ti, file: "'$run'/maps/G107_Ti.map", dead_time_us: 1.20, standard: TiO2, std_cps_na: 420, background: {cps_na: 0.4}},
      {element: Ca, file: "'$run'/maps/G107_Ca.map", dead_time_us: 1.20, standard: CaSiO3, std_cps_na: 260, background: {cps_na: 0.3}},
      {element: Fe, file: "'$run'/maps/G107_Fe.map", dead_time_us: 1.25, standard: Fe2SiO4, std_cps_na: 150, oxide: FeO, background: {cps_na: 0.2}},
      {element: Mn, file: "'$run'/maps/G107_Mn.map", dead_time_us: 1.25, standard: MnSiO3, std_cps_na: 110, background: {cps_na: 0.18}}]'
ti='[{element: Ti, file: "'$run'/maps/G107_Ti.map", dead_time_us: 1.20, standard: TiO2, std_cps_na: 420, background: {cps_na: 0.4}}]'

config full "$all" "fixed: {K2O: 0.1429, Cr2O3: 0.3267}" > "$work/full.yaml"
config tionly "$ti" "fixed_from: G107" > "$work/tionly.yaml"
config bare "$ti" "min_total_wt: 0" > "$work/bare.yaml"
sed -i 's/^        min_total_wt: 0$//; s/^  maps:$/  maps:\n    min_total_wt: 0/' "$work/bare.yaml"
for c in full tionly bare; do
    if "$kreep" run "$work/$c.yaml" -o "$work/$c.h5" > "$work/$c.log" 2>&1; then ok "$c map run"
    else bad "$c map run: $(tail -3 "$work/$c.log")"; fi
done
"$py" - "$work" <<'PY' || fail=1
import sys, h5py
w = sys.argv[1]
def glass_tio2(name):
    with h5py.File(f"{w}/{name}.h5", "r") as f:
        r = f["epma/map_regions"][:]
        row = [x for x in r if x["region"] == b"glass" and x["quantity"] == b"TiO2"][0]
        return float(row["mean"]), int(row["n_pixels"])
full, nf = glass_tio2("full")
tionly, nt = glass_tio2("tionly")
bare, nb = glass_tio2("bare")
d = tionly / full - 1
print(f"glass TiO2: full map {full:.3f} wt% ({nf} px), Ti-only with fixed_from G107 {tionly:.3f} ({nt} px, "
      f"{100 * d:+.2f} %), Ti-only with nothing fixed {bare:.3f} ({100 * (bare / full - 1):+.1f} %)")
ok = abs(d) < 0.005 and abs(bare / full - 1) > 0.01
print(("ok   " if ok else "FAIL ") + "fixed_from gives the full map's TiO2 within 0.5 %; nothing fixed (a TiO2 matrix) is > 1 % off")
sys.exit(0 if ok else 1)
PY
config nosuch "$ti" "fixed_from: G999" > "$work/nosuch.yaml"
if "$kreep" run "$work/nosuch.yaml" -o "$work/nosuch.h5" > "$work/nosuch.log" 2>&1; then bad "fixed_from G999 ran"
elif grep -q "fixed_from G999: no EPMA point analyses of sample G999" "$work/nosuch.log" && [ ! -e "$work/nosuch.h5" ]; then
    ok "fixed_from G999: $(grep -o 'fixed_from G999: no EPMA[^;]*' "$work/nosuch.log" | head -1); no product"
else bad "fixed_from G999: $(cat "$work/nosuch.log")"; fi
exit $fail
