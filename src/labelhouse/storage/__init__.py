"""Where uploaded bytes live: a ``Storage`` protocol with a local-folder backend by default."""

from labelhouse.storage.base import Storage, StorageKeyError
from labelhouse.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageKeyError"]
