"""`make cluster-status`'s reading of HAProxy's stats and of the service processes (pure)."""

from __future__ import annotations

from deploy.cluster.layout import ClusterLayout
from deploy.cluster.services import Member, ProcessState
from deploy.cluster.stack import backend_lines, backend_states, main, process_lines, urls

# HAProxy's `GET /;csv`, its first 19 columns (a real page has more after `weight`).
HEAD = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp"
STATS = f"""# {HEAD},wretr,wredis,status,weight
pg_primary,FRONTEND,,,0,3,4096,10,0,0,0,0,0,,,,,OPEN,
pg_primary,pg1,0,0,0,2,,5,0,0,,0,,0,0,0,0,UP,1
pg_primary,pg2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1
pg_primary,BACKEND,0,0,0,2,410,5,0,0,0,0,,0,0,0,0,UP,1
publisher,publisher1,0,0,0,1,,9,0,0,,0,,0,0,0,0,UP,1
publisher,publisher2,0,0,0,1,,9,0,0,,0,,0,0,0,0,DOWN 1/2,1
"""


def test_backend_states_lists_each_server_of_each_proxy_without_summaries() -> None:
    assert backend_states(STATS) == {
        "pg_primary/pg1": "UP",
        "pg_primary/pg2": "DOWN",
        "publisher/publisher1": "UP",
        "publisher/publisher2": "DOWN",
    }
    lines = backend_lines(backend_states(STATS))
    assert len(lines) == 4 and lines[0].split() == ["pg_primary/pg1", "UP"]
    assert backend_lines(None) == ["  haproxy's stats page does not answer"]


def test_process_lines_say_up_with_pid_not_ready_or_down() -> None:
    lines = process_lines(
        [
            ProcessState(Member("feed", 1), 812, True),
            ProcessState(Member("feed", 2), 813, False),
            ProcessState(Member("push", 1), None, False),
        ]
    )
    assert [line.split(None, 1)[1] for line in lines] == [
        "up (pid 812)",
        "up (pid 813), not ready",
        "down",
    ]


def test_start_prints_the_fronts_and_both_database_ports() -> None:
    text = "\n".join(urls(ClusterLayout(42000)))
    for port in (42080, 42081, 42082, 42052, 42050, 42051):
        assert f"127.0.0.1:{port}" in text


def test_an_unknown_command_is_refused_with_the_usage() -> None:
    assert main(["stack", "restart"]) == 2
