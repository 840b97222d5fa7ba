#!/bin/sh
# shellcheck disable=SC2153 # NODES, REPLICAS and the other settings below come from the header renderBootstrapScript writes
# Redis Cluster bootstrap (@redis-on-docker/topology). Runs under dash and busybox sh.
# Waits for every node to answer PING, creates the cluster unless it is already formed,
# then waits until every node reports cluster_state:ok, every replica has synced, and every
# node's CLUSTER NODES agrees on the masters and replicas. Safe to run again.
#
# Not run on its own: renderBootstrapScript (bootstrapScript.ts) puts these settings, as
# shell assignments, in front of this text:
#   NODES                 node addresses (host:port, space-separated), masters first
#   NODE_COUNT            how many addresses NODES holds
#   REPLICAS              replicas per master (--cluster-replicas)
#   NODE_TIMEOUT_MS       the planned cluster-node-timeout, set back at the end; empty: left alone
#   FORMATION_TIMEOUT_MS  cluster-node-timeout while a fresh cluster forms
#   TIMEOUT_SEC           one deadline for the whole job
#   PASSWORD_FILE         a file holding the password; missing or empty: no password
#   LINE_MAX              longest line the job writes (bytes)
#   PAIRS                 planned master>replica address pairs (multi-host plans); empty: redis-cli
#                         picks the replicas (--cluster-replicas), as on one host
#   PLACEMENT             address=host words: each node's host (multi-host plans); empty: no check
#   RESTORE_SPREAD        1: the placement check restores the planned spread with CLUSTER FAILOVER
#   ACTION                form: form or heal the cluster, then check placement;
#                         placement: only check (and restore) the placement
set -u
for setting in NODES NODE_COUNT REPLICAS NODE_TIMEOUT_MS FORMATION_TIMEOUT_MS TIMEOUT_SEC PASSWORD_FILE LINE_MAX PAIRS PLACEMENT RESTORE_SPREAD ACTION; do
  eval "[ -n \"\${$setting+set}\" ]" || { echo "bootstrap: ERROR: $setting is not set (renderBootstrapScript sets it)" >&2; exit 2; }
done
MASTERS=$(( NODE_COUNT / (REPLICAS + 1) ))

# Every line at most LINE_MAX bytes: whoever keeps the job's output line by line (the Docker
# provider reads it with a 64 KiB line scanner and exits beyond that) gets short lines.
log() { printf 'bootstrap: %s\n' "$*" | cut -b "1-$LINE_MAX"; }
fail() { printf 'bootstrap: ERROR: %s\n' "$*" | cut -b "1-$LINE_MAX" >&2; exit 1; }

# The password goes to redis-cli through the environment only (redis-cli >= 5.0.3).
if [ -s "$PASSWORD_FILE" ]; then
  REDISCLI_AUTH=$(cat "$PASSWORD_FILE") || fail "cannot read the password file $PASSWORD_FILE"
  export REDISCLI_AUTH
  log "using the password from $PASSWORD_FILE"
fi

DEADLINE=$(( $(date +%s) + TIMEOUT_SEC ))
remaining() { echo $(( DEADLINE - $(date +%s) )); }
expired() { [ "$(remaining)" -le 0 ]; }
pause() { sleep 0.1 2>/dev/null || sleep 1; }

# A bound for each redis-cli call: GNU coreutils / new busybox, old busybox, or none at all.
if timeout 1 true >/dev/null 2>&1; then TIMEOUT_CMD='timeout'
elif timeout -t 1 true >/dev/null 2>&1; then TIMEOUT_CMD='timeout -t'
else TIMEOUT_CMD=''; log "no timeout command: calls to redis-cli are not bounded individually"
fi
# Sets CALL, the prefix that bounds the next calls by min(2 s, time left).
bound_calls() {
  CALL=''
  [ -n "$TIMEOUT_CMD" ] || return 0
  secs=$(remaining)
  [ "$secs" -gt 2 ] && secs=2
  [ "$secs" -lt 1 ] && secs=1
  CALL="$TIMEOUT_CMD $secs"
}
# rcli ADDRESS ARGS...: the reply (or the error) on stdout. CALL is unquoted on purpose.
rcli() {
  addr=$1; shift
  $CALL redis-cli -h "${addr%:*}" -p "${addr##*:}" "$@" 2>&1
}

# Log lines stay printable ASCII and short: redis-cli colours its output on a TTY (the Docker
# job has one), and whoever keeps the job's output (the Pulumi engine) wants plain UTF-8 lines.
ESC=$(printf '\033')
safe_lines() { tr -d '\r' | sed "s/${ESC}\[[0-9;]*[A-Za-z]//g" | tr -cd '\11\12\40-\176' | cut -c1-400; }

# ---- Healing a partly formed cluster ---------------------------------------------------
# Some nodes serve slots, others came back new (they know only themselves, e.g. recreated
# without their data volume). The formed nodes still remember the replaced nodes under their
# old ids: those are forgotten on every formed node (CLUSTER FORGET), then each new node meets
# the cluster and replicates a master that lacks a replica. Bounded by the job's deadline.
# A replaced node whose old id still owns slots (its replica never took over) cannot be healed
# without choosing which data to keep: that fails, naming the node and the manual step.

# report_due: true once every 3 s of a wait (after last_report was set), for "still waiting" lines.
report_due() {
  [ $(( $(date +%s) - last_report )) -ge 3 ] || return 1
  last_report=$(date +%s)
}
# cluster_nodes ADDR: that node's CLUSTER NODES without CRs.
cluster_nodes() { bound_calls; rcli "$1" CLUSTER NODES | tr -d '\r'; }
# cluster_info_field ADDR FIELD: one field of CLUSTER INFO.
cluster_info_field() { bound_calls; rcli "$1" CLUSTER INFO | tr -d '\r' | sed -n "s/^$2:\(.*\)$/\1/p"; }
# word N WORDS...: the Nth word.
# first_serving_node "<addr> ...": prints the first of them that reports cluster_state:ok (every
# slot served), polling until one does; returns 1 at the deadline.
first_serving_node() {
  while :; do
    for addr in $1; do
      if [ "$(cluster_info_field "$addr" cluster_state)" = ok ]; then printf '%s' "$addr"; return 0; fi
    done
    expired && return 1
    pause
  done
}

word() { n=$1; shift; eval "printf '%s' \"\${$n:-}\""; }

heal_partial_cluster() {
  # The node id at each planned address; an id the cluster knows that is not among them is stale.
  CURRENT_IDS=''; NEW_ADDRS=''; FORMED_ADDRS=''
  for addr in $NODES; do
    bound_calls
    id=$(rcli "$addr" CLUSTER MYID | tr -d '\r')
    case $id in ''|*[!0-9a-f]*) fail "node $addr did not give its node id (CLUSTER MYID: $id)" ;; esac
    CURRENT_IDS="$CURRENT_IDS $id"
    if [ "$(cluster_info_field "$addr" cluster_known_nodes)" = 1 ] && [ "$(cluster_info_field "$addr" cluster_slots_assigned)" = 0 ]; then
      NEW_ADDRS="$NEW_ADDRS $addr"
    else
      FORMED_ADDRS="$FORMED_ADDRS $addr"
    fi
  done
  log "heal: formed:$FORMED_ADDRS; new:$NEW_ADDRS"

  # An anchor: a formed node that sees every slot served (a failover may still be running).
  ANCHOR=$(first_serving_node "$FORMED_ADDRS") \
    || fail "cannot heal: no formed node reports cluster_state:ok within ${TIMEOUT_SEC}s (slots are not all served); check the nodes with redis-cli CLUSTER NODES"
  log "heal: $ANCHOR serves as the reference view"

  # Stale ids: wait while an old master's failover runs; a stale master that still owns slots
  # and is not even marked failed will never be failed over (its address now answers with the
  # new node's id), so that is the manual case.
  while :; do
    STALE=''; BLOCKED=''
    nodes=$(cluster_nodes "$ANCHOR")
    while read -r line; do
      [ -n "$line" ] || continue
      # shellcheck disable=SC2086
      set -- $line
      id=$1; addr_field=$2; flags=$3
      case " $CURRENT_IDS " in *" $id "*) continue ;; esac
      if [ $# -gt 8 ] && case ",$flags," in *,master,*) true ;; *) false ;; esac; then
        case ",$flags," in
          *,fail,*) BLOCKED="$BLOCKED $id" ;;
          *) fail "cannot heal: a node came back empty, but its old id $id ($addr_field, flags $flags) still owns slots $(shift 8; echo "$*") and no replica took over. Promote its replica by hand (redis-cli -h <replica> CLUSTER FAILOVER TAKEOVER; the slots keep what that replica holds), then run the bootstrap again (pulumi up)" ;;
        esac
        continue
      fi
      STALE="$STALE $id"
    done <<EOF_NODES
$nodes
EOF_NODES
    [ -z "$BLOCKED" ] && break
    expired && fail "cannot heal: the failed master(s)$BLOCKED still own slots after ${TIMEOUT_SEC}s; their replicas did not take over. Promote a replica by hand (redis-cli -h <replica> CLUSTER FAILOVER TAKEOVER), then run the bootstrap again"
    log "heal: waiting for the failover of$BLOCKED"
    pause
  done

  # FORGET on every formed node: each keeps a forgotten id banned for 60 s, so gossip from a
  # node that still knows it cannot bring it back while the others catch up.
  for id in $STALE; do
    for addr in $FORMED_ADDRS; do
      bound_calls
      reply=$(rcli "$addr" CLUSTER FORGET "$id" | tr -d '\r')
      case $reply in
        OK|*"Unknown node"*) ;;
        *) fail "cannot heal: CLUSTER FORGET $id on $addr answered: $reply" ;;
      esac
    done
    log "heal: forgot the stale node id $id on every formed node"
  done

  # Each new node: meet the cluster, then replicate its planned group's current master (PAIRS),
  # else the first master that lacks a replica.
  ASSIGNED=''
  for new in $NEW_ADDRS; do
    nodes=$(cluster_nodes "$ANCHOR")
    master=$(group_master_id "$new" "$nodes")
    [ -n "$master" ] || while read -r line; do
      [ -n "$line" ] || continue
      # shellcheck disable=SC2086
      set -- $line
      [ $# -gt 8 ] || continue
      case ",$3," in *,master,*) ;; *) continue ;; esac
      case ",$3," in *,fail,*|*,fail\?,*|*,noaddr,*|*,handshake,*) continue ;; esac
      candidate=$1
      replicas=0
      while read -r other; do
        # shellcheck disable=SC2086
        [ "$(word 4 $other)" = "$candidate" ] && replicas=$((replicas + 1))
      done <<EOF_REPLICAS
$nodes
EOF_REPLICAS
      for assigned in $ASSIGNED; do [ "$assigned" = "$candidate" ] && replicas=$((replicas + 1)); done
      if [ "$replicas" -lt "$REPLICAS" ]; then master=$candidate; break; fi
    done <<EOF_MASTERS
$nodes
EOF_MASTERS
    [ -n "$master" ] || fail "cannot heal: node $new is new but no master lacks a replica in the view of $ANCHOR; reset it (redis-cli -h ${new%:*} -p ${new##*:} CLUSTER RESET HARD) and check the planned shape"

    log "heal: $new meets the cluster through $ANCHOR; making it a replica of $master"
    join_as_replica "$new" "$ANCHOR" "$master" "cannot heal"
    ASSIGNED="$ASSIGNED $master"
    log "heal: $new is now a replica of $master"
  done
  log "heal: done; waiting for every node to agree"
}

# ---- Re-introducing nodes whose addresses changed ---------------------------------------
# Each node keeps its peers' addresses in nodes.conf (on its volume). When the nodes come back
# at other addresses (a new subnet or static IPs, other ports), every node still calls its peers
# at the old ones and none reaches another: the cluster stays down. A CLUSTER MEET to the new
# address of a node it knows makes the meeting node update that node's address (Redis 5.0's
# clusterProcessPacket: the handshake's PONG comes from a known id -> nodeUpdateAddressIfNeeded,
# which also re-points a replica at its moved master), and an incoming MEET makes a node learn
# its own new address. So when a formed node lists a peer at an address outside the plan, every
# formed node meets every other formed node's planned address. Nodes that came back empty are
# left to the heal below.

# unplanned_peers ADDRS...: the peer addresses (ip:port) these nodes list that are not planned.
unplanned_peers() {
  for addr in "$@"; do
    cluster_nodes "$addr" | while read -r id peer flags rest; do
      case $id in ''|*[!0-9a-f]*) continue ;; esac
      case ",$flags," in *,myself,*) continue ;; esac
      peer=${peer%@*}
      case " $NODES " in *" $peer "*) ;; *) printf '%s\n' "$peer" ;; esac
    done
  done | sort -u | tr '\n' ' '
}

# While the nodes meet again, the first pairs to reconnect still cannot reach the others and,
# being a majority of masters, can mark a master FAIL; its replica, already re-pointed and in
# sync, then takes over (an unasked-for failover: roles and epochs change). So automatic
# failover is held (cluster-replica-no-failover yes) on every node until every node reports
# cluster_state:ok (no master FAIL left), and released then or when the job exits.
HELD_FAILOVERS=''
hold_failovers() {
  for addr in $NODES; do
    bound_calls
    was=$(rcli "$addr" CONFIG GET cluster-replica-no-failover | tr -d '\r' | sed -n 2p)
    [ "$was" = no ] || { log "node $addr: cluster-replica-no-failover is '$was', not held"; continue; }
    reply=$(rcli "$addr" CONFIG SET cluster-replica-no-failover yes | tr -d '\r')
    if [ "$reply" = OK ]; then HELD_FAILOVERS="$HELD_FAILOVERS $addr"
    else log "node $addr refused CONFIG SET cluster-replica-no-failover yes: $reply"
    fi
  done
  [ -n "$HELD_FAILOVERS" ] && log "automatic failover held while the nodes meet again:$HELD_FAILOVERS"
  return 0
}
# release_failovers: sets cluster-replica-no-failover back to no where it was held; 1 if a node refused.
release_failovers() {
  released=0
  for addr in $HELD_FAILOVERS; do
    bound_calls
    reply=$(rcli "$addr" CONFIG SET cluster-replica-no-failover no | tr -d '\r')
    [ "$reply" = OK ] || { log "node $addr refused CONFIG SET cluster-replica-no-failover no: $reply"; released=1; }
  done
  [ -n "$HELD_FAILOVERS" ] && [ "$released" -eq 0 ] && log "automatic failover released:$HELD_FAILOVERS"
  HELD_FAILOVERS=''
  return "$released"
}
trap 'release_failovers' EXIT

reintroduce_moved_nodes() {
  FORMED_NOW=''
  for addr in $NODES; do
    known=$(cluster_info_field "$addr" cluster_known_nodes)
    case $known in ''|1) ;; *) FORMED_NOW="$FORMED_NOW $addr" ;; esac
  done
  [ -n "$FORMED_NOW" ] || return 0
  # shellcheck disable=SC2086
  moved=$(unplanned_peers $FORMED_NOW)
  [ -n "$moved" ] || return 0
  log "nodes list peers at addresses outside the plan: $moved"
  log "re-introducing: every formed node meets every planned address of the others:$FORMED_NOW"
  hold_failovers
  for addr in $FORMED_NOW; do
    for other in $FORMED_NOW; do
      [ "$other" = "$addr" ] && continue
      bound_calls
      reply=$(rcli "$addr" CLUSTER MEET "${other%:*}" "${other##*:}" | tr -d '\r')
      [ "$reply" = OK ] || fail "CLUSTER MEET $other from $addr answered: $reply"
    done
  done
  # The handshakes finish within a few cluster cron ticks; the waits below judge the result.
  log "re-introduced the nodes at their planned addresses"
}

# repoint_replica ADDR INFO_REPLICATION: a replica may have learnt its master's new address by
# gossip, which (unlike the MEET handshake) does not re-point its replication link; it then
# keeps syncing from the old address. CLUSTER REPLICATE <its master> again re-points it.
repoint_replica() {
  host=$(printf '%s\n' "$2" | sed -n 's/^master_host:\(.*\)$/\1/p')
  port=$(printf '%s\n' "$2" | sed -n 's/^master_port:\(.*\)$/\1/p')
  view=$(cluster_nodes "$1")
  master=$(printf '%s\n' "$view" | awk '$3 ~ /myself/ { print $4 }')
  case $master in ''|-|*[!0-9a-f]*) return 0 ;; esac
  maddr=$(printf '%s\n' "$view" | awk -v id="$master" '$1 == id { sub(/@.*/, "", $2); print $2 }')
  case $maddr in ''|:*) return 0 ;; esac
  [ "$maddr" != "$host:$port" ] || return 0
  bound_calls
  reply=$(rcli "$1" CLUSTER REPLICATE "$master" | tr -d '\r')
  log "replica $1 synced from $host:$port, its master is now at $maddr: CLUSTER REPLICATE answered $reply"
}

# set_node_timeout MS: CONFIG SET cluster-node-timeout on every node; returns 1 (with a log
# line) when a node refuses, e.g. because CONFIG is renamed away.
set_node_timeout() {
  bound_calls
  for addr in $NODES; do
    reply=$(rcli "$addr" CONFIG SET cluster-node-timeout "$1" | tr -d '\r')
    [ "$reply" = OK ] || { log "node $addr refused CONFIG SET cluster-node-timeout $1: $reply"; return 1; }
  done
}

# Agreement. Right after the create, nodes learn each other's roles by gossip
#    (up to cluster-node-timeout/2): until then some list replicas as masters without slots, and
#    a client or probe reading the topology from them sees a cluster without replicas.
#    node_view ADDRESS prints the node's CLUSTER NODES as one canonical line ("view <sorted
#    id:role:slots-or-master ...>") or "problem <what is wrong>" and a readable summary.
node_view() {
  cluster_nodes "$1" | awk -v nodes="$NODE_COUNT" -v masters="$MASTERS" -v replicas="$REPLICAS" '
    NF >= 8 && $1 ~ /^[0-9a-f]+$/ {
      n++; id[n] = $1; addr[$1] = $2; sub(/@.*/, "", addr[$1])
      flags = "," $3 ","
      if (flags ~ /,(handshake|fail\?|fail|noaddr),/) bad = bad " " addr[$1] "(" $3 ")"
      if (flags ~ /,master,/) {
        m++; count = 0; ranges = ""
        for (i = 9; i <= NF; i++) {
          if ($i ~ /^\[/) continue   # a slot being migrated or imported
          ranges = ranges (ranges == "" ? "" : ",") $i
          if (split($i, r, "-") == 2) count += r[2] - r[1] + 1; else count++
        }
        if (count == 0) bad = bad " " addr[$1] "(master without slots)"
        slots += count; key[n] = $1 ":M:" ranges; role[$1] = "M"
      } else if (flags ~ /,slave,/) {
        s++; key[n] = $1 ":R:" $4; master_of[$1] = $4; role[$1] = "R"
      } else bad = bad " " addr[$1] "(no role: " $3 ")"
    }
    END {
      for (x in master_of) {
        if (role[master_of[x]] != "M") bad = bad " " addr[x] "(replica of unknown master " substr(master_of[x], 1, 8) ")"
        else followers[master_of[x]]++
      }
      for (x in role) if (role[x] == "M" && followers[x] < replicas) bad = bad " " addr[x] "(master with " followers[x] + 0 " of " replicas " replicas)"
      if (n != nodes) bad = bad " lists " n " of " nodes " nodes;"
      if (m != masters) bad = bad " lists " m " masters, not " masters ";"
      if (slots != 16384) bad = bad " masters serve " slots " of 16384 slots;"
      # Canonical form: the entries sorted (insertion sort: a handful of lines).
      for (i = 2; i <= n; i++) { v = key[i]; j = i - 1; while (j > 0 && key[j] > v) { key[j + 1] = key[j]; j-- }; key[j + 1] = v }
      line = "view"; for (i = 1; i <= n; i++) line = line " " key[i]
      ms = ""; rs = ""
      for (x in role) {
        if (role[x] == "M") ms = ms " " addr[x]
        else rs = rs " " addr[x] "->" (master_of[x] in addr ? addr[master_of[x]] : substr(master_of[x], 1, 8))
      }
      summary = "masters" ms "; replicas" rs
      if (bad != "") print "problem|" substr(bad, 2) " [" summary "]"; else print line "|" summary
    }'
}
# wait_agreement: until every node's CLUSTER NODES agrees on the masters and their replicas.
wait_agreement() {
  log "waiting until every node's CLUSTER NODES agrees on $MASTERS masters and their replicas"
  last_report=$(date +%s)
  while :; do
    AGREED=''; VIEWS=''; DIFFER=0
    for addr in $NODES; do
      view=$(node_view "$addr")
      canonical=${view%%|*}
      case $view in
        view*) [ -z "$AGREED" ] && AGREED=$canonical
               [ "$canonical" = "$AGREED" ] || DIFFER=1 ;;
        *) DIFFER=1 ;;
      esac
      VIEWS="$VIEWS
    $addr sees ${view:+${view#*|}}${view:-no answer to CLUSTER NODES}"
    done
    [ "$DIFFER" -eq 0 ] && [ -n "$AGREED" ] && break
    expired && fail "the nodes did not agree on the cluster's masters and replicas within ${TIMEOUT_SEC}s:$VIEWS"
    report_due && log "still waiting for every node to agree:$VIEWS"
    pause
  done
}

# ---- Planned pairs and placement across hosts (multi-host plans) -------------------------
# PAIRS gives each replica its planned master (no master shares a host with its replicas);
# PLACEMENT maps every node address to its host. redis-cli's own anti-affinity spreads by IP,
# which is not the plan, so a fresh cluster is created from the masters alone and each replica
# is then attached to its planned master.

# planned_masters: the distinct masters of PAIRS, in order.
planned_masters() { for pair in $PAIRS; do printf '%s\n' "${pair%%>*}"; done | awk '!seen[$0]++' | tr '\n' ' '; }
# host_of ADDR: the node's host (PLACEMENT), or "?".
host_of() {
  for entry in $PLACEMENT; do
    [ "${entry%%=*}" = "$1" ] && { printf '%s' "${entry#*=}"; return 0; }
  done
  printf '?'
}
# group_of ADDR: the addresses of ADDR's planned group (its planned master and that master's replicas).
group_of() {
  gm=''
  for pair in $PAIRS; do
    case $1 in "${pair%%>*}"|"${pair#*>}") gm=${pair%%>*} ;; esac
  done
  [ -n "$gm" ] || return 0
  printf '%s' "$gm"
  for pair in $PAIRS; do [ "${pair%%>*}" = "$gm" ] && printf ' %s' "${pair#*>}"; done
}
# group_master_id ADDR CLUSTER_NODES: the id of the live master with slots among ADDR's planned group.
group_master_id() {
  [ -n "$PAIRS" ] || return 0
  members=$(group_of "$1")
  printf '%s\n' "$2" | awk -v members=" $members " '
    NF > 8 && $3 ~ /master/ && $3 !~ /fail|noaddr|handshake/ { a = $2; sub(/@.*/, "", a); if (index(members, " " a " ")) { print $1; exit } }'
}

# join_as_replica NODE MEET_ADDR MASTER_ID WHY: NODE meets the cluster through MEET_ADDR (skipped
# when empty), then replicates MASTER_ID. REPLICATE needs the master known to NODE, which the MEET
# handshake or gossip brings within a few beats, so it is asked again until the deadline. A
# failure names WHY and the command to finish by hand.
join_as_replica() {
  if [ -n "$2" ]; then
    bound_calls
    reply=$(rcli "$1" CLUSTER MEET "${2%:*}" "${2##*:}" | tr -d '\r')
    [ "$reply" = OK ] || fail "$4: CLUSTER MEET from $1 to $2 answered: $reply"
  fi
  while :; do
    bound_calls
    reply=$(rcli "$1" CLUSTER REPLICATE "$3" | tr -d '\r')
    [ "$reply" = OK ] && return 0
    expired && fail "$4: node $1 could not become a replica of $3 within ${TIMEOUT_SEC}s (last reply: $reply); finish by hand: redis-cli -h ${1%:*} -p ${1##*:} CLUSTER REPLICATE $3"
    pause
  done
}

# node_id ADDR: the node's id (fails the job when it gives none).
node_id() {
  bound_calls
  nid=$(rcli "$1" CLUSTER MYID | tr -d '\r')
  case $nid in ''|*[!0-9a-f]*) fail "node $1 did not give its node id (CLUSTER MYID: $nid)" ;; esac
  printf '%s' "$nid"
}

# attach_planned_replicas: every replica of PAIRS meets its planned master and replicates it.
attach_planned_replicas() {
  for pair in $PAIRS; do
    m=${pair%%>*}; r=${pair#*>}
    mid=$(node_id "$m") || exit 1
    join_as_replica "$r" "$m" "$mid" "planned replica of $m"
    log "$r ($(host_of "$r")) replicates its planned master $m ($(host_of "$m"))"
  done
}

# check_placement ADDR: reads ADDR's CLUSTER NODES; logs one line per problem and sets
# COLOCATED (master>replica address pairs on one host) and DISPLACED (planned masters that
# serve as replicas now: their hosts carry fewer masters than planned, others more).
check_placement() {
  view=$(cluster_nodes "$1")
  COLOCATED=$(printf '%s\n' "$view" | awk -v placement=" $PLACEMENT " '
    function host(a,   i) { i = index(placement, " " a "="); if (!i) return "?"; h = substr(placement, i + length(a) + 2); sub(/ .*/, "", h); return h }
    NF >= 8 && $1 ~ /^[0-9a-f]+$/ { a = $2; sub(/@.*/, "", a); addr[$1] = a; if ($3 ~ /slave/ && $3 !~ /fail/) master[$1] = $4 }
    END { for (r in master) if ((master[r] in addr) && host(addr[r]) == host(addr[master[r]])) printf "%s>%s ", addr[master[r]], addr[r] }')
  DISPLACED=''
  for m in $(planned_masters); do
    role=$(printf '%s\n' "$view" | awk -v a="$m" '{ x = $2; sub(/@.*/, "", x) } x == a { print ($3 ~ /slave/ ? "replica" : ($3 ~ /fail/ ? "failed" : "master")) }')
    [ "$role" = replica ] && DISPLACED="$DISPLACED $m"
  done
  for pair in $COLOCATED; do
    log "placement: master ${pair%%>*} and its replica ${pair#*>} are both on host $(host_of "${pair%%>*}"): losing that host loses both"
  done
  for m in $DISPLACED; do
    log "placement: planned master $m ($(host_of "$m")) is a replica now (after a failover); its host carries fewer masters than planned"
  done
  [ -z "$COLOCATED" ] && [ -z "$DISPLACED" ]
}

# is_master ADDR: whether the node reports role:master.
is_master() {
  bound_calls
  case $(rcli "$1" INFO replication | tr -d '\r') in *role:master*) return 0 ;; esac
  return 1
}

# failover_to ADDR WHY: CLUSTER FAILOVER on the replica ADDR (coordinated with its master: no
# write is lost). A manual failover needs the replica in sync, and gives up silently after 5 s
# (CLUSTER_MF_TIMEOUT) when it is not: so wait for the link, and ask again until the deadline.
failover_to() {
  while :; do
    bound_calls
    case $(rcli "$1" INFO replication | tr -d '\r') in *master_link_status:up*) break ;; *role:master*) return 0 ;; esac
    expired && fail "placement: replica $1 is not in sync with its master within ${TIMEOUT_SEC}s; no failover to it"
    pause
  done
  while :; do
    bound_calls
    reply=$(rcli "$1" CLUSTER FAILOVER | tr -d '\r')
    [ "$reply" = OK ] || fail "placement: CLUSTER FAILOVER on $1 answered: $reply"
    asked=$(date +%s)
    while [ $(( $(date +%s) - asked )) -lt 6 ]; do
      if is_master "$1"; then
        log "placement: $1 ($(host_of "$1")) is master again: $2"
        return 0
      fi
      expired && fail "placement: $1 did not become master within ${TIMEOUT_SEC}s after CLUSTER FAILOVER"
      pause
    done
    log "placement: the failover to $1 did not complete; asking again"
  done
}

# restore_placement ADDR: planned masters take over from their group again (CLUSTER FAILOVER).
# Members of one planned group never share a host, so a master that shares a host with a
# replica has a replica from another group (a replica migration, or an operator's CLUSTER
# REPLICATE): that replica goes back to its planned group's master (CLUSTER REPLICATE; a
# replica holds no write of its own, so nothing is lost). Without a live master in its group,
# the master hands over to one of its replicas on another host instead.
restore_placement() {
  for m in $DISPLACED; do
    failover_to "$m" "the planned spread"
  done
  check_placement "$1" && return 0
  for pair in $COLOCATED; do
    master=${pair%%>*}; replica=${pair#*>}
    view=$(cluster_nodes "$1")
    home=$(group_master_id "$replica" "$view")
    haddr=$(printf '%s\n' "$view" | awk -v id="$home" '$1 == id { sub(/@.*/, "", $2); print $2 }')
    if [ -n "$home" ] && [ "$haddr" != "$master" ] && [ "$(host_of "$haddr")" != "$(host_of "$replica")" ]; then
      join_as_replica "$replica" "" "$home" "placement"
      log "placement: $replica ($(host_of "$replica")) follows its planned group's master $haddr ($(host_of "$haddr")) again, no longer $master on its own host"
      continue
    fi
    mid=$(printf '%s\n' "$view" | awk -v a="$master" '{ x = $2; sub(/@.*/, "", x) } x == a { print $1 }')
    other=$(printf '%s\n' "$view" | awk -v m="$mid" -v h="$(host_of "$master")" -v placement=" $PLACEMENT " '
      function host(a,   i) { i = index(placement, " " a "="); if (!i) return "?"; x = substr(placement, i + length(a) + 2); sub(/ .*/, "", x); return x }
      $4 == m && $3 !~ /fail/ { a = $2; sub(/@.*/, "", a); if (host(a) != h) { print a; exit } }')
    if [ -n "$other" ]; then
      failover_to "$other" "$master and a replica shared host $(host_of "$master")"
    else
      log "placement: no replica of $master on another host, and $replica's planned group has no master elsewhere; it cannot be spread"
    fi
  done
}

# placement_step: checks the placement on a node that serves (cluster_state:ok); with
# RESTORE_SPREAD=1, restores it and checks again. Returns 1 while it is not as planned.
placement_step() {
  [ -n "$PLACEMENT" ] || return 0
  anchor=$(first_serving_node "$NODES") || fail "placement: no node reports cluster_state:ok within ${TIMEOUT_SEC}s"
  if check_placement "$anchor"; then
    log "placement: as planned (no master shares a host with any of its replicas; every planned master serves)"
    return 0
  fi
  if [ "$RESTORE_SPREAD" != 1 ]; then
    log "placement: not as planned; set restoreSpread (redis-local placement --restore) to restore it with CLUSTER FAILOVER"
    return 1
  fi
  restore_placement "$anchor"
  # The failovers spread by gossip: wait until every node agrees, then judge again.
  wait_agreement
  if check_placement "$anchor"; then
    log "placement: restored"
    return 0
  fi
  return 1
}

if [ "$ACTION" = placement ]; then
  placement_step
  exit $?
fi

# 1. Every node answers PING.
for addr in $NODES; do
  log "waiting for $addr to answer PING"
  while :; do
    bound_calls
    reply=$(rcli "$addr" PING)
    case $reply in *PONG) break ;; esac
    expired && fail "node $addr did not answer PING within ${TIMEOUT_SEC}s (last reply: ${reply:-none})"
    pause
  done
done
log "all $NODE_COUNT nodes answer PING"

# 1b. Nodes that kept their nodes.conf but moved (new addresses) meet each other again.
reintroduce_moved_nodes

# 2. Survey: per node, its cluster_state, known nodes and assigned slots.
#    Sets FRESH (nodes that know only themselves and serve no slots), FORMED (nodes that know
#    others and see slots assigned), READY (nodes with
#    cluster_state:ok that know all NODE_COUNT nodes), SILENT (nodes that gave no usable
#    answer this time, e.g. a call that ran out of time) and REPORT (one line per node).
survey() {
  FRESH=0; FORMED=0; READY=0; SILENT=0; REPORT=''
  bound_calls
  for addr in $NODES; do
    info=$(rcli "$addr" CLUSTER INFO)
    # One sed for the three fields; the captures stop short of the reply's CRs.
    fields=$(printf '%s\n' "$info" | sed -n \
      -e 's/^cluster_state:\([a-z]*\).*/state=\1/p' \
      -e 's/^cluster_known_nodes:\([0-9]*\).*/known=\1/p' \
      -e 's/^cluster_slots_assigned:\([0-9]*\).*/slots=\1/p')
    state=''; known=''; slots=''
    for kv in $fields; do
      case $kv in
        state=*) state=${kv#state=} ;;
        known=*) known=${kv#known=} ;;
        slots=*) slots=${kv#slots=} ;;
      esac
    done
    if [ -z "$state" ]; then
      reply=$(printf '%s' "${info:-no reply}" | tr -d '\r')
      case $reply in
        *"cluster support disabled"*) fail "node $addr is not a cluster node: $reply (start it with cluster-enabled yes)" ;;
      esac
      SILENT=$((SILENT + 1))
      REPORT="$REPORT
  $addr no answer to CLUSTER INFO: $reply"
      continue
    fi
    [ "$known" = 1 ] && [ "$slots" = 0 ] && FRESH=$((FRESH + 1))
    [ "$known" != 1 ] && [ -n "$slots" ] && [ "$slots" != 0 ] && FORMED=$((FORMED + 1))
    [ "$state" = ok ] && [ "$known" = "$NODE_COUNT" ] && READY=$((READY + 1))
    REPORT="$REPORT
  $addr cluster_state:$state known_nodes:$known slots_assigned:$slots"
  done
}

# Decide only on a survey where every node answered.
while survey; [ "$SILENT" -gt 0 ]; do
  expired && fail "not every node answered CLUSTER INFO within ${TIMEOUT_SEC}s:$REPORT"
  pause
done
if [ "$READY" -eq "$NODE_COUNT" ]; then
  log "cluster already formed (every node reports cluster_state:ok and knows $NODE_COUNT nodes); skipping create"
elif [ "$FRESH" -eq "$NODE_COUNT" ]; then
  if [ -n "$PAIRS" ]; then
    CREATE_NODES=$(planned_masters); CREATE_REPLICAS=0
  else
    CREATE_NODES=$NODES; CREATE_REPLICAS=$REPLICAS
  fi
  log "creating the cluster: redis-cli --cluster create $CREATE_NODES --cluster-replicas $CREATE_REPLICAS --cluster-yes"
  # --cluster-yes answers the prompt; the piped "yes" covers redis-cli builds that still ask.
  left=$(remaining)
  [ "$left" -ge 1 ] || fail "no time left for redis-cli --cluster create within ${TIMEOUT_SEC}s"
  if [ -n "$NODE_TIMEOUT_MS" ] && set_node_timeout "$FORMATION_TIMEOUT_MS"; then
    log "forming with cluster-node-timeout $FORMATION_TIMEOUT_MS ms (faster gossip); $NODE_TIMEOUT_MS ms is set back when ready"
  fi
  left=$(remaining)
  CALL=''
  [ -n "$TIMEOUT_CMD" ] && CALL="$TIMEOUT_CMD $left"
  # shellcheck disable=SC2086 # a word list on purpose
  out=$(echo yes | $CALL redis-cli --cluster create $CREATE_NODES --cluster-replicas "$CREATE_REPLICAS" --cluster-yes 2>&1)
  rc=$?
  printf '%s\n' "$out" | safe_lines
  if [ "$rc" -eq 0 ]; then
    log "redis-cli --cluster create succeeded"
  else
    fail "redis-cli --cluster create failed (exit $rc; its messages are above)"
  fi
  [ -z "$PAIRS" ] || attach_planned_replicas
elif [ "$FORMED" -gt 0 ] && [ "$FRESH" -gt 0 ] && [ $((FORMED + FRESH)) -eq "$NODE_COUNT" ]; then
  log "cluster is partially formed: $FORMED node(s) serve slots, $FRESH came back new; healing it:$REPORT"
  heal_partial_cluster
else
  log "cluster is partially formed; not re-creating it, waiting for it to settle:$REPORT"
fi

# 3. Every node reports cluster_state:ok (CLUSTERDOWN for a while after create is normal).
log "waiting for cluster_state:ok on all $NODE_COUNT nodes"
last_report=$(date +%s)
while :; do
  survey
  if [ "$READY" -eq "$NODE_COUNT" ]; then
    log "all $NODE_COUNT nodes report cluster_state:ok"
    if [ -n "$HELD_FAILOVERS" ]; then
      release_failovers || fail "could not set cluster-replica-no-failover back to no on every node (see above)"
    fi
    break
  fi
  expired && fail "cluster not ready within ${TIMEOUT_SEC}s ($READY of $NODE_COUNT nodes ready):$REPORT"
  report_due && log "still waiting ($READY of $NODE_COUNT nodes ready):$REPORT"
  pause
done

# 4. Every replica has finished its first sync (master_link_status:up): before that a master
#    that dies has no replica able to take over, so the cluster is not yet what was asked for.
for addr in $NODES; do
  while :; do
    bound_calls
    repl=$(rcli "$addr" INFO replication | tr -d '\r')
    case $repl in
      *role:master*) break ;;
      *master_link_status:up*) break ;;
    esac
    repoint_replica "$addr" "$repl"
    expired && fail "replica $addr has not synced with its master within ${TIMEOUT_SEC}s: $(printf '%s' "$repl" | grep -E '^(role|master_host|master_port|master_link_status):' | tr '\n' ' ')"
    pause
  done
done
log "all $NODE_COUNT nodes report cluster_state:ok, every replica is in sync"

# 5. Every node's view agrees (node_view, wait_agreement above).
wait_agreement
if [ -n "$NODE_TIMEOUT_MS" ]; then
  set_node_timeout "$NODE_TIMEOUT_MS" || fail "could not set cluster-node-timeout back to $NODE_TIMEOUT_MS ms on every node (see above)"
fi
log "cluster ready: every node reports cluster_state:ok and lists the same $MASTERS masters and their replicas; every replica is in sync"
# The placement across hosts is reported (and restored when asked); a cluster that serves but is
# not spread as planned still succeeds: the report says what to do.
placement_step || true
exit 0
