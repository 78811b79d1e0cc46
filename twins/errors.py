"""The error type that names a field, the value given and what is allowed."""


class FieldValueError(ValueError):
    """A rejected value: ``field`` and ``value`` name it, ``message`` the rule."""

    def __init__(self, field: str, value, message: str):
        self.field = field
        self.value = value
        self.message = message
        super().__init__(f"{field}={value!r}: {message}")

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "message": self.message}
