#!/usr/bin/python3
"""Starts and stops the real servers the integration tests talk to, as ordinary processes
on free loopback ports with their data in folders of their own (no systemd, no root
services, nothing left running afterwards).

    test_servers.py up --dir ROOT KIND...   start each KIND in ROOT/KIND; write ROOT/servers.env
    test_servers.py down --dir ROOT         stop everything under ROOT
    test_servers.py start KIND --dir DIR    start one server in DIR (again: same port and data)
    test_servers.py stop --dir DIR [--kill] stop it cleanly (or SIGKILL), keeping port and data

Kinds and their URLs (printed by start, and kept in DIR/url):
    amqp      Debian's rabbitmq-server        amqp://guest:guest@127.0.0.1:PORT/
    amqps     the same, TLS only              amqps://guest:guest@localhost:PORT/
              (its certificate, for DNS name localhost only, is signed by DIR/ca.pem)
    postgres  Debian's postgresql (initdb)     postgresql://video2mp3:PASSWORD@127.0.0.1:PORT/video2mp3
    congodb   CongoDB (scripts/install-congodb) mongodb://127.0.0.1:PORT/video2mp3
    smtp      tests/support/smtp_sink.py       smtp://127.0.0.1:PORT (messages in DIR/mail)

`up` and `start` also take --host ADDR (an IPv4 address of this machine, 127.0.0.1 by
default; `start` again keeps the address of the first start): each server then listens on
ADDR, on a port free there, and the URLs name ADDR; PostgreSQL then also accepts password
logins from other hosts. tests/deploy/multihost_test.sh uses it inside
a network namespace of its own, where 127.0.0.1 must still be up: RabbitMQ's node is
NAME@localhost and registers with an epmd of that namespace.

PostgreSQL refuses to run as root, so as root its cluster belongs to the `postgres` user
and lives under /tmp (which that user can reach whatever the checkout's permissions).
"""

import argparse
import ipaddress
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
RABBITMQ_SERVER = pathlib.Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
START_TIMEOUT_S = 90
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def ipv4_address(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def read(path: pathlib.Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return default


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent's wait is missing.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def group_alive(pgid: int, count_zombies: bool = False) -> bool:
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().split(")")[-1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if (count_zombies or fields[0] != "Z") and int(fields[2]) == pgid:
            return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_group(pgid: int, kill: bool, timeout_s: float = 30) -> None:
    """SIGTERM (or SIGKILL) a process group and wait until none of it is left."""
    signal_group(pgid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while group_alive(pgid):
        if time.monotonic() > deadline:
            signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.05)
    # Until their parent reaps them, dead processes keep their ids, and a server that
    # checks its old pid file (PostgreSQL) would take them for a running copy of itself.
    deadline = time.monotonic() + 5
    while group_alive(pgid, count_zombies=True) and time.monotonic() < deadline:
        time.sleep(0.05)


def spawn(argv, log: pathlib.Path, env=None, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    """Starts argv in a session of its own, so the whole group can be signalled."""
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, cwd=log.parent)


def wait_until(check, what: str, log: pathlib.Path, process=None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    tail = read(log)[-3000:]
    raise SystemExit(f"test_servers: {what} did not start; its log ends:\n{tail}")


def amqp_answers(port: int, host: str = LOOPBACK) -> bool:
    """True when an AMQP 0-9-1 broker answers the protocol header with connection.start."""
    try:
        with socket.create_connection((host, port), timeout=1) as connection:
            connection.sendall(b"AMQP\x00\x00\x09\x01")
            first = connection.recv(7)
            return len(first) == 7 and first[0] == 1
    except OSError:
        return False


def port_listens(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# ---- RabbitMQ -------------------------------------------------------------------------

def make_certificates(directory: pathlib.Path) -> None:
    """A throwaway CA (ca.pem) and a certificate for DNS name localhost signed by it
    (server.pem, server.key), valid for two days."""
    if (directory / "server.pem").exists():
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "cwd": directory}
    subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
                    "-subj", "/CN=video2mp3 test CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], **quiet)
    subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", "server.key", "-out",
                    "server.pem", "-subj", "/CN=localhost", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-addext", "subjectAltName=DNS:localhost",
                    "-addext", "basicConstraints=CA:FALSE",
                    "-addext", "extendedKeyUsage=serverAuth"], **quiet)


def amqps_answers(port: int, host: str, ca: pathlib.Path) -> bool:
    """True when a TLS handshake trusting `ca` succeeds and AMQP's connection.start follows."""
    import ssl
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection((host, port), timeout=1) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as connection:
                connection.sendall(b"AMQP\x00\x00\x09\x01")
                first = connection.recv(7)
                return len(first) == 7 and first[0] == 1
    except OSError:
        return False


def start_amqp(directory: pathlib.Path, port: int, host: str, tls: bool = False) -> str:
    dist_port = int(read(directory / "dist_port", "0")) or free_port(host)
    (directory / "dist_port").write_text(str(dist_port))
    (directory / "enabled_plugins").write_text("[].\n")
    if tls:
        make_certificates(directory)
        listeners = ("listeners.tcp = none\n"
                     f"listeners.ssl.default = {host}:{port}\n"
                     f"ssl_options.cacertfile = {directory / 'ca.pem'}\n"
                     f"ssl_options.certfile = {directory / 'server.pem'}\n"
                     f"ssl_options.keyfile = {directory / 'server.key'}\n"
                     "ssl_options.verify = verify_none\n"
                     "ssl_options.fail_if_no_peer_cert = false\n")
    else:
        listeners = f"listeners.tcp.default = {host}:{port}\n"
    (directory / "rabbitmq.conf").write_text(
        "loopback_users = none\n"
        + listeners +
        "disk_free_limit.absolute = 50MB\n"
        # Longer than any conversion the tests run; see docs for production values.
        "consumer_timeout = 3600000\n")
    # One epmd for every node on the machine, outside any node's process group, so
    # stopping one broker never takes the name service from another.
    subprocess.run(["epmd", "-daemon"], check=False, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ)
    env.update({
        "HOME": str(directory),
        "RABBITMQ_NODENAME": f"video2mp3-test-{port}@localhost",
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
        "RABBITMQ_LOG_BASE": str(directory / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
        "RABBITMQ_LOGS": str(directory / "rabbit.log"),
    })
    if not tls:
        env.update({"RABBITMQ_NODE_PORT": str(port), "RABBITMQ_NODE_IP_ADDRESS": host})
    process = spawn([str(RABBITMQ_SERVER)], directory / "server.log", env)
    (directory / "pgid").write_text(str(process.pid))
    if tls:
        answers = lambda: amqps_answers(port, host, directory / "ca.pem")  # noqa: E731
    else:
        answers = lambda: amqp_answers(port, host)  # noqa: E731
    wait_until(answers, "rabbitmq-server", directory / "server.log", process)
    (directory / "leaderless").unlink(missing_ok=True)
    if (directory / "started").exists():
        nudge_quorum_queues(directory, port)
    (directory / "started").write_text("yes\n")
    if tls:
        return f"amqps://guest:guest@localhost:{port}/"
    return f"amqp://guest:guest@{host}:{port}/"


# RabbitMQ 3.10 (Ra 2.x) sometimes brings a single-member quorum queue back from a kill -9
# as a follower that never calls an election, so the queue has no leader and takes nothing
# (rabbitmq-server issue 10070). Seen here, such a queue had also forgotten the messages it
# had confirmed before the kill: the broker lost them, not the client. After a restart the
# harness waits up to 5 s for every quorum queue to lead, writes the names of those that do
# not to DIR/leaderless (so a test can tell the broker's amnesia from a client's loss), and
# triggers an election in every quorum queue. The README's operations notes give the same
# command for a production broker.
NUDGE = (
    "Qs = [Q || Q <- rabbit_amqqueue:list(), amqqueue:get_type(Q) =:= rabbit_quorum_queue], "
    "State = fun(Q) -> try element(1, sys:get_state(amqqueue:get_pid(Q), 1000)) "
    "catch _:_ -> unknown end end, "
    "Wait = fun W(0) -> ok; W(N) -> case lists:all(fun(Q) -> State(Q) =:= leader end, Qs) of "
    "true -> ok; false -> timer:sleep(250), W(N - 1) end end, "
    "Wait(20), "
    "Stuck = [binary_to_list(element(4, amqqueue:get_name(Q))) || Q <- Qs, State(Q) =/= leader], "
    "[ra:trigger_election(amqqueue:get_pid(Q)) || Q <- Qs], "
    "list_to_binary(\"leaderless:\" ++ lists:join(\" \", Stuck)).")


def nudge_quorum_queues(directory: pathlib.Path, port: int) -> None:
    cookie = read(directory / ".erlang.cookie")
    try:
        result = subprocess.run(["rabbitmqctl", "--erlang-cookie", cookie, "-n",
                                 f"video2mp3-test-{port}@localhost", "eval", NUDGE],
                                check=False, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return
    for line in result.stdout.splitlines():
        if "leaderless:" in line:
            stuck = line.split("leaderless:", 1)[1].strip().strip('">').strip()
            (directory / "leaderless").write_text(stuck + "\n" if stuck else "")


def start_amqps(directory: pathlib.Path, port: int, host: str) -> str:
    return start_amqp(directory, port, host, tls=True)


# ---- PostgreSQL -----------------------------------------------------------------------

def as_postgres(argv):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def start_postgres(directory: pathlib.Path, port: int, host: str) -> str:
    cluster = pathlib.Path(read(directory / "cluster") or tempfile.mkdtemp(prefix="v2m-pg-"))
    (directory / "cluster").write_text(str(cluster))
    password = read(directory / "password") or secrets.token_hex(12)
    (directory / "password").write_text(password)
    if os.geteuid() == 0:
        shutil.chown(cluster, "postgres", "postgres")
    data = cluster / "data"
    log = cluster / "server.log"
    fresh = not data.exists()
    if fresh:
        password_file = cluster / "pw"
        password_file.write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        subprocess.run(as_postgres([
            str(PG_BIN / "initdb"), "-D", str(data), "-U", "video2mp3", "-E", "UTF8",
            "--auth=scram-sha-256", f"--pwfile={password_file}", "--no-sync"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        password_file.unlink()
    if host != LOOPBACK:
        # initdb trusts loopback clients only; clients of another address log in by password.
        hba = data / "pg_hba.conf"
        remote = "host all all all scram-sha-256"
        if remote not in hba.read_text():
            with open(hba, "a") as conf:
                conf.write(f"{remote}\n")
    options = (f"-p {port} -k {cluster} -c listen_addresses={host} "
               "-c max_connections=200 -c shared_buffers=32MB")
    # pg_ctl returns once the server accepts connections; the postmaster stays in the
    # session started here, which `stop --kill` signals.
    subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options,
                                "-l", str(log), "-w", "-t", str(START_TIMEOUT_S), "start"]),
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, start_new_session=True)
    postmaster = int(read(data / "postmaster.pid").splitlines()[0])
    (directory / "pgid").write_text(str(os.getpgid(postmaster)))
    env = dict(os.environ, PGPASSWORD=password)
    if fresh:
        subprocess.run([str(PG_BIN / "psql"), "-h", host, "-p", str(port), "-U",
                        "video2mp3", "-d", "postgres", "-q", "-c", "CREATE DATABASE video2mp3"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    return f"postgresql://video2mp3:{password}@{host}:{port}/video2mp3"


def stop_postgres(directory: pathlib.Path, kill: bool) -> None:
    cluster = pathlib.Path(read(directory / "cluster"))
    if kill or not (cluster / "data" / "postmaster.pid").exists():
        pgid = int(read(directory / "pgid", "0"))
        if pgid > 0:
            stop_group(pgid, kill=True)
        return
    subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(cluster / "data"), "-m",
                                "fast", "-w", "stop"]),
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- CongoDB and the SMTP sink --------------------------------------------------------

# congodb_server.mjs and smtp_sink.py bind 127.0.0.1. For another address they run unchanged
# behind a preamble that turns their bind of 127.0.0.1 into a bind of that address.
NODE_LISTEN_ON = """
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
    if (args[1] === '127.0.0.1') args[1] = %s;
    return listen.apply(this, args);
};
"""

PYTHON_LISTEN_ON = """
import asyncio.base_events, runpy, sys
host = sys.argv.pop(1)
create_server = asyncio.base_events.BaseEventLoop.create_server
async def create_server_on_host(self, factory, address=None, *args, **kwargs):
    address = host if address == '127.0.0.1' else address
    return await create_server(self, factory, address, *args, **kwargs)
asyncio.base_events.BaseEventLoop.create_server = create_server_on_host
sys.argv.pop(0)
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def start_congodb(directory: pathlib.Path, port: int, host: str) -> str:
    lib = subprocess.run([str(SOURCE_DIR / "scripts" / "install-congodb")], check=True,
                         capture_output=True, text=True).stdout.strip()
    log = directory / "server.log"
    node = ["node"]
    if host != LOOPBACK:
        preamble = NODE_LISTEN_ON % repr(host)
        node += ["--import", "data:text/javascript," + urllib.parse.quote(preamble)]
    process = spawn(node + [str(SOURCE_DIR / "tests" / "support" / "congodb_server.mjs"),
                            "--lib", lib, "--port", str(port)], log)
    (directory / "pgid").write_text(str(process.pid))
    wait_until(lambda: "listening" in read(log), "CongoDB", log, process)
    return f"mongodb://{host}:{port}/video2mp3"


def start_smtp(directory: pathlib.Path, port: int, host: str) -> str:
    log = directory / "server.log"
    (directory / "mail").mkdir(exist_ok=True)
    python = ["/usr/bin/python3"]
    if host != LOOPBACK:
        python += ["-c", PYTHON_LISTEN_ON, host]
    process = spawn(python + [str(SOURCE_DIR / "tests" / "support" / "smtp_sink.py"),
                              "--port", str(port), "--dir", str(directory / "mail")], log)
    (directory / "pgid").write_text(str(process.pid))
    wait_until(lambda: port_listens(port, host), "smtp_sink.py", log, process)
    return f"smtp://{host}:{port}"


STARTERS = {"amqp": start_amqp, "amqps": start_amqps, "postgres": start_postgres,
            "congodb": start_congodb, "smtp": start_smtp}


def start(kind: str, directory: pathlib.Path, host=None) -> str:
    """Starts KIND in DIRECTORY; host None means the address of an earlier start, or loopback."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kind").write_text(kind)
    if host is not None:
        (directory / "host").write_text(host)
    host = host or read(directory / "host") or LOOPBACK
    port = int(read(directory / "port", "0")) or free_port(host)
    (directory / "port").write_text(str(port))
    url = STARTERS[kind](directory, port, host)
    (directory / "url").write_text(url)
    return url


def stop(directory: pathlib.Path, kill: bool) -> None:
    kind = read(directory / "kind")
    if kind == "postgres":
        stop_postgres(directory, kill)
        return
    pgid = int(read(directory / "pgid", "0"))
    if pgid > 0:
        stop_group(pgid, kill)


def remove(directory: pathlib.Path) -> None:
    if read(directory / "kind") == "postgres" and read(directory / "cluster"):
        shutil.rmtree(read(directory / "cluster"), ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--dir", required=True, type=pathlib.Path)
    up.add_argument("--host", type=ipv4_address,
                    help="IPv4 address to listen on (default 127.0.0.1)")
    up.add_argument("kinds", nargs="+", choices=sorted(STARTERS))
    down = sub.add_parser("down")
    down.add_argument("--dir", required=True, type=pathlib.Path)
    one = sub.add_parser("start")
    one.add_argument("kind", choices=sorted(STARTERS))
    one.add_argument("--dir", required=True, type=pathlib.Path)
    one.add_argument("--host", type=ipv4_address,
                     help="IPv4 address to listen on (default: as before, or 127.0.0.1)")
    halt = sub.add_parser("stop")
    halt.add_argument("--dir", required=True, type=pathlib.Path)
    halt.add_argument("--kill", action="store_true")
    halt.add_argument("--remove", action="store_true", help="also delete its data")
    arguments = parser.parse_args()
    arguments.dir = arguments.dir.resolve()

    if arguments.command == "up":
        root = arguments.dir
        if root.exists():  # left over from an interrupted run
            for child in root.iterdir():
                if child.is_dir():
                    stop(child, kill=True)
                    remove(child)
        root.mkdir(parents=True, exist_ok=True)
        lines = []
        for kind in arguments.kinds:
            url = start(kind, root / kind, arguments.host)
            lines.append(f"{kind}={url}")
            print(f"{kind}: {url}", flush=True)
        (root / "servers.env").write_text("\n".join(lines) + "\n")
    elif arguments.command == "down":
        root = arguments.dir
        (root / "servers.env").unlink(missing_ok=True)
        if root.exists():
            for child in root.iterdir():
                if child.is_dir():
                    stop(child, kill=False)
                    remove(child)
    elif arguments.command == "start":
        print(start(arguments.kind, arguments.dir, arguments.host), flush=True)
    elif arguments.command == "stop":
        stop(arguments.dir, arguments.kill)
        if arguments.remove:
            remove(arguments.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
