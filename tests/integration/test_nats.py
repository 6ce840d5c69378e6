"""Done-when: every event reaches the real NATS JetStream server, exactly once after dedup by
id, even though the worker publishing it is SIGKILLed mid-way."""

from __future__ import annotations

import asyncio
import json
import secrets
import time

import pytest
import sqlalchemy as sa

from merx.catalog.events import ProductPriceChanged
from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from merx.integration.broker import subject_for
from merx.inventory.events import StockChanged


def _emit(db, count: int, offset: int = 0) -> None:
    for i in range(offset, offset + count):
        with UnitOfWork(db) as uow:
            uow.emit(ProductPriceChanged(product_id=i % 40, sku=f"SKU-{i % 40}", currency="EUR", old_amount=None,
                                         new_amount=f"{i}.00"), version=i + 1)
            if i % 3 == 0:
                uow.emit(StockChanged(sku=f"SKU-{i % 7}", location="WH1", on_hand=i, reserved=0, available=i,
                                      status="in_stock", reason="receipt"), version=i + 1)
            uow.commit()


async def _read_stream(url: str, stream: str, subject_prefix: str, expected: int, timeout: float) -> list:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"{subject_prefix}.>", durable=None, stream=stream)
    msgs = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            batch = await sub.fetch(500, timeout=1)
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            info = await js.stream_info(stream)
            if len(msgs) >= expected and info.state.messages == len(msgs):
                break
            continue
        for m in batch:
            msgs.append((m.subject, dict(m.headers or {}), json.loads(m.data)))
            await m.ack()
    info = await js.stream_info(stream)
    await nc.close()
    return msgs, info.state.messages


async def _wait_for_messages(url: str, stream: str, timeout: float) -> int:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        try:
            count = (await js.stream_info(stream)).state.messages
        except NotFoundError:
            count = 0
        if count:
            break
        await asyncio.sleep(0.1)
    await nc.close()
    return count


async def _delete_stream(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except Exception:  # noqa: BLE001 - already gone is fine
        pass
    await nc.close()


@pytest.mark.backends("sqlite", "postgresql")
def test_every_event_reaches_jetstream_once_after_dedup(db, nats_url, workers):
    run = secrets.token_hex(4)
    stream, prefix = f"MERX_TEST_{run}".upper(), f"merxtest{run}"
    pool = workers(MERX_NATS_URL=nats_url, MERX_NATS_STREAM=stream, MERX_NATS_SUBJECT_PREFIX=prefix)
    try:
        first = pool.start()
        _emit(db, 80)
        assert asyncio.run(_wait_for_messages(nats_url, stream, 60)) > 0, pool.logs()
        pool.kill(first)  # whatever it published but had not recorded is published again
        pool.start()
        _emit(db, 80, offset=80)
        with db.engine.connect() as conn:
            expected = {r.id: r for r in conn.execute(sa.select(OutboxEvent.id, OutboxEvent.type,
                                                                 OutboxEvent.aggregate_id))}
        msgs, stream_count = asyncio.run(_read_stream(nats_url, stream, prefix, len(expected), timeout=60))
    finally:
        pool.stop_all()
        asyncio.run(_delete_stream(nats_url, stream))

    by_id: dict[str, list] = {}
    for subject, headers, body in msgs:
        by_id.setdefault(body["id"], []).append((subject, headers))
    assert set(by_id) == set(expected), f"missing {len(set(expected) - set(by_id))}; logs:\n{pool.logs()}"
    for event_id, copies in by_id.items():
        subject, headers = copies[0]
        assert subject == subject_for(prefix, expected[event_id].type)
        assert headers.get("Nats-Msg-Id") == event_id
    # JetStream's duplicate window drops the re-publishes of the killed worker's last batch
    assert stream_count == len(expected)
    # per-aggregate order in the stream
    versions: dict[str, list[int]] = {}
    for _, _, body in msgs:
        versions.setdefault(body["aggregate"]["type"] + body["aggregate"]["id"], []).append(body["aggregate"]["version"])
    assert all(v == sorted(v) for v in versions.values())


def test_subject_names():
    assert subject_for("merx", "order.placed") == "merx.order.placed"
    assert subject_for("merx", "product.price_changed") == "merx.product.price_changed"
    assert subject_for("merx", "webhook_endpoint.disabled") == "merx.webhook_endpoint.disabled"
