#!/bin/sh
# npm-install.sh SRC_DIR CACHE_DIR - install the npm packages of the test
# bot in SRC_DIR (package.json and package-lock.json) into
# CACHE_DIR/node_modules, once: a stamp holding the lock file's hash makes
# reruns instant. Concurrent test runs share the cache under a lock.
#
# --ignore-scripts: no package code runs at install time. The packages
# used need none: zeromq and deasync ship prebuilt addons for linux-x64
# and load them at require() time.
set -eu

src=$1
cache=$2
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ -f "$cache/.stamp" ] && [ "$(cat "$cache/.stamp")" = "$want" ] && [ -d "$cache/node_modules" ]; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm-install.sh: npm is not installed (tools/install-deps)" >&2; exit 1; }
rm -rf "$cache/node_modules" "$cache/.stamp"
cp "$src/package.json" "$src/package-lock.json" "$cache/"
cd "$cache"
# The registry is a network service: a failed download is tried again.
for try in 1 2 3; do
    if npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2; then
        echo "$want" >.stamp
        exit 0
    fi
    echo "npm-install.sh: npm ci failed (attempt $try of 3)" >&2
    rm -rf node_modules
    sleep $((try * 5))
done
exit 1
