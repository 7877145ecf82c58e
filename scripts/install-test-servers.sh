#!/usr/bin/env bash
# Installs (from Debian's packages) the servers the test suite starts on 127.0.0.1.
# Idempotent: does nothing when everything is already there. The suite itself starts
# and stops the servers; nothing here runs a service.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server mariadb-client)
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need+=(ldap-utils)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
# What `make native` builds mysqlclient with (the sql connector's fast MySQL/MariaDB driver).
[ -f /usr/include/mariadb/mysql.h ] || need+=(libmariadb-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-servers: need root to install: ${need[*]} (or install them yourself)" >&2
  exit 1
fi
echo "install-test-servers: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their own services on install where a service manager exists;
# the suite never uses those, stop them if any are running.
for s in postgresql mariadb slapd redis-server; do
  (service "$s" stop >/dev/null 2>&1 || true)
done
