#!/bin/sh
# SPDX-License-Identifier: ISC
# A throwaway PostgreSQL cluster for the tests and benchmarks of the
# PostgreSQL store, under DIR (which it creates), on a free loopback port:
#
#   pgcluster.sh start DIR   initdb + start; writes DIR/dsn and DIR/password
#   pgcluster.sh down DIR    stop the server (fast shutdown), keep the data
#   pgcluster.sh up DIR      start it again on the same port
#   pgcluster.sh stop DIR    stop it by its pid and delete DIR
#
# The superuser is "floodgate" with a random password, required over TCP
# (scram-sha-256) so the store's password-file is exercised; the unix
# socket in DIR trusts local users. PostgreSQL refuses to run as root:
# as root, the cluster belongs to nobody. Exit 77 (automake's "skipped")
# when no PostgreSQL server binaries are installed.
set -eu
cmd=${1:?usage: pgcluster.sh start|down|up|stop DIR}
dir=${2:?usage: pgcluster.sh start|down|up|stop DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || {
	echo "pgcluster.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
	exit 77
}
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}
pg_up() {
	port=$(cat "$dir/port")
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
}
pg_down() {
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pid=$(head -1 "$dir/data/postmaster.pid")
	kill -INT "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
case $cmd in
start)
	mkdir -p "$dir"
	chmod 700 "$dir"
	[ "$(id -u)" -eq 0 ] && chown nobody "$dir"
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$dir/port"
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/password"
	echo >>"$dir/password"
	chmod 600 "$dir/password"
	[ "$(id -u)" -eq 0 ] && chown nobody "$dir/password"
	as_owner "$bindir/initdb" -D "$dir/data" -U floodgate -E UTF8 \
		--no-locale --auth-local=trust --auth-host=scram-sha-256 \
		--pwfile="$dir/password" >"$dir/initdb.log" 2>&1
	pg_up
	as_owner "$bindir/psql" -q -h "$dir" -p "$(cat "$dir/port")" \
		-U floodgate -d postgres -c 'CREATE DATABASE floodgate' >/dev/null
	echo "host=127.0.0.1 port=$(cat "$dir/port") user=floodgate dbname=floodgate" >"$dir/dsn"
	;;
down) pg_down ;;
up) pg_up ;;
stop)
	pg_down
	rm -rf "$dir"
	;;
*)
	echo "pgcluster.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
