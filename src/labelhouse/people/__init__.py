"""People and access: project membership, teams and the organization's people.

Use cases that change who may see what. They sit above ``tasks`` and ``review`` because
taking access away must also end the person's leases there at once; the rule itself
(who sees which project) lives in :mod:`labelhouse.accounts.policy`.
"""
