// The files the node lays into a container's root for the images it knows: the images' entrypoint
// scripts and wrappers that start this machine's binaries the way the image would. They are
// written from the documented behaviour of the official images (environment variables,
// /docker-entrypoint-initdb.d, argument handling), not copied from them.
//
// `$(POD_IP)` in a file is replaced by the Pod's address when the file is laid down; nothing
// else is expanded.

/** mariadb:* — /usr/local/bin/docker-entrypoint.sh */
export const mariadbEntrypoint = String.raw`#!/bin/sh
# The mariadb image's entrypoint as the UPM node runs it: first-run initialisation of the data
# directory from the MARIADB_*/MYSQL_* variables and /docker-entrypoint-initdb.d, then the server.
set -e

case "$1" in -*) set -- mariadbd "$@" ;; esac
case "$1" in mariadbd | mysqld) ;; *) exec "$@" ;; esac

log() { printf '%s [Note] [Entrypoint]: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*"; }
fail() {
  printf '%s [ERROR] [Entrypoint]: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2
  exit 1
}

# The first of the named variables that is set, or the content of its _FILE companion.
first_of() {
  for name in "$@"; do
    eval "value=\$$name"
    if [ -n "$value" ]; then
      printf '%s' "$value"
      return
    fi
    file_variable="$name"_FILE
    eval "file=\$$file_variable"
    if [ -n "$file" ]; then
      cat "$file"
      return
    fi
  done
}

# A server option's effective value (after every option file and the arguments): the table of
# values closes --verbose --help, after descriptions that may start with the same word.
server_option() {
  key=$1
  shift
  "$@" --verbose --help 2>/dev/null | awk -v key="$key" '$1 == key { value = $2 } END { print value }'
}
datadir=$(server_option datadir "$@")
socket=$(server_option socket "$@")
sql_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }

if [ ! -d "$datadir/mysql" ]; then
  root_password=$(first_of MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD)
  allow_empty=$(first_of MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD)
  random_root=$(first_of MARIADB_RANDOM_ROOT_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD)
  if [ -z "$root_password" ] && [ -z "$allow_empty" ] && [ -z "$random_root" ]; then
    fail 'Database is uninitialized and password option is not specified. You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
  fi
  if [ -n "$random_root" ]; then
    root_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
    log "GENERATED ROOT PASSWORD: $root_password"
  fi
  root_host=$(first_of MARIADB_ROOT_HOST MYSQL_ROOT_HOST)
  [ -n "$root_host" ] || root_host=%
  database=$(first_of MARIADB_DATABASE MYSQL_DATABASE)
  user=$(first_of MARIADB_USER MYSQL_USER)
  password=$(first_of MARIADB_PASSWORD MYSQL_PASSWORD)

  log 'Initializing database files'
  mkdir -p "$datadir"
  mariadb-install-db --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve --old-mode='UTF8_IS_UTF8MB3' >/dev/null
  log 'Database files initialized'

  log 'Starting temporary server'
  init_socket="$datadir/.init.sock"
  "$@" --skip-networking --socket="$init_socket" --wsrep-on=OFF --skip-log-bin &
  init_pid=$!
  i=0
  until mariadb-admin --socket="$init_socket" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    kill -0 "$init_pid" 2>/dev/null || fail 'Unable to start server.'
    [ "$i" -lt 300 ] || fail 'Unable to start server (timeout).'
    sleep 0.1
  done
  log 'Temporary server started.'
  run_sql() { mariadb --socket="$init_socket" -uroot --database=mysql --binary-mode "$@"; }

  if [ -z "$(first_of MARIADB_INITDB_SKIP_TZINFO MYSQL_INITDB_SKIP_TZINFO)" ]; then
    mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null | run_sql
  fi

  healthcheck_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1', root@'$(sql_string "$(hostname)")';"
    echo "ALTER USER root@localhost IDENTIFIED BY '$(sql_string "$root_password")';"
    if [ "$root_host" != localhost ]; then
      echo "CREATE USER root@'$(sql_string "$root_host")' IDENTIFIED BY '$(sql_string "$root_password")';"
      echo "GRANT ALL ON *.* TO root@'$(sql_string "$root_host")' WITH GRANT OPTION;"
      echo "GRANT PROXY ON ''@'%' TO root@'$(sql_string "$root_host")' WITH GRANT OPTION;"
    fi
    for host in 127.0.0.1 ::1 localhost; do
      echo "CREATE USER healthcheck@'$host' IDENTIFIED BY '$healthcheck_password';"
    done
    if [ -n "$database" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$database\`;"
    fi
    if [ -n "$user" ]; then
      echo "CREATE USER '$(sql_string "$user")'@'%' IDENTIFIED BY '$(sql_string "$password")';"
      if [ -n "$database" ]; then
        echo "GRANT ALL ON \`$database\`.* TO '$(sql_string "$user")'@'%';"
      fi
    fi
  } | run_sql
  printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$socket" "$healthcheck_password" \
    >"$datadir/.my-healthcheck.cnf"

  if [ -d /docker-entrypoint-initdb.d ]; then
    for f in /docker-entrypoint-initdb.d/*; do
      [ -e "$f" ] || continue
      case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "$0: running $f" && "$f"; else log "$0: sourcing $f" && . "$f"; fi
        ;;
      *.sql) log "$0: running $f" && run_sql --database="$database" <"$f" ;;
      *.sql.gz) log "$0: running $f" && gunzip -c "$f" | run_sql --database="$database" ;;
      *.sql.xz) log "$0: running $f" && xzcat "$f" | run_sql --database="$database" ;;
      *.sql.zst) log "$0: running $f" && zstd -dc "$f" | run_sql --database="$database" ;;
      *) log "$0: ignoring $f" ;;
      esac
    done
  fi

  log 'Stopping temporary server'
  kill "$init_pid"
  wait "$init_pid" || true
  log 'Temporary server stopped'
  log 'MariaDB init process done. Ready for start up.'
fi
exec "$@"
`;

/** mariadb:* — /usr/local/bin/healthcheck.sh: the image's probe helper, for the tests charts use. */
export const mariadbHealthcheck = String.raw`#!/bin/sh
# The mariadb image's healthcheck.sh as the UPM node runs it: --connect and --innodb_initialized
# (also --innodb_buffer_pool_loaded and --galera_online, checked as far as a single server can).
datadir=$(mariadbd --verbose --help 2>/dev/null | awk '$1 == "datadir" { value = $2 } END { print value }')
defaults="$datadir/.my-healthcheck.cnf"
query() { mariadb --defaults-extra-file="$defaults" --skip-column-names --batch -e "$1"; }
[ $# -gt 0 ] || set -- --connect
for check in "$@"; do
  case "$check" in
  --su=* | --su-mysql | --no-defaults | --defaults-file=* | --defaults-extra-file=* | --datadir=*) ;;
  --connect) query 'SELECT 1' >/dev/null || exit 1 ;;
  --innodb_initialized)
    [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine='innodb' AND support IN ('YES','DEFAULT','ENABLED')")" = 1 ] || exit 1
    ;;
  --innodb_buffer_pool_loaded)
    query "SHOW GLOBAL STATUS LIKE 'innodb_buffer_pool_load_status'" | grep -q 'completed' || exit 1
    ;;
  --galera_online) query "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" | grep -q -w 4 || exit 1 ;;
  *) echo "healthcheck.sh: unsupported check $check" >&2 && exit 1 ;;
  esac
done
exit 0
`;

/** The server binary of an image, started so that it listens on the Pod's address only. */
export function mariadbdWrapper(binary: string): string {
  return `#!/bin/sh
# Listens on the Pod's address: 0.0.0.0 would take the port on every Pod's address.
exec ${binary} "$@" --bind-address=$(POD_IP)
`;
}

export function redisServerWrapper(binary: string): string {
  return `#!/bin/sh
# Listens on the Pod's address: 0.0.0.0 would take the port on every Pod's address.
exec ${binary} "$@" --bind $(POD_IP)
`;
}

/** redis-cli and valkey-cli talk to the Pod's own server when no host is given, as in a Pod. */
export function redisCliWrapper(binary: string): string {
  return `#!/bin/sh
for arg in "$@"; do
  case "$arg" in -h | -u | -s | --cluster | --help | --version) exec ${binary} "$@" ;; esac
done
exec ${binary} -h $(POD_IP) "$@"
`;
}

/** redis:* — /usr/local/bin/docker-entrypoint.sh */
export const redisEntrypoint = `#!/bin/sh
# The redis image's entrypoint as the UPM node runs it: options or a config file alone start the
# server; the server runs with umask 0077.
set -e
case "$1" in -* | *.conf) set -- redis-server "$@" ;; esac
case "$1" in redis-server | valkey-server) umask 0077 ;; esac
exec "$@"
`;

/** Exporters listen on the Pod's address: `:9104` and `0.0.0.0:9104` become `<pod IP>:9104`. */
export function exporterWrapper(binary: string, defaultPort: number): string {
  return `#!/bin/sh
listen=
for arg in "$@"; do
  case "$arg" in
  --web.listen-address=*) listen=$(printf '%s' "$arg" | sed 's/^[^=]*=//') ;;
  *) set -- "$@" "$arg" ;;
  esac
  shift
done
port=$(printf '%s' "$listen" | sed 's/.*://')
[ -n "$port" ] || port=${defaultPort}
exec ${binary} "$@" --web.listen-address=$(POD_IP):$port
`;
}
