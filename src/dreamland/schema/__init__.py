"""The one declaration of every game field, and the game's facts (characters, stages, actions).

Imports nothing else from dreamland: every other stage derives from it.
"""

from dreamland.schema.fields import (
    ALL_FIELDS,
    ITEM_FIELDS,
    PLAYER_FIELDS,
    SCHEMA_VERSION,
    Field,
    Kind,
    Role,
    Table,
    field,
    fields,
    fingerprint,
    storage_fingerprint,
)

__all__ = [
    "ALL_FIELDS",
    "ITEM_FIELDS",
    "PLAYER_FIELDS",
    "SCHEMA_VERSION",
    "Field",
    "Kind",
    "Role",
    "Table",
    "field",
    "fields",
    "fingerprint",
    "storage_fingerprint",
]
