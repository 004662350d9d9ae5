"""Custom actions: thin glue between Rasa and ``bot`` (see ``actions.base``)."""
