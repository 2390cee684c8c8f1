#!/usr/bin/env bash
# Re-train a reference classifier from scratch on a GPU with its documented command
# (`workbench train --recipe NAME --device cuda`) and bring back the learning curve, the
# provenance record and the float16 export. Written for a bare GPU machine whose python3 holds
# torch: the workbench runs from the source tree (PYTHONPATH), and the pure-Python packages the
# image may lack (or hold at another version) come as wheels from .whl/ when that folder exists:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl \
#       nibabel==5.4.2 pydicom==3.0.2 timm==1.0.31 defusedxml
#   OUT=/some/dir LIMIT=500 bash bench/device_reference.sh reference-binary cuda 13
#
# Arguments: recipe name (default reference-binary), device (cuda), DataLoader workers (13: the
# generator makes ~2 batches of 32 per second per core at 256 px, so the workers set the pace).
# LIMIT caps the training's wall time in seconds (the curve written so far still comes back).
set -u
NAME=${1:-reference-binary}
DEVICE=${2:-cuda}
WORKERS=${3:-13}
OUT=${OUT:?set OUT to the folder that receives the results}
PY=${PY:-python3}
if [ -d .whl ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
$PY -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__,
      torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
RUN=${RUN:-/tmp/device-$NAME}
start=$(date +%s)
timeout "${LIMIT:-500}" $PY -m workbench train --recipe "$NAME" --device "$DEVICE" --num-workers "$WORKERS" \
  --out "$RUN" --data-dir "${DATA_DIR:-/tmp/reference_data}" ${EXTRA:-} > "$OUT/train.log" 2>&1
echo "train rc=$? after $(( $(date +%s) - start )) s"
for f in heldout.csv metrics.csv reference.json; do cp "$RUN/$f" "$OUT/" 2>/dev/null; done
if [ -f "$RUN/reference.json" ]; then
  $PY - "$RUN" "$NAME" "$OUT" <<'EOF'
import sys
from workbench.training.reference import export_reference
run, name, out = sys.argv[1:]
export_reference(run, name, out, note="re-trained on a GPU by bench/device_reference.sh")
EOF
fi
$PY - "$RUN" <<'EOF'
import csv, json, sys
from pathlib import Path
run = Path(sys.argv[1])
for row in csv.DictReader(open(run / "heldout.csv")) if (run / "heldout.csv").is_file() else []:
    print({k: row[k] for k in row if k in ("step", "val_auc", "heldout_auc", "heldout_auc_ge100px")})
if (run / "reference.json").is_file():
    rec = json.loads((run / "reference.json").read_text())
    print(json.dumps({k: rec.get(k) for k in ("steps", "train_seconds", "best_step", "best_val_auc", "precision", "machine")}, default=str))
    print(json.dumps(rec.get("heldout", {}), default=str)[:1500])
EOF
tail -c 1500 "$OUT/train.log"
