"""The real ``exchange-partner`` console script: keygen, send and pull, run as a subprocess.

``send`` and ``pull`` talk over HTTP to the in-thread hub at ``base_url`` as a partner would;
the partner's process never loads Flask, SQLAlchemy or the hub.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from exchange.hub import Hub
from keys import SigningKey, load_signing_key, load_verifying_key, save_signing_key
from schemas import examples
from tests.forked_cli import run_cli
from tests.support import PartnerKeys, message_count

ROOT = Path(__file__).resolve().parents[2]
EXCHANGE_PARTNER = str(Path(sys.executable).parent / "exchange-partner")
AUDIT, DISCIPLINE, PERSONNEL = "audit.yanliang", "discipline.yanliang", "personnel.yanliang"
# Variables of the developer's shell that would change what the CLI does.
FOREIGN = ("EXCHANGE_URL", "EXCHANGE_CLIENT_KEY_PASSPHRASE")


def partner_cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``exchange-partner`` with a clean environment and a partner home of its own (a
    fresh one unless ``home`` is given: never the developer's); return what happened.
    """
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    with tempfile.TemporaryDirectory(prefix="exchange-partner-") as fresh:  # removed after
        env["EXCHANGE_PARTNER_HOME"] = str(home or fresh)
        return run_cli("exchange-partner", args, {**env, "PYTHONIOENCODING": "utf-8"})


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error: …`` line click prints for a refusal (exit 1, no traceback)."""
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0].removeprefix("Error: ")


def key_file(directory: Path, who: PartnerKeys) -> Path:
    """A registered partner's private key, saved as ``keygen`` would."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{who.kid.replace('#', '_')}.pem"
    save_signing_key(path, who.key, None)
    return path


def envelope_file(path: Path, envelope: dict[str, Any]) -> Path:
    """An envelope file as a partner's system would leave it for ``send``."""
    path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    return path


def send_as(
    who: PartnerKeys, key: Path, base_url: str, *paths: Path
) -> subprocess.CompletedProcess[str]:
    """``exchange-partner send`` as ``who`` of the envelope files ``paths``."""
    return partner_cli(
        "send", "--as", who.kid, "--key", str(key), "--url", base_url, *map(str, paths)
    )


# -- keygen ---------------------------------------------------------------------------------


def test_keygen_writes_a_0600_private_pem_and_never_overwrites_it(tmp_path: Path) -> None:
    """The pair loads back and matches; a second keygen for the kid is refused, files intact."""
    out = tmp_path / "keys"
    done = partner_cli("keygen", "--kid", f"{AUDIT}#2026-11", "--out", str(out))
    assert done.returncode == 0, done.stderr
    private_path, public_path = out / f"{AUDIT}_2026-11.pem", out / f"{AUDIT}_2026-11.pub.pem"
    assert done.stdout == f"private key: {private_path}\npublic key:  {public_path}\n"
    assert sorted(out.iterdir()) == [private_path, public_path]
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private_path.read_bytes()
    assert b"PRIVATE" not in public_path.read_bytes()
    private_key = load_signing_key(private_path)
    assert load_verifying_key(public_path).raw == private_key.public_key.raw
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    again = partner_cli("keygen", "--kid", f"{AUDIT}#2026-11", "--out", str(out))

    assert one_line_error(again) == f"{private_path} exists; not overwriting"
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_keygen_refuses_a_malformed_kid(tmp_path: Path) -> None:
    """A kid is <partner id>#<label>; a bare partner id is refused before a file is written."""
    out, kid = tmp_path / "keys", AUDIT
    error = one_line_error(partner_cli("keygen", "--kid", kid, "--out", str(out)))
    assert error == f"not a key id: {kid!r} (expected <partner id>#<label>)"
    assert not out.exists()


# -- send and pull --------------------------------------------------------------------------


def test_send_prints_one_verified_receipt_line(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """A ledger line (no review) is released; stdout is one JSON line per file."""
    audit = partners["audit"]
    envelope = examples.rectification_example()
    path = envelope_file(tmp_path / "ledger-line.json", envelope)

    done = send_as(audit, key_file(tmp_path / "audit", audit), base_url, path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    receipt = json.loads(lines[0])
    assert receipt["file"] == str(path)
    assert receipt["id"] == envelope["id"]
    assert receipt["status"] == "released"
    assert isinstance(receipt["log_index"], int)
    client = audit.client(base_url)
    stored = client.message(envelope["id"])
    claims = client.verify_receipt(stored["receipt"], message_id=envelope["id"])
    assert (stored["status"], claims["log_index"]) == ("released", receipt["log_index"])
    assert message_count(hub) == 1


def test_send_of_an_invalid_envelope_exits_1_with_the_problem(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """A ledger line without its required status: nothing on stdout, the problem on stderr."""
    envelope = examples.rectification_example()
    del envelope["payload"]["status"]
    path = envelope_file(tmp_path / "bad.json", envelope)

    done = send_as(partners["audit"], key_file(tmp_path, partners["audit"]), base_url, path)

    assert done.returncode == 1
    assert done.stdout == ""
    report = json.loads(done.stderr.strip())
    assert report["file"] == str(path)
    assert report["error"]["type"] == "urn:exchange:error:schema-invalid"
    assert any("status" in field for field in report["error"]["errors"]), report
    assert message_count(hub) == 0


def test_send_of_a_file_that_is_not_json_fails_cleanly(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """A truncated file is reported (file named), not a traceback."""
    path = tmp_path / "truncated.json"
    path.write_text('{"id": "abc", "type": "rectification.status.v1"', encoding="utf-8")
    done = send_as(partners["audit"], key_file(tmp_path, partners["audit"]), base_url, path)
    assert message_count(hub) == 0
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert str(path) in done.stderr


def test_pull_writes_each_message_and_acks_it(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """``pull --out DIR`` as 纪委监委: one <id>.json per message, and the sender sees the acks."""
    audit = partners["audit"].client(base_url)
    sent = [examples.rectification_example(), examples.rectification_example()]
    for envelope in sent:
        assert audit.send(envelope).status == "released"
    discipline = partners["discipline"]
    out = tmp_path / "inbox"

    done = partner_cli(
        "pull", "--as", discipline.kid, "--key", str(key_file(tmp_path, discipline)),
        "--url", base_url, "--out", str(out),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("2 messages pulled and acked; cursor ")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{e['id']}.json" for e in sent)
    for envelope in sent:
        record = json.loads((out / f"{envelope['id']}.json").read_text(encoding="utf-8"))
        assert record["envelope"] == envelope
        assert set(record) == {"cursor", "envelope", "signature", "receipt"}
        states = {d["recipient"]: d["state"] for d in audit.message(envelope["id"])["deliveries"]}
        assert states[DISCIPLINE] == "acked"
        assert states["inspection.yanliang"] != "acked"
        assert states[PERSONNEL] != "acked"


def test_pulling_again_after_everything_is_acked(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """``pull`` when every message is already acked says so and writes nothing; ``--from-start``
    replays the inbox, acked messages included.
    """
    assert partners["audit"].client(base_url).send(examples.rectification_example()).created
    discipline = partners["discipline"]
    client = discipline.client(base_url)
    assert client.ack(item.envelope["id"] for item in client.inbox().items)
    pull = ["pull", "--as", discipline.kid, "--key", str(key_file(tmp_path, discipline))]

    done = partner_cli(*pull, "--url", base_url, "--out", str(tmp_path / "again"))

    assert done.returncode == 0, done.stderr
    assert done.stderr == "no new messages\n"
    assert not (tmp_path / "again").exists()
    replay = partner_cli(*pull, "--url", base_url, "--out", str(tmp_path / "all"), "--from-start")
    assert replay.returncode == 0, replay.stderr
    assert len(list((tmp_path / "all").iterdir())) == 1


def test_pull_remembers_where_it_stopped(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """A second pull brings only what came since; ``--no-ack`` leaves the cursor where it was."""
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"]
    home = tmp_path / "partner-home"
    pull = ["pull", "--as", discipline.kid, "--key", str(key_file(tmp_path, discipline))]
    first = audit.send(examples.rectification_example())

    once = partner_cli(*pull, "--url", base_url, home=home)
    assert [json.loads(line)["envelope"]["id"] for line in once.stdout.splitlines()] == [first.id]
    second = audit.send(examples.rectification_example())
    peek = partner_cli(*pull, "--url", base_url, "--no-ack", home=home)
    assert [json.loads(line)["envelope"]["id"] for line in peek.stdout.splitlines()] == [second.id]
    assert "(not acked)" in peek.stderr
    again = partner_cli(*pull, "--url", base_url, home=home)
    assert [json.loads(line)["envelope"]["id"] for line in again.stdout.splitlines()] == [second.id]
    assert partner_cli(*pull, "--url", base_url, home=home).stderr == "no new messages\n"


def test_an_unreachable_hub_is_named_with_how_to_set_it(tmp_path: Path) -> None:
    """No hub listening: one line naming the URL and --url / EXCHANGE_URL, exit 1."""
    key = tmp_path / "k.pem"
    save_signing_key(key, SigningKey.generate())
    envelope = tmp_path / "e.json"
    envelope.write_text(json.dumps(examples.rectification_example()), encoding="utf-8")
    url = "http://127.0.0.1:9"
    for args in (["pull"], ["send", str(envelope)]):
        command, *rest = args
        done = partner_cli(
            command, "--as", "audit.yanliang#1", "--key", str(key), "--url", url, *rest
        )
        line = one_line_error(done)
        assert url in line and "--url" in line and "EXCHANGE_URL" in line, line


# -- the partner's process ------------------------------------------------------------------

PROBE = """
import json, sys
from adapters.cli import main

for args in (
    ["keygen", "--kid", "audit.yanliang#1", "--out", sys.argv[1]],
    ["send", "--as", "audit.yanliang#1", "--key", sys.argv[1] + "/audit.yanliang_1.pem",
     "--url", "http://127.0.0.1:9", sys.argv[2]],
):
    try:
        main.main(args=args, prog_name="exchange-partner")
    except SystemExit as done:
        print("exit", done.code, file=sys.stderr)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_partner_cli_loads_no_hub_stack(tmp_path: Path) -> None:
    """Keygen and send (to a hub that is not there) run without Flask, SQLAlchemy or the hub."""
    envelope = envelope_file(tmp_path / "line.json", examples.rectification_example())
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "keys"), str(envelope)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == "exit 0", done.stderr  # keygen
    assert done.stderr.splitlines()[-1] == "exit 1", done.stderr  # send: connection refused
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}
    assert {"adapters", "keys", "schemas", "click", "requests"} <= loaded
    hub_stack = loaded & {"flask", "sqlalchemy", "alembic", "exchange", "werkzeug", "gunicorn"}
    assert not hub_stack, f"the partner CLI loaded {sorted(hub_stack)}"


def test_the_console_script_is_installed() -> None:
    """``exchange-partner`` is a console script of the package, with its four commands."""
    done = partner_cli("--help")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line] == [
        "example",
        "keygen",
        "pull",
        "send",
    ]


def test_keygen_writes_outside_the_source_tree_by_default(tmp_path: Path) -> None:
    """Without ``--out`` the pair goes under the partner's home (0700), not the working tree."""
    home = tmp_path / "partner-home"
    done = partner_cli("keygen", "--kid", f"{AUDIT}#2026-11", home=home)
    assert done.returncode == 0, done.stderr
    private = home / "keys" / f"{AUDIT}_2026-11.pem"
    assert private.exists() and (home / "keys" / f"{AUDIT}_2026-11.pub.pem").exists()
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    assert str(private) in done.stdout


def test_private_keys_are_ignored_by_git() -> None:
    """A key pair written into a clone by mistake is never committed."""
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "audit.yanliang_2026-11.pem"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
