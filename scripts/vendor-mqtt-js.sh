#!/usr/bin/env bash
# The web console's MQTT client (docs/adr/0017): mqtt.js's browser bundle, vendored from the npm package.
#   bash scripts/vendor-mqtt-js.sh            check the committed bundle against the pinned SHA-256 (no network)
#   bash scripts/vendor-mqtt-js.sh VERSION    fetch mqtt@VERSION with npm pack, copy dist/mqtt.min.js and its
#                                             licence, and print the SHA-256 to pin below
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=5.16.0
SHA256=f3cbeae580d3010048938ee370f2db0c15d16e6f7fc147cb32ae5510e571b387
vendor=src/Kirisame.Management/WebConsole/wwwroot/vendor

if [ $# -eq 0 ]; then
  echo "$SHA256  $vendor/mqtt.min.js" | sha256sum --check --quiet
  echo "mqtt.js $VERSION: $vendor/mqtt.min.js matches the pinned SHA-256"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "mqtt@$1" >/dev/null && tar xzf mqtt-*.tgz)
cp "$work/package/dist/mqtt.min.js" "$vendor/mqtt.min.js"
cp "$work/package/LICENSE.md" "$vendor/mqtt.LICENSE.md"
echo "mqtt.js $1 copied to $vendor; set VERSION=$1 and SHA256=$(sha256sum "$vendor/mqtt.min.js" | cut -d' ' -f1) in $0"
