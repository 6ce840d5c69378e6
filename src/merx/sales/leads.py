"""Leads from every channel: one at a time (API, web form, QR scan) or many (CSV/XLSX exports of
chat groups, forums and trade-fair scanners). Each is normalised, checked against the known leads
for a duplicate (dedupe.py) and merged into it, or created, scored (rules.score_lead) and assigned
(territory rule, interest rule, else round-robin over the active reps). An import is all or
nothing: one bad row (an unparseable phone, a bad email) and nothing is written; the problem names
every bad row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import FieldError, RowError, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.sales import rules, scoring
from merx.sales.dedupe import Keys, LeadIndex
from merx.sales.events import LeadConverted, LeadCreated, LeadMerged
from merx.sales.models import AssignmentRule, Lead
from merx.sales.schemas import (AssignmentRuleIn, AssignmentRuleOut, ConvertLead, ImportReport, LeadIn, LeadIntake,
                                LeadOut, MergedRow, ScoringModelOut)
from merx.sales.scope import is_manager, load, scoped

MAX_IMPORT_ROWS = 200_000
COLUMNS = {"company": "company", "company_name": "company", "organisation": "company", "organization": "company",
           "name": "contact_name", "contact": "contact_name", "contact_name": "contact_name",
           "email": "email", "e-mail": "email", "phone": "phone", "mobile": "phone", "telephone": "phone",
           "tax_id": "tax_id", "vat": "tax_id", "vat_id": "tax_id", "country": "country", "territory": "territory",
           "region": "territory", "interest": "interest", "product_interest": "interest", "campaign": "campaign",
           "source": "source", "channel": "channel", "group": "channel", "note": "note", "notes": "note",
           "message": "note"}


def lead_out(lead: Lead) -> LeadOut:
    return LeadOut(id=lead.id, source=lead.source, channel=lead.channel, campaign=lead.campaign, company=lead.company,
                   contact_name=lead.contact_name, email=lead.email, phone=lead.phone, tax_id=lead.tax_id,
                   country=lead.country, territory=lead.territory, interest=lead.interest, status=lead.status,
                   owner_user_id=lead.owner_user_id, assigned_by=lead.assigned_by, score=lead.score,
                   score_reasons=lead.score_reasons or [], merged_sources=lead.merged_sources or [],
                   account_id=lead.account_id, deal_id=lead.deal_id, created_at=lead.created_at)


# -- normalising -------------------------------------------------------------------------------

def normalised(uow: UnitOfWork, data: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], list[FieldError]]:
    """Clean field values (email lower case, phone E.164, tax id key) and what could not be read."""
    out = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in data.items()}
    errors: list[FieldError] = []
    region = out.get("country") or uow.settings.default_phone_region
    if out.get("email"):
        try:
            out["email"] = customers.normalize_email(out["email"], prefix + "email")
        except ValidationProblem as e:
            errors.extend(e.errors)
    if out.get("phone"):
        try:
            out["phone"] = customers.normalize_phone(out["phone"], region, prefix + "phone")
        except ValidationProblem as e:
            errors.extend(e.errors)
    if out.get("country"):
        out["country"] = str(out["country"]).upper()
        if len(out["country"]) != 2 or not out["country"].isalpha():
            errors.append(FieldError(prefix + "country", f"{out['country']!r} is not an ISO 3166 country code"))
    out["tax_id"] = rules.tax_id_key(out.get("tax_id"))
    if not any(out.get(k) for k in ("email", "phone", "company", "tax_id")) and not errors:
        errors.append(FieldError(prefix + "email", "a lead needs at least an email, a phone, a company or a tax id",
                                 "required"))
    return out, errors


def keys_of(fields: dict[str, Any]) -> Keys:
    return Keys(email=fields.get("email"), phone=fields.get("phone"), tax_id=fields.get("tax_id"),
                company=rules.company_key(fields.get("company")))


# -- assignment ----------------------------------------------------------------------------------

@dataclass
class Assigner:
    """The assignment rules and the round-robin turn, loaded once per intake or import."""

    rules_: list[AssignmentRule]
    reps: list[int]
    turn: int
    given: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, uow: UnitOfWork) -> "Assigner":
        rows = list(uow.session.scalars(sa.select(AssignmentRule).order_by(AssignmentRule.priority.desc(),
                                                                            AssignmentRule.id)))
        reps = [uid for uid, _ in users.active_users(uow, Role.sales_rep)]
        turn = uow.session.scalar(sa.select(sa.func.count()).select_from(Lead)
                                  .where(Lead.assigned_by == "round_robin")) or 0
        return cls(rows, reps, int(turn))

    def assign(self, fields: dict[str, Any]) -> tuple[int | None, str | None]:
        for r in self.rules_:
            value = fields.get(r.kind)
            if value and str(value).strip().lower() == r.value.strip().lower():
                return r.user_id, r.kind
        if not self.reps:
            return None, None
        rep = self.reps[self.turn % len(self.reps)]
        self.turn += 1
        return rep, "round_robin"


def _score(lead_fields: dict[str, Any], merged: int, learned: Any = None) -> tuple[int, list[dict[str, Any]]]:
    """The points model's score and factors; with a learned model (scoring.scorer) its score, the
    points model's kept beside it for comparison."""
    points, reasons = rules.score_lead(source=lead_fields["source"], email=lead_fields.get("email"),
                                       phone=lead_fields.get("phone"), tax_id=lead_fields.get("tax_id"),
                                       company=lead_fields.get("company"), interest=lead_fields.get("interest"),
                                       merged=merged)
    if learned is None:
        return points, reasons
    score = learned([{**lead_fields, "merged_sources": [None] * merged}])[0]
    return score, [{"factor": learned.label, "points": score, "points_model": points}]


_FILLABLE = ("company", "contact_name", "email", "phone", "tax_id", "country", "territory", "interest")


def _merge_into(lead: Lead, fields: dict[str, Any], matched_on: str, row: int | None = None,
                learned: Any = None) -> None:
    """Fill the kept lead's empty fields from the duplicate and remember where it came from."""
    for name in _FILLABLE:
        if getattr(lead, name) is None and fields.get(name):
            setattr(lead, name, fields[name])
    if lead.company and not lead.company_key:
        lead.company_key = rules.company_key(lead.company)
    entry = {"source": fields["source"], "campaign": fields.get("campaign"), "channel": fields.get("channel"),
             "matched_on": matched_on, "at": utcnow().isoformat()}
    if row is not None:
        entry["row"] = row
    lead.merged_sources = [*(lead.merged_sources or []), entry]
    lead.score, lead.score_reasons = _score({"source": lead.source, **{n: getattr(lead, n) for n in _FILLABLE}},
                                            len(lead.merged_sources), learned)
    lead.version += 1


def _candidates(uow: UnitOfWork, keys: Keys) -> list[Lead]:
    """Known leads that could be this one (exact keys, or a company name in the same block)."""
    conds = []
    for kind in ("email", "phone", "tax_id"):
        if getattr(keys, kind):
            conds.append(getattr(Lead, kind) == getattr(keys, kind))
    if keys.company:  # the block dedupe.py compares in: names starting with the same letters
        prefix = keys.company[:2]
        conds.append(sa.and_(Lead.company_key >= prefix, Lead.company_key < prefix + "\uffff"))
    if not conds:
        return []
    return list(uow.session.scalars(sa.select(Lead).where(Lead.status != "merged", sa.or_(*conds))
                                    .order_by(Lead.id).limit(5000)))


def intake(uow: UnitOfWork, data: LeadIn, *, commit: bool = True) -> LeadIntake:
    """One lead: merged into its duplicate, or created, scored and assigned. A rep's own lead is
    theirs; a web form or QR scan (anonymous) is assigned by the rules."""
    fields, errors = normalised(uow, data.model_dump())
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    keys = keys_of(fields)
    index: LeadIndex[int] = LeadIndex()
    known = {lead.id: lead for lead in _candidates(uow, keys)}
    for lead in known.values():
        index.add(keys_of({n: getattr(lead, n) for n in _FILLABLE}), lead.id)
    hit = index.match(keys)
    if hit is not None:
        lead = known[hit[0]]
        _merge_into(lead, fields, hit[1], learned=scoring.scorer(uow))
        uow.emit(LeadMerged(lead_id=lead.id, source=fields["source"], campaign=fields.get("campaign"),
                            matched_on=hit[1]), version=lead.version)
        uow.audit("merge", "sales_lead", lead.id, after={"matched_on": hit[1], "source": fields["source"]})
        out = LeadIntake(lead=lead_out(lead), merged=True, matched_on=hit[1])
    else:
        lead = _new_lead(uow, fields)
        uow.session.flush()
        _created_event(uow, lead)
        uow.created("sales_lead", lead.id)
        out = LeadIntake(lead=lead_out(lead), merged=False)
    if commit:
        uow.commit()
    return out


def _new_lead(uow: UnitOfWork, fields: dict[str, Any], assigner: Assigner | None = None) -> Lead:
    if uow.actor.role == Role.sales_rep:
        owner, by = uow.actor.user_id, "creator"
    else:
        owner, by = (assigner or Assigner.load(uow)).assign(fields)
    score, reasons = _score(fields, 0, scoring.scorer(uow))
    lead = Lead(**{k: fields.get(k) for k in ("source", "channel", "campaign", "note", *_FILLABLE)},
                company_key=rules.company_key(fields.get("company")), status="new", owner_user_id=owner,
                assigned_by=by, score=score, score_reasons=reasons, merged_sources=[], version=1)
    uow.session.add(lead)
    return lead


def _created_event(uow: UnitOfWork, lead: Lead) -> None:
    uow.emit(LeadCreated(lead_id=lead.id, source=lead.source, campaign=lead.campaign, owner_user_id=lead.owner_user_id,
                         assigned_by=lead.assigned_by, score=lead.score), version=lead.version)


# -- import ---------------------------------------------------------------------------------------

def read_rows(filename: str, content: bytes) -> list[dict[str, Any]]:
    """CSV (UTF-8, comma or semicolon) or XLSX rows as dicts keyed by our field names."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:
            raise ValidationProblem.for_field("file", "is not a readable XLSX workbook") from None
        it = wb.active.iter_rows(values_only=True)
        header = next(it, None) or ()
        raw_rows: Iterable[Any] = ([("" if v is None else str(v)) for v in r] for r in it)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationProblem.for_field("file", "is not UTF-8 text (save the CSV as UTF-8)") from None
        first = text.split("\n", 1)[0]
        reader = csv.reader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
        header = next(reader, None) or []
        raw_rows = reader
    names = [COLUMNS.get(str(h or "").strip().lower().replace(" ", "_")) for h in header]
    if not any(n in ("email", "phone", "company", "tax_id") for n in names):
        raise ValidationProblem.for_field("file", "the header names none of: company, email, phone, tax_id")
    rows = []
    for values in raw_rows:
        if not any(str(v).strip() for v in values):
            continue
        rows.append({n: v for n, v in zip(names, values) if n is not None})
        if len(rows) > MAX_IMPORT_ROWS:
            raise ValidationProblem.for_field("file", f"has more than {MAX_IMPORT_ROWS} rows; split it")
    return rows


_LEAD_TABLE = Lead.__table__
_INSERT_LEADS = sa.insert(_LEAD_TABLE).returning(_LEAD_TABLE.c.id, sort_by_parameter_order=True)


def import_leads(uow: UnitOfWork, filename: str, content: bytes, *, source: str = "import",
                 campaign: str | None = None, channel: str | None = None) -> ImportReport:
    """All rows or none. Duplicates (against known leads and earlier rows) are merged; the report
    lists each merge with its row (the header is row 1) and what matched."""
    if source not in rules.LEAD_SOURCES:
        raise ValidationProblem.for_field("source", f"must be one of {', '.join(rules.LEAD_SOURCES)}")
    rows = read_rows(filename, content)
    del content
    problems: list[RowError] = []
    cleaned: list[dict[str, Any]] = []
    for n, raw in enumerate(rows, start=2):
        raw.setdefault("campaign", campaign)
        raw.setdefault("channel", channel)
        row_source = (raw.get("source") or source).strip().lower()
        raw["source"] = row_source if row_source in rules.LEAD_SOURCES else source
        fields, errors = normalised(uow, raw)
        for e in errors:
            problems.append(RowError(row=n, field=e.field, message=e.message, value=raw.get(e.field)))
        for name, limit in (("company", 200), ("contact_name", 200), ("interest", 120), ("campaign", 120),
                            ("channel", 64), ("territory", 64), ("note", 2000)):
            if fields.get(name) and len(str(fields[name])) > limit:
                problems.append(RowError(row=n, field=name, message=f"is longer than {limit} characters"))
        cleaned.append(fields)
    del rows
    if problems:
        first = problems[0]
        raise ValidationProblem(f"{len(problems)} row problem(s); nothing was imported. First: row {first.row}, "
                                f"{first.field}: {first.message}",
                                errors=[FieldError(f"rows[{p.row}].{p.field}", p.message) for p in problems[:200]],
                                extra={"rows": [p.as_dict() for p in problems[:200]]})
    # Known leads: exact keys and company names (one pass, columns only).
    index: LeadIndex[tuple[str, int]] = LeadIndex()
    for r in uow.session.execute(sa.select(Lead.id, Lead.email, Lead.phone, Lead.tax_id, Lead.company_key)
                                 .where(Lead.status != "merged").order_by(Lead.id)):
        index.add(Keys(r.email, r.phone, r.tax_id, r.company_key), ("lead", r.id))
    assigner = None if uow.actor.role == Role.sales_rep else Assigner.load(uow)
    new_rows: list[dict[str, Any]] = []
    merges: list[tuple[int, tuple[str, int], str]] = []  # (row, target, matched_on)
    for n, fields in enumerate(cleaned, start=2):
        keys = keys_of(fields)
        hit = index.match(keys)
        if hit is not None:
            merges.append((n, hit[0], hit[1]))
            if hit[0][0] == "row":
                _merge_row(new_rows[hit[0][1]], fields, hit[1], n)
            continue
        fields["company_key"] = keys.company
        fields["_row"] = n
        fields["_merged"] = []
        index.add(keys, ("row", len(new_rows)))
        new_rows.append(fields)
    now = utcnow()
    learned = scoring.scorer(uow)
    learned_scores = learned([{**f, "merged_sources": f["_merged"]} for f in new_rows]) if learned else []
    records = []
    for i, f in enumerate(new_rows):
        if uow.actor.role == Role.sales_rep:
            owner, by = uow.actor.user_id, "creator"
        else:
            owner, by = assigner.assign(f)  # type: ignore[union-attr]
        score, reasons = _score(f, len(f["_merged"]))
        if learned:
            score, reasons = learned_scores[i], [{"factor": learned.label, "points": learned_scores[i],
                                                  "points_model": score}]
        records.append({**{k: f.get(k) for k in ("source", "channel", "campaign", "note", "company_key", *_FILLABLE)},
                        "status": "new", "owner_user_id": owner, "assigned_by": by, "score": score,
                        "score_reasons": reasons, "merged_sources": f["_merged"], "merged_into_id": None,
                        "account_id": None, "deal_id": None, "version": 1, "created_at": now})
    conn = uow.session.connection()
    ids: list[int] = []
    for start in range(0, len(records), 2000):
        chunk = records[start:start + 2000]
        chunk_ids = [r[0] for r in conn.execute(_INSERT_LEADS, chunk)]
        for lead_id, rec in zip(chunk_ids, chunk):
            uow.emit(LeadCreated(lead_id=lead_id, source=rec["source"], campaign=rec["campaign"],
                                 owner_user_id=rec["owner_user_id"], assigned_by=rec["assigned_by"],
                                 score=rec["score"]), version=1)
        uow.flush_records()  # the outbox rows go out per chunk, not all held until the commit
        ids.extend(chunk_ids)
    del records, new_rows
    report: list[MergedRow] = []
    existing_targets = sorted({t[1] for _, t, _ in merges if t[0] == "lead"})
    kept = {lead.id: lead for lead in uow.session.scalars(sa.select(Lead).where(Lead.id.in_(existing_targets)))} \
        if existing_targets else {}
    for n, target, matched_on in merges:
        lead_id = ids[target[1]] if target[0] == "row" else target[1]
        fields = cleaned[n - 2]
        if target[0] == "lead":
            _merge_into(kept[lead_id], fields, matched_on, n, learned)
        uow.emit(LeadMerged(lead_id=lead_id, source=fields["source"], campaign=fields.get("campaign"),
                            matched_on=matched_on))
        report.append(MergedRow(row=n, into_lead_id=lead_id, matched_on=matched_on))
    uow.audit("import", "sales_lead", filename[:100], after={"rows": len(cleaned), "created": len(ids),
                                                             "merged": len(merges)})
    uow.commit()
    return ImportReport(rows=len(cleaned), created=len(ids), merged=len(merges), merges=report, created_ids=ids)


def _merge_row(target: dict[str, Any], fields: dict[str, Any], matched_on: str, row: int) -> None:
    for name in _FILLABLE:
        if not target.get(name) and fields.get(name):
            target[name] = fields[name]
    target["_merged"].append({"source": fields["source"], "campaign": fields.get("campaign"),
                              "channel": fields.get("channel"), "matched_on": matched_on, "row": row})


# -- reading, rules, converting ----------------------------------------------------------------------

def get_lead(uow: UnitOfWork, lead_id: int) -> LeadOut:
    return lead_out(load(uow, Lead, lead_id, "Lead"))


def list_leads(uow: UnitOfWork, *, status: str | None = None, source: str | None = None,
               limit: int | None = None, cursor: str | None = None) -> Page[LeadOut]:
    stmt = scoped(uow, sa.select(Lead), Lead)
    if status:
        stmt = stmt.where(Lead.status == status)
    if source:
        stmt = stmt.where(Lead.source == source)
    items, nxt = paginate(uow.session, stmt, Lead.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lead_out, descending=True)
    return Page(items=items, next_cursor=nxt)


def scoring_model(uow: UnitOfWork) -> ScoringModelOut:
    return ScoringModelOut(**vars(scoring.current(uow)))


def train_scoring_model(uow: UnitOfWork) -> ScoringModelOut:
    return ScoringModelOut(**vars(scoring.train(uow)))


def add_rule(uow: UnitOfWork, data: AssignmentRuleIn) -> AssignmentRuleOut:
    if users.user_role(uow, data.user_id) != Role.sales_rep:
        raise ValidationProblem.for_field("user_id", f"user {data.user_id} is not an active sales rep")
    rule = AssignmentRule(kind=data.kind, value=data.value, user_id=data.user_id, priority=data.priority)
    uow.session.add(rule)
    uow.session.flush()
    uow.audit("create", "sales_assignment_rule", rule.id, after=data.model_dump())
    uow.commit()
    return AssignmentRuleOut(id=rule.id, kind=rule.kind, value=rule.value, user_id=rule.user_id,
                             priority=rule.priority)


def list_rules(uow: UnitOfWork) -> list[AssignmentRuleOut]:
    return [AssignmentRuleOut(id=r.id, kind=r.kind, value=r.value, user_id=r.user_id, priority=r.priority)
            for r in uow.session.scalars(sa.select(AssignmentRule).order_by(AssignmentRule.priority.desc(),
                                                                            AssignmentRule.id))]


def convert_lead(uow: UnitOfWork, lead_id: int, data: ConvertLead) -> dict[str, Any]:
    """The lead becomes a deal on an account (the given one, or a new account from the lead)."""
    from merx.sales import accounts, deals
    from merx.sales.models import Account
    from merx.sales.schemas import AccountCreate, ContactIn, DealCreate

    lead = load(uow, Lead, lead_id, "Lead", for_update=True)
    if lead.status in ("converted", "merged"):
        from merx.core.errors import Conflict
        raise Conflict(f"Lead {lead_id} is already {lead.status}", type_slug="lead-closed")
    owner = lead.owner_user_id if is_manager(uow) and lead.owner_user_id else uow.actor.user_id
    if data.account_id is not None:
        account = load(uow, Account, data.account_id, "Account")
        account_id = account.id
        currency = account.currency
    else:
        if not lead.company:
            raise ValidationProblem.for_field("account_id", "the lead names no company: give an account_id")
        contact = [ContactIn(name=lead.contact_name or lead.company, email=lead.email, phone=lead.phone)] \
            if (lead.email or lead.phone) else []
        created = accounts.create_account(uow, AccountCreate(
            name=lead.company, tax_id=lead.tax_id, owner_user_id=owner if is_manager(uow) else None,
            territory=lead.territory, contacts=contact), commit=False)
        account_id, currency = created.id, created.currency
    amount = data.amount or None
    deal = deals.create_deal(uow, DealCreate(
        title=data.title or f"{lead.company or lead.contact_name or 'Lead'} ({lead.source})", account_id=account_id,
        amount=amount or {"currency": currency, "amount": "0"}, expected_close=data.expected_close,
        owner_user_id=owner if is_manager(uow) else None), lead_id=lead.id, commit=False)
    lead.status, lead.account_id, lead.deal_id = "converted", account_id, deal.id
    lead.version += 1
    uow.emit(LeadConverted(lead_id=lead.id, account_id=account_id, deal_id=deal.id), version=lead.version)
    uow.audit("convert", "sales_lead", lead.id, after={"account_id": account_id, "deal_id": deal.id})
    uow.commit()
    return {"lead": lead_out(lead), "account_id": account_id, "deal": deal}

