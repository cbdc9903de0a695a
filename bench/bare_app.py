"""The baseline of bench/webhooks.py: a bare Flask endpoint that parses the same
Twilio-shaped form and answers the same empty TwiML, with no signature check and no
database. Served by gunicorn with the project's gunicorn.conf.py, like the real app."""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@app.get("/")
def ready() -> str:
    return "ok"


@app.post("/webhooks/twilio/sms")
def sms() -> Response:
    if not request.form.get("MessageSid"):
        return Response("MessageSid is required.", status=400, mimetype="text/plain")
    return Response(EMPTY_TWIML, mimetype="text/xml")
