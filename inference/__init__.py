"""The inference container: ``inference.app`` is the service every deployment target runs."""
