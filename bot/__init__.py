"""Safeguarding escalation assistant: procedures, records, nudges and channels around a Rasa bot."""
