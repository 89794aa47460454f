"""Outbound network access. Every fetch of something a user named (media by URL) goes
through :class:`labelhouse.net.safe_fetch.SafeFetcher`, the one client that checks where
it connects (an SSRF guard); nothing else in Labelhouse opens connections to user URLs."""
