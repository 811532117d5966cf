#!/usr/bin/env bash
# Installs what .ci/run needs beyond cargo when it is missing, and says what it did:
# rustfmt and clippy (rustup components), a python3 that can make a venv (the interop test
# installs the Python MCP SDK from PyPI into one), node >= 20 and npm (the TypeScript interop
# test installs the TypeScript MCP SDK and the MCP Inspector from npm). Idempotent; prints one
# line per tool.
set -euo pipefail

say() { echo "ci-deps: $*"; }

for component in rustfmt clippy; do
    probe=(cargo fmt --version)
    [[ $component == clippy ]] && probe=(cargo clippy --version)
    if "${probe[@]}" >/dev/null 2>&1; then
        say "$component: present"
    elif command -v rustup >/dev/null; then
        say "$component: missing; rustup component add $component"
        rustup component add "$component"
    else
        say "$component: missing and no rustup to add it; install it with your Rust toolchain" >&2
        exit 2
    fi
done

apt_install() {
    if ! command -v apt-get >/dev/null; then
        say "no apt-get: install $* by hand" >&2
        exit 2
    fi
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

if ! command -v python3 >/dev/null; then
    say "python3: missing; apt-get install python3 python3-venv"
    apt_install python3 python3-venv
elif ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "python3 cannot make a venv; apt-get install python3-venv"
    apt_install python3-venv
else
    say "python3 with venv: present ($(python3 --version 2>&1))"
fi

node_major() { node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null; }
if command -v node >/dev/null && command -v npm >/dev/null; then
    say "node and npm: present (node $(node --version), npm $(npm --version))"
else
    say "node or npm: missing; apt-get install nodejs npm"
    apt_install nodejs npm
fi
if [[ "$(node_major)" -lt 20 ]]; then
    say "node $(node --version) is too old: scripts/ts-interop needs node >= 20; install a newer one" >&2
    exit 2
fi

# The board's browser tests (tests/suite/board.rs) drive Debian's headless Chromium through
# ChromeDriver.
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    say "chromium and chromedriver: present ($(chromium --version 2>/dev/null | head -1))"
else
    say "chromium or chromedriver: missing; apt-get install chromium chromium-driver"
    apt_install chromium chromium-driver
fi
