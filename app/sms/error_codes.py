"""Twilio error codes the product meets, explained in plain words for the office.

Twilio reports a failure as a number (21610, 30003, ...). The office should not have to
look it up: `error_explanation(code)` says what happened and what to do about it.
"""

from __future__ import annotations

# Refused by the API when we try to send: retrying cannot help.
OPTED_OUT = 21610
INVALID_TO = 21211
NOT_MOBILE = 21614
NO_PERMISSION_TO_REGION = 21408

EXPLANATIONS: dict[int, str] = {
    20003: "Twilio refused the account credentials. "
    "Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
    20429: "Twilio is limiting how fast we send. The text will be retried automatically.",
    21211: "This is not a valid phone number, so the text could not be sent. "
    "Check the customer's number.",
    21408: "Texts to this country or region are not enabled on the Twilio account.",
    21422: "That phone number is no longer available to buy. Pick another one.",
    21452: "No phone numbers are available in that area code. Try a nearby area code.",
    21606: "The custom number can't send texts. Check its capabilities in Twilio.",
    21610: "The customer has opted out (they replied STOP), so the carrier refused the text. "
    "They can text START to opt back in.",
    21612: "The carrier can't route texts between our number and this number.",
    21614: "This number is a landline or can't receive texts. "
    "Ask the customer for a mobile number.",
    30003: "The phone is unreachable (switched off or out of coverage). The carrier gave up.",
    30004: "The recipient's phone or carrier is blocking this text.",
    30005: "This number does not exist or is no longer in service.",
    30006: "This is a landline or a number that can't receive texts.",
    30007: "The carrier filtered this text as possible spam.",
    30008: "The carrier could not deliver the text and gave no reason.",
    # Texting registration (docs/texting-registration.md).
    30024: "The carrier has not set up this number for texting yet. This happens for a few "
    "days after a registration is approved; texts will go through once it has.",
    30032: "The toll-free number has not been verified, so carriers block its texts. "
    "Finish the toll-free verification in Settings → Texting registration.",
    30034: "The number is not registered for business texting (A2P 10DLC), so US carriers "
    "block its texts. Finish the texting registration in Settings → Texting registration.",
    30035: "The number's texting registration is not complete yet, so carriers hold its "
    "texts. Wait for the registration's approval.",
    30702: "The Campaign Registry no longer has this brand. Resubmit the registration.",
    30729: "The business address must be in the United States or Canada.",
    30790: "Twilio had an internal error reviewing the brand. Resubmit it, or contact support "
    "if it happens again.",
    30792: "Twilio had a general error reviewing the brand. Resubmit it, or contact support "
    "if it happens again.",
    30799: "The Campaign Registry could not verify the business: usually the legal name does "
    "not match the EIN exactly as the IRS has it (look at your IRS letter CP 575, including "
    "punctuation such as 'LLC' or 'Inc.'), or the EIN is wrong.",
    30532: "The campaign looks like personal texting. Describe the business's texts to its "
    "own customers.",
    30533: "The campaign looks like person-to-person texting. Describe the business's texts "
    "to its customers.",
    30538: "A message sample is missing for the use case. Give 2 to 5 samples of real texts.",
    30544: "How customers agree to texts does not say what the texts are for. Say they are "
    "about their jobs (confirmations, reminders, invoices).",
}


def error_explanation(code: int | None, fallback: str | None = None) -> str:
    """A sentence for the office about Twilio error `code`."""
    if code is None:
        return fallback or "The text could not be sent."
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    prefix = f"Twilio refused the text with error {code}"
    if fallback and fallback.startswith(prefix):
        return fallback  # already explained (the stored error_message of a failed text)
    detail = f" ({fallback})" if fallback else ""
    return f"{prefix}{detail}."
