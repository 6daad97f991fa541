"""Alerts and distress reports: who publishes and changes them, who reads which version, their
acknowledgements, their CAP and GeoJSON forms, and the events each change emits."""
