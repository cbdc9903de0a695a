"""The built-in fake Twilio (app/sms/fake_twilio) served over HTTP on loopback, for the
outbound benchmark and the soak: `flask outbox work` processes reach it through
TWILIO_API_BASE_URL with the real twilio SDK, exactly as they would reach api.twilio.com.

    .venv/bin/python bench/fake_twilio_server.py --port 8900 --latency 0.2
    .venv/bin/python bench/fake_twilio_server.py --port 8900 --fail-rate 0.05 \\
        --callbacks-to http://127.0.0.1:8000 --public-base-url http://127.0.0.1:8000

--latency: seconds each send takes to answer (after the message is accepted).
--fail-rate: share of sends that fail, in turn: HTTP 500 (nothing sent), HTTP 429 with
  Retry-After: 1 (nothing sent), and a dropped connection after the message was accepted
  (sent, but the sender cannot know: the outbox must look it up, not send it twice).
--callbacks-to: deliver status callbacks (sent, delivered) over HTTP to this server, signed
  for --public-base-url. Without it no callbacks are kept or sent.

Besides the Twilio API it answers GET /_bench/health, GET /_bench/outbound (every message
it accepted: sid, to, from, body, status), GET /_bench/stats (requests by status, faults
injected, callbacks still to deliver) and POST /_bench/media?message_sid=MM...
(the body, with its Content-Type, kept as a Media of that message as if a customer's MMS
had brought it; answers {"url": its MediaUrl}; for bench/media.py).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import random
import signal
import sys
import threading
from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.config import FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN
from app.sms.fake_twilio import FakeTwilio, FakeTwilioAPI


class HttpForwarder:
    """A WSGI app that hands each request to a server over HTTP: the fake delivers its
    webhooks to "an app", and here the app runs in gunicorn."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit("callbacks go to loopback only")
        self.host, self.port = parts.hostname, parts.port or 80

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.full_path if request.query_string else request.path
        headers = {key: value for key, value in request.headers.items() if key.lower() != "host"}
        body = request.get_data()
        for attempt in range(3):
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                conn.request(request.method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except OSError:
                if attempt == 2:
                    raise
            finally:
                conn.close()
        start_response(f"{response.status} {response.reason}", list(response.getheaders()))
        return [payload]


class BenchFakeTwilio:
    def __init__(self, args: argparse.Namespace) -> None:
        self.fake = FakeTwilio(
            account_sid=FAKE_TWILIO_ACCOUNT_SID,
            auth_token=FAKE_TWILIO_AUTH_TOKEN,
            target_app=HttpForwarder(args.callbacks_to) if args.callbacks_to else None,
            public_base_url=lambda: args.public_base_url or args.callbacks_to or "",
            auto_advance=bool(args.callbacks_to),
        )
        if not args.callbacks_to:
            # Nobody listens: keep no callbacks (the schedule would only grow).
            self.fake.schedule = lambda delay, action: None  # type: ignore[method-assign]
        self.fake.set_latency(args.latency)
        self.api = FakeTwilioAPI(self.fake)
        self.fail_rate = args.fail_rate
        self.random = random.Random(args.seed)
        self.kinds = itertools.cycle(("500", "429", "drop-after-accept"))
        self.injected: dict[str, int] = {}
        self.lock = threading.Lock()

    def _maybe_fail(self, request: Request) -> None:
        if request.method != "POST" or not request.path.endswith("/Messages.json"):
            return
        with self.lock:
            if self.random.random() >= self.fail_rate:
                return
            kind = next(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
        # One fault, taken by the next send (this one, or one arriving at the same moment).
        if kind == "500":
            self.fake.fail_next(1, status=500)
        elif kind == "429":
            self.fake.fail_next(1, status=429, retry_after=1)
        else:
            self.fake.drop_next(1, after_accept=True)

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/_bench/health":
            return Response("ok")(environ, start_response)
        if request.path == "/_bench/outbound":
            messages = [
                {"sid": m.sid, "to": m.to, "from": m.from_, "body": m.body, "status": m.status}
                for m in self.fake.outbound()
            ]
            return Response(json.dumps(messages), mimetype="application/json")(
                environ, start_response
            )
        if request.path == "/_bench/media" and request.method == "POST":
            item = self.fake.add_media(
                message_sid=request.args["message_sid"],
                data=request.get_data(),
                content_type=request.mimetype or "application/octet-stream",
            )
            return Response(json.dumps({"url": item.url}), mimetype="application/json")(
                environ, start_response
            )
        if request.path == "/_bench/stats":
            with self.fake.lock:
                statuses: dict[str, int] = {}
                for recorded in self.fake.requests:
                    key = f"{recorded.method} {recorded.status}"
                    statuses[key] = statuses.get(key, 0) + 1
                stats = {
                    "requests": statuses,
                    "injected": dict(self.injected),
                    "callbacks_pending": len(self.fake.scheduled),
                    "callbacks_delivered": len(self.fake.webhooks),
                    "callbacks_failed": sum(1 for w in self.fake.webhooks if w.status >= 400),
                }
            return Response(json.dumps(stats), mimetype="application/json")(environ, start_response)
        self._maybe_fail(request)
        return self.api(environ, start_response)


class KeepAlive(WSGIRequestHandler):
    # HTTP/1.1, so the SDK's connection pool keeps its connections as it does with
    # api.twilio.com (werkzeug's default, HTTP/1.0, closes each one).
    protocol_version = "HTTP/1.1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--callbacks-to", default="")
    parser.add_argument("--public-base-url", default="")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)

    # No line per request; and a dropped connection is raised on purpose, so no traceback.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = make_server(
        "127.0.0.1", args.port, BenchFakeTwilio(args), threaded=True, request_handler=KeepAlive
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"fake Twilio on http://127.0.0.1:{args.port} (latency {args.latency}s)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
