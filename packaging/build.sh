#!/usr/bin/env bash
# Build the one-folder bundle of matteapp with PyInstaller, check it, print its size and the time it took.
#
#   packaging/build.sh          torch as PyPI has it (on Linux x86-64: a CUDA build, several GB)
#   packaging/build.sh --cpu    CPU-only torch from PyTorch's CPU index ($TORCH_CPU_INDEX overrides it)
#
# From a fresh clone: it makes its own venv in build/bundle-VARIANT/venv (kept between runs; delete it to
# start over), installs matteapp into it (not editable: the bundle gets the distribution's package data)
# with PyInstaller, builds dist/bundle-VARIANT/matteapp/ from packaging/matteapp.spec, and then checks
# the finished bundle: --version, --self-test (the bundled model mattes the sample photo) and the window
# started offscreen with the sample photo (--smoke-test).  A bundle that cannot load Qt's plugins,
# torch or the model fails the build.  Needs python3 (3.10 or later) with venv and the network
# (PyPI, and for --cpu the CPU index).
set -euo pipefail

VARIANT=cuda
case "${1:-}" in
  --cpu) VARIANT=cpu ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: packaging/build.sh [--cpu]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$ROOT/build/bundle-$VARIANT"
VENV="$WORK/venv"
DIST="$ROOT/dist/bundle-$VARIANT"
APP="$DIST/matteapp"
started=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" "$(( $(date +%s) - started ))"; }

step "build venv $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
constraints=()
if [ "$VARIANT" = cpu ]; then
  "${pip[@]}" install "torch>=2.2" "torchvision>=0.17" --index-url "${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
  # Pinned to the CPU builds just installed: otherwise a newer torchvision on PyPI would pull PyPI's
  # (CUDA) torch back in while matteapp's dependencies are resolved.
  "$VENV/bin/python" -c 'import importlib.metadata as m; print("\n".join(f"{p}=={m.version(p)}" for p in ("torch", "torchvision")))' > "$WORK/cpu-constraints.txt"
  constraints=(-c "$WORK/cpu-constraints.txt")
fi
# A copy of the tree without build outputs: pip builds the wheel in the source folder, and an old
# build/lib there would carry files that no longer exist into the bundle.
src="$WORK/src"
rm -rf "$src"
mkdir -p "$src"
( cd "$ROOT" && git ls-files -z --cached --others --exclude-standard 2>/dev/null | xargs -0 cp --parents -t "$src" ) \
  || cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/matteapp" "$src/"
"${pip[@]}" install "$src" "pyinstaller>=6.5" ${constraints[@]+"${constraints[@]}"}
# From $WORK, not the checkout: Python puts the current folder first on sys.path, and the check (and
# PyInstaller's analysis) must see the installed matteapp, not the source tree.
cd "$WORK"
"$VENV/bin/python" -c 'import torch, matteapp; print("torch", torch.__version__, "(CUDA " + str(torch.version.cuda) + ")", "| matteapp", matteapp.__version__, "from", matteapp.__file__)'

step "pyinstaller"
rm -rf "$DIST"
# No --clean: PyInstaller's cache of binary dependencies saves many minutes of a rebuild, and it notices
# changed inputs itself.
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$DIST" --workpath "$WORK/pyinstaller" "$ROOT/packaging/matteapp.spec"
# The desktop files travel with the bundle: desktop/install-desktop.sh puts this bundle's program in the menu.
cp -r "$ROOT/packaging/linux" "$APP/desktop"
built=$(date +%s)

step "checks"
# Empty settings and models folders: the bundled model is the default, whatever this machine has pinned.
check_home=$(mktemp -d)
trap 'rm -rf "$check_home"' EXIT
export MATTEAPP_CONFIG_DIR="$check_home/config" MATTEAPP_MODELS_DIR="$check_home/models" XDG_CONFIG_HOME="$check_home/xdg"
sample=$(find "$APP" -path '*matteapp/resources/samples/astronaut.png' -print -quit)
[ -n "$sample" ] || { echo "the sample photo is not in the bundle" >&2; exit 1; }
"$APP/matteapp" --version
"$APP/matteapp" --self-test
QT_QPA_PLATFORM=offscreen "$APP/matteapp" --smoke-test "$sample"
if "$APP/matteapp" --no-such-option 2>/dev/null; then echo "an unknown option was accepted" >&2; exit 1; fi

step "done"
size=$(du -sh "$APP" | cut -f1)
echo "bundle: $APP ($VARIANT), $size, $(find "$APP" -type f | wc -l) files"
echo "largest parts:"
du -s "$APP"/_internal/* 2>/dev/null | sort -rn | head -8 | awk '{ printf "  %7.0f MB  %s\n", $1 / 1024, $2 }' | sed "s|$APP/||"
echo "time: $(( built - started )) s to build, $(( $(date +%s) - built )) s to check"
