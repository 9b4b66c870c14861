"""Preference data: raw hub rows parsed into pairs, loaded from the hub, local files or the bundled miniatures."""
