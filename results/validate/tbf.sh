#!/usr/bin/env bash
# Does the kernel shaping of `validate --netns` keep its rate? Two network
# namespaces joined by a veth pair; on the sender's end the qdiscs netns.rs
# sets up (tbf with the size table `stab overhead -14`, which takes the
# 14-byte Ethernet header off what tbf counts (since session 25; TBF_STAB=
# drops it), rate R, burst max(R/8/1000, 2000) bytes, limit 2 x max(10 s
# of R, 1 MiB), a pfifo_fast child, txqueuelen = limit in 1,242-byte
# frames); a python3 sender hands COPIES x 31 datagrams of 1,214 bytes of
# payload (1,242 on the wire, a 37.5 KB chunk of dyn-50) to the socket at
# once, and the receiver stamps each arrival. Per rate, idle and beside
# BUSY busy loops: when the last datagram arrived against what the rate
# allows (31 x COPIES x 1,242 bytes, the simulator's charge; 1,256 with the
# Ethernet header). Root, `ip`, `tc`, python3; about 40 s. Writes tbf.txt.
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
COPIES=${COPIES:-10}
BUSY=${BUSY:-4}
STAB=${TBF_STAB-stab overhead -14}
if [ -n "$STAB" ]; then WIRE=1242; else WIRE=1256; fi
[ "$(id -u)" = 0 ] || { echo "root needed" >&2; exit 2; }
tmp=$(mktemp -d)
ns=tbf$$
cleanup() { ip netns del ${ns}a 2>/dev/null || true; ip netns del ${ns}b 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cat > "$tmp/send.py" <<'PY'
import socket, sys, time
copies = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 << 20)
t0 = time.time()
for c in range(copies):
    for i in range(31):
        s.sendto(bytes([c, i]) + b"x" * 1212, ("10.99.0.2", 7000))
print(repr(t0))
PY
cat > "$tmp/recv.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.0.2", 7000))
s.settimeout(float(sys.argv[1]))
n, last = 0, 0.0
try:
    while True:
        s.recvfrom(2048)
        n, last = n + 1, time.time()
except socket.timeout:
    pass
print(n, repr(last))
PY
one() { # rate busy
    local rate=$1 busy=$2 burst limit
    burst=$(( rate / 8 / 1000 > 2000 ? rate / 8 / 1000 : 2000 ))
    limit=$(( (rate * 10 / 8 > 1048576 ? rate * 10 / 8 : 1048576) * 2 ))
    ip netns add ${ns}a; ip netns add ${ns}b
    ip link add va netns ${ns}a type veth peer name vb netns ${ns}b
    ip -n ${ns}a addr add 10.99.0.1/24 dev va; ip -n ${ns}b addr add 10.99.0.2/24 dev vb
    ip -n ${ns}a link set va up; ip -n ${ns}b link set vb up
    # shellcheck disable=SC2086 # $STAB is a list of tc words
    tc -n ${ns}a qdisc add dev va root handle 1: $STAB tbf rate ${rate}bit burst $burst limit $limit
    ip -n ${ns}a link set dev va txqueuelen $(( limit / 1242 ))
    tc -n ${ns}a qdisc add dev va parent 1:1 handle 10: pfifo_fast
    local pids=()
    for _ in $(seq "$busy"); do timeout 30 sh -c 'while :; do :; done' & pids+=($!); done
    ip netns exec ${ns}b python3 "$tmp/recv.py" 2 > "$tmp/recv.out" &
    local rp=$!
    sleep 0.3
    local t0
    t0=$(ip netns exec ${ns}a python3 "$tmp/send.py" "$COPIES")
    wait $rp
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    read -r n last < "$tmp/recv.out"
    python3 -c "
n, t0, last, rate, copies = $n, $t0, $last, $rate, $COPIES
ideal = 31 * copies * $WIRE * 8 / rate
print(f'rate {rate:>8} bit/s  busy loops $busy  received {n}/{31 * copies}  last at {last - t0:.3f} s  rate allows {ideal:.3f} s  ratio {(last - t0) / ideal:.3f}')"
    ip netns del ${ns}a; ip netns del ${ns}b
}
{
    echo "# tbf as validate --netns sets it up (${STAB:-no size table}): $COPIES back-to-back 31-datagram messages, $WIRE bytes per datagram allowed (results/validate/tbf.sh; generated)"
    echo "# $(uname -sr), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for rate in 204800 307200 512000 600000 1000000 1500000; do
        one $rate 0
        one $rate "$BUSY"
    done
} | tee $R/tbf.txt
