"""Moving data between Labelhouse and other labeling tools (one subpackage per tool)."""
