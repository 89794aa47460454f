"""Media that task data names by URL (``https://…``) or in a bucket (``s3://bucket/key``),
as opposed to files uploaded to a project (:mod:`labelhouse.tasks`' ``StoredFile``).

``refs`` tells the forms apart and checks their syntax (pure); ``sources`` reaches them:
the lab's own buckets through short-lived presigned URLs, anything else only through the
SSRF-safe client of :mod:`labelhouse.net.safe_fetch`. docs/import.md is the user's account.
"""
