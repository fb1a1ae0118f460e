"""The `herald` CLI against a real publisher and feed: each command's effect seen through
the APIs, `--json` answers parsed, and the exit codes scripts rely on (1 with the API's
problem detail on a 4xx). The CLI runs in-process (typer's runner) and once as the
installed console script."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from cli.main import app
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth, token_for


class Herald:
    """Runs `herald` as one account against the session's publisher and feed."""

    def __init__(self, env: dict[str, str], token: str) -> None:
        self.env = {**env, "HERALD_TOKEN": token}
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def stack_env(
    publisher: ServiceProcess, feed: ServiceProcess, tmp_path: Path
) -> Iterator[dict[str, str]]:
    yield {
        "HERALD_PUBLISHER_URL": publisher.base_url,
        "HERALD_FEED_URL": feed.base_url,
        # Nobody's real config file: the environment is the whole configuration.
        "XDG_CONFIG_HOME": str(tmp_path),
    }


def _account(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _herald(env: dict[str, str], account: str, operator: bool = False) -> Herald:
    claims: dict[str, object] = {"roles": ["herald-operator"]} if operator else {}
    return Herald(env, token_for(account, 3600, **claims))


def _create(herald: Herald, *extra: str) -> dict[str, Any]:
    handle = f"cli_{uuid.uuid4().hex[:12]}"
    channel: dict[str, Any] = herald.json(
        "channels",
        "create",
        "--handle",
        handle,
        "--name",
        "County Health",
        "--category",
        "health",
        "--country",
        "KE",
        "--language",
        "en",
        "--description",
        "Clinic hours and outbreaks",
        *extra,
    )
    assert channel["handle"] == handle
    return channel


def test_channels_create_show_edit_list(stack_env: dict[str, str], feed: ServiceProcess) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel = _create(owner, "--retention-days", "14")
    channel_id = channel["channel_id"]
    assert channel["your_role"] == "owner"
    assert channel["settings"]["retention_days"] == 14

    shown = owner("channels", "show", f"@{channel['handle']}")
    assert "County Health" in shown.stdout
    assert channel_id in shown.stdout

    edited = owner.json(
        "channels", "edit", channel_id, "--name", "Kisumu Health", "--retention-days", "7"
    )
    assert edited["name"] == "Kisumu Health"
    assert edited["settings"]["retention_days"] == 7
    # Settings the edit did not name stay as they were.
    assert {**edited["settings"], "retention_days": 14} == channel["settings"]
    card = httpx.get(f"{feed.base_url}/v1/channels/{channel_id}").json()
    assert card["name"] == "Kisumu Health"

    listed = owner.json("channels", "list", "--q", "Kisumu", "--limit", "100")
    assert channel_id in {item["channel_id"] for item in listed["items"]}
    people = owner("channels", "list", "--q", "Kisumu")
    assert channel["handle"] in people.stdout


def test_channels_visibility(stack_env: dict[str, str]) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel = _create(owner, "--retention-days", "7")
    channel_id = channel["channel_id"]
    assert channel["settings"]["visibility"] == "public"
    listed = owner.json("channels", "list", "--q", "County", "--limit", "100")
    assert channel_id in {item["channel_id"] for item in listed["items"]}

    unlisted = owner.json("channels", "edit", channel_id, "--visibility", "unlisted")
    assert unlisted["settings"]["visibility"] == "unlisted"
    assert unlisted["settings"]["retention_days"] == 7
    listed = owner.json("channels", "list", "--q", "County", "--limit", "100")
    assert channel_id not in {item["channel_id"] for item in listed["items"]}


def test_a_refused_request_exits_1_with_the_problem_detail(stack_env: dict[str, str]) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel_id = _create(owner)["channel_id"]
    stranger = _herald(stack_env, _account("stranger"))

    refused = stranger("post", channel_id, "not my channel", code=1)
    assert "no such channel" in refused.stderr
    assert "HTTP 404" in refused.stderr
    problem = json.loads(stranger("post", channel_id, "again", "--json", code=1).stdout)
    assert problem["status"] == 404
    assert problem["detail"] == "no such channel"

    taken = _herald(stack_env, _account("other"))
    handle = owner.json("channels", "show", channel_id)["handle"]
    duplicate = taken(
        "channels", "create", "--handle", handle, "--name", "Impostor",
        "--category", "health", "--country", "KE", "--language", "en",
        code=1,
    )  # fmt: skip
    assert f"the handle '{handle}' is taken" in duplicate.stderr


def _png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_post_text_photo_poll_scheduled_silent_and_alert(
    stack_env: dict[str, str], publisher: ServiceProcess, tmp_path: Path
) -> None:
    owner_id = _account("owner")
    owner = _herald(stack_env, owner_id)
    channel_id = _create(owner)["channel_id"]

    text = owner.json("post", channel_id, "Clinics open at 8")
    assert text["status"] == "accepted"
    photo = owner.json(
        "post", channel_id, "The new clinic", "--photo", str(_png(tmp_path / "c.png"))
    )
    assert photo["status"] == "accepted"
    poll = owner.json(
        "post", channel_id, "--poll", "Which day suits you?",
        "--option", "Monday", "--option", "Tuesday", "--option", "Friday", "--multiple",
    )  # fmt: skip
    assert poll["status"] == "accepted"
    silent = owner.json("post", channel_id, "Quiet update", "--silent")
    assert silent["status"] == "accepted"
    human = owner("post", channel_id, "For people")
    assert human.stdout.startswith("accepted ")

    with httpx.Client(base_url=publisher.base_url, headers=auth(owner_id)) as api:
        for post in (text, photo, poll, silent):
            status = api.get(f"/v1/channels/{channel_id}/posts/{post['post_id']}")
            assert status.status_code == 200, status.text

        at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
        scheduled = owner.json("post", channel_id, "Vaccination day", "--at", at.isoformat())
        assert scheduled["status"] == "scheduled"
        relative = owner.json("post", channel_id, "In a while", "--at", "+1d")
        assert relative["status"] == "scheduled"
        listed = api.get(f"/v1/channels/{channel_id}/scheduled").json()
        times = {str(item["post_id"]): item["publish_at"] for item in listed["items"]}
        assert datetime.fromisoformat(times[scheduled["post_id"]]) == at
        assert relative["post_id"] in times

    too_soon = owner("post", channel_id, "now-ish", "--at", "+10s", code=1)
    assert "publish_at" in too_soon.stderr

    # Alerts need an operator's grant: refused (403) until then.
    refused = owner("post", channel_id, "Outbreak!", "--alert", code=1)
    assert "HTTP 403" in refused.stderr
    operator = _herald(stack_env, _account("op"), operator=True)
    granted = operator.json("operator", "alerts", channel_id)
    assert granted == {"channel_id": channel_id, "alerts": True}
    alert = owner.json("post", channel_id, "Outbreak!", "--alert")
    assert alert["status"] == "accepted"


def test_invites_create_list_revoke(stack_env: dict[str, str]) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel_id = _create(owner, "--visibility", "invite")["channel_id"]

    invite = owner.json("invites", "create", channel_id, "--expires-in", "2h", "--max-uses", "5")
    assert len(invite["code"]) >= 22  # ≥ 128 bits, base64url
    assert invite["max_uses"] == 5
    expires_at = datetime.fromisoformat(invite["expires_at"])
    assert timedelta(hours=1, minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=2)
    human = owner("invites", "create", channel_id)
    assert "shown this once" in human.stdout

    listed = owner.json("invites", "list", channel_id)
    mine = next(item for item in listed["items"] if item["invite_id"] == invite["invite_id"])
    assert mine["revoked"] is False
    assert "code" not in mine
    assert len(listed["items"]) == 2

    revoked = owner.json("invites", "revoke", channel_id, invite["invite_id"])
    assert revoked["revoked"] is True
    listed = owner.json("invites", "list", channel_id)
    mine = next(item for item in listed["items"] if item["invite_id"] == invite["invite_id"])
    assert mine["revoked"] is True

    unknown = owner("invites", "revoke", channel_id, str(uuid.uuid4()), code=1)
    assert "no such invite" in unknown.stderr
    stranger = _herald(stack_env, _account("stranger"))
    assert "no such channel" in stranger("invites", "list", channel_id, code=1).stderr


def test_insights_and_deletion_report(stack_env: dict[str, str]) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel_id = _create(owner)["channel_id"]
    numbers = owner.json("insights", channel_id)
    assert numbers["followers"] == 0
    assert numbers["posts"] == []
    assert "followers" in owner("insights", channel_id).stdout

    missing = owner("deletion-report", channel_id, "--post", str(uuid.uuid4()), code=1)
    assert "no deletion is recorded" in missing.stderr
    day = owner("deletion-report", channel_id, "--day", "2026-01-01", "--json", code=1)
    assert json.loads(day.stdout)["type"].endswith("not-recorded")
    operator = _herald(stack_env, _account("op"), operator=True)
    assert (
        "no deletion is recorded"
        in operator("operator", "deletion-report", channel_id, code=1).stderr
    )


async def test_deletion_reports_read_from_the_ledger(
    stack_env: dict[str, str], db: asyncpg.Pool
) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel_id = _create(owner)["channel_id"]
    # Ledger rows as fan-out (a delete for everyone) and retention (an expired day) write
    # them; their own tests cover the writing.
    post_id = uuid.uuid4()
    await db.execute(
        "SELECT herald_ledger_post_deleted($1, $2, $3, $4)",
        [uuid.UUID(channel_id)],
        [post_id],
        [1],
        [2],
    )
    await db.execute(
        """INSERT INTO deletion_ledger (channel_id, day, rows_dropped, partitions_dropped,
                                        media_removed, keys_destroyed)
           VALUES ($1, '2026-03-14', 40, 3, 2, 10)""",
        uuid.UUID(channel_id),
    )
    by_post = owner.json("deletion-report", channel_id, "--post", str(post_id))
    assert (by_post["rows_dropped"], by_post["keys_destroyed"]) == (1, 2)
    by_day = owner.json("deletion-report", channel_id, "--day", "2026-03-14")
    assert (by_day["rows_dropped"], by_day["partitions_dropped"]) == (40, 3)
    assert (by_day["media_removed"], by_day["keys_destroyed"]) == (2, 10)
    assert "keys_destroyed" in owner("deletion-report", channel_id, "--day", "2026-03-14").stdout
    operator = _herald(stack_env, _account("op"), operator=True)
    summed = operator.json("operator", "deletion-report", channel_id)
    assert (summed["rows_dropped"], summed["keys_destroyed"]) == (41, 12)
    # Only the owner reads the channel's report: an operator is told the channel is not theirs.
    assert (
        "HTTP 404" in operator("deletion-report", channel_id, "--day", "2026-03-14", code=1).stderr
    )


def test_operator_verify_suspend_restore_audit(
    stack_env: dict[str, str], feed: ServiceProcess
) -> None:
    owner = _herald(stack_env, _account("owner"))
    channel = _create(owner)
    channel_id = channel["channel_id"]
    operator = _herald(stack_env, _account("op"), operator=True)
    card_url = f"{feed.base_url}/v1/channels/{channel_id}"

    # Not an operator: the operator API does not exist for them.
    assert "HTTP 404" in owner("operator", "verify", channel_id, code=1).stderr
    assert httpx.get(card_url).json()["verified"] is False

    assert operator("operator", "verify", f"@{channel['handle']}").exit_code == 0
    assert httpx.get(card_url).json()["verified"] is True
    assert operator.json("operator", "unverify", channel_id)["verified"] is False
    assert httpx.get(card_url).json()["verified"] is False

    suspended = operator.json("operator", "suspend", channel_id, "--reason", "impersonation")
    assert suspended == {"channel_id": channel_id, "status": "suspended", "reason": "impersonation"}
    assert httpx.get(card_url).status_code == 404
    view = owner.json("channels", "show", channel_id)
    assert view["status"] == "suspended"
    assert view["suspension"]["reason"] == "impersonation"
    assert "impersonation" in owner("channels", "show", channel_id).stdout

    # The owner appeals; the operator sees it and restores the channel.
    appeal = owner.json("channels", "appeal", channel_id, "--text", "We are the real one")
    assert appeal["status"] == "open"
    second = owner("channels", "appeal", channel_id, "--text", "Again", code=1)
    assert "appealed already" in second.stderr
    appeals = operator.json("operator", "appeals")["appeals"]
    mine = next(item for item in appeals if item["appeal_id"] == appeal["appeal_id"])
    assert mine["text"] == "We are the real one"
    assert mine["reason"] == "impersonation"
    operator("operator", "decide", appeal["appeal_id"], "--decision", "restore")
    assert httpx.get(card_url).status_code == 200
    assert owner.json("channels", "show", channel_id)["status"] == "active"

    operator("operator", "suspend", channel_id, "--reason", "spam")
    assert httpx.get(card_url).status_code == 404
    operator("operator", "restore", channel_id)
    assert httpx.get(card_url).status_code == 200
    assert owner.json("channels", "show", channel_id)["status"] == "active"

    audit = operator.json("operator", "audit", channel_id)
    actions = [entry["action"] for entry in audit["entries"]]
    # Newest first; the suspensions with their reasons, the appeal and its decision.
    assert {"suspended", "restored", "appeal.filed", "appeal.restored"} <= set(actions)
    assert actions.index("restored") < actions.index("appeal.restored")
    reasons = [e["details"].get("reason") for e in audit["entries"] if e["action"] == "suspended"]
    assert reasons == ["spam", "impersonation"]
    # Operators are named by role only.
    assert all(e["actor_id"] is None for e in audit["entries"] if e["actor_role"] == "operator")
    assert "operator" in operator("operator", "audit", channel_id).stdout
    assert "HTTP 404" in owner("operator", "audit", channel_id, code=1).stderr
    # The owner reads the same log of their own channel.
    own = owner.json("channels", "audit", channel_id)
    assert [entry["action"] for entry in own["entries"]] == actions


def test_operator_reports_and_resolve(stack_env: dict[str, str], feed: ServiceProcess) -> None:
    channel_id = _create(_herald(stack_env, _account("owner")))["channel_id"]
    operator = _herald(stack_env, _account("op"), operator=True)
    # A report filed on the feed shows in the operator's list, grouped, until resolved.
    for reason in ("scam", "scam", "spam"):
        filed = httpx.post(
            f"{feed.base_url}/v1/reports",
            json={"channel_id": channel_id, "reason": reason},
            headers=auth(_account("reporter")),
        )
        assert filed.status_code == 202, filed.text
    reports = operator.json("operator", "reports", "--limit", "100")
    target = next(item for item in reports["items"] if item["channel_id"] == channel_id)
    assert target["count"] == 3
    assert target["reasons"] == {"scam": 2, "spam": 1}
    human = operator("operator", "reports").stdout
    assert "scam=2" in human
    assert "spam=1" in human
    assert "HTTP 404" in _herald(stack_env, _account("x"))("operator", "reports", code=1).stderr
    resolved = operator.json("operator", "resolve", channel_id, "--resolution", "dismissed")
    assert resolved["count"] == 3
    reports = operator.json("operator", "reports", "--limit", "100")
    assert channel_id not in {item["channel_id"] for item in reports["items"]}


def test_the_installed_console_script(stack_env: dict[str, str]) -> None:
    owner_id = _account("owner")
    channel_id = _create(_herald(stack_env, owner_id))["channel_id"]
    herald = Path(sys.executable).parent / "herald"
    env = {**stack_env, "HERALD_TOKEN": token_for(owner_id), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(herald), "channels", "show", channel_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["channel_id"] == channel_id
    refused = subprocess.run(
        [str(herald), "channels", "show", channel_id],
        env={**env, "HERALD_TOKEN": token_for(_account("stranger"))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "herald: no such channel (HTTP 404)" in refused.stderr
