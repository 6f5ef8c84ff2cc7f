"""Encryption at rest (encryption.py): data and results stored encrypted under DAEMON_ENCRYPTION_KEY,
readable through the API with the key, shown as encrypted without it, never run by a daemon
without it; plain values written before the key stay readable; keys rotate."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from taskdaemond import encryption
from taskdaemond.errors import ConfigError
from taskdaemond.queue.base import reencrypt_payloads
from taskdaemond.queue.models import NewTask, Transition
from taskdaemond.queue.postgres import PostgresQueue
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus
from tests.helpers import Daemon, handler_table, submit, wait, write_config

SECRET = "a-secret-only-the-task-knows-7f3a"
RESULT_SECRET = "a-result-only-the-handler-knows-91c2"


def key() -> str:
    return Fernet.generate_key().decode()


def start(tmp_path: Path, keys: str | None, handler: str = "behave") -> Daemon:
    config = write_config(
        tmp_path / "handlers.toml",
        {"echo": handler_table(handler, instances=1)},
        {"db_path": str(tmp_path / "queue.db")},
    )
    env = {"DAEMON_ENCRYPTION_KEY": keys} if keys is not None else {}
    return Daemon(config, tmp_path / "daemon.log", env).start()


def stored_bytes(tmp_path: Path) -> bytes:
    """Every byte of the queue file and its WAL, as they are on disk."""
    return b"".join(p.read_bytes() for p in tmp_path.glob("queue.db*"))


# -- the keys ----------------------------------------------------------------------------------


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = key(), key()
    under_old = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": old})
    both = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": f"{new}, {old}"})
    only_new = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": new})
    assert under_old is not None and both is not None and only_new is not None
    sealed = under_old.encrypt('{"a":1}')
    assert sealed.startswith("fernet:") and encryption.is_encrypted(sealed)
    assert both.decrypt(sealed) == '{"a":1}'
    assert only_new.decrypt(both.encrypt('{"b":2}')) == '{"b":2}'  # new writes use the first key
    assert only_new.decrypt(both.reencrypt(sealed)) == '{"a":1}'  # rewritten under the new key
    with pytest.raises(encryption.CannotDecrypt, match="none of the 1 keys in DAEMON_ENCRYPTION_KEY"):
        only_new.decrypt(sealed)
    assert encryption.reveal('{"plain":true}', None) == '{"plain":true}'
    assert encryption.reveal(sealed, None) is None
    assert "fernet" not in repr(both) and old not in repr(both)


def test_a_bad_key_is_a_config_error_that_names_its_position_not_its_value() -> None:
    good = key()
    bad = "not-a-fernet-key-but-maybe-a-secret"
    with pytest.raises(ConfigError) as raised:
        encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": f"{good},{bad}"})
    assert "DAEMON_ENCRYPTION_KEY" in str(raised.value) and "key 2 of 2" in str(raised.value)
    assert bad not in str(raised.value) and good not in str(raised.value)
    assert encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": ""}) is None


def test_serve_refuses_a_bad_key_without_showing_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave")}, {})
    bad = "zzzz-secret-zzzz"
    done = subprocess.run(
        [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
        env={**os.environ, "DAEMON_ENCRYPTION_KEY": bad, "DAEMON_PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DAEMON_ENCRYPTION_KEY" in done.stderr and bad not in done.stderr + done.stdout


# -- a real daemon on a real SQLite file -------------------------------------------------------------


def test_with_the_key_the_file_holds_no_plaintext_and_the_api_returns_it(tmp_path: Path) -> None:
    secret_key = key()
    daemon = start(tmp_path, secret_key)
    try:
        with daemon.client() as client:
            task_id = submit(client, {"type": "echo", "data": {"echo": SECRET, "also": RESULT_SECRET}})
            task = wait(client, task_id)
            assert task["status"] == "completed"
            assert task["data"] == {"echo": SECRET, "also": RESULT_SECRET}
            assert task["result"]["echo"] == SECRET and task["encrypted"] == []
            listed = client.get("/api/tasks").json()["tasks"][0]
            assert listed["data"]["echo"] == SECRET and listed["result"]["echo"] == SECRET
            health = client.get("/health").text
            assert secret_key not in health
    finally:
        daemon.stop()
    assert SECRET.encode() not in stored_bytes(tmp_path)
    assert RESULT_SECRET.encode() not in stored_bytes(tmp_path)
    assert b"fernet:" in stored_bytes(tmp_path)
    assert secret_key not in daemon.log()

    # The same file under a daemon without the key: shown as encrypted, never garbage, never a 500.
    keyless = start(tmp_path, None)
    try:
        with keyless.client() as client:
            response = client.get(f"/api/tasks/{task_id}")
            assert response.status_code == 200
            task = response.json()
            assert task["encrypted"] == ["data", "result"]
            assert task["data"] == encryption.ENCRYPTED_MARKER == task["result"]
            page = client.get("/api/tasks").json()["tasks"]
            assert page[0]["encrypted"] == ["data", "result"]
            assert client.get(f"/ui/tasks/{task_id}").status_code in (200, 401)
    finally:
        keyless.stop()


def test_plain_tasks_from_before_the_key_stay_readable_and_new_ones_are_encrypted(tmp_path: Path) -> None:
    daemon = start(tmp_path, None)
    try:
        with daemon.client() as client:
            old_id = submit(client, {"type": "echo", "data": {"echo": "written in the clear"}})
            assert wait(client, old_id)["status"] == "completed"
    finally:
        daemon.stop()
    daemon = start(tmp_path, key())
    try:
        with daemon.client() as client:
            old = client.get(f"/api/tasks/{old_id}").json()
            assert old["data"] == {"echo": "written in the clear"} and old["encrypted"] == []
            assert old["result"]["echo"] == "written in the clear"
            new_id = submit(client, {"type": "echo", "data": {"echo": SECRET}})
            assert wait(client, new_id)["result"]["echo"] == SECRET
    finally:
        daemon.stop()
    assert SECRET.encode() not in stored_bytes(tmp_path)
    assert b"written in the clear" in stored_bytes(tmp_path)


def test_rotation_new_key_first_reads_the_old_tasks_and_writes_under_the_new(tmp_path: Path) -> None:
    old_key, new_key = key(), key()
    daemon = start(tmp_path, old_key)
    try:
        with daemon.client() as client:
            old_id = submit(client, {"type": "echo", "data": {"echo": "under the old key"}})
            assert wait(client, old_id)["status"] == "completed"
    finally:
        daemon.stop()
    daemon = start(tmp_path, f"{new_key},{old_key}")
    try:
        with daemon.client() as client:
            assert client.get(f"/api/tasks/{old_id}").json()["data"] == {"echo": "under the old key"}
            new_id = submit(client, {"type": "echo", "data": {"echo": "under the new key"}})
            assert wait(client, new_id)["status"] == "completed"
    finally:
        daemon.stop()
    daemon = start(tmp_path, new_key)  # the old key dropped: the new task reads, the old one does not
    try:
        with daemon.client() as client:
            assert client.get(f"/api/tasks/{new_id}").json()["data"] == {"echo": "under the new key"}
            assert client.get(f"/api/tasks/{old_id}").json()["encrypted"] == ["data", "result"]
    finally:
        daemon.stop()


def test_the_key_never_reaches_a_handler(tmp_path: Path) -> None:
    secret_key = key()
    daemon = start(tmp_path, secret_key, handler="env")
    try:
        with daemon.client() as client:
            result = wait(client, submit(client, {"type": "echo", "data": {}}))["result"]
    finally:
        daemon.stop()
    assert "DAEMON_ENCRYPTION_KEY" not in result
    assert all(secret_key not in value for value in result.values())


# -- the queue rule: no key, no claim ----------------------------------------------------------------


def run(queue: Any, work: Any) -> Any:
    async def main() -> Any:
        await queue.open()
        try:
            return await work(queue)
        finally:
            await queue.close()

    return asyncio.run(main())


def test_a_daemon_without_the_key_does_not_claim_an_encrypted_task_and_one_with_a_wrong_key_fails_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    cipher = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": key()})
    wrong = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": key()})

    async def submit_both(queue: SqliteQueue) -> list[str]:
        [(sealed, _)] = await queue.submit([NewTask("echo", '{"n":1}', 50, 3)], time.time())
        return [sealed]

    [sealed_id] = run(SqliteQueue(path, cipher=cipher), submit_both)
    [(plain_id, _)] = run(
        SqliteQueue(path), lambda q: q.submit([NewTask("echo", '{"n":2}', 50, 3)], time.time())
    )

    claimed = run(SqliteQueue(path), lambda q: q.claim("echo", 10, time.time()))
    assert [t.id for t in claimed] == [plain_id]  # the encrypted one waits for a daemon with the key

    async def claim_and_read(queue: SqliteQueue) -> tuple[list[Any], Any]:
        return await queue.claim("echo", 10, time.time()), await queue.get(sealed_id)

    claimed, record = run(SqliteQueue(path, cipher=wrong), claim_and_read)
    assert [t.id for t in claimed] == [plain_id]  # back to pending at the reopen, and taken again
    assert record.status is TaskStatus.FAILED and record.errors[-1]["error_type"] == "EncryptedData"
    assert "DAEMON_ENCRYPTION_KEY" in record.last_error


def test_postgres_stores_ciphertext_and_gates_claims_by_the_key(postgres_url: str) -> None:
    cipher = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": key()})

    async def keyed(queue: PostgresQueue) -> str:
        [(task_id, _)] = await queue.submit([NewTask("echo", f'{{"echo":"{SECRET}"}}', 50, 3)], time.time())
        [claimed] = await queue.claim("echo", 1, time.time())
        assert claimed.data_json == f'{{"echo":"{SECRET}"}}'
        done = Transition(task_id, TaskStatus.COMPLETED, result_json=f'"{RESULT_SECRET}"', seq=claimed.seq)
        await queue.record([done], [], time.time())
        record = await queue.get(task_id)
        assert record is not None and (record.data, record.result) == ({"echo": SECRET}, RESULT_SECRET)
        await queue.submit([NewTask("echo", '{"later":true}', 50, 3)], time.time())
        return task_id

    task_id = run(PostgresQueue(postgres_url, cipher=cipher), keyed)
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute(
            "SELECT data FROM task_data UNION ALL SELECT result FROM task_results"
        ).fetchall()
    assert stored and all(row[0].startswith("fernet:") for row in stored)
    assert all(SECRET not in row[0] and RESULT_SECRET not in row[0] for row in stored)

    async def keyless(queue: PostgresQueue) -> None:
        record = await queue.get(task_id)
        assert record is not None and record.encrypted == ["data", "result"]
        assert record.to_api()["data"] == encryption.ENCRYPTED_MARKER
        assert await queue.claim("echo", 10, time.time()) == []  # the pending one is encrypted

    run(PostgresQueue(postgres_url), keyless)


def test_a_keyless_daemon_leaves_an_encrypted_task_pending_for_one_with_the_key(tmp_path: Path) -> None:
    """Two daemons in turn on one file: the one without the key leaves the task alone."""
    secret_key = key()
    daemon = start(tmp_path, secret_key)
    try:
        with daemon.client() as client:
            task_id = submit(client, {"type": "echo", "data": {"echo": SECRET}, "delay": 1.0})
    finally:
        daemon.stop()
    keyless = start(tmp_path, None)
    try:
        with keyless.client() as client:
            plain = submit(client, {"type": "echo", "data": {"echo": 1}, "delay": 1.0})
            assert wait(client, plain)["status"] == "completed"  # due at the same time, and run
            assert client.get(f"/api/tasks/{task_id}").json()["status"] == "pending"
    finally:
        keyless.stop()
    daemon = start(tmp_path, secret_key)
    try:
        with daemon.client() as client:
            task = wait(client, task_id)
            assert (task["status"], task["result"]["echo"]) == ("completed", SECRET)
    finally:
        daemon.stop()


# -- taskdaemond reencrypt ---------------------------------------------------------------------------


def test_reencrypt_rewrites_old_keys_and_plain_values_under_the_new_key(tmp_path: Path) -> None:
    old_key, new_key = key(), key()
    daemon = start(tmp_path, None)
    try:
        with daemon.client() as client:
            plain_id = submit(client, {"type": "echo", "data": {"echo": "written in the clear"}})
            assert wait(client, plain_id)["status"] == "completed"
    finally:
        daemon.stop()
    daemon = start(tmp_path, old_key)
    try:
        with daemon.client() as client:
            old_id = submit(client, {"type": "echo", "data": {"echo": SECRET}})
            assert wait(client, old_id)["status"] == "completed"
    finally:
        daemon.stop()
    config = tmp_path / "handlers.toml"
    done = subprocess.run(
        [sys.executable, "-m", "taskdaemond", "reencrypt", "--config", str(config), "--json"],
        env={**os.environ, "DAEMON_ENCRYPTION_KEY": f"{new_key},{old_key}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rewritten": 4, "unreadable": 0}  # two data, two results
    assert new_key not in done.stdout + done.stderr and b"written in the clear" not in stored_bytes(tmp_path)
    daemon = start(tmp_path, new_key)  # the old key is no longer needed
    try:
        with daemon.client() as client:
            for task_id, echo in ((plain_id, "written in the clear"), (old_id, SECRET)):
                task = client.get(f"/api/tasks/{task_id}").json()
                assert (task["data"], task["result"]["echo"], task["encrypted"]) == ({"echo": echo}, echo, [])
    finally:
        daemon.stop()


def test_reencrypt_on_postgres_rewrites_what_the_keys_open_and_leaves_the_rest(postgres_url: str) -> None:
    old_key, new_key, stranger_key = key(), key(), key()

    def cipher(keys: str) -> encryption.Cipher:
        made = encryption.cipher_from_environment({"DAEMON_ENCRYPTION_KEY": keys})
        assert made is not None
        return made

    def submit_one(keys: str, data: str) -> None:
        run(
            PostgresQueue(postgres_url, cipher=cipher(keys)),
            lambda q: q.submit([NewTask("echo", data, 50, 3)], time.time()),
        )

    submit_one(old_key, '{"n":1}')
    submit_one(stranger_key, '{"n":2}')
    tally = run(
        PostgresQueue(postgres_url, cipher=cipher(f"{new_key},{old_key}")), lambda q: reencrypt_payloads(q, 1)
    )
    assert (tally.rewritten, tally.unreadable) == (1, 1)

    async def read(queue: PostgresQueue) -> list[Any]:
        page = await queue.list(status=None, task_type=None, limit=10, cursor=None)
        return [(record.data, record.encrypted) for record in reversed(page.tasks)]

    assert run(PostgresQueue(postgres_url, cipher=cipher(new_key)), read) == [
        ({"n": 1}, []),
        (encryption.ENCRYPTED_MARKER, ["data"]),
    ]
