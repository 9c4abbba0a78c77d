#!/usr/bin/env python3
"""The paid round trip as an agent written in Python would do it, using only
the standard library: smtplib, imaplib, urllib and json.

Usage: roundtrip.py SMTP_HOST:PORT IMAP_HOST:PORT HTTP_HOST:PORT PASSWORD
Expects agents buyer (credited) and seller (per_request pricing) to exist.
Prints one line per step and exits non-zero on the first failure.
"""
import base64
import email
import imaplib
import json
import smtplib
import sys
import urllib.error
import urllib.request
from email.message import EmailMessage


def split(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def http_get(base, path, user=None, password=None):
    req = urllib.request.Request(base + path)
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def send(smtp_addr, user, password, to, subject, body, headers):
    msg = EmailMessage()
    msg["From"] = f"{user}@localhost"
    msg["To"] = f"{to}@localhost"
    msg["Subject"] = subject
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(body)
    host, port = split(smtp_addr)
    with smtplib.SMTP(host, port, timeout=10) as s:
        s.login(user, password)
        s.send_message(msg)


def inbox(imap_addr, user, password):
    host, port = split(imap_addr)
    m = imaplib.IMAP4(host, port)
    m.login(user, password)
    m.select("INBOX")
    _, data = m.search(None, "ALL")
    msgs = []
    for num in data[0].split():
        _, parts = m.fetch(num, "(BODY.PEEK[])")
        msgs.append(email.message_from_bytes(parts[0][1]))
    m.logout()
    return msgs


def available(base, user, password):
    bal = http_get(base, f"/agents/{user}/billing/balance", user, password)
    usd = [b for b in bal["balances"] if b["currency"] == "USD"][0]
    return usd["available"], usd["reserved"]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def main():
    smtp_addr, imap_addr, http_addr, password = sys.argv[1:5]
    base = "http://" + http_addr

    pricing = http_get(base, "/public/agents/seller/pricing")
    check(pricing["pricing_model"] == "per_request" and pricing["base_price"] == 0.25,
          f"public pricing {pricing['pricing_model']} {pricing['base_price']}")
    try:
        http_get(base, "/public/agents/buyer/pricing")
        check(False, "buyer has no public pricing")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "public pricing of a non-seller is 404")

    before, _ = available(base, "buyer", password)
    send(smtp_addr, "buyer", password, "seller", "Process this CSV",
         json.dumps({"file_url": "https://example.com/x.csv"}),
         {"X-AgentMail-Marketplace-Request-Id": "py-req-1"})
    avail, reserved = available(base, "buyer", password)
    check(reserved == 0.25 and avail == round(before - 0.25, 6),
          f"request reserved 0.25: available {avail}, reserved {reserved}")

    msgs = inbox(imap_addr, "seller", password)
    req = [m for m in msgs if m["X-AgentMail-Marketplace-Request-Id"] == "py-req-1"]
    check(len(req) == 1 and "amount=0.250000" in req[0]["X-AgentMail-Reservation"],
          "seller sees the request with its reservation stamp")

    usage = {"outcomes_returned": 12}
    send(smtp_addr, "seller", password, "buyer", "CSV processed",
         json.dumps({"status": "done", "rows": 12}),
         {"X-AgentMail-Marketplace-Request-Id": "py-req-1",
          "X-AgentMail-Usage": json.dumps(usage)})
    msgs = inbox(imap_addr, "buyer", password)
    resp = [m for m in msgs if m["X-AgentMail-Marketplace-Request-Id"] == "py-req-1"]
    stamp = resp[0]["X-AgentMail-Settlement"] if resp else ""
    check("charged=0.250000; released=0.000000" in stamp, f"buyer sees settlement: {stamp}")

    avail, reserved = available(base, "buyer", password)
    check(reserved == 0 and avail == round(before - 0.25, 6), f"buyer paid 0.25: {avail}")
    seller_avail, _ = available(base, "seller", password)
    check(seller_avail == 0.25, f"seller credited {seller_avail}")

    usage_rows = http_get(base, "/agents/buyer/billing/usage", "buyer", password)
    row = usage_rows["items"][0]
    check(row["marketplace_request_id"] == "py-req-1" and row["status"] == "settled"
          and row["charged"] == 0.25, "usage row shows the settled request")

    try:
        http_get(base, "/agents/seller/billing/balance", "buyer", password)
        check(False, "buyer must not read the seller's balance")
    except urllib.error.HTTPError as e:
        check(e.code == 403, "another agent's balance is 403")
    print("round trip complete")


if __name__ == "__main__":
    main()
