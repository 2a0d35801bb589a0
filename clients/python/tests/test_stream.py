"""The SDK through lit-streamd on a real systemd, as its users call it.

`npm test` runs this (test/integration/pythonClient.spec.ts): it boots the embedded systemd with
team ``contoso`` (stream ``bitcoin``, the seed's world) and team ``acme`` (``ethereum``, ``crash``
whose worker exits 1, ``masked``, ``chatty`` which writes a line to stdout and one to stderr), serves them over TLS with token and client-certificate auth,
installs this package with pip and runs pytest with ``LIT_STREAM_ADDR``, ``LIT_STREAM_CA`` (the
server's CA) and ``LIT_STREAM_TOKEN`` (an operator of both teams) in the environment, plus
``LIT_STREAM_TEST_READER_TOKEN`` (a reader of ``acme``), ``LIT_STREAM_TEST_CLIENT_CERT``/``_KEY``
(a client certificate, operator of ``acme`` only) and ``LIT_STREAM_TEST_METRICS`` (the server's
/metrics, over HTTPS with the same certificate and tokens).
"""

from __future__ import annotations

import os
import re
import ssl
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import grpc
import pytest

from lit.sdk.services.stream import (
    Connection,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    LitStreamError,
    LogLine,
    NotFoundError,
    PermissionDeniedError,
    Run,
    Stream,
    StreamEvent,
    UnauthenticatedError,
    UnavailableError,
    format_bytes,
    format_timestamp,
    get_streams,
    watch_streams,
)

if "LIT_STREAM_TEST_READER_TOKEN" not in os.environ:
    pytest.skip("needs a lit-streamd with the streams above: run through npm test", allow_module_level=True)

ADDRESS = os.environ["LIT_STREAM_ADDR"]
READER_TOKEN = os.environ["LIT_STREAM_TEST_READER_TOKEN"]
METRICS = os.environ["LIT_STREAM_TEST_METRICS"]
STARTED = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$")
MEMORY = re.compile(r"^\d+(B|\.\d[KMGTPE])$")


def server_gauge(name: str) -> float:
    """A gauge of lit-streamd's /metrics, e.g. ``lit_stream_open_watches``: what the server holds."""
    request = urllib.request.Request(f"https://{METRICS}/metrics", headers={"Authorization": f"Bearer {os.environ['LIT_STREAM_TOKEN']}"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=os.environ["LIT_STREAM_CA"]), timeout=10) as response:
        text = response.read().decode()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} is not in the server's /metrics"
    return float(found.group(1))


def wait_until(probe: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Polls ``probe`` until it holds, or fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def ethereum() -> Iterator[Stream]:
    """acme's ethereum, stopped before and after the test."""
    stream = Stream("acme", "ethereum")
    stream.stop()
    yield stream
    stream.stop()


def test_start_stop_restart_answer_as_the_seed_sdk(ethereum: Stream) -> None:
    assert ethereum.start() == {"status": "SUCCESS", "message": "Stream started successfully."}
    assert ethereum.restart() == {"status": "SUCCESS", "message": "Stream restarted successfully."}
    assert ethereum.stop() == {"status": "SUCCESS", "message": "Stream stopped successfully."}
    assert ethereum.stop() == {"status": "SUCCESS", "message": "Stream stopped successfully."}


def test_status_is_formatted_as_systemctl_prints_it_with_typed_details(ethereum: Stream) -> None:
    ethereum.start()
    status = ethereum.status()
    # A read of the worker's /proc has 250 ms; on a loaded machine it can run out, and the answer then
    # says its figures are partial instead of guessing. The server's next reading completes.
    deadline = time.monotonic() + 30
    while status["details"]["usage_partial"] and time.monotonic() < deadline:
        time.sleep(0.1)
        status = ethereum.status()
    assert list(status) == ["name", "active", "status", "started", "pid", "tasks", "memory", "details"]
    assert (status["name"], status["active"], status["status"]) == ("ethereum", "active", "running")
    assert status["started"] is not None and STARTED.match(status["started"])
    assert isinstance(status["pid"], int) and status["pid"] > 1
    assert isinstance(status["tasks"], int) and status["tasks"] >= 1
    assert status["memory"] is not None and MEMORY.match(status["memory"])

    details = status["details"]
    assert details["team"] == "acme"
    assert details["unit"] == "lit-stream-acme@ethereum.service"
    assert (details["load_state"], details["active_state"], details["sub_state"]) == ("loaded", "active", "running")
    assert isinstance(details["started"], datetime) and details["started"].tzinfo is not None
    assert status["started"] == format_timestamp(details["started"])
    assert details["memory_bytes"] is not None and status["memory"] == format_bytes(details["memory_bytes"])
    assert details["main_pid"] == status["pid"]
    assert details["usage_source"] in ("systemd", "procfs")
    assert details["usage_partial"] is False  # one process: read whole


def test_a_stopped_stream_has_no_start_time_pid_tasks_or_memory(ethereum: Stream) -> None:
    status = ethereum.status()
    assert (status["active"], status["status"]) == ("inactive", "dead")
    assert (status["started"], status["pid"], status["tasks"], status["memory"]) == (None, None, None, None)


def test_a_failing_worker_answers_failure_with_systemds_reason() -> None:
    result = Stream("acme", "crash").start()
    assert result["status"] == "FAILURE"
    assert "exit status 1" in result["message"]


def test_act_answers_with_systemds_job_result_and_the_lines_of_this_start() -> None:
    crash = Stream("acme", "crash")
    failed = crash.act("start")
    assert (failed["status"], failed["job_result"]) == ("FAILURE", "failed")
    assert "exit status 1" in failed["message"]
    assert all(isinstance(line, LogLine) for line in failed["logs"])
    systemd_said = "\n".join(line.message for line in failed["logs"] if line.source == "systemd")
    assert re.search(r"Main process exited|Failed with result 'exit-code'", systemd_said), failed["logs"]
    assert crash.act("stop") == {"status": "SUCCESS", "message": "Stream stopped successfully.", "job_result": "done", "logs": []}


def test_act_answers_success_with_systemds_job_result(ethereum: Stream) -> None:
    started = ethereum.act("start")
    assert (started["status"], started["message"], started["job_result"]) == ("SUCCESS", "Stream started successfully.", "done")
    assert sorted(started) == ["job_result", "logs", "message", "status"]
    restarted = ethereum.act("restart")
    assert (restarted["status"], restarted["job_result"]) == ("SUCCESS", "done")


def test_start_stop_restart_keep_the_seed_sdks_two_keys_also_on_failure() -> None:
    assert sorted(Stream("acme", "crash").start()) == ["message", "status"]
    assert sorted(Stream("acme", "crash").stop()) == ["message", "status"]


def test_act_refuses_an_unknown_action_without_asking_the_server(ethereum: Stream) -> None:
    for action in ("Start", "reload", ""):
        with pytest.raises(ValueError, match="unknown action"):
            ethereum.act(action)  # type: ignore[arg-type]
    assert ethereum.status()["active"] == "inactive"


def test_an_undeclared_stream_raises_not_found_with_the_grpc_code() -> None:
    with pytest.raises(NotFoundError) as caught:
        Stream("contoso", "dogecoin").start()
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.code_name == "NOT_FOUND"
    assert "stream 'dogecoin' of team 'contoso' is not declared" in caught.value.details
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, LitStreamError)


@pytest.mark.parametrize(
    "team, name",
    [("Contoso!", "bitcoin"), ("contoso", "bit coin"), ("contoso", "../x"), ("", "bitcoin"), ("contoso", "a*")],
)
def test_bad_names_raise_invalid_argument(team: str, name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Stream(team, name).status()
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(caught.value, ValueError)


def test_starting_a_masked_stream_raises_failed_precondition() -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        Stream("acme", "masked").start()
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_without_a_valid_token_calls_are_unauthenticated() -> None:
    for token in ("", "not-a-token"):
        with pytest.raises(UnauthenticatedError) as caught:
            Stream("contoso", "bitcoin", Connection(token=token)).status()
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_a_reader_may_read_but_not_act_nor_see_other_teams() -> None:
    reader = Connection(token=READER_TOKEN)
    assert Stream("acme", "ethereum", reader).status()["name"] == "ethereum"
    with pytest.raises(PermissionDeniedError) as caught:
        Stream("acme", "ethereum", reader).start()
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(PermissionDeniedError):
        get_streams("contoso", reader)


def test_get_streams_lists_the_teams_streams_as_the_seed_prints_them() -> None:
    assert repr(get_streams("contoso")) == "[Stream(team='contoso', name='bitcoin')]"
    assert get_streams("acme") == [Stream("acme", "chatty"), Stream("acme", "crash"), Stream("acme", "ethereum"), Stream("acme", "masked")]
    assert get_streams("nobody") == []
    first = get_streams("contoso")[0]
    assert (first.team, first.name) == ("contoso", "bitcoin")
    assert first.status()["name"] == "bitcoin"


def test_enable_and_disable_answer_with_systemds_changes_as_systemctl_does() -> None:
    stream = Stream("boot", "ticker")
    enabled = stream.enable(now=True)
    assert (enabled["status"], enabled["message"], enabled["unit_file_state"], enabled["job_result"]) == (
        "SUCCESS",
        "Stream enabled. Stream started successfully.",
        "enabled",
        "done",
    )
    assert [change["type"] for change in enabled["changes"]] == ["symlink"]
    assert enabled["changes"][0]["path"].endswith("/default.target.wants/lit-stream-boot@ticker.service")
    assert stream.status()["details"]["unit_file_state"] == "enabled"
    again = stream.enable()
    assert (again["status"], again["message"], again["changes"], again["job_result"]) == ("SUCCESS", "Stream was already enabled.", [], "")
    disabled = stream.disable(now=True)
    assert (disabled["status"], disabled["message"], disabled["unit_file_state"], disabled["job_result"], disabled["logs"]) == (
        "SUCCESS",
        "Stream disabled. Stream stopped successfully.",
        "disabled",
        "done",
        [],
    )
    assert [change["type"] for change in disabled["changes"]] == ["unlink"]


def test_enabling_a_masked_stream_raises_failed_precondition() -> None:
    with pytest.raises(FailedPreconditionError):
        Stream("acme", "masked").enable()


def test_watch_yields_the_status_now_then_each_change(ethereum: Stream) -> None:
    events = ethereum.watch(timeout=30)
    first = next(events)
    assert isinstance(first, StreamEvent)
    assert (first.kind, first.status["name"], first.status["active"]) == ("INITIAL", "ethereum", "inactive")
    ethereum.start()
    for event in events:
        assert event.kind == "CHANGED"
        if event.status["active"] == "active":
            break
    else:
        pytest.fail("the watch ended before reporting the start")
    events.close()


def test_watch_streams_reports_every_stream_of_the_team() -> None:
    events = watch_streams("acme", timeout=30)
    initial = sorted(next(events).status["name"] for _ in range(4))
    events.close()
    assert initial == ["chatty", "crash", "ethereum", "masked"]


def test_leaving_a_with_block_cancels_the_watch_on_the_server(ethereum: Stream) -> None:
    wait_until(lambda: server_gauge("lit_stream_open_watches") == 0, "earlier tests' watches to be released")
    with ethereum.watch(timeout=30) as events:
        for event in events:
            break  # `events` still holds the call: break alone does not cancel it ...
        assert event.kind == "INITIAL"
        assert server_gauge("lit_stream_open_watches") == 1
    # ... leaving the with block does.
    wait_until(lambda: server_gauge("lit_stream_open_watches") == 0, "the server to release the watch")
    assert list(events) == []


def test_leaving_a_with_block_ends_a_log_follow_on_the_server(ethereum: Stream) -> None:
    ethereum.start()  # so that there is a newest line to come first
    wait_until(lambda: server_gauge("lit_stream_log_followers") == 0, "earlier tests' followers to end")
    with ethereum.logs(follow=True, tail=1, timeout=30) as lines:
        assert isinstance(next(lines), LogLine)
        assert server_gauge("lit_stream_log_followers") == 1  # one journalctl --follow for the stream
    wait_until(lambda: server_gauge("lit_stream_log_followers") == 0, "the server to end the follower")


def test_a_watch_ends_with_deadline_exceeded_after_its_timeout() -> None:
    events = Stream("contoso", "bitcoin").watch(timeout=1)
    assert next(events).kind == "INITIAL"
    with pytest.raises(DeadlineExceededError):
        for _ in events:
            pass


def test_explicit_connection_instead_of_the_environment() -> None:
    ca = Path(os.environ["LIT_STREAM_CA"]).read_bytes()
    connection = Connection(address=ADDRESS, token=os.environ["LIT_STREAM_TOKEN"], ca=ca, timeout=5)
    assert Stream("contoso", "bitcoin", connection).status()["name"] == "bitcoin"


def test_a_client_certificate_from_the_environment_identifies_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIT_STREAM_CERT", os.environ["LIT_STREAM_TEST_CLIENT_CERT"])
    monkeypatch.setenv("LIT_STREAM_KEY", os.environ["LIT_STREAM_TEST_CLIENT_KEY"])
    monkeypatch.setenv("LIT_STREAM_TOKEN", "")
    assert Stream("acme", "crash").start()["status"] == "FAILURE"  # an operator of acme: it may try
    with pytest.raises(PermissionDeniedError):
        Stream("contoso", "bitcoin").status()  # and nothing of contoso


def test_without_a_ca_the_sdk_speaks_plaintext_which_a_tls_server_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIT_STREAM_CA")
    with pytest.raises(UnavailableError):
        Stream("contoso", "bitcoin", Connection(timeout=5)).status()


def test_an_unreachable_server_raises_unavailable() -> None:
    with pytest.raises(UnavailableError) as caught:
        Stream("contoso", "bitcoin", Connection(address="127.0.0.1:1", timeout=5)).status()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_connection_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"{name} pem".encode())
        monkeypatch.setenv(f"LIT_STREAM_{name.upper()}", str(tmp_path / f"{name}.pem"))
    monkeypatch.setenv("LIT_STREAM_ADDR", "feeds.internal:50051")
    monkeypatch.setenv("LIT_STREAM_TOKEN", "t0ken")
    resolved = Connection().resolved()
    assert (resolved.address, resolved.token) == ("feeds.internal:50051", "t0ken")
    assert (resolved.ca, resolved.cert, resolved.key) == (b"ca pem", b"cert pem", b"key pem")
    assert resolved.metadata() == (("authorization", "Bearer t0ken"),)
    monkeypatch.delenv("LIT_STREAM_ADDR")
    assert Connection().resolved().address == "127.0.0.1:50051"


def test_streams_print_compare_and_hash_by_team_and_name() -> None:
    assert repr(Stream("contoso", "bitcoin")) == "Stream(team='contoso', name='bitcoin')"
    assert Stream("contoso", "bitcoin") == Stream("contoso", "bitcoin") != Stream("contoso", "ethereum")
    assert len({Stream("contoso", "bitcoin"), Stream("contoso", "bitcoin")}) == 1


def test_a_stream_of_a_named_host_prints_it_and_is_asked_of_that_host_only() -> None:
    elsewhere = Stream("contoso", "bitcoin", host="feed-2")
    assert repr(elsewhere) == "Stream(team='contoso', name='bitcoin', host='feed-2')"
    assert elsewhere != Stream("contoso", "bitcoin")
    # This lit-streamd is another host: it answers NOT_FOUND, naming both, and touches nothing.
    with pytest.raises(NotFoundError) as caught:
        elsewhere.status()
    assert "'feed-2'" in str(caught.value)


def test_logs_reads_the_workers_lines_from_the_journal_and_continues_after_a_cursor() -> None:
    chatty = Stream("acme", "chatty")
    assert chatty.restart()["status"] == "SUCCESS"
    seen: list = []
    for line in chatty.logs(tail=50, follow=True, timeout=30):  # follow: wait for the lines, not poll
        assert isinstance(line, LogLine)
        if line.source == "worker":
            seen.append(line)
        if [l.message for l in seen[-2:]] == ["first line", "to stderr"]:
            break
    first, second = seen[-2:]
    assert first.time.tzinfo is not None and first.time <= second.time
    assert first.pid is not None and first.priority in range(8) and first.cursor and first.dropped_before == 0
    after = [l.message for l in chatty.logs(after_cursor=first.cursor, tail=10) if l.source == "worker"]
    assert after[0] == "to stderr"
    details = chatty.status()["details"]  # as systemctl status: the lines since it last started
    assert [l.message for l in details["logs"] if l.source == "worker"] == ["first line", "to stderr"]
    chatty.stop()


class RecordTimeouts(grpc.UnaryStreamClientInterceptor):
    """Records the timeout each server-streaming call is opened with (None: no deadline)."""

    def __init__(self) -> None:
        self.timeouts: list = []

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        self.timeouts.append(client_call_details.timeout)
        return continuation(client_call_details, request)


def test_logs_has_the_clients_one_default_deadline_unless_the_connection_or_the_call_says_otherwise(ethereum: Stream) -> None:
    ethereum.start()  # so that there is a newest line for the follows to start with
    recorder = RecordTimeouts()
    channel = grpc.intercept_channel(Connection().resolved().open_channel(), recorder)

    def first_line(connection_timeout: Optional[float], **options: Any) -> Optional[LogLine]:
        with Stream("acme", "ethereum", Connection(channel=channel, timeout=connection_timeout)).logs(tail=1, **options) as lines:
            return next(lines, None)

    first_line(None)
    first_line(5)
    first_line(5, timeout=2)
    first_line(5, follow=True)
    first_line(None, follow=True, timeout=60)
    # 10 s for a read, as in the TypeScript client; the connection's timeout is not a follow's.
    assert recorder.timeouts == [10.0, 5, 2, None, 60]


def test_reading_logs_needs_the_logs_role_and_an_undeclared_streams_logs_are_not_found() -> None:
    with pytest.raises(PermissionDeniedError):
        list(Stream("acme", "chatty", Connection(token=READER_TOKEN)).logs(tail=1))
    assert len(list(Stream("acme", "chatty").logs(tail=1))) <= 1
    with pytest.raises(NotFoundError):
        list(Stream("acme", "dogecoin").logs())


def test_runs_say_how_each_run_ended_and_need_the_logs_role() -> None:
    crash = Stream("acme", "crash")
    assert crash.start()["status"] == "FAILURE"
    wait_until(lambda: any(r.result == "exit-code" for r in crash.runs(limit=1)), "the failed run on record")
    newest = crash.runs(limit=1)[0]
    assert isinstance(newest, Run)
    assert re.fullmatch(r"[0-9a-f]{32}", newest.invocation_id)
    assert (newest.result, newest.exit_code, newest.exit_status, newest.restart) == ("exit-code", "exited", 1, 0)
    assert newest.started is not None and newest.ended is not None and newest.ended >= newest.started
    assert any(line.source == "systemd" and "exited" in line.message for line in newest.last_lines)
    with pytest.raises(PermissionDeniedError):
        Stream("acme", "crash", Connection(token=READER_TOKEN)).runs()
