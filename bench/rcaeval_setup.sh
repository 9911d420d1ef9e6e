#!/usr/bin/env bash
# Create the virtualenv that runs the RCAEval baselines (bench/rcaeval_baselines.py) beside Interplay.
#
#     bash bench/rcaeval_setup.sh [VENV_DIR]        # default: bench/.venv-rcaeval
#
# RCAEval pins numpy<2 and wants torch, so it lives in its own venv, never in the project's.
# Its `default` extra pins ~170 packages (dvc, celery, jupyter ...) that no method needs: this
# installs the package without dependencies, then only what the metric methods import
# (BARO, NSigma, CIRCA, PC-PageRank, Granger/LiNGAM-PageRank, CausalRCA, ...). RCD would also need
# the patched causal-learn that RCAEval ships only in its git repo (script/link.sh), not on PyPI.
# Torch is installed first and CPU-only (from a local wheel where pip's find-links has one),
# so that no CUDA build is pulled in.
set -euo pipefail
# pip warns about every absent local index directory; keep its other messages
exec 2> >(grep -v "^WARNING: Location '" >&2)
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv-rcaeval}"
python="${RCAEVAL_PYTHON:-}"
if [ -z "$python" ]; then
    for p in /root/.pyenv/versions/3.11.7/bin/python python3.11 python3.12 python3.10; do
        if command -v "$p" >/dev/null 2>&1; then python="$p"; break; fi
    done
fi
[ -n "$python" ] || { echo "rcaeval_setup: no python 3.10-3.12 found (set RCAEVAL_PYTHON)" >&2; exit 1; }
began=$(date +%s)
"$python" -m venv "$venv"
printf '*\n' > "$venv/.gitignore"   # never commit the venv, wherever it is
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip wheel setuptools
# CPU torch first: a local +cpu wheel if find-links has one, else PyTorch's CPU build from PyPI.
"${pip[@]}" "torch==${RCAEVAL_TORCH:-2.13.0}" || "${pip[@]}" torch
"${pip[@]}" --no-deps "RCAEval==${RCAEVAL_VERSION:-1.8.1}"
"${pip[@]}" "numpy<2" "pandas>=2.0.1,<2.3" "scipy<1.15" "scikit-learn<1.6" "networkx>=2.8,<3.5" \
    "causal-learn>=0.1.3.3" matplotlib "scikit-network>=0.31" tqdm requests \
    "pingouin>=0.5.3" "tigramite>=4.2.2.1" "statsmodels>=0.14.2,<0.15"
"$venv/bin/python" - <<'EOF'
import importlib, sys
import RCAEval.e2e as e2e
found = [m for m in ("baro", "nsigma", "circa", "rcd", "pc_pagerank", "causalrca", "run", "easyrca",
                     "microcause", "granger_pagerank", "lingam_pagerank") if hasattr(e2e, m)
         or importlib.util.find_spec(f"RCAEval.e2e.{m}")]
print("rcaeval_setup: RCAEval", importlib.metadata.version("RCAEval"), "on Python", sys.version.split()[0],
      "- method modules:", ", ".join(found))
print("rcaeval_setup: bench/rcaeval_baselines.py runs baro, nsigma, circa, pc_pagerank, granger_pagerank,"
      " lingam_pagerank by default; rcd needs RCAEval's patched causal-learn (not in the wheel),"
      " causalrca takes >150 s a case, easyrca/microcause/run fail inside RCAEval 1.8.1")
EOF
echo "rcaeval_setup: $venv ready in $(( $(date +%s) - began )) s, $(du -sh "$venv" | cut -f1)"
