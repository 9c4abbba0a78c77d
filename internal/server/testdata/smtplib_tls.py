"""Submit one message with Python's smtplib over TLS, trusting only the
server's certificate: STARTTLS on the submission port, or implicit TLS.

usage: smtplib_tls.py starttls|implicit HOST PORT CAFILE USER PASSWORD TO
"""
import smtplib
import ssl
import sys
from email.message import EmailMessage

mode, host, port, cafile, user, password, to = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
msg = EmailMessage()
msg["From"], msg["To"] = f"{user}@localhost", f"{to}@localhost"
msg["Subject"] = f"smtplib {mode} Grüße"
msg.set_content("sent by Python over TLS: Grüße ✓\n")

if mode == "starttls":
    with smtplib.SMTP(host, int(port)) as s:
        s.ehlo()
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, password)
        s.send_message(msg)
else:
    with smtplib.SMTP_SSL(host, int(port), context=ctx) as s:
        s.login(user, password)
        s.send_message(msg)
print("sent", mode)
