#!/usr/bin/env bash
# Create (or reuse) one isolated venv per benchmarked client under bench/.venvs/<name>.
# Peers are never project dependencies: they live only in these gitignored venvs.
#
#   bench/setup_venvs.sh [name ...]     (default: all)
#
# A venv is reused when its stamp file records the same install spec. The plugbay venv is
# always refreshed from the working tree (core + plugins/openai) so figures track the code.
# A venv that fails to install leaves bench/results/install-<name>.txt saying why; the run
# goes on without it and the report shows it as "not available".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENVS="$HERE/.venvs"
RESULTS="$HERE/results"
PY="${BENCH_PYTHON:-3.11}"

# Pinned peers. litellm 1.82.7 and 1.82.8 were compromised (a .pth payload): stay >= 1.83.0.
LITELLM_VERSION="1.109.1"
declare -A SPECS=(
  [tools]="matplotlib==3.11.2"
  [aiohttp]="aiohttp==3.14.5"
  [httpx]="httpx==0.28.1"
  [httpx2]="httpx2==2.16.2"
  [openai]="openai==3.51.0"
  [anyllm]="any-llm-sdk[openai]==1.40.2"
  [litellm]="litellm==$LITELLM_VERSION"
  [plugbay]="local:core+plugins/openai"
  [gateway]="local:core[gateway]+plugins/openai"
  [litellm-proxy]="litellm[proxy]==$LITELLM_VERSION"
)
ALL=(tools aiohttp httpx httpx2 plugbay openai litellm anyllm gateway litellm-proxy)

mkdir -p "$VENVS" "$RESULTS"

log() { printf '[setup] %s\n' "$*" >&2; }

fail() {  # fail NAME REASON: record why a venv is unavailable and drop it
  local name="$1"; shift
  printf '%s\n' "$*" >"$RESULTS/install-$name.txt"
  log "$name: NOT AVAILABLE: $*"
  rm -rf "${VENVS:?}/$name"
}

site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

check_pth() {  # refuse any venv whose site-packages gained a .pth we did not expect
  local name="$1" venv="$VENVS/$1" sp bad
  sp="$(site_packages "$venv")" || return 1
  bad="$(find "$sp" -maxdepth 1 -name '*.pth' ! -name '_virtualenv.pth' -printf '%f ')"
  if [[ -n "$bad" ]]; then
    fail "$name" "refused: unexpected .pth file(s) in site-packages: $bad"
    return 1
  fi
}

new_venv() {
  local venv="$VENVS/$1"
  rm -rf "$venv"
  uv venv -q --python "$PY" "$venv" >/dev/null
}

uv_install() {  # uv_install NAME ARGS...
  local name="$1"; shift
  local out
  if ! out="$(uv pip install -q --compile-bytecode --python "$VENVS/$name/bin/python" "$@" 2>&1)"
  then
    fail "$name" "install failed: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
    return 1
  fi
}

install_litellm() {  # install_litellm [VENV [EXTRA]]: litellm, or litellm[proxy]
  # Download the wheel alone, inspect it, and refuse it if it ships any .pth file.
  local venv="${1:-litellm}" extra="${2:-}" tmp whl pths
  tmp="$(mktemp -d)"
  if ! python3 -m pip download -q --no-deps --only-binary=:all: \
      "litellm==$LITELLM_VERSION" -d "$tmp" >/dev/null 2>&1; then
    fail "$venv" "pip download litellm==$LITELLM_VERSION failed"; rm -rf "$tmp"; return 1
  fi
  whl="$(ls "$tmp"/litellm-*.whl 2>/dev/null | head -n 1)"
  if [[ -z "$whl" ]]; then fail "$venv" "no wheel downloaded"; rm -rf "$tmp"; return 1; fi
  pths="$(python3 - "$whl" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
print(" ".join(n for n in names if n.endswith(".pth")))
EOF
)"
  if [[ -n "$pths" ]]; then
    fail "$venv" "REFUSED: $(basename "$whl") contains .pth file(s): $pths"
    rm -rf "$tmp"; return 1
  fi
  log "$venv: $(basename "$whl") has no .pth file; installing it"
  # Its certifi floor names a CA-bundle release newer than the registry serves here; the
  # override only relaxes that floor (certifi is data, it changes no code path we time).
  printf 'certifi>=2026.7\n' >"$tmp/overrides.txt"
  if [[ -n "$extra" ]]; then
    # The proxy pins its own litellm-proxy-extras (database migrations), which the registry
    # here may not have yet; the proxy runs without a database, so the newest served will do.
    printf 'litellm-proxy-extras>=0.4.100\n' >>"$tmp/overrides.txt"
    uv_install "$venv" --override "$tmp/overrides.txt" "litellm[$extra] @ file://$whl"
  else
    uv_install "$venv" --override "$tmp/overrides.txt" "$whl"
  fi
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

install_plugbay() {  # install_plugbay [VENV [CORE-EXTRAS]]: the gateway venv adds [gateway]
  local venv="${1:-plugbay}"
  local args=("$ROOT/core${2:-}")
  [[ -f "$ROOT/plugins/openai/pyproject.toml" ]] && args+=("$ROOT/plugins/openai")
  [[ -d "$VENVS/$venv" ]] || new_venv "$venv"
  # Regular (non-editable) install, refreshed every run: what a user gets, current code.
  uv_install "$venv" --no-sources --reinstall-package plugbay --reinstall-package plugbay-openai \
    "${args[@]}"
}

setup_one() {
  local name="$1" spec="${SPECS[$1]}" stamp="$VENVS/$1/.bench-spec"
  rm -f "$RESULTS/install-$name.txt"
  if [[ "$name" == plugbay ]]; then
    install_plugbay && check_pth plugbay
    return
  fi
  if [[ "$name" == gateway ]]; then
    install_plugbay gateway "[gateway]" && check_pth gateway
    return
  fi
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$spec" ]]; then
    log "$name: reusing $VENVS/$name"
    check_pth "$name"
    return
  fi
  log "$name: creating venv ($spec)"
  new_venv "$name" || { fail "$name" "uv venv failed"; return 1; }
  if [[ "$name" == litellm ]]; then
    install_litellm || return 1
  elif [[ "$name" == litellm-proxy ]]; then
    install_litellm litellm-proxy proxy || return 1
  else
    # shellcheck disable=SC2086
    uv_install "$name" $spec || return 1
  fi
  check_pth "$name" || return 1
  printf '%s' "$spec" >"$stamp"
}

names=("$@")
[[ ${#names[@]} -eq 0 ]] && names=("${ALL[@]}")
for n in "${names[@]}"; do
  if [[ -z "${SPECS[$n]+x}" ]]; then log "unknown venv: $n"; exit 2; fi
  setup_one "$n" || true
done
