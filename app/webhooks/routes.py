"""Twilio webhooks: inbound SMS, voice, status callbacks."""
