#!/bin/sh
# Runs a command inside a private D-Bus session with an unlocked GNOME keyring, so
# the keychain tests talk to a real Secret Service even on a headless machine.
# Usage: sh scripts/with-keyring.sh npx vitest run --project keychain
set -eu
if [ "$#" -eq 0 ]; then
  echo "usage: sh scripts/with-keyring.sh <command> [args...]" >&2
  exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring: $tool is not installed (apt-get install dbus gnome-keyring libsecret-tools)." >&2
    exit 3
  fi
done
# A throwaway keyring directory: never touch the operator's real login keyring.
KEYRING_HOME=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-keyring.XXXXXX")
trap 'rm -rf "$KEYRING_HOME"' EXIT INT TERM
export XDG_DATA_HOME="$KEYRING_HOME/data"
export XDG_RUNTIME_DIR="$KEYRING_HOME/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export GATEHOUSE_KEYRING_SESSION=1
# Inside the session: start the daemon with an unlocked keyring (password "pw"), then run the command.
# In containers dbus-daemon prints "Failed to set fd limit"; that line is harmless.
status=0
dbus-run-session -- sh -c '
  echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"
' with-keyring "$@" || status=$?
exit "$status"
