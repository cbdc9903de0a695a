"""The fake Twilio's voice side: a call from an outside phone, followed through the TwiML
the app answers, as Twilio would run it.

`FakeVoice.call` posts the number's voice webhook, then walks the answer verb by verb:
`<Say>` is heard, `<Gather>` gets the digits the caller presses (or falls through), `<Dial>`
rings the business phone and the `outcome` switch says what happened there ("answer",
"no-answer", "busy", "failed"), and `<Record>` takes the caller's message: the fake makes
a small WAV (a tone, or silence) whose transcript is the text the caller "said", keeps it
as a recording (served at api.twilio.com/.../Recordings/RE....wav with Basic auth, like
Twilio), and sends the signed Record action, recording status and transcription callbacks.
The recording and transcription callbacks are scheduled, as they arrive a moment after the
call at Twilio (tests deliver them with `run_all_callbacks`).
"""

from __future__ import annotations

import io
import math
import struct
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.sms.fake_twilio.sids import new_sid

if TYPE_CHECKING:
    from app.sms.fake_twilio.state import FakeTwilio, WebhookResult

SAMPLE_RATE = 8000  # Twilio's recordings are 8 kHz mono
RECORDING_AFTER = timedelta(seconds=0.3)
TRANSCRIPTION_AFTER = timedelta(seconds=0.6)
DIAL_OUTCOMES = ("answer", "no-answer", "busy", "failed")


@dataclass
class FakeRecording:
    sid: str
    account_sid: str
    call_sid: str
    audio: bytes
    duration: int
    transcript: str
    date_created: datetime
    deleted: bool = False

    @property
    def path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Recordings/{self.sid}"


@dataclass
class FakeCallRun:
    """What happened on one call: every webhook the fake posted and what the caller heard."""

    sid: str
    webhooks: list[WebhookResult] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    recording: FakeRecording | None = None

    @property
    def first(self) -> WebhookResult:
        return self.webhooks[0]


def make_wav(seconds: int, *, tone: bool) -> bytes:
    """A mono 8 kHz 16-bit WAV: a soft 440 Hz tone, or silence."""
    frames = SAMPLE_RATE * max(1, seconds)
    if tone:
        samples = (int(3000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)) for n in range(frames))
        data = struct.pack(f"<{frames}h", *samples)
    else:
        data = b"\x00\x00" * frames
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(data)
    return out.getvalue()


def spoken_seconds(text: str) -> int:
    """About how long saying `text` takes (2.5 words a second), within a voicemail's limits."""
    return max(1, min(120, math.ceil(len(text.split()) / 2.5) + 1))


class FakeVoice:
    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.reset()

    def reset(self) -> None:
        self.recordings: dict[str, FakeRecording] = {}

    def recording(self, sid: str) -> FakeRecording | None:
        with self.fake.lock:
            return self.recordings.get(sid)

    def call(
        self,
        *,
        from_: str,
        to: str,
        outcome: str = "no-answer",
        voicemail: str | None = None,
        digits: str | None = None,
        talk_seconds: int = 42,
        tone: bool = True,
    ) -> FakeCallRun:
        """`from_` calls `to`. `outcome` is what the dialed phone does; `voicemail` is what the
        caller says after the beep (None: hangs up without leaving one); `digits` is what
        they press at a `<Gather>`."""
        if outcome not in DIAL_OUTCOMES:
            raise ValueError(f"outcome must be one of {DIAL_OUTCOMES}")
        run = FakeCallRun(sid=new_sid("CA"))
        base = self.fake.call_form(sid=run.sid, from_=from_, to=to)
        number = self.fake.number(to)
        result = self._post(run, self.fake.voice_url(to), {**base, "CallStatus": "ringing"})
        options = {"outcome": outcome, "voicemail": voicemail, "digits": digits}
        for _ in range(10):  # each step follows one answer; a loop of redirects ends here
            next_url, form = self._run_twiml(run, result, base, options, talk_seconds, tone)
            if next_url is None:
                break
            result = self._post(run, next_url, form)
        if number is not None and number.status_callback:
            # The call is over: Twilio tells the number's status callback.
            seconds = talk_seconds if outcome == "answer" and run.dialed else 0
            if run.recording is not None:
                seconds += run.recording.duration
            self._post(
                run,
                number.status_callback,
                {**base, "CallStatus": "completed", "CallDuration": str(seconds + 5)},
            )
        return run

    def _post(self, run: FakeCallRun, url: str, form: dict[str, str]) -> WebhookResult:
        result = self.fake.post_webhook(url, form)
        run.webhooks.append(result)
        return result

    def _run_twiml(
        self,
        run: FakeCallRun,
        result: WebhookResult,
        base: dict[str, str],
        options: dict[str, Any],
        talk_seconds: int,
        tone: bool,
    ) -> tuple[str | None, dict[str, str]]:
        """Play one TwiML answer; returns the next URL Twilio would request (and its form)."""
        if result.status != 200:
            run.heard.append("An application error has occurred. Goodbye.")
            return None, {}
        try:
            root = ET.fromstring(result.body)
        except ET.ParseError:
            run.heard.append("An application error has occurred. Goodbye.")
            return None, {}
        for verb in root:
            if verb.tag == "Say":
                run.heard.append((verb.text or "").strip())
            elif verb.tag == "Gather":
                for child in verb:
                    if child.tag == "Say":
                        run.heard.append((child.text or "").strip())
                if options["digits"] and verb.get("action"):
                    digits, options["digits"] = options["digits"], None
                    return verb.get("action"), {
                        **base,
                        "Digits": digits,
                        "CallStatus": "in-progress",
                    }
            elif verb.tag == "Dial":
                target = (verb.text or "").strip() or " ".join(
                    (child.text or "").strip() for child in verb
                )
                run.dialed.append(target)
                answered = options["outcome"] == "answer"
                form = {
                    **base,
                    "CallStatus": "in-progress" if answered else "completed",
                    "DialCallStatus": "completed" if answered else options["outcome"],
                    "DialCallSid": new_sid("CA"),
                    "DialCallDuration": str(talk_seconds if answered else 0),
                }
                # One dial per call follows the switch; a second (the on-call phone) answers.
                options["outcome"] = "answer"
                if answered and verb.get("record") and verb.get("recordingStatusCallback"):
                    self._keep_recording(
                        run,
                        verb.get("recordingStatusCallback"),
                        seconds=min(talk_seconds, 120),
                        transcript="",
                        tone=tone,
                        source="DialVerb",
                    )
                if verb.get("action"):
                    return verb.get("action"), form
                if answered:
                    return None, {}
            elif verb.tag == "Record":
                return self._record(run, verb, base, options, tone)
            elif verb.tag == "Hangup":
                return None, {}
            elif verb.tag == "Redirect" and (verb.text or "").strip():
                return (verb.text or "").strip(), {**base, "CallStatus": "in-progress"}
        return None, {}

    def _keep_recording(
        self,
        run: FakeCallRun,
        status_url: str | None,
        *,
        seconds: int,
        transcript: str,
        tone: bool,
        source: str,
    ) -> FakeRecording:
        """Keep a recording of this call and schedule its signed status callback."""
        recording = FakeRecording(
            sid=new_sid("RE"),
            account_sid=self.fake.account_sid,
            call_sid=run.sid,
            audio=make_wav(seconds, tone=tone),
            duration=seconds,
            transcript=transcript,
            date_created=self.fake.clock(),
        )
        with self.fake.lock:
            self.recordings[recording.sid] = recording
        if source == "RecordVerb":
            run.recording = recording
        if status_url:
            status_form = {
                "AccountSid": self.fake.account_sid,
                "CallSid": run.sid,
                "RecordingSid": recording.sid,
                "RecordingUrl": "https://api.twilio.com" + recording.path,
                "RecordingStatus": "completed",
                "RecordingDuration": str(seconds),
                "RecordingChannels": "2" if source == "DialVerb" else "1",
                "RecordingSource": source,
                "RecordingStartTime": recording.date_created.strftime(
                    "%a, %d %b %Y %H:%M:%S +0000"
                ),
            }
            self.fake.schedule(
                RECORDING_AFTER,
                lambda: run.webhooks.append(self.fake.post_webhook(status_url, status_form)),
            )
        return recording

    def _record(
        self,
        run: FakeCallRun,
        verb: ET.Element,
        base: dict[str, str],
        options: dict[str, Any],
        tone: bool,
    ) -> tuple[str | None, dict[str, str]]:
        said = options["voicemail"]
        if said is None:  # the caller hung up at the beep: Twilio makes no recording
            return None, {}
        options["voicemail"] = None
        seconds = min(spoken_seconds(said), int(verb.get("maxLength") or 3600))
        recording = self._keep_recording(
            run,
            verb.get("recordingStatusCallback"),
            seconds=seconds,
            transcript=said.strip(),
            tone=tone,
            source="RecordVerb",
        )
        media_url = "https://api.twilio.com" + recording.path
        recorded = {
            **base,
            "RecordingSid": recording.sid,
            "RecordingUrl": media_url,
            "RecordingDuration": str(seconds),
        }
        transcribe_url = verb.get("transcribeCallback")
        if transcribe_url and verb.get("transcribe") == "true":
            transcription = {
                **base,
                "TranscriptionSid": new_sid("TR"),
                "TranscriptionText": recording.transcript,
                "TranscriptionStatus": "completed",
                "TranscriptionUrl": media_url.replace("/Recordings/", "/Transcriptions/"),
                "RecordingSid": recording.sid,
                "RecordingUrl": media_url,
            }
            self.fake.schedule(
                TRANSCRIPTION_AFTER,
                lambda: run.webhooks.append(self.fake.post_webhook(transcribe_url, transcription)),
            )
        if verb.get("action"):
            return verb.get("action"), {**recorded, "Digits": "hangup", "CallStatus": "completed"}
        return None, {}
