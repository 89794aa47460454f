"""The project quality report: agreement, consensus, annotator scorecards and preference
checks, computed from the database with the pure statistics of :mod:`labelhouse.quality`.

This package is the bridge: it streams a project's submitted annotations in one query,
turns them into arrays (via each field kind's hooks in :mod:`labelhouse.kinds`) and calls
the numpy functions. It never imports web code; the API, the quality page and the exports
all call :mod:`labelhouse.quality_report.service`.
"""
