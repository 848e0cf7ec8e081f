#!/usr/bin/env bash
# LA-ICP-MS sample run end to end: `kreep run` on sample_runs/ce5-glass-beads/run.yaml (EPMA, then the
# synthetic Qtegra 2.7 session of scripts/synth-laicpms with Si from the EPMA means of the same run) and /laicpms/spots against
# sample_runs/ce5-glass-beads/laicpms/truth_trace.csv: >= 95 % of the spot-analyte pairs above 10 x LOD (the
# larger of the Longerich and Pettke LODs) must recover the true value within 2 x u_total (the stage's
# combined 1 sigma). Also: every spot reduced, the beads' internal standard from EPMA, the QC glasses in
# /qa/reference_materials, Eu/Eu* of each bead within 0.03 of its design value (beads_trace.csv).
# usage: bash laicpms_sample.sh <path-to-kreep> <source-dir>
set -u
kreep=$1
src=$2
run=$src/sample_runs/ce5-glass-beads
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$run/run.yaml" ]; then echo "SKIP: $run/run.yaml is absent"; exit 0; fi

t0=$(date +%s.%N)
"$kreep" run "$run/run.yaml" -o "$work/beads.h5" >"$work/out" 2>"$work/err"
rc=$?
t1=$(date +%s.%N)
if [ $rc -ne 0 ]; then echo "FAIL kreep run: exit $rc"; cat "$work/err"; exit 1; fi
echo "ok   kreep run on the sample run (EPMA + LA-ICP-MS): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s wall"

py=
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import h5py, numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then echo "SKIP: no python3 with h5py and numpy"; exit 0; fi

"$py" - "$work/beads.h5" "$run/laicpms/truth_trace.csv" "$src/scripts/synth-laicpms/beads_trace.csv" \
    "$src/calib/laicpms_ci_chondrite.csv" <<'EOF'
import csv, sys
import h5py, numpy as np

h5, truth_path, beads_path, ci_path = sys.argv[1:5]
fail = 0
def ok(msg): print('ok  ', msg)
def bad(msg):
    global fail
    print('FAIL', msg)
    fail = 1
def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(l for l in fh if not l.startswith('#')))
s = lambda x: x.decode() if isinstance(x, bytes) else str(x)

truth = {(r['spot'], r['analyte']): float(r['true_ugg']) for r in rows(truth_path)}
f = h5py.File(h5, 'r')
d = f['laicpms/spots'][()]

spots = sorted({s(r['spot']) for r in d})
failed = sorted({s(r['spot']) for r in d if s(r['status']) == 'failed'})
if len(spots) == 34 and not failed: ok(f'{len(spots)} spots reduced, none failed')
else: bad(f'{len(spots)} spots (34 expected), failed: {failed}')

bead_is = {s(r['is_source']) for r in d if s(r['sample']).startswith('G') and s(r['status']) == 'ok'}
if bead_is == {'epma'}: ok('the beads take Si from the EPMA means of the run (is_source epma)')
else: bad(f'bead internal-standard sources: {bead_is}')

n = within = low = missing = 0
z = []
outside = []
seen = set()
for r in d:
    key = (s(r['spot']), s(r['analyte']))
    if key not in truth: continue
    seen.add(key)
    if s(r['status']) != 'ok':
        missing += 1
        continue
    lod = max(r['lod_longerich_ugg'], r['lod_pettke_ugg'])
    if not (r['conc_ugg'] > 10 * lod):
        low += 1
        continue
    n += 1
    zi = (r['conc_ugg'] - truth[key]) / r['u_total_ugg']
    z.append(zi)
    if abs(zi) <= 2: within += 1
    else: outside.append(f'{key[0]} {key[1]} {r["conc_ugg"]:.4g} (true {truth[key]:.4g}, z {zi:.2f})')
missing += len(set(truth) - seen)
for o in outside: print('     outside 2 sigma:', o)
z = np.array(z)
pct = 100.0 * within / n if n else 0.0
print(f'     {len(truth)} spot-analyte pairs with a true value: {missing} not quantified, {low} below 10 x LOD, '
      f'{n} checked; z = (kreep - true)/u_total: mean {z.mean():.2f}, sd {z.std(ddof=1):.2f}, max |z| {abs(z).max():.2f}')
msg = f'{within}/{n} = {pct:.1f} % of spot-analyte pairs above 10 x LOD within 2 x u_total of the truth'
if n >= 600 and missing == 0 and pct >= 95: ok(msg)
else: bad(msg + ' (need >= 95 %, >= 600 pairs, none missing)')

qa = f['qa/reference_materials'][()]
mats = {s(r['material']) for r in qa}
if {'NIST612', 'BCR-2G', 'BIR-1G'} <= {m.upper() for m in mats} or {'NIST612', 'BCR2G', 'BIR1G'} <= mats:
    ok(f'/qa/reference_materials holds the QC glasses: {sorted(mats)}')
else: bad(f'/qa/reference_materials materials: {sorted(mats)}')

ci = {r['name']: float(r['value']) for r in rows(ci_path)}
design = {}
for r in rows(beads_path):
    design.setdefault(r['sample'], {})[r['element']] = float(r['ugg'])
eu = {s(r['sample']): r for r in f['laicpms/eu_anomaly'][()]}
for b, v in sorted(design.items()):
    want = (v['Eu'] / ci['Eu']) / np.sqrt(v['Sm'] / ci['Sm'] * v['Gd'] / ci['Gd'])
    got = eu[b]['eu_eu_star'] if b in eu else float('nan')
    if abs(got - want) <= 0.03: ok(f'{b} Eu/Eu* {got:.3f} (design {want:.3f})')
    else: bad(f'{b} Eu/Eu* {got:.3f}, design {want:.3f}')

# /laicpms/timeseries/<spot>: one cps(time_s, isotope) dataset per spot (stages/laicpms/README.md), its
# values the export's own text: the sweep rows after the Time header and the dwell-time row of <spot>.csv
import os
ts = f['laicpms/timeseries']
spots_dir = os.path.join(os.path.dirname(truth_path), 'spots')
nbad = 0
for sp in spots:
    g = ts[sp]
    if s(g.attrs['signal']) != 'cps' or [s(a) for a in g.attrs['axes']] != ['time_s', 'isotope']:
        nbad += 1
        continue
    cps, t, iso = g['cps'][()], g['time_s'][()], [s(x) for x in g['isotope'][()]]
    with open(os.path.join(spots_dir, sp + '.csv')) as fh:
        lines = fh.read().splitlines()
    h = next(i for i, l in enumerate(lines) if l.startswith('Time,'))
    cols = [c for c in lines[h].split(',')[1:] if c]
    data = [l.split(',') for l in lines[h + 2:] if l and l[0].isdigit()]
    by_time = {float(r[0]): r for r in data}
    ok_spot = cps.shape == (len(t), len(cols)) and len(iso) == len(cols)
    for j in (0, len(t) // 2, len(t) - 1):
        r = by_time.get(float(t[j]))
        ok_spot = ok_spot and r is not None and all(float(r[k + 1]) == cps[j, k] for k in range(len(cols)))
    nbad += not ok_spot
if nbad == 0: ok(f'/laicpms/timeseries: {len(spots)} spots, cps(time_s, isotope) equal to the exports\' text')
else: bad(f'/laicpms/timeseries: {nbad} of {len(spots)} spots differ from their exports or from the layout')
try:
    import xarray
    x = xarray.open_dataset(h5, group='laicpms/timeseries/' + spots[0])
    if x['cps'].dims == ('time_s', 'isotope') and 'Si29' in list(x['isotope'].values):
        ok(f'xarray opens /laicpms/timeseries/{spots[0]}: cps{x["cps"].dims}, .sel(isotope="Si29") works '
           f'({float(x["cps"].sel(isotope="Si29").max()):.4g} cps max)')
    else: bad(f'xarray view of the time series: {x}')
except ImportError:
    print('SKIP xarray not installed')
sys.exit(fail)
EOF
exit $?
