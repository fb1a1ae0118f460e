"""The CLI's argument parsing, without I/O: `--at` times, durations, channel references,
post bodies, and that a wrong command line exits 2 before any request is made."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import config
from cli.args import UsageError, channel_ref, parse_at, parse_duration_s, post_body
from cli.main import app

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ahead"),
    [
        ("+90s", timedelta(seconds=90)),
        ("+15m", timedelta(minutes=15)),
        ("+2h", timedelta(hours=2)),
        ("+1d", timedelta(days=1)),
        ("+120", timedelta(seconds=120)),
    ],
)
def test_relative_at_counts_from_now(text: str, ahead: timedelta) -> None:
    assert parse_at(text, now=NOW) == NOW + ahead


def test_iso_at_keeps_its_offset() -> None:
    assert parse_at("2026-12-03T18:00:00Z") == datetime(2026, 12, 3, 18, tzinfo=UTC)
    at = parse_at("2026-12-03 18:00+01:00")
    assert at == datetime(2026, 12, 3, 17, tzinfo=UTC)
    assert at.utcoffset() == timedelta(hours=1)


def test_iso_at_without_offset_is_local_time() -> None:
    at = parse_at("2026-12-03T18:00")
    assert at.tzinfo is not None
    assert at.replace(tzinfo=None) == datetime(2026, 12, 3, 18)
    assert at == datetime(2026, 12, 3, 18).astimezone()


@pytest.mark.parametrize("text", ["tomorrow", "+", "+5y", "+-5m", "2026-13-01T00:00Z", ""])
def test_bad_at_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_at(text, now=NOW)


@pytest.mark.parametrize(("text", "seconds"), [("3600", 3600), ("12h", 43200), ("7D", 604800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


def test_channel_ref_is_an_id_or_a_handle() -> None:
    channel_id = uuid.uuid4()
    assert channel_ref(str(channel_id)) == channel_id
    assert channel_ref("@Health_KE") == "health_ke"
    with pytest.raises(UsageError):
        channel_ref("no spaces/or slashes")


def test_text_post() -> None:
    assert post_body("hello") == {"type": "text", "text": "hello"}


def test_photo_post_takes_the_text_as_caption() -> None:
    body = post_body("look", has_photo=True, photo_media_id="m-1")
    assert body == {"type": "photo", "media_id": "m-1", "caption": "look"}


def test_poll_with_options_in_order() -> None:
    body = post_body(None, poll="Which day?", options=["Mon", "Tue", "Wed"], multiple=True)
    assert body == {
        "type": "poll",
        "poll": {"question": "Which day?", "options": ["Mon", "Tue", "Wed"], "multiple": True},
    }


def test_scheduled_alert_and_silent_fields() -> None:
    at = NOW + timedelta(hours=1)
    body = post_body("later", at=at, alert=True)
    assert body == {
        "type": "text",
        "text": "later",
        "publish_at": "2026-12-03T13:00:00+00:00",
        "priority": "alert",
    }
    assert post_body("quiet", silent=True)["silent"] is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": None},
        {"text": "x", "poll": "Q?", "options": ["a", "b"]},
        {"text": None, "poll": "Q?", "options": ["a"]},
        {"text": None, "poll": "Q?", "options": ["a", "a"]},
        {"text": "x", "options": ["a", "b"]},
        {"text": None, "poll": "Q?", "options": ["a", "b"], "has_photo": True},
        {"text": "x", "alert": True, "silent": True},
    ],
)
def test_impossible_posts_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        post_body(**kwargs)  # type: ignore[arg-type]


def test_wrong_command_lines_exit_2_without_a_request() -> None:
    # The APIs' address is a closed port: exit 2, not 3, proves nothing was sent.
    env = {"HERALD_TOKEN": "t", "HERALD_PUBLISHER_URL": "http://127.0.0.1:9"}
    runner = CliRunner()
    channel = str(uuid.uuid4())
    for args in (
        ["post", channel, "--poll", "Q?", "--option", "only one"],
        ["post", channel, "hi", "--at", "someday"],
        ["post", channel, "hi", "--alert", "--silent"],
        ["post", channel],
        ["deletion-report", channel],
        ["channels", "edit", channel],
        ["invites", "create", channel, "--expires-in", "soon"],
        ["channels", "nope"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.output)


def test_no_token_exits_2(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HERALD_TOKEN": ""}
    result = CliRunner().invoke(app, ["channels", "show", str(uuid.uuid4())], env=env)
    assert result.exit_code == 2
    assert "herald login" in result.stderr


def test_login_writes_a_private_config_that_later_commands_read(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HERALD_TOKEN": ""}
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"  # {"sub": "alice"}
    result = CliRunner().invoke(
        app, ["login", "--token", token, "--publisher-url", "http://pub.example:1/"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "alice" in result.output
    path = tmp_path / "herald" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["token"] == token
    loaded = config.load({"XDG_CONFIG_HOME": str(tmp_path)})
    assert loaded.token == token
    assert loaded.publisher_url == "http://pub.example:1"
    assert loaded.feed_url == config.DEFAULT_FEED_URL
    # The environment wins over the file.
    env_first = config.load({"XDG_CONFIG_HOME": str(tmp_path), "HERALD_TOKEN": "other"})
    assert env_first.token == "other"


def test_login_refuses_what_is_not_a_jwt(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(app, ["login", "--token", "not-a-token"], env=env)
    assert result.exit_code == 2
    assert not (tmp_path / "herald" / "config.json").exists()


def test_unreachable_api_exits_3() -> None:
    env = {"HERALD_TOKEN": "t", "HERALD_PUBLISHER_URL": "http://127.0.0.1:9"}
    result = CliRunner().invoke(app, ["channels", "show", str(uuid.uuid4())], env=env)
    assert result.exit_code == 3
    assert "cannot reach http://127.0.0.1:9" in result.stderr
