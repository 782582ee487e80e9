# Shared helpers for scripts/test and scripts/demo (sourced, not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\n== %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# find_python 3.13 3.12 -> the first interpreter of those versions found on
# PATH or in pyenv.
find_python() {
    local version candidate
    for version in "$@"; do
        for candidate in \
            "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version" \
            "$(command -v "python$version" 2>/dev/null)"; do
            # A pyenv shim can exist and still refuse to run: try it.
            if [[ -x "$candidate" ]] && "$candidate" -c "" >/dev/null 2>&1; then
                echo "$candidate"
                return 0
            fi
        done
    done
    return 1
}

# make_venv DIR PYTHON "extra requirement" [extras]: create DIR and install the
# project (editable) into it with those extras ("" for none; default "test");
# skipped when nothing it depends on has changed.
make_venv() {
    local dir="$1" python="$2" django="$3" extras="${4-test}"
    local stamp="$dir/.streamkit-stamp"
    local want
    want="$("$python" --version 2>&1) $django $extras $(sha1sum pyproject.toml | cut -c1-40)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    say "Installing into $dir ($("$python" --version 2>&1), $django)"
    rm -rf "$dir"
    local log="$dir/install.log"
    local project="."
    [[ -n "$extras" ]] && project=".[$extras]"
    local pip_help
    pip_help="$("$python" -m pip --help 2>/dev/null || true)"
    if [[ "$extras" != *test* && "$pip_help" == *"--python"* ]]; then
        # No test extras (the demo): a venv without its own pip, filled by the
        # interpreter's pip (--python, pip 22.3+), skipping ensurepip and the
        # pip upgrade, about half of a fresh install's time.
        "$python" -m venv --without-pip "$dir"
        if ! "$python" -m pip --python "$dir/bin/python" install -e "$project" "$django" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "Installing into $dir failed (full log: $log)."
        fi
    else
        "$python" -m venv "$dir"
        if ! { "$dir/bin/python" -m pip install --upgrade pip &&
            "$dir/bin/python" -m pip install -e "$project" "$django"; } >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "Installing into $dir failed (full log: $log)."
        fi
    fi
    echo "$want" >"$stamp"
}
