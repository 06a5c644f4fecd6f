#!/usr/bin/env bash
# The test command. On a fresh machine it installs what it needs (moto's server, cfn-lint, pyarrow and
# openapi-spec-validator, in
# a virtualenv it creates), starts moto_server on 127.0.0.1 and a free port, runs every test of
# the workspace (both back ends), and stops the server whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CASB_TEST_VENV:-.venv}"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/cfn-lint" ] \
  || ! "$venv/bin/python" -c 'import pyarrow, openapi_spec_validator' 2>/dev/null; then
  echo "==> installing moto[server], cfn-lint, pyarrow and openapi-spec-validator into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

# MaxMind's own test databases (GeoIP2-City-Test.mmdb: London, Linköping, Milton, Changchun...),
# shipped in the maxminddb package's source distribution, for the geographic threat detectors.
geoip_db="target/geoip/GeoIP2-City-Test.mmdb"
if [ ! -s "$geoip_db" ]; then
  echo "==> fetching MaxMind's test databases (maxminddb 3.2.0 source distribution)"
  rm -rf target/geoip && mkdir -p target/geoip
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    maxminddb==3.2.0 -d target/geoip
  tar -xzf target/geoip/maxminddb-3.2.0.tar.gz -C target/geoip --strip-components=4 \
    maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb
fi
export CASB_TEST_GEOIP_DB="$PWD/$geoip_db"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
mkdir -p target
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT

python3 - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/moto-api/"
for _ in range(150):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(f"moto_server did not start on {url}; see target/moto.log")
PY
echo "==> moto_server on 127.0.0.1:$port"

export CASB_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
export CASB_TEST_CFN_LINT="$PWD/$venv/bin/cfn-lint"
export CASB_TEST_PYTHON="$PWD/$venv/bin/python"
echo "==> cfn-lint template.yaml"
"$CASB_TEST_CFN_LINT" template.yaml
echo "==> cargo test --workspace"
cargo test --workspace --locked "$@"
