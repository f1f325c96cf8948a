#!/usr/bin/env bash
# Install what is missing, skip what is present (so it also works offline), then write the
# Python interpreter to use into build/python.
#   scripts/deps.sh [test|docs|bench]
# System parts come from apt (Debian); Python parts go into .venv from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-test}"
mkdir -p build
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

# --- system packages: check by capability, install only the missing ones -------------------
missing=()
have_file() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
layer_json() {
  lp="${VK_LAYER_PATH:-}"
  for d in ${lp//:/ } /usr/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d; do
    [ -e "$d/VkLayer_khronos_validation.json" ] && return 0
  done; return 1
}
icd_json() {
  [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && return 0
  compgen -G '/usr/share/vulkan/icd.d/*.json' >/dev/null || compgen -G '/etc/vulkan/icd.d/*.json' >/dev/null
}
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || have_file /usr/lib/x86_64-linux-gnu/libvulkan.so.1 || missing+=(libvulkan1)
icd_json || missing+=(mesa-vulkan-drivers)
layer_json || missing+=(vulkan-validationlayers)
command -v glslangValidator >/dev/null || missing+=(glslang-tools)
command -v spirv-cross >/dev/null || missing+=(spirv-cross)
command -v spirv-val >/dev/null || missing+=(spirv-tools)
command -v Xvfb >/dev/null || missing+=(xvfb)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
fi

# --- Python: use what is importable, else build .venv from pyproject.toml -------------------
modules="vulkan, glfw, esper, numpy, engine.testing.plugin"
docs_modules="sphinx, furo, myst_parser"   # the docs extra (part of the test extra)
case "$extra" in
  test) modules="$modules, pytest, hypothesis" ;;
  docs) modules="$modules, $docs_modules" ;;
  bench) modules="$modules, pytest, hypothesis, wgpu, moderngl, matplotlib" ;;
esac
probe() { PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$1" -c "import $modules" >/dev/null 2>&1; }
if [ -x .venv/bin/python ] && probe .venv/bin/python; then
  py=.venv/bin/python
elif [ ! -x .venv/bin/python ] && probe "$(command -v python3)"; then
  py=$(command -v python3)   # e.g. the lent GPU machine, prepared by gpu-prep
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  echo "deps: installing Python packages into .venv (extra: $extra)" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  extras="test,dev"
  [ "$extra" = bench ] && extras="test,bench,dev"
  .venv/bin/python -m pip install -q -e ".[$extras]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  probe .venv/bin/python || { echo "deps: Python packages still missing after install" >&2; exit 1; }
  py=.venv/bin/python
fi
# The suite runs without the docs tools (tests/test_docs.py then skips its build), so a .venv
# made before they joined the test extra gets them here; tried once, so offline stays quick.
if [ "$extra" = test ] && [ "$py" = .venv/bin/python ] && [ ! -e build/docs-deps-tried ] && \
    ! .venv/bin/python -c "import $docs_modules" >/dev/null 2>&1; then
  touch build/docs-deps-tried
  echo "deps: installing the docs extra into .venv (sphinx, furo, myst-parser)" >&2
  .venv/bin/python -m pip install -q -e ".[test,dev]" 2>&1 | grep -v '^WARNING: Location' >&2 || \
    echo "deps: could not install the docs extra; the docs build test will skip" >&2
fi
echo "$py" > build/python
