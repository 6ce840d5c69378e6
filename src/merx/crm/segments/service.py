"""Segments: rule segments (filter language, evaluated on demand and refreshed per profile
whenever its events, orders, loyalty or consent change) and static segments materialised by
RFM, value tiers and clusters. Every segment has an id, a member list and CSV/XLSX export."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from typing import Any, Iterable

import numpy as np
import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.spreadsheet import safe_row
from merx.core.uow import UnitOfWork
from merx.crm.events import SegmentCreated, SegmentUpdated
from merx.crm.models import Segment, SegmentMember
from merx.crm.segments.lang import Node, SegmentSyntaxError, compile_expression, evaluate

KINDS = ("rule", "rfm", "tier", "cluster")


def syntax_problem(e: SegmentSyntaxError, field: str = "expression") -> ValidationProblem:
    return ValidationProblem(f"{field}: {e.message} (at position {e.position})",
                             errors=[FieldError(field, f"{e.message} (at position {e.position})", "syntax")],
                             extra={"position": e.position, "pointer": e.pointer()})


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Node:
    from merx.crm.profiles import FIELDS

    return compile_expression(expression, FIELDS)


def compile_rule(expression: str) -> Node:
    try:
        return _compiled(expression)
    except SegmentSyntaxError as e:
        raise syntax_problem(e) from None


def _segment(uow: UnitOfWork, segment_id: int) -> Segment:
    seg = uow.session.get(Segment, segment_id)
    if seg is None:
        raise NotFound(f"Segment {segment_id} does not exist")
    return seg


def _check_name(uow: UnitOfWork, name: str, exclude: int | None = None) -> None:
    stmt = sa.select(Segment.id).where(Segment.name == name)
    if exclude is not None:
        stmt = stmt.where(Segment.id != exclude)
    if uow.session.scalar(stmt) is not None:
        raise Conflict(f"A segment named {name!r} exists", errors=[FieldError("name", "already used", "duplicate")],
                       type_slug="duplicate")


def create_segment(uow: UnitOfWork, *, name: str, expression: str, description: str | None = None) -> Segment:
    compile_rule(expression)
    _check_name(uow, name)
    seg = Segment(name=name, kind="rule", expression=expression, description=description)
    uow.session.add(seg)
    uow.session.flush()
    uow.audit("create", "segment", seg.id, after={"name": name, "expression": expression})
    _evaluate_into(uow, seg)
    uow.emit(SegmentCreated(segment_id=seg.id, name=name, members=seg.member_count), version=seg.version)
    uow.commit()
    return seg


def update_segment(uow: UnitOfWork, segment_id: int, *, name: str | None = None, expression: str | None = None,
                   description: str | None = None) -> Segment:
    seg = _segment(uow, segment_id)
    before = {"name": seg.name, "expression": seg.expression}
    if expression is not None:
        if seg.kind != "rule":
            raise ValidationProblem.for_field("expression", f"a {seg.kind} segment has no expression; it is recomputed by its run")
        compile_rule(expression)
        seg.expression = expression
    if name is not None:
        _check_name(uow, name, exclude=seg.id)
        seg.name = name
    if description is not None:
        seg.description = description
    seg.version += 1
    uow.audit("update", "segment", seg.id, before=before, after={"name": seg.name, "expression": seg.expression})
    if expression is not None:
        _evaluate_into(uow, seg)
    uow.emit(SegmentUpdated(segment_id=seg.id, members=seg.member_count), version=seg.version)
    uow.commit()
    return seg


def delete_segment(uow: UnitOfWork, segment_id: int) -> None:
    seg = _segment(uow, segment_id)
    uow.session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == seg.id))
    uow.audit("delete", "segment", seg.id, before={"name": seg.name, "expression": seg.expression})
    uow.session.delete(seg)
    uow.commit()


def matching_ids(uow: UnitOfWork, expression: str, ids: Iterable[int] | None = None) -> list[int]:
    from merx.crm.profiles import profile_columns

    node = compile_rule(expression)
    order, cols = profile_columns(uow, ids)
    if len(order) == 0:
        return []
    return order[evaluate(node, cols)].tolist()


def preview(uow: UnitOfWork, expression: str, sample: int = 20) -> dict[str, Any]:
    ids = matching_ids(uow, expression)
    return {"expression": expression, "count": len(ids), "sample": ids[:sample]}


def _replace_members(uow: UnitOfWork, seg: Segment, ids: list[int]) -> None:
    current = set(uow.session.scalars(sa.select(SegmentMember.customer_id).where(SegmentMember.segment_id == seg.id)))
    wanted = set(ids)
    gone = sorted(current - wanted)
    new = sorted(wanted - current)
    for i in range(0, len(gone), 500):
        uow.session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == seg.id,
                                                           SegmentMember.customer_id.in_(gone[i:i + 500])))
    now = utcnow()
    if new:
        uow.session.execute(sa.insert(SegmentMember), [{"segment_id": seg.id, "customer_id": c, "added_at": now} for c in new])
    seg.member_count = len(wanted)
    seg.evaluated_at = now


def _evaluate_into(uow: UnitOfWork, seg: Segment) -> None:
    _replace_members(uow, seg, matching_ids(uow, seg.expression or ""))


def evaluate_segment(uow: UnitOfWork, segment_id: int) -> Segment:
    seg = _segment(uow, segment_id)
    if seg.kind != "rule":
        raise ValidationProblem.for_field("segment_id", f"a {seg.kind} segment is recomputed by its own run")
    _evaluate_into(uow, seg)
    uow.commit()
    return seg


def save_static_segment(uow: UnitOfWork, *, name: str, kind: str, customer_ids: list[int],
                        description: str | None = None) -> Segment:
    """Create or refresh a materialised segment (RFM, tier, cluster). Does not commit."""
    seg = uow.session.scalars(sa.select(Segment).where(Segment.name == name)).first()
    if seg is None:
        seg = Segment(name=name, kind=kind, description=description)
        uow.session.add(seg)
        uow.session.flush()
    elif seg.kind != kind:
        raise Conflict(f"A {seg.kind} segment named {name!r} exists", type_slug="duplicate")
    else:
        seg.description = description
        seg.version += 1
    _replace_members(uow, seg, customer_ids)
    return seg


def refresh_profiles(uow: UnitOfWork, customer_ids: Iterable[int]) -> None:
    """Incremental freshness: re-evaluate every rule segment for just these profiles. Does not commit."""
    from merx.crm.profiles import profile_columns

    ids = sorted(set(customer_ids))
    if not ids:
        return
    rules = list(uow.session.scalars(sa.select(Segment).where(Segment.kind == "rule")))
    if not rules:
        return
    order, cols = profile_columns(uow, ids)
    live = set(order.tolist())
    gone_profiles = [c for c in ids if c not in live]  # merged or erased: in no segment any more
    for seg in rules:
        try:
            node = _compiled(seg.expression or "")
        except SegmentSyntaxError:
            continue  # a field was retired since the segment was saved; its last membership stands
        mask = evaluate(node, cols) if len(order) else np.zeros(0, dtype=bool)
        inside = set(order[mask].tolist())
        current = set(uow.session.scalars(sa.select(SegmentMember.customer_id).where(
            SegmentMember.segment_id == seg.id, SegmentMember.customer_id.in_(ids))))
        remove = (current - inside) | (current & set(gone_profiles))
        add = inside - current
        if remove:
            uow.session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == seg.id,
                                                               SegmentMember.customer_id.in_(sorted(remove))))
        if add:
            now = utcnow()
            uow.session.execute(sa.insert(SegmentMember), [{"segment_id": seg.id, "customer_id": c, "added_at": now}
                                                           for c in sorted(add)])
        if add or remove:
            seg.member_count = seg.member_count + len(add) - len(remove)


def forget_profile(uow: UnitOfWork, customer_id: int) -> None:
    """Remove a profile from every segment (it was merged away or erased). Does not commit."""
    seg_ids = list(uow.session.scalars(sa.select(SegmentMember.segment_id).where(SegmentMember.customer_id == customer_id)))
    if not seg_ids:
        return
    uow.session.execute(sa.delete(SegmentMember).where(SegmentMember.customer_id == customer_id))
    uow.session.execute(sa.update(Segment).where(Segment.id.in_(seg_ids)).values(member_count=Segment.member_count - 1))


def get_segment(uow: UnitOfWork, segment_id: int) -> Segment:
    return _segment(uow, segment_id)


def list_segments(uow: UnitOfWork) -> list[Segment]:
    return list(uow.session.scalars(sa.select(Segment).order_by(Segment.id)))


def member_ids(uow: UnitOfWork, segment_id: int) -> list[int]:
    _segment(uow, segment_id)
    return list(uow.session.scalars(sa.select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment_id)
                                    .order_by(SegmentMember.customer_id)))


EXPORT_COLUMNS = ("customer_id", "email", "phone", "first_name", "last_name", "country", "locale")


def export_rows(uow: UnitOfWork, segment_id: int) -> list[list[Any]]:
    from merx.customers import public as customers

    ids = member_ids(uow, segment_id)
    rows = {a["id"]: a for a in customers.customer_attributes(uow, ids)}
    return [[cid, rows[cid]["email"], rows[cid]["phone"], rows[cid]["first_name"], rows[cid]["last_name"],
             rows[cid]["country"], rows[cid]["locale"]] for cid in ids if cid in rows]


def export_segment(uow: UnitOfWork, segment_id: int, fmt: str) -> tuple[bytes, str, str]:
    """(content, media type, file name) of the member list as CSV or XLSX."""
    seg = _segment(uow, segment_id)
    rows = export_rows(uow, segment_id)
    safe = "".join(ch if ch.isalnum() else "-" for ch in seg.name.lower()).strip("-") or f"segment-{seg.id}"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(safe_row(row))
        return buf.getvalue().encode("utf-8"), "text/csv; charset=utf-8", f"{safe}.csv"
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        # Sheet titles may not contain []:*?/\ and are at most 31 characters.
        title = "".join(" " if ch in "[]:*?/\\" else ch for ch in seg.name)[:31].strip() or "segment"
        ws = wb.create_sheet(title)
        ws.append(list(EXPORT_COLUMNS))
        for row in rows:
            ws.append(safe_row(row))
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{safe}.xlsx"
    raise ValidationProblem.for_field("format", "must be csv or xlsx")


def segment_members(uow: UnitOfWork, segment_id: int, *, limit: int | None = None,
                    cursor: str | None = None) -> Page[int]:
    """One page of a segment's member customer ids, in id order."""
    get_segment(uow, segment_id)
    stmt = sa.select(SegmentMember).where(SegmentMember.segment_id == segment_id)
    items, nxt = paginate(uow.session, stmt, SegmentMember.customer_id, limit=check_limit(limit, 100, 5000),
                          cursor=cursor, convert=lambda m: m.customer_id)
    return Page[int](items=items, next_cursor=nxt)
