#!/usr/bin/env bash
# Captures real BFD control packets between FRR bfdd 8.4 and BIRD 2.0 (and BIRD <-> BIRD for the
# authentication types FRR 8.4 lacks) inside throw-away network namespaces, and writes
# OUT/<name>.pcap plus OUT/<name>.txt (metadata and one UDP payload per line, via extract.py).
#
# Usage (as root, with frr, bird2 and tcpdump installed): tests/captures/capture.sh [OUT]
# Everything it creates carries the prefix hbt-<pid>-cap and is removed on exit.
set -euo pipefail
OUT=${1:-/work/captures}
HERE=$(dirname "$(readlink -f "$0")")
PFX=hbt-$$-cap
WORK=$(mktemp -d /tmp/hbt-cap.XXXXXX)
chmod 755 "$WORK"
A=$PFX-a
B=$PFX-b
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_for() { # wait_for SECONDS CMD...: polls CMD every 20 ms
    local deadline=$(($(date +%s%N) + $1 * 1000000000)); shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s%N) < deadline)) || { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.02
    done
}

net_up() { # fresh namespaces A and B joined by veth eth-a <-> eth-b
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    ip netns add "$A"; ip netns add "$B"
    ip link add eth-a netns "$A" type veth peer name eth-b netns "$B"
    ip -n "$A" addr add 198.18.0.1/30 dev eth-a
    ip -n "$B" addr add 198.18.0.2/30 dev eth-b
    ip -n "$A" addr add 2001:db8::1/64 dev eth-a nodad
    ip -n "$B" addr add 2001:db8::2/64 dev eth-b nodad
    for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
    ip -n "$A" link set eth-a up
    ip -n "$B" link set eth-b up
}

net_down() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    PIDS=()
    sleep 0.2
    ip netns del "$A"; ip netns del "$B"
}

dump_start() { # dump_start NS IFACE PCAP
    ip netns exec "$1" tcpdump -U -n -i "$2" -w "$3" 'udp port 3784 or udp port 4784' 2>"$WORK/tcpdump.log" &
    DUMP=$!
    wait_for 5 grep -q listening "$WORK/tcpdump.log"
}

dump_stop() { kill -INT "$DUMP"; wait "$DUMP" || true; }

frr_start() { # frr_start NS DIR: zebra + bfdd, private sockets in DIR, running as user frr
    local d=$2
    mkdir -p "$d"; touch "$d/zebra.conf" "$d/bfdd.conf"; chown -R frr:frr "$d"
    ip netns exec "$1" /usr/lib/frr/zebra -f "$d/zebra.conf" -i "$d/zebra.pid" --vty_socket "$d" \
        -z "$d/zserv.api" -P 0 --log stdout >"$d/zebra.log" 2>&1 &
    PIDS+=($!)
    # bfdd must find zebra listening: a failed first connect is retried only after 10 s.
    wait_for 10 vtysh --vty_socket "$d" -d zebra -c 'show version'
    ip netns exec "$1" /usr/lib/frr/bfdd -f "$d/bfdd.conf" -i "$d/bfdd.pid" --vty_socket "$d" \
        --bfdctl "$d/bfdd.sock" -z "$d/zserv.api" -P 0 --log stdout >"$d/bfdd.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 vtysh --vty_socket "$d" -d bfdd -c 'show bfd peers'
    # bfdd learns interfaces from zebra; a single-hop peer configured before that never starts.
    wait_for 10 sh -c "vtysh --vty_socket '$d' -d zebra -c 'show zebra client summary' | grep -q bfd"
    sleep 0.2
}

frr() { local d=$1; shift; local args=(); for c in "$@"; do args+=(-c "$c"); done; vtysh --vty_socket "$d" "${args[@]}"; }

frr_status() { # frr_status DIR PEER -> status string
    frr "$1" 'show bfd peers json' | python3 -c "import json,sys; print(next((p['status'] for p in json.load(sys.stdin) if p['peer']=='$2'), 'none'))"
}

frr_up() { [ "$(frr_status "$1" "$2")" = up ]; }

bird_start() { # bird_start NS DIR (DIR/bird.conf must exist)
    local d=$2
    ip netns exec "$1" bird -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" -f >"$d/bird.log" 2>&1 &
    PIDS+=($!)
    BIRD_PID=$!
    wait_for 10 birdc -s "$d/bird.ctl" show status
}

bird_up() { birdc -s "$1/bird.ctl" show bfd sessions | grep -q " Up "; }

write_txt() { # write_txt NAME header-lines... (reads OUT/NAME.pcap)
    local name=$1; shift
    {
        printf '%s\n' "$@"
        echo "# Packet lines: a '#' comment (index, time since first packet, src:port -> dst:port, TTL or"
        echo "# hop limit seen on the wire, decoded header) followed by the UDP payload in hex."
        python3 "$HERE/extract.py" "$OUT/$name.pcap" 200
    } >"$OUT/$name.txt"
    echo "wrote $OUT/$name.txt"
}

frr_bird() { # frr_bird NAME FAMILY(v4|v6) HOP(single|multi)
    local name=$1 fam=$2 hop=$3 fa fb extra='detect-multiplier 3'
    if [ "$fam" = v4 ]; then fa=198.18.0.1; fb=198.18.0.2; else fa=2001:db8::1; fb=2001:db8::2; fi
    net_up
    local fd=$WORK/$name-frr bd=$WORK/$name-bird
    mkdir -p "$bd"
    if [ "$hop" = single ]; then
        cat >"$bd/bird.conf" <<EOC
router id 198.18.0.2;
log stderr all;
protocol device { }
protocol bfd hbt {
  interface "eth-b" { interval 300 ms; multiplier 3; };
  neighbor $fa dev "eth-b";
}
EOC
        local peer="peer $fb interface eth-a"
    else
        cat >"$bd/bird.conf" <<EOC
router id 198.18.0.2;
log stderr all;
protocol device { }
protocol bfd hbt {
  multihop { interval 300 ms; multiplier 3; };
  neighbor $fa local $fb multihop yes;
}
EOC
        local peer="peer $fb multihop local-address $fa"
        # BIRD sends multihop packets with the OS default TTL (64); FRR's default minimum-ttl
        # of 254 would drop every one of them.
        extra='minimum-ttl 1'
    fi
    dump_start "$B" eth-b "$OUT/$name.pcap"
    bird_start "$B" "$bd"
    frr_start "$A" "$fd"
    frr "$fd" 'configure terminal' 'bfd' "$peer" 'receive-interval 300' 'transmit-interval 300' 'detect-multiplier 3' "$extra"
    wait_for 10 bird_up "$bd"
    wait_for 10 frr_up "$fd" "$fb"
    sleep 1
    frr "$fd" 'configure terminal' 'bfd' "$peer" 'shutdown'
    sleep 1.5
    frr "$fd" 'show bfd peers json' >"$OUT/$name.frr-after-shutdown.json"
    birdc -s "$bd/bird.ctl" show bfd sessions >"$OUT/$name.bird-after-frr-shutdown.txt"
    frr "$fd" 'configure terminal' 'bfd' "$peer" 'no shutdown'
    wait_for 10 bird_up "$bd"
    sleep 1
    birdc -s "$bd/bird.ctl" disable hbt >/dev/null
    sleep 1.5
    frr "$fd" 'show bfd peers json' >"$OUT/$name.frr-after-bird-disable.json"
    birdc -s "$bd/bird.ctl" enable hbt >/dev/null
    wait_for 10 bird_up "$bd"
    wait_for 10 frr_up "$fd" "$fb"
    sleep 1
    kill -9 "$BIRD_PID"
    sleep 2.5
    frr "$fd" 'show bfd peers json' >"$OUT/$name.frr-after-bird-kill.json"
    dump_stop
    net_down
    write_txt "$name" \
        "name: $name" \
        "daemons: FRR bfdd 8.4.4 ($fa, namespace A, eth-a) <-> BIRD 2.0.12 ($fb, namespace B, eth-b)" \
        "encapsulation: $fam $hop-hop (UDP dst port $([ "$hop" = single ] && echo 3784 || echo 4784))" \
        "auth type: none (FRR 8.4 bfdd has no BFD authentication)" \
        "key id: -" \
        "secret: -" \
        "timers: both sides 300 ms tx / 300 ms rx, detect multiplier 3" \
        "frr peer config: $peer / receive-interval 300 / transmit-interval 300 / detect-multiplier 3 / $extra" \
        "captured on: eth-b in namespace B (both directions)" \
        "sequence: BIRD starts, FRR starts and the peer is configured, both Up, 1 s steady," \
        "  FRR 'shutdown' of the peer for 1.5 s (FRR sends one AdminDown packet, diag 0, then" \
        "  answers BIRD's Poll with AdminDown+F and falls silent), 'no shutdown', Up again, 1 s," \
        "  'birdc disable hbt' for 1.5 s, 'birdc enable hbt', Up again, 1 s," \
        "  BIRD killed with SIGKILL, 2.5 s of FRR alone (Down, diag 1 control detection time expired)" \
        "FRR JSON after its shutdown: $name.frr-after-shutdown.json; after the BIRD disable:" \
        "  $name.frr-after-bird-disable.json; after the kill: $name.frr-after-bird-kill.json"
}

bird_bird_auth() { # bird_bird_auth NAME AUTH-KEYWORDS KEY-ID SECRET
    local name=$1 auth=$2 id=$3 secret=$4
    net_up
    local da=$WORK/$name-a db=$WORK/$name-b
    mkdir -p "$da" "$db"
    for side in a b; do
        local me peer d
        if [ $side = a ]; then me=198.18.0.1; peer=198.18.0.2; d=$da; else me=198.18.0.2; peer=198.18.0.1; d=$db; fi
        cat >"$d/bird.conf" <<EOC
router id $me;
log stderr all;
protocol device { }
protocol bfd hbt {
  interface "eth-$side" {
    interval 300 ms;
    multiplier 3;
    authentication $auth;
    password "$secret" { id $id; };
  };
  neighbor $peer dev "eth-$side";
}
EOC
    done
    dump_start "$B" eth-b "$OUT/$name.pcap"
    bird_start "$A" "$da"
    local pid_a=$BIRD_PID
    bird_start "$B" "$db"
    wait_for 10 bird_up "$da"
    wait_for 10 bird_up "$db"
    sleep 2.5
    kill -9 "$pid_a"
    sleep 2.5
    birdc -s "$db/bird.ctl" show bfd sessions >"$OUT/$name.bird-after-peer-kill.txt"
    dump_stop
    net_down
    write_txt "$name" \
        "name: $name" \
        "daemons: BIRD 2.0.12 (198.18.0.1, namespace A, eth-a) <-> BIRD 2.0.12 (198.18.0.2, namespace B, eth-b)" \
        "encapsulation: v4 single-hop (UDP dst port 3784)" \
        "auth type: $auth" \
        "key id: $id" \
        "secret: $secret" \
        "bird config: interface \"eth-x\" { interval 300 ms; multiplier 3; authentication $auth; password \"$secret\" { id $id; }; };" \
        "timers: both sides 300 ms tx / 300 ms rx, detect multiplier 3" \
        "captured on: eth-b in namespace B (both directions)" \
        "sequence: BIRD A starts, BIRD B starts, both Up, 2.5 s steady, BIRD A killed with SIGKILL," \
        "  2.5 s of BIRD B alone (Down, diag 1)"
}

mkdir -p "$OUT"
if [ $# -gt 1 ]; then shift; for scenario in "$@"; do eval "$scenario"; done; exit 0; fi
frr_bird frr-bird-v4-single-hop v4 single
frr_bird frr-bird-v4-multihop v4 multi
frr_bird frr-bird-v6-single-hop v6 single
bird_bird_auth bird-bird-auth-simple "simple" 1 "hbt-simple-pw"
bird_bird_auth bird-bird-auth-keyed-md5 "keyed md5" 2 "hbt-md5-secret"
bird_bird_auth bird-bird-auth-meticulous-keyed-md5 "meticulous keyed md5" 3 "hbt-mmd5-secret"
bird_bird_auth bird-bird-auth-keyed-sha1 "keyed sha1" 4 "hbt-sha1-secret"
bird_bird_auth bird-bird-auth-meticulous-keyed-sha1 "meticulous keyed sha1" 5 "hbt-msha1-secret"
