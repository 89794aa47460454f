"""Label Studio migration: its labeling config ↔ a Labelhouse schema (``config``), its JSON
export → Labelhouse task and annotation rows (``reader``), a Labelhouse project → its JSON
export and config (``writer``), and the import use case (``service``).

``controls`` says where each field's answer lives in a Label Studio result (the control's
name, the objects it labels, the data keys built for it) for both directions. Everything
but ``service`` is pure: plain data in, plain data out. docs/label-studio.md is the user's
account of what maps to what.
"""
