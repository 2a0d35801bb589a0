#!/usr/bin/env bash
# Makes a fresh Debian 12 machine (Node 20 and npm already there) ready to run lit-stream, then
# installs the npm dependencies. The README's two quick-start lines call it:
#
#   ./scripts/setup.sh server   what `npm start` needs: systemd (the embedded user manager),
#                               dbus-user-session (its bus), util-linux (unshare)
#   ./scripts/setup.sh test     that, plus what the test suites start or call for real
#
# Only packages that are missing are installed (apt-get needs root, or sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

purpose=${1:-test}

# Package lists, one place: each line says who needs it.
server_packages=(
  systemd            # /usr/lib/systemd/systemd --user, systemd-journald, journalctl, busctl
  dbus-user-session  # the user bus the embedded manager socket-activates
  util-linux         # unshare: the embedded manager's private mount namespace
)
test_packages=(
  tmux               # lit-streamctl's terminal mode, driven in a pseudo-terminal
  openssl            # the TLS/mTLS specs make their certificates with it
  polkitd            # polkitd + pkcheck: deploy/'s polkit rule is checked by the real polkitd
  prometheus         # prometheus + promtool: the metrics specs scrape and lint /metrics for real
  protobuf-compiler  # protoc's Python generator: npm run generate (CI checks clients/python/gen)
  protobuf-compiler-grpc  # grpc_python_plugin: the Python client's gRPC stubs, same
  python3-grpcio     # the Python client's runtime, for its specs on /usr/bin/python3
  python3-protobuf   #   "
  python3-pytest     # the Python client's tests
  python3-pip        # pip install --no-build-isolation ./clients/python, as its users do
  python3-setuptools # the Python client's build backend (PEP 621 pyproject.toml)
  python3-venv       # the Python client spec installs it into a virtualenv, as users would
  locales            # localedef's de_DE: the Python client's timestamps are checked under a German LC_TIME
  iproute2           # ip netns / ip link: the multi-host suite (test/fleet) puts each host in a network namespace
  dnsmasq-base       # dnsmasq: the multi-host suite's DNS server, for the gateway's SRV discovery
)

case "$purpose" in
  server) wanted=("${server_packages[@]}") ;;
  test) wanted=("${server_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 server|test" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== setup: installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== setup: npm ci"
npm ci --no-audit --no-fund
