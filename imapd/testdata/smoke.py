"""Drives the IMAP server with Python's imaplib, as a third-party client."""
import imaplib
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = b"Subject: from python\r\n\r\nhello from imaplib\r\n"

m = imaplib.IMAP4(host, port)
m.login(user, password)
typ, data = m.append("INBOX", r"(\Flagged)", None, raw)
assert typ == "OK", data
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", data
typ, data = m.fetch("1", "(BODY.PEEK[] FLAGS)")
assert typ == "OK" and data[0][1] == raw, data
assert b"\\Flagged" in data[0][0], data
typ, data = m.search(None, "SUBJECT", "python")
assert typ == "OK" and data[0] == b"1", data
typ, data = m.list()
assert typ == "OK" and any(b"\\Sent" in line for line in data), data
typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
assert typ == "OK" and b"MESSAGES 1" in data[0], data
m.store("1", "+FLAGS", r"\Deleted")
typ, data = m.expunge()
assert typ == "OK" and data[0] == b"1", data
m.logout()
print("ok")
