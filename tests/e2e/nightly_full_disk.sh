#!/usr/bin/env bash
# Fault test (issue 6): a full disk, simulated with a file-size limit (ulimit -f), makes the product write
# fail with EFBIG. kreep ignores SIGXFSZ, so it reports a clear error naming the product, exits non-zero,
# leaves no temp file and no partial product, and an existing product stays untouched. Under nightly the
# run is recorded as failed (I/O), not quarantined, and retried the next night.
# usage: bash nightly_full_disk.sh <path-to-kreep> <source-dir>
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
cd "$work"

# 1. kreep run: no product yet (the SIMS sample product is about 57 kB; the limit is 20 kB)
(ulimit -f 20; "$kreep" run "$src/sample_runs/ce6-basalt-pbpb/run.yaml" -o out.h5 >run1.out 2>run1.err)
st=$?
cat run1.err
[ $st -eq 1 ] && ok "kreep run, file-size limit: exit 1 (not killed by SIGXFSZ)" || bad "kreep run under ulimit -f: exit $st"
grep -q 'product out.h5 not written' run1.err && grep -q 'File too large' run1.err \
    && ok "the error names the product and says why" || bad "unclear error: $(cat run1.err)"
[ ! -e out.h5 ] && ! compgen -G 'out.h5.tmp.*' >/dev/null && ok "no product and no temp file left" \
    || bad "left behind: $(ls)"

# 2. kreep run over an existing product: it stays as it was
"$kreep" run "$src/sample_runs/ce6-basalt-pbpb/run.yaml" -o out.h5 >/dev/null 2>&1 || bad "kreep run without a limit failed"
before=$(sha256sum out.h5 | cut -d' ' -f1)
(ulimit -f 20; "$kreep" run "$src/sample_runs/ce6-basalt-pbpb/run.yaml" -o out.h5 --set run.name=again >/dev/null 2>run2.err)
st=$?
[ $st -ne 0 ] && [ "$(sha256sum out.h5 | cut -d' ' -f1)" = "$before" ] && ! compgen -G 'out.h5.tmp.*' >/dev/null \
    && ok "existing product untouched, no temp file (exit $st)" || bad "existing product: exit $st, $(ls)"

# 3. nightly: the EPMA sample session (product about 10 MB) under a 4 MB limit
mkdir -p lab/inbox/epma
cp -r "$src/sample_runs/ce5-glass-beads/exports" lab/inbox/epma/ce5-glass-beads
cat >lab/nightly.yaml <<YAML
nightly:
  products: products
  scan_interval_s: 0
  max_attempts: 3
instruments:
  epma:
    inbox: inbox/epma
    template: $src/sample_runs/ce5-glass-beads/run.yaml
    inputs_key: epma.inputs
    inputs: ["*_QNT", "*_STD"]
YAML
cd lab
"$kreep" nightly nightly.yaml >n1.out 2>&1 || bad "night 1 (no limit): $(cat n1.out)"
prod=products/epma/ce5-glass-beads.h5
[ -f "$prod" ] || bad "night 1: no product"
before=$(sha256sum "$prod" | cut -d' ' -f1)
touch inbox/epma/ce5-glass-beads/beads_QNT/Pos_0001/data001.qnt # a rerun request (rerun_on_touch)
for jobs in 1 2; do
    (ulimit -f 4096; "$kreep" nightly nightly.yaml --jobs "$jobs" >n2.out 2>n2.err)
    st=$?
    cat n2.out
    [ $st -eq 3 ] && grep -q '^FAILED       epma/ce5-glass-beads' n2.out && grep -q 'File too large' n2.out \
        && ok "nightly (jobs $jobs), file-size limit: the run FAILED with the I/O error, exit 3" \
        || bad "nightly (jobs $jobs) under ulimit -f: exit $st: $(cat n2.out n2.err)"
    s=$(sql products/kreep.db "select status from items where instrument='epma'")
    [ "$s" = failed ] && ok "ledger: failed (I/O), not quarantined" || bad "ledger status '$s'"
    [ "$(sha256sum "$prod" | cut -d' ' -f1)" = "$before" ] && ! compgen -G "$prod.tmp.*" >/dev/null \
        && ok "previous product untouched, no temp file" || bad "product changed or temp left: $(ls products/epma)"
done
a=$(sql products/kreep.db "select attempts from items where instrument='epma'")
[ "$a" = 2 ] && ok "two failed attempts counted" || bad "attempts '$a'"
"$kreep" nightly nightly.yaml >n3.out 2>&1
st=$?
cat n3.out
[ $st -eq 0 ] && grep -q '^reduced      epma/ce5-glass-beads (retry after a failure' n3.out \
    && ok "next night (disk space back): retried and reduced" || bad "retry: exit $st: $(cat n3.out)"
[ "$(sql products/kreep.db "select status from items where instrument='epma'")" = done ] \
    && ok "ledger: done after the retry" || bad "ledger after the retry"
exit $fail
