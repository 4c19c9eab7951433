from typing import Any

ffi: Any
lib: Any
BACKENDS: dict[str, int]
BACKEND_NAMES: dict[int, str]
CPU_FEATURES: dict[str, int]
ENV_VAR: str
ACTIVE_AT_IMPORT: str

def select_backend(name: str) -> str: ...

ENTRY_ENV_VAR: str
ENTRY: str
HOT: Any
