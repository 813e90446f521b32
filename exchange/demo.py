"""``exchange demo``: a round of joint supervision through a real hub and five partner agents.

A hub (gunicorn) on a temporary store and one ``exchange-agent`` process per body on localhost;
the script drops the bodies' own native files into the agents' outboxes, acts as the reviewers,
and sends audit's annual plan through the SDK.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import requests
from sqlalchemy import func, select

from adapters import ExchangeClient
from exchange.admin.accounts import scripted_reviewer
from exchange.admin.partners import add_partner
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery, Message
from exchange.supervision.figures import stats
from exchange.supervision.scope import Period
from exchange.transparency.tree import StoredTree
from exchange.transparency.verify import IntegrityFailure, verify_store
from exchange.transport.review import decide
from keys import SigningKey, load_signing_key, save_signing_key
from schemas.examples import share_example

SAMPLES = Path(__file__).resolve().parent.parent / "adapters" / "samples"
BODIES = {
    "audit": ("audit.yanliang", "燕良区审计局"),
    "discipline": ("discipline.yanliang", "燕良区纪委监委"),
    "inspection": ("inspection.yanliang", "燕良区委巡察办"),
    "personnel": ("personnel.yanliang", "燕良区委组织部"),
    "authority": ("authority.yanliang", "燕良区财政局"),
}
BIN = Path(sys.executable).parent


def run_demo(
    say: Callable[[str], None], *, timeout: float = 90, port: int | None = None
) -> dict[str, Any]:
    """Play the round; return the summary. The store is left under the returned ``home``; the
    hub listens on ``port`` (a free one when None).
    """
    home = Path(tempfile.mkdtemp(prefix="exchange-demo-"))
    config = Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}")
    hub = Hub(config)
    hub.initialise()
    (home / "agents").mkdir()
    for body, (partner_id, name) in BODIES.items():
        key = SigningKey.generate()
        save_signing_key(home / "agents" / f"{body}.pem", key)
        with hub.sessions.begin() as session:
            add_partner(
                session,
                partner_id,
                name=name,
                kid=f"{partner_id}#1",
                public_key=key.public_key,
                actor="demo",
                now=hub.now(),
            )
    env = {"EXCHANGE_HOME": str(home), "EXCHANGE_DATABASE_URL": config.database_url}
    port = port or _free_port()
    processes = [
        subprocess.Popen(
            [str(BIN / "exchange"), "serve", "--port", str(port)],
            env={**_environ(), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _ready(url), timeout, "the hub to start")
    say(f"hub: {url} (store {home})")
    agents = {body: _agent(home, url, body) for body in BODIES}
    for body, config_path in agents.items():
        log = (home / "agents" / f"{body}.log").open("ab")
        processes.append(
            subprocess.Popen(
                [str(BIN / "exchange-agent"), "--config", str(config_path)],
                env=_environ(),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
    say(f"agents: {', '.join(BODIES)}")
    try:
        return _play(hub, home, url, say, timeout)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _play(
    hub: Hub, home: Path, url: str, say: Callable[[str], None], timeout: float
) -> dict[str, Any]:
    outbox = {body: home / "agents" / body / "outbox" for body in BODIES}
    inbox = {body: home / "agents" / body / "inbox" for body in BODIES}
    today = datetime.now(UTC).astimezone().date()
    cn_today = f"{today.year}年{today.month}月{today.day}日"

    # 1. Audit refers the two clues of its economic-responsibility audit to discipline.
    _drop(outbox["audit"], "移送处理书.json", _sample("audit/移送处理书.json"))
    referrals = _wait(lambda: _held(hub, "clue.referral.v1", 2), timeout, "two held referrals")
    say("audit → discipline: 2 clue referrals, held for review")
    approved, rejected = referrals
    for reviewer in ("张审核", "李复核"):
        _review(hub, approved, reviewer, None)
    _review(hub, rejected, "张审核", "线索材料不足以支撑移送，请补充证据后重新移送。")
    say(
        f"review: {_named(hub, approved)} approved by two reviewers; "
        f"{_named(hub, rejected)} rejected (notice to audit)"
    )

    # 2. Discipline signs for it (its agent acks), accepts, disposes (初步核实) and concludes.
    _wait(lambda: _acked(hub, approved, "discipline.yanliang"), timeout, "discipline's ack")
    referral = _native(inbox["discipline"], approved)
    key = _find(referral, "移送编号")
    template = _sample("discipline/线索处置反馈.json")
    steps = [dict(r) for r in template[:3]]
    for step in steps:
        step.update(移送编号=key, 来文消息编号=approved, 办理日期=cn_today)
    _drop(outbox["discipline"], "线索处置反馈.json", steps)
    _wait(lambda: _count(hub, "clue.feedback.v1") == 3, timeout, "three feedbacks")
    say("discipline → audit: accepted, disposed (初步核实), concluded with outcomes")

    # 3. Audit shares the economic-responsibility result with personnel, which reports its use.
    _drop(outbox["audit"], "审计结果.json", _sample("audit/审计结果.json")[:1])
    share = _wait(lambda: _held(hub, "result.share.v1", 1), timeout, "the held share")[0]
    _review(hub, share, "张审核", None)
    _wait(lambda: _acked(hub, share, "personnel.yanliang"), timeout, "personnel's ack")
    shared = _native(inbox["personnel"], share)
    use = dict(_sample("personnel/成果运用反馈.json")[0])
    use.update(共享编号=_find(shared, "共享编号"), 来文消息编号=share, 运用日期=cn_today)
    _drop(outbox["personnel"], "成果运用反馈.json", [use])
    _wait(lambda: _count(hub, "result.feedback.v1") == 1, timeout, "the result-use feedback")
    say(f"audit → personnel: economic-responsibility result {_named(hub, share)}; use reported")

    # 4. Audit refers a clue to a competent authority (行政主管部门), which reports what it did.
    to_authority = dict(_sample("audit/移送处理书.json")[0])
    to_authority.update(移送编号="YL-SJ-YS-2026-001", 移送对象="行政主管部门")
    _drop(outbox["audit"], "移送处理书-主管部门.json", [to_authority])
    referral_id = _wait(lambda: _held(hub, "clue.referral.v1", 1), timeout, "the held referral")[0]
    for reviewer in ("张审核", "李复核"):
        _review(hub, referral_id, reviewer, None)
    _wait(lambda: _acked(hub, referral_id, "authority.yanliang"), timeout, "the authority's ack")
    # Its agent signed for it (the ack); then 受理, 处理中 (调查核查) and 办结.
    register = [r for r in _sample("authority/处理结果反馈.json") if r["办理环节"] in (10, 50, 60)]
    accepted = dict(register[0], 办理环节=20, 办理情况="区财政局已受理审计移送处理书。")
    disposed = next(r for r in register if r.get("处理方式") == 51)
    # 办结 keeps the disposition it was handled under (调查核查), with its outcomes.
    concluded = dict(next(r for r in register if r["办理环节"] == 60), 处理方式=51)
    answers = [
        dict(r, 移送处理书编号="YL-SJ-YS-2026-001", 来文消息编号=referral_id, 办理日期=cn_today)
        for r in (accepted, disposed, concluded)
    ]
    _drop(outbox["authority"], "处理结果反馈.json", answers)
    _wait(lambda: _count(hub, "clue.feedback.v1") == 3 + len(answers), timeout, "its feedbacks")
    say(f"audit → authority: {_named(hub, referral_id)}; 受理, 调查核查, 办结")

    # 5. Audit shares its annual plan with inspection: one project run jointly (巡审联动).
    audit = ExchangeClient(url, "audit.yanliang#1", load_signing_key(home / "agents" / "audit.pem"))
    plan = share_example(recipients=["inspection.yanliang"], payload=_ANNUAL_PLAN)
    for name in ("subject_unit", "subject_official", "audit_timing"):
        del plan["payload"][name]
    _review(hub, audit.send(plan).id, "张审核", None)
    say("audit → inspection: 2026年度审计项目计划, one project with inspection (巡审联动)")

    # 6. Audit and inspection push their rectification ledgers.
    _copy(outbox["audit"], "audit/整改台账.csv")
    _copy(outbox["inspection"], "inspection/巡察问题清单.csv")
    _wait(
        lambda: (
            not any(any(o.iterdir()) for o in outbox.values())
            and _count(hub, "rectification.status.v1") > 0
            and _settled(hub)
        ),
        timeout,
        "the ledgers",
    )
    say("audit, inspection → all: rectification ledgers")
    return _summary(hub, home)


def _summary(hub: Hub, home: Path) -> dict[str, Any]:
    with hub.readers() as session:
        figures = stats(session, None, Period(), hub.now())
        by_type = dict(
            session.execute(select(Message.type, func.count()).group_by(Message.type)).all()
        )
        size = StoredTree(session.connection()).size()
        try:
            report = verify_store(session, hub.trust)
            verified = f"ok ({report.entries} entries, {report.messages} messages)"
        except IntegrityFailure as failure:
            verified = f"FAILED at {failure.index}: {failure.reason}"
    rectification = figures["rectification"]
    return {
        "home": str(home),
        "messages": by_type,
        "referral_states": _states(figures["referrals"]),
        "ledger_items": rectification["total"],
        "rectification_rate": rectification["rectification_rate"],
        "overdue_items": rectification["overdue"],
        "plans": figures["plans"],
        "log_size": size,
        "log_verify": verified,
    }


_ANNUAL_PLAN: Final = {
    "share_id": "YL-SJ-JH-2026",
    "share_type": "annual_plan",
    "title": "燕良区审计局2026年度审计项目计划",
    "plan_items": [
        {"project": "区交通局2025年度预算执行审计", "kind": "audit", "joint": True},
        {"project": "区财政局局长任期经济责任审计", "kind": "econ_resp_audit"},
    ],
}


# --- helpers ------------------------------------------------------------------------------


def _named(hub: Hub, message_id: str) -> str:
    """A message as a reader follows it: its business key, then its id."""
    with hub.readers() as session:
        message = session.get(Message, message_id)
    subject = message.subject if message is not None else None
    return f"{subject} (message {message_id})" if subject else f"message {message_id}"


def _agent(home: Path, url: str, body: str) -> Path:
    partner_id = BODIES[body][0]
    config = home / "agents" / f"{body}.toml"
    partners = "".join(f'{b} = "{p}"\n' for b, (p, _name) in BODIES.items() if b != body)
    config.write_text(
        f'hub_url = "{url}"\nkid = "{partner_id}#1"\nkey_file = "{body}.pem"\n'
        f'adapter = "{body}"\nfolder = "{body}"\npoll_seconds = 0.3\n[partners]\n{partners}',
        encoding="utf-8",
    )
    return config


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _drop(folder: Path, name: str, records: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}"
    temporary.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    temporary.replace(folder / name)


def _copy(folder: Path, sample: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = (SAMPLES / sample).read_bytes()
    temporary = folder / f".{Path(sample).name}"
    temporary.write_bytes(data)
    temporary.replace(folder / Path(sample).name)


def _native(folder: Path, message_id: str) -> Any:
    path = next(p for p in folder.glob("*.json") if message_id in p.name)
    return json.loads(path.read_text(encoding="utf-8"))


def _find(record: Any, name: str) -> Any:
    """A field anywhere in a native record (adapters nest some)."""
    if isinstance(record, dict):
        if name in record:
            return record[name]
        for value in record.values():
            found = _find(value, name)
            if found is not None:
                return found
    if isinstance(record, list):
        for value in record:
            found = _find(value, name)
            if found is not None:
                return found
    return None


def _review(hub: Hub, message_id: str, reviewer: str, reason: str | None) -> None:
    with hub.sessions.begin() as session:
        decide(
            session,
            message_id,
            reviewer=scripted_reviewer(session, reviewer, now=hub.now()),
            approve=reason is None,
            reason=reason,
            now=hub.now(),
            trust=hub.trust,
        )


def _held(hub: Hub, kind: str, count: int) -> list[str] | None:
    with hub.readers() as session:
        ids = list(
            session.scalars(
                select(Message.id)
                .where(Message.type == kind, Message.status == "pending_review")
                .order_by(Message.log_index)
            )
        )
    return ids if len(ids) >= count else None


def _acked(hub: Hub, message_id: str, recipient: str) -> bool:
    with hub.readers() as session:
        delivery = session.get(Delivery, (message_id, recipient))
        return delivery is not None and delivery.acked_at is not None


def _count(hub: Hub, kind: str) -> int:
    with hub.readers() as session:
        return int(
            session.scalar(select(func.count()).select_from(Message).where(Message.type == kind))
            or 0
        )


def _settled(hub: Hub) -> bool:
    """Every released message acked by every recipient (the agents have caught up)."""
    with hub.readers() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.cursor.is_not(None), Delivery.acked_at.is_(None))
        )
    return not waiting


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo waited too long for {what}")
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=1).ok
    except requests.RequestException:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _states(referrals: dict[str, Any]) -> dict[str, int]:
    # Released cases by state, and those rejected in review beside them (Version 1 figures
    # count them apart).
    states = dict(referrals["by_state"])
    if referrals["rejected"]:
        states["rejected"] = referrals["rejected"]
    return dict(sorted(states.items()))
