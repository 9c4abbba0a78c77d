"""A seller agent's inbox loop with Python's imaplib, as a third-party client.

It waits in IDLE for new mail (RFC 2177; imaplib has no IDLE before Python
3.14, so IDLE and DONE go over its socket), fetches each new request, flags
it \\Seen and moves it to Archive (RFC 6851). It prints "idling" each time it
is ready for mail and exits after handling COUNT messages.

usage: seller_loop.py HOST PORT USER PASSWORD COUNT
"""
import imaplib
import sys

host, port, user, password, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])


def say(line):
    print(line, flush=True)


def idle_until_exists(m):
    """Sends IDLE, returns once the server announces a message, sends DONE."""
    m.send(b"I1 IDLE\r\n")
    line = m.readline()
    assert line.startswith(b"+"), line
    say("idling")
    while True:
        line = m.readline()
        assert line, "connection closed during IDLE"
        if line.startswith(b"* ") and line.rstrip().endswith(b"EXISTS"):
            break
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        assert line, "connection closed after DONE"
        if line.startswith(b"I1 "):
            assert line.startswith(b"I1 OK"), line
            return


m = imaplib.IMAP4(host, port)
m.sock.settimeout(10)
m.login(user, password)
typ, data = m.select("INBOX")
assert typ == "OK", data
handled = 0
while handled < count:
    typ, data = m.uid("SEARCH", None, "UNSEEN")
    assert typ == "OK", data
    uids = data[0].split()
    if not uids:
        idle_until_exists(m)
        continue
    for uid in uids:
        typ, data = m.uid("FETCH", uid, "(BODY.PEEK[] FLAGS)")
        assert typ == "OK" and data[0] is not None, data
        assert b"\\Seen" not in data[0][0], data
        body = data[0][1]
        assert b"Subject: request " in body, body
        typ, data = m.uid("STORE", uid, "+FLAGS", r"(\Seen)")
        assert typ == "OK" and b"\\Seen" in data[0], data
        typ, data = m.uid("MOVE", uid, "Archive")
        assert typ == "OK", data
        handled += 1
        say("handled " + body.split(b"Subject: ")[1].split(b"\r\n")[0].decode())
typ, data = m.status("INBOX", "(MESSAGES)")
assert typ == "OK" and b"MESSAGES 0" in data[0], data
typ, data = m.status("Archive", "(MESSAGES UNSEEN)")
assert typ == "OK" and b"MESSAGES %d UNSEEN 0" % count in data[0], data
m.logout()
say("done")
