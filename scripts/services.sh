#!/usr/bin/env bash
# Make sure MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) answer on loopback.
# Start them when installed but stopped; install Debian's packages when missing and we are root with apt;
# otherwise say exactly what is missing. URLs in FCFS_TEST_DATABASE_URL / FCFS_TEST_REDIS_URL skip this.
set -u

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  for _ in $(seq 1 60); do answers "$1" && return 0; sleep 0.5; done
  return 1
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

ensure_redis() {
  [ -n "${FCFS_TEST_REDIS_URL:-}" ] && return 0
  answers 6379 && return 0
  if ! command -v redis-server >/dev/null; then
    if can_apt; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    else
      echo "missing: redis-server (install Redis, or set FCFS_TEST_REDIS_URL)"; return 1
    fi
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for 6379 || { echo "redis-server did not start on 127.0.0.1:6379"; return 1; }
}

ensure_mariadb() {
  [ -n "${FCFS_TEST_DATABASE_URL:-}" ] && return 0
  answers 3306 && return 0
  if [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
    if can_apt; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server) >/dev/null
    else
      echo "missing: MariaDB/MySQL server (install mariadb-server, or set FCFS_TEST_DATABASE_URL)"; return 1
    fi
  fi
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  daemon=/usr/sbin/mariadbd; [ -x "$daemon" ] || daemon=/usr/sbin/mysqld
  if command -v start-stop-daemon >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec "$daemon" >/dev/null
  else
    "$daemon" >/dev/null 2>&1 &
  fi
  wait_for 3306 || { echo "MariaDB did not start on 127.0.0.1:3306"; return 1; }
  # Debian's root uses unix_socket auth; the tests connect over TCP as root with no password.
  mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket" 2>/dev/null || true
}

ensure_tools() {
  # docker-compose validates deploy/docker-compose.yml (no engine needed); nginx -t checks deploy/nginx.conf.
  command -v docker-compose >/dev/null && command -v nginx >/dev/null && return 0
  if can_apt; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker-compose nginx) >/dev/null 2>&1 || echo "note: could not install docker-compose/nginx"
  else
    echo "note: docker-compose or nginx missing: the deploy-file checks will say so"
  fi
  return 0
}

ensure_chromium() {
  # tests/integration/test_api_docs_browser.py drives Debian's chromium through playwright (the dev extra).
  command -v chromium >/dev/null && return 0
  if can_apt; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
      >/dev/null 2>&1 || echo "note: could not install chromium: the API docs browser test will say so"
  else
    echo "note: chromium missing (install Debian's chromium): the API docs browser test will say so"
  fi
  return 0
}

status=0
ensure_redis || status=1
ensure_mariadb || status=1
ensure_tools
ensure_chromium
[ $status = 0 ] && echo "services: MariaDB and Redis answer on 127.0.0.1"
exit $status
