"""Benchmark 7: fetching customers' MMS pictures (issue 17), the worker's half.

    .venv/bin/python bench/media.py                      # 20 pictures: 10 JPEG, 10 HEIC
    .venv/bin/python bench/media.py --count 40 --formats jpeg

A phone camera's pictures (4032 x 3024, 2-4 MB: JPEG as Android phones send them, HEIC as
iPhones do) are handed to the fake Twilio, served over HTTP on loopback in its own process
(bench/fake_twilio_server.py, Basic auth, a 307 to its media CDN host, as Twilio serves
media), each as the Media of an inbound text. Then this process does what `flask outbox
work` does for them: `fetch_due_media` (app/services/message_media.py), one picture per
call, so each is timed alone: the download through app/sms/media.py (requests, streamed,
5 MB cap), keeping it (decoded by Pillow / pillow-heif within the pixel limit, re-encoded
as a 2048 px JPEG and a 320 px thumbnail, written to the media store), and the DELETE of
Twilio's copy (the company's privacy setting, on by default).

CPU time per picture (the process's, all its threads: libheif decodes on several) is given
beside the wall time, as the machine may be shared.

Two passes over fresh copies of the same pictures: the first for time (per picture, and
throughput of one worker thread), with the process's resident memory sampled every 2 ms
(Pillow's pixel buffers are outside Python's allocator: the RSS rise is what a worker
needs); the second under tracemalloc for the Python heap's peak per picture (which slows
Python code, hence apart). The media store is the local one, in a temporary folder; the
database a temporary SQLite file unless --database-url names a PostgreSQL one.

Target: none set by the issue; what the figures are read against is a picture every
second or two from each customer at the busiest, and a worker that stays small.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import processes
from PIL import Image, ImageFilter
from pillow_heif import register_heif_opener
from report import machine, percentile, table

register_heif_opener()

WIDTH, HEIGHT = 4032, 3024  # a 12-megapixel phone camera
CACHE = processes.LOG_DIR / "media-pictures"
# Encoder settings that land where phones' pictures do (2-4 MB at 12 MP); HEVC encoding is
# slow (10-50 s a picture here), so the pictures are made once and kept in CACHE.
FORMATS = {
    "jpeg": ("JPEG", {"quality": 95}, "image/jpeg", 60, 1.0),
    "heic": ("HEIF", {"quality": 75}, "image/heic", 40, 1.5),
}
VARIANTS = 2  # distinct pictures per format (each fetched several times, as a new Media)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def make_picture(fmt: str, variant: int) -> bytes:
    """A photo-like picture: gradients and blurred grain (not flat colour, which would
    compress to nothing; not raw noise, which no camera makes). Cached."""
    path = CACHE / f"{fmt}-{WIDTH}x{HEIGHT}-{variant}.bin"
    if path.exists():
        return path.read_bytes()
    pil_format, options, _, sigma, blur = FORMATS[fmt]
    base = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    colour = Image.merge(
        "RGB",
        (
            base,
            base.rotate(90 + variant * 30).resize((WIDTH, HEIGHT)),
            Image.radial_gradient("L").resize((WIDTH, HEIGHT)),
        ),
    )
    grain = Image.effect_noise((WIDTH, HEIGHT), sigma).filter(ImageFilter.GaussianBlur(blur))
    grain_rgb = Image.merge(
        "RGB", (grain, grain.rotate(180), grain.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    picture = Image.blend(colour, grain_rgb, 0.35)
    out = io.BytesIO()
    picture.save(out, pil_format, **options)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return out.getvalue()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class RssSampler:
    """The highest resident size seen since `reset()`, sampled every 2 ms in a thread."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def reset(self) -> int:
        self.peak = rss_bytes()
        return self.peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Timings:
    """Where one `fetch_due_media` call spent its time (the three stages are timed by
    wrapping the functions it calls; the rest is the database and bookkeeping)."""

    download: list[float] = field(default_factory=list)
    keep: list[float] = field(default_factory=list)
    delete: list[float] = field(default_factory=list)


def timed(timings: list[float], function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timings.append(time.perf_counter() - start)

    return wrapper


def upload(fake_url: str, data: bytes, content_type: str) -> tuple[str, str]:
    message_sid = "MM" + secrets.token_hex(16)
    request = urllib.request.Request(
        f"{fake_url}/_bench/media?message_sid={message_sid}",
        data=data,
        headers={"Content-Type": content_type},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return message_sid, json.load(answer)["url"]


def seed_texts(pictures: list[tuple[str, bytes]], fake_url: str) -> list[int]:
    """One inbound text per picture, its media recorded as routing records it (pending)."""
    from app.extensions import db
    from app.models import Company, Conversation, Message, utcnow
    from app.services.message_media import record_inbound_media

    company = db.session.scalar(db.select(Company)) or Company(name="Bench Plumbing")
    db.session.add(company)
    conversation = db.session.scalar(db.select(Conversation)) or Conversation(
        company=company, phone="+15125550100"
    )
    db.session.add(conversation)
    ids = []
    for fmt, data in pictures:
        content_type = FORMATS[fmt][2]
        message_sid, url = upload(fake_url, data, content_type)
        message = Message(
            company=company,
            conversation=conversation,
            direction="in",
            from_phone="+15125550100",
            to_phone="+15126660100",
            body="Here is the leak",
            media_urls=[url],
            status="received",
            twilio_sid=message_sid,
        )
        db.session.add(message)
        db.session.flush()
        [row] = record_inbound_media(
            company=company,
            message=message,
            items=[{"url": url, "content_type": content_type}],
            now=utcnow(),
        )
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return ids


def fetch_one(expected_id: int) -> None:
    from app.extensions import db
    from app.models import MediaState, MessageMedia, utcnow
    from app.services.message_media import fetch_due_media

    assert fetch_due_media(now=utcnow(), limit=1) == 1
    item = db.session.get(MessageMedia, expected_id)
    if item.state != MediaState.STORED:
        raise SystemExit(f"media {expected_id} not stored: {item.state} {item.error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20, help="pictures per pass")
    parser.add_argument("--formats", default="jpeg,heic")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--latency", type=float, default=0.0, help="the fake's answer delay")
    args = parser.parse_args(argv)
    formats = [name.strip() for name in args.formats.split(",") if name.strip()]

    started = time.perf_counter()
    variants = {fmt: [make_picture(fmt, i) for i in range(VARIANTS)] for fmt in formats}
    print(f"pictures ready in {time.perf_counter() - started:.1f} s", flush=True)

    def pass_pictures() -> list[tuple[str, bytes]]:
        return [
            (
                formats[i % len(formats)],
                variants[formats[i % len(formats)]][i // len(formats) % VARIANTS],
            )
            for i in range(args.count)
        ]

    port = processes.free_port()
    fake = processes.fake_twilio(
        "media-fake-twilio", port, dict(os.environ), "--latency", str(args.latency)
    )
    work = Path(tempfile.mkdtemp(prefix="prosms-bench-media-"))
    fake_url = f"http://127.0.0.1:{port}"
    try:
        from app import create_app
        from app.config import FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN
        from app.extensions import db
        from app.services import message_media
        from app.sms import media as twilio_media

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": args.database_url
                or f"sqlite:///{work / 'bench.sqlite3'}",
                "UPLOAD_FOLDER": str(work / "uploads"),
                "TWILIO_FAKE": True,
                "TWILIO_ACCOUNT_SID": FAKE_TWILIO_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": FAKE_TWILIO_AUTH_TOKEN,
                "TWILIO_API_BASE_URL": fake_url,
                "OUTBOX_THREAD": False,
            }
        )
        with app.app_context():
            db.create_all()
            timings = Timings()
            twilio_media.fetch_media = timed(timings.download, twilio_media.fetch_media)
            message_media.keep_bytes = timed(timings.keep, message_media.keep_bytes)
            twilio_media.delete_media = timed(timings.delete, twilio_media.delete_media)

            # Warm-up (imports, connection pools, the first HEVC decoder): not counted.
            for warm_id in seed_texts([(fmt, variants[fmt][0]) for fmt in formats], fake_url):
                fetch_one(warm_id)
            timings.download.clear(), timings.keep.clear(), timings.delete.clear()

            # Pass 1: time, and resident memory.
            pictures = pass_pictures()
            ids = seed_texts(pictures, fake_url)
            sampler = RssSampler()
            rows = []
            for (fmt, data), media_id in zip(pictures, ids, strict=True):
                before = sampler.reset()
                start, cpu_start = time.perf_counter(), time.process_time()
                fetch_one(media_id)
                total = time.perf_counter() - start
                cpu = time.process_time() - cpu_start
                rows.append(
                    {
                        "fmt": fmt,
                        "bytes": len(data),
                        "total": total,
                        "cpu": cpu,
                        "download": timings.download[-1],
                        "keep": timings.keep[-1],
                        "delete": timings.delete[-1] if timings.delete else float("nan"),
                        "rss_rise": sampler.peak - before,
                    }
                )
            sampler.stop()

            # Pass 2: the Python heap's peak per picture, under tracemalloc.
            pictures = pass_pictures()
            ids = seed_texts(pictures, fake_url)
            tracemalloc.start()
            for row, media_id in zip(rows, ids, strict=True):
                tracemalloc.reset_peak()
                baseline = tracemalloc.get_traced_memory()[0]
                fetch_one(media_id)
                row["heap_peak"] = tracemalloc.get_traced_memory()[1] - baseline
            tracemalloc.stop()
    finally:
        fake.stop()

    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    mb = 1024 * 1024
    out = []
    for fmt in [*formats, "all"]:
        chosen = [row for row in rows if fmt in ("all", row["fmt"])]
        if not chosen:
            continue
        totals = [row["total"] for row in chosen]
        wall = sum(totals)
        size = sum(row["bytes"] for row in chosen)

        def p(key: str, pct: float, chosen=chosen) -> str:
            return f"{percentile([row[key] for row in chosen], pct) * 1000:.0f}"

        out.append(
            [
                fmt.upper() if fmt != "all" else "all",
                len(chosen),
                f"{size / len(chosen) / mb:.2f}",
                f"{p('download', 50)} / {p('download', 95)}",
                f"{p('keep', 50)} / {p('keep', 95)}",
                f"{p('delete', 50)}",
                f"{p('total', 50)} / {p('total', 95)} / {max(totals) * 1000:.0f}",
                f"{p('cpu', 50)}",
                f"{len(chosen) / wall:.2f}",
                f"{size / wall / mb:.1f}",
                f"{max(row['rss_rise'] for row in chosen) / mb:.0f}",
                f"{max(row['heap_peak'] for row in chosen) / mb:.1f}",
            ]
        )
    print()
    print(
        table(
            [
                "format",
                "pictures",
                "MB each",
                "download p50 / p95 ms",
                "keep p50 / p95 ms",
                "delete p50 ms",
                "per picture p50 / p95 / max ms",
                "CPU p50 ms",
                "pictures/s",
                "MB/s",
                "RSS rise max MB",
                "Python heap peak max MB",
            ],
            out,
        )
    )
    print()
    print(f"Process peak RSS (ru_maxrss): {max_rss / mb:.0f} MB (the whole run, warm-up included).")
    print(machine(args.database_url or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
