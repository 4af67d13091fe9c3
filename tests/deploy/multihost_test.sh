#!/usr/bin/env bash
# Distributed mode across hosts, without a cluster: every role runs on a "host" of its own,
# a network namespace with its own address, joined to the others by veth pairs on a bridge.
#
#   servers    10.213.N.2    RabbitMQ, PostgreSQL, CongoDB (for MongoDB), the SMTP sink
#   auth       10.213.N.11   video2mp3 auth
#   gateway    10.213.N.12   video2mp3 gateway
#   conv1/2    10.213.N.21/22 video2mp3 converter (with /readyz on :9090)
#   notifier   10.213.N.31   video2mp3 notifier (with /readyz on :9090)
#   client     10.213.N.100  curl, as a user would
#
# The bridge lives in a namespace of its own (hub), so nothing is added to the machine's own
# network and no packet of the test leaves the namespaces. Each role gets only the variables
# it needs, every address in them a host's own address: 127.0.0.1 in a role's namespace
# reaches nothing, so the test shows the roles need nothing but their configured addresses.
#
# 1. the seed's workflow against the gateway's address: login, upload, job done, the MP3
#    downloaded through the link in the e-mail, one e-mail;
# 2. a converter's host vanishes mid-conversion: its link is cut first (the broker gets no
#    FIN nor RST), then every process in it is killed and the namespace deleted. With a 5 s
#    AMQP heartbeat the broker gives the job to the other converter within seconds; the job
#    ends `done` once: a valid MP3 and exactly one e-mail.
#
# Usage: tests/deploy/multihost_test.sh PATH/TO/video2mp3
# Exit: 0 passed, 77 skipped (not root, or network namespaces not permitted), else failed.
# Run by ctest as MultiHostNetnsTest (label integration).
set -euo pipefail

readonly PYTHON=/usr/bin/python3
readonly HEARTBEAT_S=5
readonly LONG_S=1200 # seconds of the long video: a conversion that lasts long enough to cut
readonly STARTED=$SECONDS

log() { printf '[multihost %3ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
fail() {
    log "FAIL: $*" >&2
    exit 1
}
skip() {
    log "SKIP: $*"
    exit 77
}

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/video2mp3" >&2
    exit 2
fi
binary=$(realpath -- "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
for tool in ip ffmpeg ffprobe curl "$PYTHON"; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps)"
done

# Names: namespaces are machine-wide, so theirs carry this shell's pid and a random tag; the
# veths and the bridge live inside the hub namespace and cannot meet another run's.
tag=$(printf '%04x' "$((RANDOM))")
prefix="v2mnet-$$-$tag"
ns() { echo "$prefix-$1"; }
hub=$(ns hub)
roles=(servers auth gateway conv1 conv2 notifier client)

work=$(mktemp -d "${TMPDIR:-/tmp}/v2m-multihost.XXXXXX")
declare -A role_pid=() # host -> pid of its role process, for the liveness check at start
succeeded=false
ffmpeg_pid="" # the long video is made in the background

# Kills every process in namespace $1 and waits (up to 10 s) until none is left.
kill_namespace_processes() {
    local pids
    for _ in $(seq 100); do
        pids=$(ip netns pids "$1" 2>/dev/null || true)
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086 # one pid a word
        kill -9 $pids 2>/dev/null || true
        sleep 0.1
    done
    log "warning: processes left in $1: $(ip netns pids "$1" 2>/dev/null | tr '\n' ' ')"
}

cleanup() {
    local rc=$?
    set +e
    trap - ERR
    if ! $succeeded; then
        for file in "$work"/*.log "$work"/servers.out; do
            [ -s "$file" ] || continue
            echo "==== $(basename "$file") (last 40 lines)" >&2
            tail -n 40 "$file" >&2
        done
    fi
    log "cleaning up: processes, namespaces, veths, bridge, $work"
    if [ -n "$ffmpeg_pid" ]; then
        kill "$ffmpeg_pid" 2>/dev/null
        wait "$ffmpeg_pid" 2>/dev/null
    fi
    local name
    for role in "${roles[@]}"; do
        [ "$role" = servers ] && continue
        name=$(ns "$role")
        [ -e "/run/netns/$name" ] && kill_namespace_processes "$name"
    done
    # The servers are stopped cleanly, so PostgreSQL's cluster folder under /tmp goes too;
    # then whatever stays (epmd) is killed.
    name=$(ns servers)
    local cluster
    cluster=$(cat "$work/servers/postgres/cluster" 2>/dev/null)
    if [ -e "/run/netns/$name" ]; then
        timeout 60 ip netns exec "$name" "$PYTHON" "$repo/tests/support/test_servers.py" down \
            --dir "$work/servers" >/dev/null 2>&1
        kill_namespace_processes "$name"
    fi
    case "$cluster" in /tmp/v2m-pg-*) rm -rf "$cluster" ;; esac
    if [ -e "/run/netns/$hub" ]; then
        for link in $(ip -n "$hub" -o link show type veth 2>/dev/null | awk -F'[:@]' '{print $2}'); do
            ip -n "$hub" link del "$link" 2>/dev/null
        done
        ip -n "$hub" link del br0 2>/dev/null
    fi
    for name in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-"); do
        kill_namespace_processes "$name"
        ip netns del "$name" || log "warning: could not delete namespace $name"
    done
    rm -rf "$work"
    if ip netns list 2>/dev/null | grep -q "^$prefix-"; then
        log "warning: namespaces left: $(ip netns list | grep "^$prefix-" | tr '\n' ' ')"
    fi
    if [ "$rc" -eq 0 ]; then
        log "PASS in $((SECONDS - STARTED)) s"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'log "FAIL: line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR

# A run that was SIGKILLed (a ctest timeout) leaves its namespaces behind: remove those whose
# shell is gone.
for name in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^v2mnet-[0-9]+-[0-9a-f]+-hub$' || true); do
    owner=$(cut -d- -f2 <<<"$name")
    [ -d "/proc/$owner" ] && continue
    stale=${name%-hub}
    log "removing namespaces of an earlier run that was killed ($stale-*)"
    for left in $(ip netns list | awk '{print $1}' | grep "^$stale-"); do
        kill_namespace_processes "$left"
        ip netns del "$left" || true
    done
done

# ---- the hosts -------------------------------------------------------------------------

if ! error=$(ip netns add "$hub" 2>&1); then
    skip "ip netns add is not permitted here: $error"
fi

# A /24 of 10.213.0.0/16 that no route of this machine covers (the default route aside).
subnet=""
for _ in $(seq 50); do
    candidate="10.213.$((RANDOM % 230 + 16))"
    routes=$(ip -4 route show to match "$candidate.0/24")
    if ! grep -qv -e '^default' -e '^$' <<<"$routes"; then
        subnet=$candidate
        break
    fi
done
[ -n "$subnet" ] || fail "no free 10.213.N.0/24 (every one is routed on this machine)"
declare -A address=(
    [servers]=$subnet.2 [auth]=$subnet.11 [gateway]=$subnet.12 [conv1]=$subnet.21
    [conv2]=$subnet.22 [notifier]=$subnet.31 [client]=$subnet.100
)

log "creating the hosts: namespaces $prefix-{hub,${roles[*]// /,}} on $subnet.0/24"
ip -n "$hub" link set lo up
ip -n "$hub" link add br0 type bridge forward_delay 0
ip -n "$hub" link set br0 up
for role in "${roles[@]}"; do
    name=$(ns "$role")
    ip netns add "$name"
    ip -n "$name" link set lo up
    # One end is the host's eth0, the other a port of the hub's bridge.
    ip -n "$hub" link add "v-$role" type veth peer name eth0 netns "$name"
    ip -n "$hub" link set "v-$role" master br0 up
    ip -n "$name" addr add "${address[$role]}/24" dev eth0
    ip -n "$name" link set eth0 up
done

in_ns() {
    local role=$1
    shift
    ip netns exec "$(ns "$role")" "$@"
}
client() { in_ns client curl -sS --max-time 60 "$@"; }

# ---- the servers, and the long video meanwhile ------------------------------------------

log "making the test videos with ffmpeg (4 s, and $LONG_S s) in the background"
ffmpeg -nostdin -v error -f lavfi -i "sine=frequency=440:duration=4" \
    -f lavfi -i "testsrc=size=160x120:rate=10:duration=4" -c:v libx264 -preset ultrafast \
    -c:a aac "$work/clip.mp4"
ffmpeg -nostdin -v error -f lavfi -i "sine=frequency=330:duration=$LONG_S:sample_rate=22050" \
    -f lavfi -i "testsrc=size=160x120:rate=1:duration=$LONG_S" -c:v libx264 -preset ultrafast \
    -c:a aac -b:a 48k -shortest "$work/long.mp4" >"$work/ffmpeg.log" 2>&1 &
ffmpeg_pid=$!

log "starting RabbitMQ, PostgreSQL, CongoDB and the SMTP sink on ${address[servers]} (~20 s)"
in_ns servers "$PYTHON" "$repo/tests/support/test_servers.py" up --host "${address[servers]}" \
    --dir "$work/servers" amqp postgres congodb smtp >"$work/servers.out" 2>&1 ||
    fail "the servers did not start (servers.out above)"
sed 's/^/    /' "$work/servers.out"
server_url() { sed -n "s/^$1=//p" "$work/servers/servers.env"; }
amqp_url=$(server_url amqp)
mongodb_uri=$(server_url congodb)
postgres_url=$(server_url postgres)
smtp_url=$(server_url smtp)
mail_dir="$work/servers/smtp/mail"
for url in "$amqp_url" "$mongodb_uri" "$postgres_url" "$smtp_url"; do
    [[ "$url" == *"//${address[servers]}:"* || "$url" == *"@${address[servers]}:"* ]] ||
        fail "a server URL does not name the servers' host: $url"
done

# ---- the roles -------------------------------------------------------------------------

gateway_url="http://${address[gateway]}:8080"
auth_url="http://${address[auth]}:8081"
jwt_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
base_env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin VIDEO2MP3_LOG_LEVEL=info)
queue_env=(VIDEO2MP3_AMQP_URL="$amqp_url" VIDEO2MP3_MONGODB_URI="$mongodb_uri"
    VIDEO2MP3_AMQP_HEARTBEAT="$HEARTBEAT_S")

# start_role HOST ROLE [VAR=VALUE...] [-- ARGS...]: `video2mp3 ROLE ARGS` on HOST, with only
# those variables; waits for its ready line.
start_role() {
    local host=$1 role=$2
    shift 2
    local variables=() arguments=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        variables+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    arguments=("$@")
    ip netns exec "$(ns "$host")" env -i "${base_env[@]}" "${variables[@]}" \
        "$binary" "$role" "${arguments[@]}" >"$work/$host.out" 2>"$work/$host.log" &
    role_pid[$host]=$!
    # Not a job of this shell: it reaps the process silently when it is killed.
    disown "${role_pid[$host]}"
    for _ in $(seq 600); do
        grep -q "video2mp3 $role: " "$work/$host.out" 2>/dev/null && break
        kill -0 "${role_pid[$host]}" 2>/dev/null || fail "$role on $host exited at start"
        sleep 0.1
    done
    grep -q "video2mp3 $role: " "$work/$host.out" || fail "$role on $host is not ready after 60 s"
    log "    $host (${address[$host]}): $(head -n 1 "$work/$host.out")"
}

email="multihost@example.com"
password="multihost-$tag-$$"
log "adding user $email to PostgreSQL, from the auth host"
printf '%s\n' "$password" | in_ns auth env -i "${base_env[@]}" \
    VIDEO2MP3_POSTGRES_URL="$postgres_url" "$binary" user add "$email" \
    >"$work/user-add.log" 2>&1 || fail "user add failed: $(cat "$work/user-add.log")"

log "starting the roles, each on its host"
start_role auth auth VIDEO2MP3_POSTGRES_URL="$postgres_url" VIDEO2MP3_JWT_SECRET="$jwt_secret" \
    -- --listen "${address[auth]}:8081"
start_role gateway gateway "${queue_env[@]}" VIDEO2MP3_AUTH_URL="$auth_url" \
    VIDEO2MP3_PUBLIC_URL="$gateway_url" -- --listen "${address[gateway]}:8080"
for host in conv1 conv2; do
    start_role "$host" converter "${queue_env[@]}" VIDEO2MP3_SCRATCH_DIR="$work/scratch-$host" \
        VIDEO2MP3_HEALTH_LISTEN="${address[$host]}:9090"
done
start_role notifier notifier "${queue_env[@]}" VIDEO2MP3_SMTP_URL="$smtp_url" \
    VIDEO2MP3_SMTP_TLS=off VIDEO2MP3_PUBLIC_URL="$gateway_url" \
    VIDEO2MP3_MAIL_FROM="video2mp3 <noreply@video2mp3.test>" \
    VIDEO2MP3_HEALTH_LISTEN="${address[notifier]}:9090"

log "waiting until the gateway, both converters and the notifier answer /readyz 200 (from the client host)"
for target in "$gateway_url" "http://${address[conv1]}:9090" "http://${address[conv2]}:9090" \
    "http://${address[notifier]}:9090"; do
    ready=""
    for _ in $(seq 300); do
        ready=$(client -o /dev/null -w '%{http_code}' "$target/readyz" 2>/dev/null || true)
        [ "$ready" = 200 ] && break
        sleep 0.1
    done
    [ "$ready" = 200 ] || fail "$target/readyz answers ${ready:-nothing}"
done
# Nothing a role listens on is loopback or a wildcard: only its host's own address.
for host in auth gateway conv1 conv2 notifier; do
    while read -r local_address; do
        [[ "$local_address" == "${address[$host]}:"* ]] ||
            fail "$host listens on $local_address, not on its address ${address[$host]}"
    done < <(in_ns "$host" ss -Hltn | awk '{print $4}')
done
log "    every role listens on its own address only; the servers are on another host"

# ---- helpers on the API ----------------------------------------------------------------

# json FIELD: the field of the JSON object on stdin ("" when absent or not JSON).
json() { "$PYTHON" -c 'import json, sys
try:
    value = json.load(sys.stdin).get(sys.argv[1])
except (ValueError, AttributeError):
    value = None
print("" if value is None else value)' "$1"; }

# job_json ID: the job as the gateway answers it.
job_json() { client --fail -H "Authorization: Bearer $token" "$gateway_url/jobs/$1"; }

# wait_job ID SECONDS: waits until the job is done or failed; prints its JSON.
wait_job() {
    local job="" status=""
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        job=$(job_json "$1" 2>/dev/null || true)
        status=$(json status <<<"$job")
        case "$status" in "done" | failed) break ;; esac
        sleep 0.25
    done
    echo "$job"
}

# mails_for ID: how many e-mails in the SMTP sink's folder name the job.
mails_for() { grep -l -F -- "$1" "$mail_dir"/*.eml 2>/dev/null | wc -l; }

# wait_one_mail ID: waits for the job's e-mail, then a while longer for a second one.
wait_one_mail() {
    for _ in $(seq 300); do
        [ "$(mails_for "$1")" -ge 1 ] && break
        sleep 0.1
    done
    sleep 3
    local count
    count=$(mails_for "$1")
    [ "$count" -eq 1 ] || fail "job $1: $count e-mails, not exactly one"
}

# check_mp3 FILE SECONDS: ffprobe sees an MP3 of about that length.
check_mp3() {
    local probe
    probe=$(ffprobe -v error -show_entries format=format_name,duration \
        -show_entries stream=codec_name -of default=noprint_wrappers=1 "$1") ||
        fail "ffprobe cannot read $1"
    grep -qx 'format_name=mp3' <<<"$probe" || fail "$1 is not an MP3: $probe"
    grep -qx 'codec_name=mp3' <<<"$probe" || fail "$1 has no MP3 stream: $probe"
    local duration
    duration=$(sed -n 's/^duration=//p' <<<"$probe")
    "$PYTHON" -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1.5)' \
        "$duration" "$2" || fail "$1 lasts $duration s, not $2 s"
    log "    ffprobe: $(tr '\n' ' ' <<<"$probe")"
}

# ---- 1. the workflow against the gateway's address -------------------------------------

log "1. POST $gateway_url/login (from the client host)"
token=$(client --fail -X POST -u "$email:$password" "$gateway_url/login")
[ -n "$token" ] || fail "no token"

log "   POST $gateway_url/upload clip.mp4"
upload=$(client --fail -X POST -F "file=@$work/clip.mp4" -H "Authorization: Bearer $token" \
    "$gateway_url/upload")
clip_job=$(json job_id <<<"$upload")
[ -n "$clip_job" ] || fail "upload answered $upload"

log "   waiting for job $clip_job"
job=$(wait_job "$clip_job" 120)
[ "$(json status <<<"$job")" = "done" ] || fail "job $clip_job did not end done: $job"

log "   waiting for its e-mail; downloading the MP3 through the e-mail's link"
wait_one_mail "$clip_job"
link=$(grep -h -o "http://[^ ']*/download?fid=[0-9a-f]*" "$(grep -l -F "$clip_job" "$mail_dir"/*.eml)" |
    head -n 1)
[ "$link" = "$gateway_url/download?fid=$(json mp3_fid <<<"$job")" ] ||
    fail "the e-mail's link is '$link', not the gateway's address"
client --fail -o "$work/clip.mp3" -H "Authorization: Bearer $token" "$link"
check_mp3 "$work/clip.mp3" 4

# ---- 2. a converter's host vanishes mid-conversion ---------------------------------------

log "2. waiting for the $LONG_S s video"
wait "$ffmpeg_pid" || fail "ffmpeg failed: $(cat "$work/ffmpeg.log")"
ffmpeg_pid=""
log "   POST $gateway_url/upload long.mp4 ($(du -h "$work/long.mp4" | cut -f1))"
upload=$(client --fail -X POST -F "file=@$work/long.mp4" -H "Authorization: Bearer $token" \
    "$gateway_url/upload")
long_job=$(json job_id <<<"$upload")
[ -n "$long_job" ] || fail "upload answered $upload"

# The converter that took the job writes its MP3 in its scratch folder as it converts.
log "   waiting until a converter is converting job $long_job"
victim=""
progress=0
deadline=$((SECONDS + 120))
while [ -z "$victim" ] && [ $SECONDS -lt $deadline ]; do
    job=$(job_json "$long_job" 2>/dev/null || true)
    status=$(json status <<<"$job")
    progress=$(json progress <<<"$job")
    case "$status" in
    done | failed) fail "job $long_job ended $status before it could be interrupted" ;;
    converting)
        if [ "${progress:-0}" -ge 3 ]; then
            for host in conv1 conv2; do
                if compgen -G "$work/scratch-$host/.$long_job.mp3.part-*" >/dev/null; then
                    victim=$host
                fi
            done
        fi
        ;;
    esac
    [ -n "$victim" ] || sleep 0.1
done
[ -n "$victim" ] || fail "no converter started job $long_job within 120 s: $job"
[ "$progress" -lt 90 ] || fail "the conversion was too quick to interrupt ($progress %)"
survivor=conv1
[ "$victim" = conv1 ] && survivor=conv2
log "   $victim (${address[$victim]}) is converting it, at $progress %"

log "   cutting $victim's link (deleting its veth pair): no FIN or RST reaches the broker"
ip -n "$hub" link del "v-$victim"
victim_pids=$(ip netns pids "$(ns "$victim")" | tr '\n' ' ')
log "   kill -9 every process on $victim: $victim_pids"
kill_namespace_processes "$(ns "$victim")"
ip netns del "$(ns "$victim")"
log "   namespace $(ns "$victim") deleted; waiting for the broker to give the job to $survivor"

job=$(wait_job "$long_job" 180)
[ "$(json status <<<"$job")" = "done" ] || fail "job $long_job did not end done: $job"
log "   job $long_job done: $job"
grep -q "job $long_job delivered again (attempt 2)" "$work/$survivor.log" ||
    fail "$survivor did not log the job's second delivery"
[ "$(grep -c "job $long_job done" "$work/$survivor.log")" -eq 1 ] ||
    fail "$survivor did not finish the job exactly once"
"$PYTHON" -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1.0)' \
    "$(json duration_s <<<"$job")" "$LONG_S" || fail "the job's duration is not $LONG_S s"

log "   waiting for its e-mail (exactly one)"
wait_one_mail "$long_job"
total=$(find "$mail_dir" -name '*.eml' ! -name '.*' | wc -l)
[ "$total" -eq 2 ] || fail "$total e-mails in all, not 2 (one a job)"

log "   downloading the MP3 from the gateway"
client --fail -o "$work/long.mp3" -H "Authorization: Bearer $token" \
    "$gateway_url/download?fid=$(json mp3_fid <<<"$job")"
size=$(stat -c %s "$work/long.mp3")
[ "$size" -eq "$(json mp3_bytes <<<"$job")" ] ||
    fail "downloaded $size bytes, the job says $(json mp3_bytes <<<"$job")"
check_mp3 "$work/long.mp3" "$LONG_S"

succeeded=true
