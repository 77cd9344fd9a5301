#!/bin/bash
# netns_hosts.sh: several "hosts" on one Linux machine, for multi-node MPI runs without a cluster.
#
#   netns_hosts.sh up N          make hosts emberh1..emberhN (N <= 9)
#   netns_hosts.sh down          remove them (idempotent: nothing to remove is not an error)
#   netns_hosts.sh run HOST CMD  run CMD "on" HOST (its network and its host name)
#   netns_hosts.sh agent HOST CMD  the same for Open MPI's plm_rsh_agent: CMD is one shell command line,
#                                as ssh would hand it to the remote shell (Open MPI quotes for a shell)
#   netns_hosts.sh mpirun ARGS   mpirun ARGS on emberh1 with the settings below (give it --hostfile)
#   netns_hosts.sh link HOST up|down  take a host's cable out (or put it back): its veth on the switch
#   netns_hosts.sh check         exit 0 if hosts can be made here (root, ip, unshare), else say why, exit 77
#
# Each host is a network namespace emberhI with loopback and eth0 = 10.77.0.I/24, cabled by a veth pair to
# a bridge in a namespace of its own (ember-sw), so nothing touches the root namespace's network. Commands get
# their own UTS namespace with the host's name, so gethostname() differs per host (ember counts nodes by it,
# Open MPI tells nodes apart by it). /etc/netns/emberhI/hosts (bind-mounted over /etc/hosts by `ip netns
# exec`) lets every host resolve the others' names. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).
#
# `mpirun` runs Open MPI's mpirun inside emberh1; it starts the other hosts' orted through `agent` (not ssh),
# and daemons and ranks talk over 10.77.0.0/24 only (TCP between hosts, shared memory within one):
#   mpirun --mca plm_rsh_agent "netns_hosts.sh agent" --mca plm_rsh_no_tree_spawn 1 \
#     --mca oob_tcp_if_include 10.77.0.0/24 --mca btl tcp,vader,self --mca btl_tcp_if_include 10.77.0.0/24
# Unlike ssh, the agent keeps mpirun's environment, so OMPI_ALLOW_RUN_AS_ROOT=1 (set here for root) reaches
# the remote orted.
set -euo pipefail

readonly switch=ember-sw bridge=br0 subnet_prefix=10.77.0 max_hosts=9

host_name() { echo "emberh$1"; }
hosts_made() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^emberh[0-9]$' || true; }

check() {
  if [ "$(id -u)" -ne 0 ]; then echo "netns_hosts: needs root to make network namespaces"; return 77; fi
  for tool in ip unshare hostname; do
    command -v "$tool" > /dev/null || { echo "netns_hosts: no '$tool' command"; return 77; }
  done
  local probe=ember-probe-$$
  if ! ip netns add "$probe" 2> /dev/null; then echo "netns_hosts: 'ip netns add' fails here"; return 77; fi
  local ok=0
  ip netns exec "$probe" unshare --uts true 2> /dev/null || ok=$?
  ip netns del "$probe"
  [ "$ok" -eq 0 ] || { echo "netns_hosts: 'unshare --uts' fails inside a namespace"; return 77; }
}

down() {
  local host
  for host in $(hosts_made); do
    # Processes left on the host (an orted cut off from its mpirun stays forever): the host goes with them.
    ip netns pids "$host" | xargs -r kill -9 2> /dev/null || true
    ip netns del "$host"  # deletes its eth0 and with it the veth peer on the switch
    rm -rf "/etc/netns/$host"
  done
  if ip netns list 2> /dev/null | grep -qw "$switch"; then ip netns del "$switch"; fi
  rmdir /etc/netns 2> /dev/null || true  # only if no one else keeps files there
}

up() {
  local n=$1
  [[ "$n" =~ ^[1-9]$ ]] || { echo "netns_hosts: up N, N from 1 to $max_hosts (got '$n')" >&2; return 2; }
  down
  ip netns add "$switch"
  ip -n "$switch" link add "$bridge" type bridge
  ip -n "$switch" link set "$bridge" up
  local i host hosts_file=""
  for i in $(seq 1 "$n"); do hosts_file+="$subnet_prefix.$i $(host_name "$i")"$'\n'; done
  for i in $(seq 1 "$n"); do
    host=$(host_name "$i")
    ip netns add "$host"
    # eth0 in the host, ember-hI on the switch: created in the host, then one end moved to the switch.
    ip -n "$host" link add eth0 type veth peer name "ember-h$i"
    ip -n "$host" link set "ember-h$i" netns "$switch"
    ip -n "$switch" link set "ember-h$i" master "$bridge" up
    ip -n "$host" addr add "$subnet_prefix.$i/24" dev eth0
    ip -n "$host" link set lo up
    ip -n "$host" link set eth0 up
    mkdir -p "/etc/netns/$host"
    printf '127.0.0.1 localhost\n%s' "$hosts_file" > "/etc/netns/$host/hosts"
  done
  echo "netns_hosts: $n hosts up: $(hosts_made | tr '\n' ' ')($subnet_prefix.1-$n/24, switch namespace $switch)"
}

# Runs "$@" in HOST's network namespace with HOST as its host name.
run() {
  local host=$1; shift
  ip netns list | grep -qw "$host" || { echo "netns_hosts: no host '$host' (netns_hosts.sh up N first)" >&2; return 2; }
  exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
}

mpirun_on_hosts() {
  local self
  self=$(readlink -f "$0")
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  run "$(host_name 1)" "${MPIRUN:-mpirun}" --mca plm_rsh_agent "$self agent" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$subnet_prefix.0/24" --mca btl tcp,vader,self \
    --mca btl_tcp_if_include "$subnet_prefix.0/24" "$@"
}

link() {
  local host=$1 state=$2
  [[ "$host" =~ ^emberh([1-9])$ ]] || { echo "netns_hosts: link HOST up|down (HOST like emberh2)" >&2; return 2; }
  ip -n "$switch" link set "ember-h${BASH_REMATCH[1]}" "$state"
}

command=${1:-}
shift || true
case "$command" in
  up) up "$@" ;;
  down) down ;;
  run) run "$@" ;;
  agent) host=$1; shift; run "$host" sh -c "$*" ;;
  mpirun) mpirun_on_hosts "$@" ;;
  link) link "$@" ;;
  check) check ;;
  *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
