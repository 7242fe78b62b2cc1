"""Sub-commands of this component (placeholder until implemented)."""


def register(sub) -> None:
    pass
