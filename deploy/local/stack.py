"""The local stack: a real single-node Kafka (KRaft) and a private Postgres under `.local/`.

Usage: python -m deploy.local.stack {start,stop,status,env,psql,with-stack CMD...}

`start` is idempotent: servers already running (pid alive, port answering) are reused,
so several test runs and `make run` can share one stack. `stop` ends only the processes
whose pid files live under `.local/`, checks that they are gone and exits non-zero when
one survived.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
DEPLOY = ROOT / "deploy" / "local"
JARS = DEPLOY / "target" / "dependency"

KAFKA_PORT = int(os.environ.get("HERALD_LOCAL_KAFKA_PORT", "19092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("HERALD_LOCAL_KAFKA_CONTROLLER_PORT", "19093"))
PG_PORT = int(os.environ.get("HERALD_LOCAL_PG_PORT", "15432"))
PG_DATABASE = "herald"
PG_USER = "herald"
# Kafka with a 512 MiB heap starts in a few seconds; these bound a sick start.
KAFKA_START_TIMEOUT_S = 90.0
PG_START_TIMEOUT_S = 60


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process still runs (a zombie does not count)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    # A server this process started and that has exited stays a zombie until reaped;
    # reap it here, or a finished shutdown would look like a hung one.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return None
    except ChildProcessError:
        pass
    return pid


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, finished but not reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another account
    try:
        # /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: the signal check is all there is
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def stop_pid(pid_file: Path, name: str, timeout_s: float = 30.0) -> None:
    """Stop the process of `pid_file` (SIGTERM, then SIGKILL); SystemExit if it survives."""
    pid = pid_alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return
    log(f"stopping {name} (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pid_alive(pid_file) is None:
            break
        time.sleep(0.2)
    else:
        log(f"{name} ignored SIGTERM for {timeout_s:.0f}s; killing it")
        os.kill(pid, signal.SIGKILL)
        if pid_alive(pid_file) is not None and not wait_gone(pid, 10.0):
            raise SystemExit(f"{name} (pid {pid}) still runs after SIGKILL")
    pid_file.unlink(missing_ok=True)


# ---------------------------------------------------------------- Kafka


@dataclass(frozen=True)
class KafkaPaths:
    home: Path = LOCAL / "kafka"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return DEPLOY / "log4j2.yaml"

    @property
    def pid(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log(self) -> Path:
        return self.home / "broker.log"


def kafka_properties(paths: KafkaPaths) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{KAFKA_CONTROLLER_PORT}",
            f"listeners=PLAINTEXT://127.0.0.1:{KAFKA_PORT},"
            f"CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{KAFKA_PORT}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={paths.data}",
            "num.partitions=1",
            # Topics are created explicitly by Herald; a typo must fail, not create a topic.
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.cleaner.dedupe.buffer.size=16777216",
            "log.retention.check.interval.ms=60000",
            "",
        ]
    )


def kafka_java_cmd(main: str, *args: str, heap: str = "512m") -> list[str]:
    """The java command for a Kafka main class; `heap` sizes the JVM (cluster mode runs
    three brokers on the same machine, each with a smaller one)."""
    java = shutil.which("java") or "java"
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        # Keep logging through shutdown, so a slow stop shows where it waits.
        "-Dlog4j2.shutdownHookEnabled=false",
        f"-Dlog4j2.configurationFile={KafkaPaths().log4j}",
        f"-Dkafka.logs.dir={KafkaPaths().home}",
        "-cp",
        f"{JARS}/*",
        main,
        *args,
    ]


async def kafka_answers_metadata(timeout_s: float) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(KAFKA_PORT):
            admin = AIOKafkaAdminClient(
                bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", request_timeout_ms=5000
            )
            try:
                await admin.start()
                await admin.list_topics()
                return True
            except Exception:
                pass
            finally:
                await admin.close()
        await asyncio.sleep(0.5)
    return False


def new_kafka_cluster_id() -> str:
    """A random KRaft cluster id (16 bytes, base64url) that does not start with `-`: the
    storage tool's argument parser would take such an id for an option and refuse to
    format (one id in 64 would). Kafka's own `Uuid.randomUuid` avoids them the same way."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start_kafka() -> bool:
    """Start the broker unless it already runs; True when this call started it."""
    paths = KafkaPaths()
    if pid_alive(paths.pid) and asyncio.run(kafka_answers_metadata(5)):
        log(f"kafka already running on 127.0.0.1:{KAFKA_PORT}")
        return False
    if port_open(KAFKA_PORT):
        raise SystemExit(
            f"port {KAFKA_PORT} is taken by another process; set HERALD_LOCAL_KAFKA_PORT"
        )
    if not JARS.is_dir():
        raise SystemExit("kafka jars missing: run `make bootstrap` first")
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(kafka_properties(paths))
    if not (paths.data / "meta.properties").exists():
        cluster_id = new_kafka_cluster_id()
        subprocess.run(
            kafka_java_cmd(
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(paths.config)
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    started = time.monotonic()
    with paths.log.open("ab") as out:
        proc = subprocess.Popen(
            kafka_java_cmd("kafka.Kafka", str(paths.config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    paths.pid.write_text(str(proc.pid))
    if not asyncio.run(kafka_answers_metadata(KAFKA_START_TIMEOUT_S)):
        stop_pid(paths.pid, "kafka")
        raise SystemExit(f"kafka did not answer within {KAFKA_START_TIMEOUT_S}s; see {paths.log}")
    log(f"kafka ready on 127.0.0.1:{KAFKA_PORT} in {time.monotonic() - started:.1f}s")
    return True


def stop_kafka() -> None:
    stop_pid(KafkaPaths().pid, "kafka")


# ---------------------------------------------------------------- Postgres


def pg_bindir() -> Path:
    """The newest installed PostgreSQL server binaries (Debian layout first)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise SystemExit("PostgreSQL server binaries not found: run `make bootstrap`")


def pg_run_as() -> list[str]:
    """initdb and postgres refuse to run as root: use the `postgres` account then."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


PG_LINK = LOCAL / "pg"
# A fast shutdown ends the sessions at once; this bounds the checkpoint that follows.
PG_STOP_TIMEOUT_S = 60


def pg_home() -> Path:
    """Where the cluster lives. As root it sits outside the checkout (whose parents the
    `postgres` account may not be able to traverse) and `.local/pg` links to it.

    Every path handed to `initdb`/`pg_ctl` must come from here or `pg_data()`, i.e. with
    the link resolved: through the link it fails for the `postgres` account whenever a
    parent of the checkout is private (a clone in root's home)."""
    link = PG_LINK
    if os.geteuid() != 0:
        link.mkdir(parents=True, exist_ok=True)
        return link
    if link.is_symlink():
        return link.resolve()
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    home = Path("/var/tmp") / f"herald-pg-{digest}"
    home.mkdir(parents=True, exist_ok=True)
    pw = pwd.getpwnam("postgres")
    os.chown(home, pw.pw_uid, pw.pw_gid)
    LOCAL.mkdir(parents=True, exist_ok=True)
    if link.exists():
        shutil.rmtree(link)
    link.symlink_to(home)
    return home


def pg_conf() -> str:
    return "\n".join(
        [
            f"port = {PG_PORT}",
            "listen_addresses = '127.0.0.1'",
            "max_connections = 300",
            "shared_buffers = 256MB",
            "work_mem = 16MB",
            "maintenance_work_mem = 128MB",
            "max_wal_size = 2GB",
            "wal_level = replica",
            "max_locks_per_transaction = 256",
            "log_min_messages = warning",
            "",
        ]
    )


def pg_ready() -> bool:
    result = subprocess.run(
        [str(pg_bindir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-q"],
        check=False,
    )
    return result.returncode == 0


def start_postgres() -> bool:
    """Start the cluster unless it already runs; True when this call started it."""
    home = pg_home()
    data = home / "data"
    if pg_ready():
        log(f"postgres already running on 127.0.0.1:{PG_PORT}")
        ensure_database()
        return False
    bindir = pg_bindir()
    run_as = pg_run_as()
    if not (data / "PG_VERSION").exists():
        log(f"initdb {data}")
        subprocess.run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            # Run where the `postgres` account may enter (not the caller's directory).
            cwd=home,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# herald local stack\n" + pg_conf())
    socket_dir = home / "run"
    socket_dir.mkdir(exist_ok=True)
    if run_as:
        pw = pwd.getpwnam("postgres")
        os.chown(socket_dir, pw.pw_uid, pw.pw_gid)
    started = time.monotonic()
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(home / "postgres.log"),
            "-o",
            f"-p {PG_PORT} -k {socket_dir}",
            "-w",
            "-t",
            str(PG_START_TIMEOUT_S),
            "start",
        ],
        cwd=home,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    log(f"postgres ready on 127.0.0.1:{PG_PORT} in {time.monotonic() - started:.1f}s")
    ensure_database()
    return True


def psql_cmd(database: str = "postgres") -> list[str]:
    return [
        str(pg_bindir() / "psql"),
        "-h",
        "127.0.0.1",
        "-p",
        str(PG_PORT),
        "-U",
        PG_USER,
        "-d",
        database,
    ]


def ensure_database() -> None:
    exists = subprocess.run(
        [*psql_cmd(), "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run([*psql_cmd(), "-qc", f"CREATE DATABASE {PG_DATABASE}"], check=True)


def pg_data() -> Path:
    """The cluster's data directory, `.local/pg` resolved (see `pg_home`); creates nothing."""
    return PG_LINK.resolve() / "data"


def postmaster_pid(data: Path) -> int | None:
    """The pid of the cluster's postmaster if it runs (first line of `postmaster.pid`)."""
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None
    return pid if process_running(pid) else None


def stop_postgres() -> None:
    """Stop the cluster (fast shutdown) and check that its postmaster is gone: SystemExit
    when it still runs, so a stop that did not happen is never taken for one."""
    data = pg_data()
    pid = postmaster_pid(data)
    if pid is None:
        return
    log(f"stopping postgres (pid {pid})")
    result = subprocess.run(
        [
            *pg_run_as(),
            str(pg_bindir() / "pg_ctl"),
            "-D",
            str(data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(PG_STOP_TIMEOUT_S),
            "stop",
        ],
        cwd=data.parent,
        check=False,
        capture_output=True,
        text=True,
    )
    # pg_ctl returns once postmaster.pid is gone; the process itself may take a moment more.
    if not wait_gone(pid, 10.0):
        raise SystemExit(
            f"postgres (pid {pid}) still runs after `pg_ctl stop` "
            f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
        )


# ---------------------------------------------------------------- commands


def env_lines() -> list[str]:
    return [
        f"HERALD_KAFKA_BOOTSTRAP=127.0.0.1:{KAFKA_PORT}",
        f"HERALD_DATABASE_URL=postgresql://{PG_USER}@127.0.0.1:{PG_PORT}/{PG_DATABASE}",
    ]


def with_stack(command: list[str]) -> int:
    """Run `command` with the stack up; stop afterwards only what this call started,
    so a stack that `make run` (or another test run) holds keeps running."""
    started_pg = start_postgres()
    started_kafka = start_kafka()
    env = {**os.environ, **dict(line.split("=", 1) for line in env_lines())}
    try:
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        if started_kafka:
            stop_kafka()
        if started_pg:
            stop_postgres()


def stop_all() -> int:
    """Stop both servers, each even when the other one would not stop; 1 if one survived."""
    failed = False
    for stop in (stop_kafka, stop_postgres):
        try:
            stop()
        except SystemExit as exc:
            log(f"error: {exc}")
            failed = True
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "with-stack":
        return with_stack(argv[2:])
    if command == "start":
        start_postgres()
        start_kafka()
    elif command == "start-postgres":
        start_postgres()
    elif command == "start-kafka":
        start_kafka()
    elif command == "stop":
        return stop_all()
    elif command == "stop-postgres":
        stop_postgres()
    elif command == "stop-kafka":
        stop_kafka()
    elif command == "status":
        log(f"kafka: {'up' if port_open(KAFKA_PORT) else 'down'} (127.0.0.1:{KAFKA_PORT})")
        log(f"postgres: {'up' if port_open(PG_PORT) else 'down'} (127.0.0.1:{PG_PORT})")
    elif command == "env":
        print("\n".join(env_lines()))
    elif command == "psql":
        os.execv(psql_cmd(PG_DATABASE)[0], psql_cmd(PG_DATABASE))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
