"""Bank transfer orders paid from a bank statement: ISO 20022 camt.053 XML and CSV."""

from __future__ import annotations

import pytest


def camt053(entries: list[tuple[str, str, str, str]]) -> bytes:
    """(bank entry ref, amount, currency, remittance text) -> a camt.053.001.08 statement."""
    ntry = "".join(f"""
      <Ntry>
        <Amt Ccy="{cur}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-03</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <RltdPties><Dbtr><Pty><Nm>Jan Kowalski</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>{text}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>""" for ref, amount, cur, text in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-12-03T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-1-1</Id>
      <Ntry>
        <Amt Ccy="EUR">12.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><AcctSvcrRef>FEE-1</AcctSvcrRef>
      </Ntry>{ntry}
    </Stmt>
  </BkToCstmrStmt>
</Document>""".encode()


def _transfer_order(shop, qty: int = 1):  # type: ignore[no-untyped-def]
    r = shop.order([("TEE", qty)], payment={"provider": "bank_transfer"})
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "confirmed" and o["payment"]["status"] == "awaiting"
    assert o["payment"]["reference"] == o["number"]
    return o


def _upload(shop, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return shop.client.post("/api/v1/payments/reconciliation/statements", files={"file": (name, data)},
                            headers=shop.admin)


@pytest.mark.backends("sqlite", "postgresql")
def test_camt053_line_with_reference_pays_and_wrong_amount_is_queued(shop):
    shop.basic(price="49.90")
    good, short = _transfer_order(shop), _transfer_order(shop, qty=2)
    statement = camt053([("BANK-1", "49.90", "EUR", f"Order {good['number']} thank you"),
                         ("BANK-2", "90.00", "EUR", f"payment {short['number']}"),
                         ("BANK-3", "15.00", "EUR", "no idea what this is")])
    r = _upload(shop, "statement.xml", statement)
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["lines"], result["matched"], result["queued"]) == (3, 1, 2)
    assert shop.get_order(good["id"])["status"] == "paid"
    assert shop.events("order.paid", good["id"]) == 1
    assert shop.get_order(short["id"])["status"] == "confirmed"
    queue = shop.client.get("/api/v1/payments/reconciliation/lines", params={"status": "queued"},
                            headers=shop.admin).json()["items"]
    by_ref = {q["entry_ref"]: q for q in queue}
    assert "differs from the 99.80 EUR due" in by_ref["BANK-2"]["reason"]
    assert by_ref["BANK-2"]["order_number"] == short["number"]
    assert "no bank-transfer order" in by_ref["BANK-3"]["reason"]
    # the same statement again changes nothing
    again = _upload(shop, "statement.xml", statement).json()
    assert (again["already_imported"], again["matched"]) == (3, 0)
    assert shop.events("order.paid", good["id"]) == 1
    # a person resolves the queued line
    done = shop.client.post(f"/api/v1/payments/reconciliation/lines/{by_ref['BANK-2']['id']}/resolve",
                            data={"note": "asked the customer for 9.80"}, headers=shop.admin)
    assert done.status_code == 200 and done.json()["status"] == "resolved"


def test_csv_statement_pays_the_order(shop):
    shop.basic(price="20.00")
    o = _transfer_order(shop)
    csv_text = f"entry_ref,booking_date,amount,currency,reference,counterparty\nC-1,2026-12-03,20.00,EUR,{o['number']},Ana\n"
    r = _upload(shop, "bank.csv", csv_text.encode())
    assert r.status_code == 201 and r.json()["matched"] == 1, r.text
    assert shop.get_order(o["id"])["payment"]["status"] == "captured"


def test_bad_statements_are_refused_naming_the_problem(shop):
    shop.basic()
    bad_csv = _upload(shop, "bank.csv", b"entry_ref,amount,currency,reference\nX,abc,EUR,MX1\n")
    assert bad_csv.status_code == 422 and "line 2" in bad_csv.json()["errors"][0]["message"]
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Document>&a;</Document>'
    r = _upload(shop, "s.xml", bomb)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert shop.count("payment_statement_lines") == 0
